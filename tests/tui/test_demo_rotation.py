"""Guided rotation can be tried in the demo (issue 14): the owner pastes a key made at the
provider's dashboard; in the demo the sandbox stands in for the dashboard — "Make a sandbox key"
in the guided-rotation dialog has the demo sandbox (POST /_sandbox/tokens) make one, masked in the
field — and the rotation completes verified through the real sandbox: the new key works, the old
one is dead."""

from __future__ import annotations

import pytest
from textual.widgets import Button, Input, Static

from app.services.context import open_services
from app.services.demo import DemoError, demo_port, load_sandbox_state, mint_sandbox_key, prepare_demo_home
from app.tui.app import make_app
from app.tui.screens.confirm import NewKeyModal
from app.tui.screens.main import MainScreen
from connectors.sandbox.server import ThreadedSandbox
from tests.tui.pilot import cell, click, on_screen, select_row, settle

SIZE = (120, 36)


@pytest.fixture
def demo(tmp_path):
    settings = prepare_demo_home(tmp_path / "demo")
    runner = ThreadedSandbox(load_sandbox_state(tmp_path / "demo"), port=demo_port(settings))
    server = runner.start()
    services = open_services(settings)
    try:
        yield services, server
    finally:
        services.close()
        runner.stop()


async def test_a_guided_rotation_of_a_demo_connector_with_a_sandbox_made_key_ends_verified(demo):
    services, server = demo
    name = "org-admin-sync"  # GitHub: no rotation API, so the owner brings the new key
    old = services.inventory.secret_for(name).reveal()
    old_record = server.state.get(old)
    app = make_app(services, sandbox=server)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_row(pilot, name)
        await pilot.press("r")
        await on_screen(pilot, "SwitchConfirm")
        await click(pilot, "#confirm")
        await on_screen(pilot, NewKeyModal)
        await pilot.pause()
        modal = app.screen
        assert "sandbox stands in for GitHub's dashboard" in str(modal.query_one("#new-key-demo", Static).content)
        await pilot.press("ctrl+n")
        field = modal.query_one("#new-key-input", Input)
        for _ in range(200):
            if field.value:
                break
            await pilot.pause(0.02)
        new = field.value
        assert new and new != old and "SANDBOX" in new
        assert field.password and new not in app.export_screenshot()  # masked in the field
        assert app.focused is modal.query_one("#rotate", Button)
        made = server.state.get(new)
        assert made.live and made.kind == old_record.kind and sorted(made.scopes) == sorted(old_record.scopes)
        await pilot.press("enter")  # Rotate
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert cell(app, name, "switch") == "✔ verified"
    assert services.inventory.secret_for(name).reveal() == new  # the new key is handed out
    assert server.state.get(new).live and not server.state.get(old).live  # new works, old dead
    assert services.switches.latest(name).verified


async def test_the_sandbox_key_button_is_only_in_the_demo(live, memory_keyring):
    live.add("gh-bot", "github", "classic")
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_row(pilot, "gh-bot")
        await pilot.press("r")
        await on_screen(pilot, "SwitchConfirm")
        await click(pilot, "#confirm")
        await on_screen(pilot, NewKeyModal)
        await pilot.pause()
        assert not app.screen.query("#mint") and not app.screen.query("#new-key-demo")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.screen.query_one("#new-key-input", Input).value == ""
    with pytest.raises(DemoError, match="only the demo"):
        await mint_sandbox_key(live.services, "gh-bot")


async def test_at_80x24_every_guided_rotation_dialog_of_the_demo_keeps_field_and_buttons_on_screen(demo):
    services, server = demo
    plans = [services.switches.plan(v.name, "rotate") for v in services.inventory.list()]
    guided = [p for p in plans if p.guided]
    assert len(guided) >= 5
    app = make_app(services, sandbox=server)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for plan in guided:
            app.push_screen(NewKeyModal(plan))
            await on_screen(pilot, NewKeyModal)
            await pilot.pause()
            screen = app.screen
            for widget in [screen.query_one("#new-key-input"), *screen.query(Button)]:
                assert screen.region.contains_region(widget.region), (plan.connector, widget.id)
            assert {b.id for b in screen.query(Button)} == {"mint", "rotate", "cancel"}
            await pilot.press("escape")
            await on_screen(pilot, MainScreen)
