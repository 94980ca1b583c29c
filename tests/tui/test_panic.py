"""The emergency disable (``!``) through the real loopback sandbox: one stray key (or ``!`` and
enter) trips nothing; the deliberate two-step path disables everything and ends with the honest
summary; an interrupted panic is offered for resumption when the panel opens, never resumed alone."""

from __future__ import annotations

import asyncio

from sqlmodel import Session, select
from textual.widgets import Button, DataTable, Input, ProgressBar, Static

from app.store.models import SwitchJob
from app.tui.app import make_app
from app.tui.screens.main import MainScreen
from app.tui.screens.panic import PanicConfirm, PanicScreen, PanicTypeConfirm, ResumeOffer
from app.tui.widgets.outline import Outline
from connectors.base import Mode
from tests.tui.pilot import Notes, cell, click, on_screen, settle, until

SIZE = (120, 36)


def build(live) -> None:
    live.add("gh-1", "github", "classic")
    live.add("gh-2", "github", "classic")
    live.add("ci", "gitlab", "personal")
    live.add("mail", "sendgrid", "full_access")
    live.add("digest", "slack", "bot")
    live.add("crm", "hubspot", "private_app")  # no revoke API for private apps: manual steps


def jobs(services) -> list[SwitchJob]:
    with Session(services.engine) as s:
        return list(s.exec(select(SwitchJob)).all())


async def open_first_step(pilot) -> PanicConfirm:
    await pilot.press("exclamation_mark")
    await on_screen(pilot, PanicConfirm)
    await pilot.pause()
    return pilot.app.screen


async def test_a_stray_bang_and_enter_trip_nothing(live):
    build(live)
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_first_step(pilot)
        assert app.focused is screen.query_one("#cancel", Button)
        await pilot.press("enter")  # the focused button is Cancel
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        await open_first_step(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
    assert jobs(live.services) == []
    assert all(v.mode is Mode.FULL for v in live.services.inventory.list())
    assert not [c for p in ("github", "gitlab", "sendgrid", "slack", "hubspot") for c in live.calls(p)]


async def test_the_second_step_wants_panic_or_the_number_and_refuses_anything_else(live):
    build(live)
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_first_step(pilot)
        text = screen.query_one("#panic-text", Outline).plain()
        assert "6 connector(s) across 5 provider(s)" in str(screen.query_one(".dialog-title", Static).content)
        assert "github: 2 × POST" in text and "cannot be undone" in text
        await pilot.press("left")  # Cancel → Continue: a deliberate move
        assert app.focused is screen.query_one("#continue", Button)
        await pilot.press("enter")
        await on_screen(pilot, PanicTypeConfirm)
        await pilot.pause()
        second = app.screen
        assert app.focused is second.query_one("#panic-word", Input)
        assert second.query_one("#go", Button).disabled
        await pilot.press("enter")  # nothing typed
        await pilot.press(*"yes", "enter")
        assert isinstance(app.screen, PanicTypeConfirm)
        assert "Type PANIC or 6" in str(second.query_one("#panic-word-error", Static).content)
        assert second.query_one("#go", Button).disabled
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
    assert jobs(live.services) == []


async def test_the_full_two_step_path_disables_everything_and_shows_the_summary(live):
    build(live)
    # Every provider call takes 2 s, so the panic is still running when escape is pressed (it was
    # 0.5 s, against the ~0.2 s of pressing keys and opening the screen, more on a busy machine).
    for provider in ("github", "gitlab", "sendgrid", "slack", "hubspot"):
        live.sandbox.faults.set(provider, latency_ms=2000)
    notes = Notes()
    app = make_app(live.services)
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await settle(pilot)
        await open_first_step(pilot)
        await click(pilot, "#continue")
        await on_screen(pilot, PanicTypeConfirm)
        await pilot.press(*"PANIC")
        assert not app.screen.query_one("#go", Button).disabled
        await pilot.press("enter")
        await on_screen(pilot, PanicScreen)
        screen = app.screen
        table = screen.query_one("#panic-table", DataTable)
        assert table.row_count == 6
        assert not screen.finished
        await pilot.press("escape")  # it runs to its end: the screen stays
        assert app.screen is screen
        await until(pilot, lambda: screen.finished, timeout=60)
        await pilot.pause()
        summary = screen.summary
        assert summary.total == 6
        assert {r.connector for r in summary.verified} == {"gh-1", "gh-2", "ci", "mail", "digest"}
        assert [r.connector for r in summary.not_verified] == ["crm"]
        text = screen.query_one("#panic-summary-text", Outline).plain()
        assert "Verified by probe (5)" in text and "crm" in text and "app.hubspot.com" in text
        assert "not all verified" in str(screen.query_one("#panic-status", Static).content)
        bar = screen.query_one("#panic-bar", ProgressBar)
        assert bar.progress == bar.total == 6
        states = {table.get_row_at(i)[0].plain: table.get_row_at(i)[2].plain for i in range(table.row_count)}
        assert states["gh-1"] == "✔ verified" and states["crm"] in ("✎ waiting for you", "◐ applied")
        assert any("Emergency disable finished" in t for t in notes.texts())
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert all(cell(app, n, "mode") == "disabled" for n in ("gh-1", "ci", "mail", "digest", "crm"))
        assert cell(app, "gh-1", "switch") == "✔ verified"
    for name in ("gh-1", "gh-2", "ci", "mail", "digest"):
        assert not live.alive(name), name
    assert live.alive("crm")  # honest: HubSpot private apps are revoked by hand


async def test_the_number_of_connectors_also_confirms(live):
    live.add("gh-1", "github", "classic")
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_first_step(pilot)
        await click(pilot, "#continue")
        await on_screen(pilot, PanicTypeConfirm)
        await pilot.press("1", "enter")
        await on_screen(pilot, PanicScreen)
        await until(pilot, lambda: app.screen.finished, timeout=30)
        assert "all 1 connector(s) disabled and verified" in str(app.screen.query_one("#panic-status", Static).content)
    assert not live.alive("gh-1")


async def interrupted_panic(live) -> str:
    """A panic cut off after every connector was recorded disabled, while its provider calls hang
    (as a crash or a kill would leave it): the journal holds an unfinished batch."""
    for provider in ("github", "gitlab", "sendgrid", "slack", "hubspot"):
        live.sandbox.faults.set(provider, latency_ms=3000)
    recorded: list[str] = []
    sw = live.services.switches
    task = asyncio.create_task(
        sw.panic(on_event=lambda e: recorded.append(e.connector) if e.state == "recorded" else None)
    )
    deadline = asyncio.get_running_loop().time() + 30
    while len(recorded) < 6 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # the calls are out (each waits 3 s for its answer)
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):
        pass
    live.sandbox.faults.clear()
    batches = sw.unfinished_batches()
    assert batches, "the interrupted panic should be in the journal"
    return batches[0]


