"""The open panel follows changes made outside it — ``breaker panic``, ``breaker disable``, ``breaker
enable``, an add or a removal in another terminal, a ``breaker gateway`` serving there — without
losing the cursor or the filter, and without re-reading for its own changes.

"Another terminal" is the same store opened a second time (its own Services, so its own audit log),
changing things through the same services the command line uses, from another thread while the
panel runs. Each test waits on what the screen shows (generous timeouts: a condition, not a time)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from textual.widgets import Static

from app.services.context import open_services
from app.services.gateway import record_run
from app.services.inventory import ConnectorInput
from app.services.vocabulary import SwitchAction
from app.settings import load_settings
from app.tui.app import make_app
from app.tui.screens.connector import ConnectorScreen
from connectors.base import Secret
from tests.tui.pilot import Notes, cell, click, names_shown, on_screen, select_row, settle, until

SIZE = (140, 36)
SEEN = 30.0  # the panel looks every second; this is only how long a loaded machine may take


@pytest.fixture
def other(home, memory_keyring, live):
    svc = open_services(load_settings(home=home), keyring=memory_keyring)
    yield svc
    svc.close()


async def elsewhere(call, *args, **kwargs):
    """Run ``call`` in another thread (the other terminal), an async one in its own event loop."""

    def run():
        result = call(*args, **kwargs)
        return asyncio.run(result) if asyncio.iscoroutine(result) else result

    return await asyncio.to_thread(run)


async def test_switches_made_in_another_terminal_show_and_the_cursor_and_filter_stay(live, other):
    live.add("gh-bot", "github", "classic")
    live.add("mail-bot", "sendgrid", "full_access")
    live.add("crm", "hubspot", "private_app")
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.main_screen.filter_input.value = "bot"
        await settle(pilot)
        await select_row(pilot, "mail-bot")
        assert cell(app, "gh-bot", "mode") == "full" and cell(app, "mail-bot", "mode") == "full"

        await elsewhere(other.switches.switch, "gh-bot", SwitchAction.DISABLE)
        await until(pilot, lambda: cell(app, "gh-bot", "mode") == "disabled", timeout=SEEN)
        await until(pilot, lambda: cell(app, "gh-bot", "switch") == "✔ verified", timeout=SEEN)
        await elsewhere(other.switches.switch, "mail-bot", SwitchAction.DRAFT_ONLY)
        await until(pilot, lambda: cell(app, "mail-bot", "mode") == "draft-only", timeout=SEEN)
        assert app.main_screen.selected.name == "mail-bot"  # the cursor stayed
        assert app.main_screen.filter_input.value == "bot" and sorted(names_shown(app)) == ["gh-bot", "mail-bot"]

        # an addition and a removal, then the filter cleared: the rows are the store's
        await elsewhere(other.inventory.remove, "crm", delete_key=False)
        await elsewhere(
            other.inventory.add,
            ConnectorInput(name="new-bot", provider="slack", owner="Ana"),
            Secret("xoxb-1234567890-1234567890-SANDBOXoutsideadd"),
        )
        await until(pilot, lambda: "new-bot" in names_shown(app), timeout=SEEN)
        assert app.main_screen.selected.name == "mail-bot"
        app.main_screen.filter_input.value = ""
        await settle(pilot)
        assert sorted(names_shown(app)) == ["gh-bot", "mail-bot", "new-bot"]


async def test_a_panic_then_an_enable_in_another_terminal_show_in_the_rows_and_the_summary(live, other):
    live.add("gh-bot", "github", "classic")
    live.add("mail-bot", "sendgrid", "full_access")
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        modes = lambda: {cell(app, n, "mode") for n in ("gh-bot", "mail-bot")}  # noqa: E731
        tile = lambda: str(app.main_screen.summary_strip.tile("tile-connectors").content)  # noqa: E731
        assert modes() == {"full"} and "2 full" in tile()

        await elsewhere(other.switches.panic)
        await until(pilot, lambda: "full" not in modes(), timeout=SEEN)
        await until(pilot, lambda: "2 full" not in tile(), timeout=SEEN)

        await elsewhere(other.switches.switch, "mail-bot", SwitchAction.ENABLE)
        await until(pilot, lambda: cell(app, "mail-bot", "mode") == "full", timeout=SEEN)
        assert cell(app, "gh-bot", "mode") == "disabled"


async def test_an_open_connector_screen_follows_a_change_made_elsewhere_and_says_so(live, other):
    live.add("mail-bot", "sendgrid", "full_access")
    notes = Notes()
    app = make_app(live.services)
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await settle(pilot)
        await select_row(pilot, "mail-bot")
        await pilot.press("enter")
        await on_screen(pilot, ConnectorScreen)
        title = lambda: str(app.screen.query_one("#connector-title", Static).render())  # noqa: E731
        await until(pilot, lambda: "mode full" in title(), timeout=SEEN)
        await elsewhere(other.switches.switch, "mail-bot", SwitchAction.DRAFT_ONLY)
        await until(pilot, lambda: "mode draft-only" in title(), timeout=SEEN)
        assert any("changed outside this panel" in t for t in notes.texts())


async def test_the_panel_s_own_switch_is_not_read_again_as_an_outside_change(live):
    live.add("gh-bot", "github", "classic")
    app = make_app(live.services)
    told: list = []
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.store_changed_signal.subscribe(app.main_screen, told.append)
        await select_row(pilot, "gh-bot")
        await pilot.press("x")
        await pilot.pause(0.3)
        await click(pilot, "#confirm")
        await until(pilot, lambda: cell(app, "gh-bot", "switch") == "✔ verified", timeout=SEEN)
        watcher = app.main_screen.watcher
        looks = watcher.looks
        await until(pilot, lambda: watcher.looks >= looks + 3, timeout=SEEN)  # it looked after the switch
        await settle(pilot)
    assert told == []


async def test_a_gateway_serving_from_another_terminal_is_shown_not_a_stale_error(live, other, monkeypatch):
    taken = socket.socket()  # the other terminal's gateway holds the address
    taken.bind(("127.0.0.1", 0))
    taken.listen(8)
    url = f"http://127.0.0.1:{taken.getsockname()[1]}"
    monkeypatch.setenv("BREAKER_GATEWAY_URL", url)
    live.add("gh-bot", "github", "classic")  # (an empty inventory opens on the welcome screen)
    notes = Notes()
    app = make_app(live.services)
    try:
        async with app.run_test(size=SIZE, message_hook=notes) as pilot:
            await settle(pilot)
            line = app.main_screen.query_one("#gateway-line")
            shown = lambda: str(line.render()) if line.display else ""  # noqa: E731
            # G while the address is taken by something that is not a Breaker gateway: the error
            await pilot.press("G")
            await until(pilot, lambda: "did not start" in shown(), timeout=120)
            # then `breaker gateway` in another terminal starts on that address
            await elsewhere(record_run, other, True, url, "breaker gateway")
            await until(pilot, lambda: "Gateway serving on" in shown(), timeout=SEEN)
            assert "did not start" not in shown() and url in shown() and "breaker gateway" in shown()
            assert not line.has_class("-failed")
            # G now says the address is that gateway's, not an error
            await pilot.press("G")
            await until(pilot, lambda: any("already serves" in t for t in notes.texts()), timeout=120)
            assert "Gateway serving on" in shown() and not line.has_class("-failed")
            # it stops there: the line goes
            await elsewhere(record_run, other, False, url, "breaker gateway")
            await until(pilot, lambda: not line.display, timeout=SEEN)
    finally:
        taken.close()


async def test_a_gateway_already_serving_when_the_panel_opens_is_shown(live, other, monkeypatch):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(8)
    url = f"http://127.0.0.1:{taken.getsockname()[1]}"
    monkeypatch.setenv("BREAKER_GATEWAY_URL", url)
    record_run(other, True, url, "breaker gateway")
    live.add("gh-bot", "github", "classic")
    app = make_app(live.services)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            line = app.main_screen.query_one("#gateway-line")
            await until(pilot, lambda: line.display and "Gateway serving on" in str(line.render()), timeout=SEEN)
            taken.close()  # killed without a word: its port closes, the line goes (checked every 5 s)
            await until(pilot, lambda: not line.display, timeout=SEEN)
    finally:
        taken.close()
