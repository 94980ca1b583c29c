"""The switch keys (issue 4) through the real loopback sandbox: every key confirms in a modal whose
focus starts on Cancel (Cancel changes nothing), then the switch runs, its steps show as they
happen, and the row shows the connector's honest state. Manual steps end in "I did it"; a failed
provider call offers a forced switch; a rotation without an API takes a pasted (masked) key."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select
from textual import events
from textual.widgets import Button, Checkbox, Input, Static

from app.store.models import SwitchJob
from app.tui.app import make_app
from app.tui.screens.confirm import NewKeyModal, SwitchConfirm, SwitchOutcome
from app.tui.screens.connector import ConnectorScreen
from app.tui.screens.main import MainScreen
from app.tui.widgets.outline import Outline
from connectors.base import Mode, Secret
from tests.tui.pilot import Notes, cell, click, on_screen, select_row, settle, until

SIZE = (120, 36)


def jobs(services) -> list[SwitchJob]:
    with Session(services.engine) as s:
        return list(s.exec(select(SwitchJob)).all())


async def open_confirm(pilot, name: str, key: str) -> SwitchConfirm:
    await select_row(pilot, name)
    await pilot.press(key)
    await on_screen(pilot, SwitchConfirm)
    await pilot.pause()
    return pilot.app.screen


def modal_text(screen) -> str:
    return screen.query_one("#switch-text", Outline).plain() + str(screen.query_one("#switch-undo", Static).content)


@pytest.mark.parametrize(
    "key, action", [("d", "draft-only"), ("o", "read-only"), ("x", "disable"), ("r", "rotate"), ("u", "enable")]
)
async def test_every_switch_key_confirms_first_with_focus_on_cancel_and_cancel_does_nothing(live, key, action):
    live.add("gh-bot", "github", "classic", client="Claude Desktop")
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_confirm(pilot, "gh-bot", key)
        assert app.focused is screen.query_one("#cancel", Button)
        plan = live.services.switches.plan("gh-bot", action)
        title = str(screen.query_one("#switch-title", Static).content)
        assert title == plan.text().splitlines()[0]
        assert "Undo:" in modal_text(screen)
        await pilot.press("enter")  # enter presses the focused Cancel
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        await open_confirm(pilot, "gh-bot", key)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
    assert jobs(live.services) == []  # nothing journalled, nothing recorded
    assert live.services.inventory.get("gh-bot").mode is Mode.FULL
    assert live.calls("github") == []  # nothing sent
    assert live.alive("gh-bot")


async def test_x_says_github_revocation_is_irreversible_then_disables_and_verifies(live):
    live.add("gh-bot", "github", "classic", client="Claude Desktop")
    notes = Notes()
    app = make_app(live.services)
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await settle(pilot)
        screen = await open_confirm(pilot, "gh-bot", "x")
        text = modal_text(screen)
        assert "POST " + live.sandbox.base_url("github") + "/credentials/revoke" in text
        assert "60 such calls per hour" in text and "cannot be undone" in text.lower()
        assert "Claude Desktop: its key stops working" in text
        assert screen.query_one("#switch-dialog").has_class("-danger")
        await click(pilot, "#confirm")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)  # verified: nothing left to ask
        assert cell(app, "gh-bot", "switch") == "✔ verified"
        assert cell(app, "gh-bot", "mode") == "disabled"
        # One toast for the outcome (the row showed each step), not one per step.
        about = [t for t in notes.texts() if t.startswith("disable gh-bot")]
        assert len(about) == 1 and "verified by probe" in about[0], about
    assert not live.alive("gh-bot")


async def test_d_restricts_a_sendgrid_key_at_the_provider(live):
    record = live.add("mail", "sendgrid", "full_access")
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_confirm(pilot, "mail", "d")
        assert "This can be undone" in modal_text(screen)
        assert "/v3/api_keys/" in modal_text(screen)
        await click(pilot, "#confirm")
        await settle(pilot)
        assert cell(app, "mail", "switch") == "✔ verified" and cell(app, "mail", "mode") == "draft-only"
    assert "mail.send" not in live.sandbox.state.get(record.token).scopes


async def test_o_with_manual_steps_then_i_did_it_verifies(live):
    record = live.add("crm", "hubspot", "private_app")
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_confirm(pilot, "crm", "o")
        await click(pilot, "#confirm")
        await on_screen(pilot, SwitchOutcome)
        await pilot.pause()
        outcome = app.screen
        assert app.focused is outcome.query_one("#later", Button)
        body = outcome.query_one("#outcome-text", Outline).plain()
        assert "By hand" in body and "app.hubspot.com" in body
        assert "waiting for you" in str(outcome.query_one(".dialog-title", Static).content)
        await settle(pilot)
        assert cell(app, "crm", "switch") == "✎ waiting for you"
        # the owner reduces the key in HubSpot, then says so
        live.sandbox.state.get(record.token).scopes = ["crm.objects.contacts.read", "crm.objects.deals.read"]
        await click(pilot, "#done")
        await settle(pilot)
        assert cell(app, "crm", "switch") == "✔ verified"
    actions = [e.action for e in live.services.audit.recent(live.services.engine, 50, "crm")]
    assert "switch.confirmed" in actions and "switch.verified" in actions


async def test_manual_steps_can_be_reopened_from_the_connector_screen(live):
    record = live.add("crm", "hubspot", "private_app")
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_confirm(pilot, "crm", "x")
        await click(pilot, "#confirm")
        await on_screen(pilot, SwitchOutcome)
        await pilot.press("enter")  # Later
        await settle(pilot)
        await pilot.press("enter")  # open the connector
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ConnectorScreen)
        assert "waiting for you" in str(screen.query_one("#switch-panel", Static).content)
        assert screen.active_bindings["c"].enabled
        live.sandbox.state.revoke(record.token)  # done by hand in HubSpot
        await pilot.press("c")
        await on_screen(pilot, SwitchOutcome)
        await click(pilot, "#done")
        await settle(pilot)
        await until(pilot, lambda: "verified by probe" in str(screen.query_one("#switch-panel", Static).content))
        assert not screen.check_action("switch_steps", ())


async def test_u_re_enables_a_disabled_connector(live):
    live.add("crm", "hubspot", "private_app")
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_confirm(pilot, "crm", "o")
        await click(pilot, "#confirm")
        await on_screen(pilot, SwitchOutcome)
        await pilot.press("escape")
        await settle(pilot)
        assert cell(app, "crm", "mode") == "read-only"
        await open_confirm(pilot, "crm", "u")
        await click(pilot, "#confirm")
        await settle(pilot)
        assert cell(app, "crm", "mode") == "full"
        assert cell(app, "crm", "switch") == "✔ verified"  # the key works again: that is what full asks


async def test_r_rotates_by_api_where_the_provider_can(live, memory_keyring):
    old = live.add("ci", "gitlab", "personal")
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_confirm(pilot, "ci", "r")
        assert "/personal_access_tokens/self/rotate" in modal_text(screen)
        assert str(screen.query_one("#confirm", Button).label) == "Rotate"
        await click(pilot, "#confirm")
        await settle(pilot)
        assert cell(app, "ci", "switch") == "✔ verified"
    assert not live.alive("ci")
    new = live.services.inventory.secret_for("ci").reveal()
    assert new != old.token and live.sandbox.state.get(new).live


async def test_r_guided_rotation_takes_a_masked_pasted_key(live, memory_keyring):
    live.add("gh-bot", "github", "classic")
    fresh = live.sandbox.mint("github", "classic")
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_confirm(pilot, "gh-bot", "r")
        assert str(screen.query_one("#confirm", Button).label) == "Paste the new key…"
        await click(pilot, "#confirm")
        await on_screen(pilot, NewKeyModal)
        await pilot.pause()
        modal = app.screen
        field = modal.query_one("#new-key-input", Input)
        assert field.password and app.focused is field
        assert "github.com/settings/tokens" in modal.query_one("#new-key-steps", Outline).plain()
        await pilot.press("enter")  # nothing pasted yet: said beside the field, nothing done
        assert "paste the new key first" in str(modal.query_one("#new-key-error", Static).content)
        field.post_message(events.Paste("xoxb-a-FAKE-slack-token-pasted-by-mistake"))  # not a GitHub key's shape
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        said = str(modal.query_one("#new-key-error", Static).content)
        assert "does not look like a GitHub key" in said and "Nothing was sent to GitHub" in said
        assert isinstance(app.screen, NewKeyModal) and live.calls("github") == []
        field.value = ""
        field.post_message(events.Paste(fresh.token))
        await pilot.pause()
        assert fresh.token not in app.export_screenshot()
        await pilot.press("enter")
        await settle(pilot)
        assert cell(app, "gh-bot", "switch") == "✔ verified"
    assert live.services.inventory.secret_for("gh-bot").reveal() == fresh.token
    assert not live.alive("gh-bot")  # the old key is revoked once the new one works


async def test_a_failing_provider_offers_a_forced_switch_shown_out_of_sync(live):
    live.add("gh-bot", "github", "classic")
    live.sandbox.faults.set("github", status=503)
    live.services._switches = None  # a switchboard with short retries for this test
    from app.services.switches import Switches

    live.services._switches = Switches(live.services, call_timeout=2, attempts=2, backoff_s=0.01)
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_confirm(pilot, "gh-bot", "x")
        await click(pilot, "#confirm")
        await on_screen(pilot, SwitchOutcome, timeout=20)
        await pilot.pause()
        outcome = app.screen
        assert app.focused is outcome.query_one("#later", Button)
        assert "did not go through" in outcome.query_one("#outcome-text", Outline).plain()
        await settle(pilot)
        assert cell(app, "gh-bot", "switch") in ("⟳ pending", "✖ failed")
        assert cell(app, "gh-bot", "mode") == "disabled"  # recorded locally all the same
        await click(pilot, "#force")
        await on_screen(pilot, SwitchOutcome, timeout=20)
        assert "out of sync" in str(app.screen.query_one(".dialog-title", Static).content)
        await pilot.press("escape")
        await settle(pilot)
        assert cell(app, "gh-bot", "switch") == "≠ out of sync"
    assert live.alive("gh-bot")  # honest: the provider never heard of it


async def test_read_only_with_a_reduced_credential_offers_to_revoke_the_full_key(live):
    full = live.add("gh-bot", "github", "classic")
    reduced = live.sandbox.mint("github", "classic", scopes=["read:org"])
    live.services.switches.add_credential("gh-bot", Secret(reduced.token), tier="reduced")
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_confirm(pilot, "gh-bot", "o")
        assert "This can be undone" in modal_text(screen)
        screen.query_one("#revoke-full", Checkbox).value = True
        await pilot.pause()
        assert "cannot be undone" in modal_text(screen).lower()
        assert "/credentials/revoke" in modal_text(screen)
        await click(pilot, "#confirm")
        await settle(pilot)
        assert cell(app, "gh-bot", "switch") == "✔ verified"
    assert not live.alive("gh-bot") and live.sandbox.state.get(reduced.token).live
    assert live.services.inventory.get("gh-bot").credential.tier == "reduced"
    assert full.token  # (the full key is the one revoked)


async def test_switch_keys_work_from_the_connector_screen(live):
    live.add("gh-bot", "github", "classic")
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConnectorScreen)
        await pilot.press("x")
        await on_screen(pilot, SwitchConfirm)
        await click(pilot, "#confirm")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ConnectorScreen)
        await until(pilot, lambda: "verified by probe" in str(screen.query_one("#connector-title", Static).content))


async def test_read_only_mode_hides_every_switch_and_the_palette_has_them_otherwise(live):
    live.add("gh-bot", "github", "classic")
    app = make_app(live.services, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key in ("d", "o", "x", "r", "u", "exclamation_mark"):
            assert key not in app.screen.active_bindings, key
        await pilot.press("x", "exclamation_mark")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
    assert jobs(live.services) == []