async def test_an_interrupted_panic_is_offered_on_opening_and_not_now_runs_nothing(live):
    build(live)
    batch = await interrupted_panic(live)
    before = {(j.id, j.state) for j in jobs(live.services)}
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await on_screen(pilot, ResumeOffer)
        await pilot.pause()
        offer = app.screen
        assert app.focused is offer.query_one("#cancel", Button)
        assert batch in str(offer.query_one("#resume-text", Static).content)
        await pilot.press("enter")  # Not now
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
    assert {(j.id, j.state) for j in jobs(live.services)} == before  # never resumed on its own
    assert live.services.switches.unfinished_batches() == [batch]


async def test_resuming_an_interrupted_panic_from_the_offer_finishes_it(live):
    build(live)
    batch = await interrupted_panic(live)
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await on_screen(pilot, ResumeOffer)
        await click(pilot, "#resume")
        await on_screen(pilot, PanicScreen)
        screen = app.screen
        assert "resuming" in screen.sub_title
        await until(pilot, lambda: screen.finished, timeout=30)
        summary = screen.summary
        assert summary is not None and summary.resumed and summary.batch == batch
        assert len(summary.verified) == 5
    assert live.services.switches.unfinished_batches() == []
    for name in ("gh-1", "gh-2", "ci", "mail", "digest"):
        assert not live.alive(name), name


async def test_read_only_mode_only_mentions_an_interrupted_panic(live):
    build(live)
    await interrupted_panic(live)
    notes = Notes()
    app = make_app(live.services, read_only=True)
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await settle(pilot)
        await until(pilot, lambda: any("interrupted" in t.lower() for t in notes.texts()), timeout=30)
        assert isinstance(app.screen, MainScreen)
