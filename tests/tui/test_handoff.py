"""A rotation whose new key must be handed on by hand (issue 14): after a rotation by the provider's
API, through the real loopback sandbox, the panel offers the new key once — masked until the owner
asks, copied with Textual's copy_to_clipboard — and forgets it when the dialog closes: not on the
screen, not in the panel's clipboard copy, not in the database, the audit log, the logs or a
screenshot; a second offer of the same rotation is never made."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlmodel import Session, select
from textual.widgets import Button, Static

from app.store.models import AuditEvent
from app.tui.app import make_app
from app.tui.screens.handoff import NewKeyHandOn
from app.tui.screens.main import MainScreen
from tests.tui.pilot import cell, click, on_screen, select_row, settle, until

SIZE = (120, 36)


def screen_text(app) -> str:
    return app.export_screenshot()


def stored_bytes(services) -> bytes:
    db = services.settings.db_path
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())


async def rotate(pilot, name: str) -> None:
    await select_row(pilot, name)
    await pilot.press("r")
    await on_screen(pilot, "SwitchConfirm")
    await click(pilot, "#confirm")


async def test_the_new_key_of_an_api_rotation_is_shown_once_masked_copied_then_forgotten(live, memory_keyring, caplog):
    caplog.set_level(logging.DEBUG)
    old = live.add("meeting-zap", "gitlab", "personal", client="Zapier meeting flow")
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await rotate(pilot, "meeting-zap")
        await on_screen(pilot, NewKeyHandOn, timeout=20)
        await pilot.pause()
        dialog = app.screen
        new = live.services.inventory.secret_for("meeting-zap").reveal()
        assert new != old.token and live.sandbox.state.get(new).live  # the rotation really happened
        assert cell(app, "meeting-zap", "switch") == "✔ verified"
        # offered, not shown: masked, focus on Done, the client named
        assert app.focused is dialog.query_one("#done", Button)
        text = str(dialog.query_one("#handoff-text", Static).content)
        assert "Zapier meeting flow" in text and "breaker exec meeting-zap" in text and "this once" in text
        assert new not in screen_text(app) and new[-4:] in str(dialog.query_one("#handoff-key", Static).content)
        assert not dialog.handoff.held  # not even read from the keyring yet
        # Show, on request
        await pilot.press("s")
        await until(pilot, lambda: dialog.revealed)
        await pilot.pause()
        assert new in str(dialog.query_one("#handoff-key", Static).content)
        # no screenshot of it: the palette does not offer one and a request is refused
        assert "Screenshot" not in [c.title for c in app.get_system_commands(dialog)]
        app.deliver_screenshot(path=str(live.services.settings.home))
        assert not list(Path(live.services.settings.home).glob("*.svg"))
        # Copy, with Textual's clipboard
        await pilot.press("c")
        await until(pilot, lambda: app.clipboard == new)
        assert "paste it into Zapier meeting flow" in str(dialog.query_one("#handoff-note", Static).content)
        # Hide, then close: forgotten
        await pilot.press("s")
        await pilot.pause()
        assert new not in screen_text(app)
        handoff = dialog.handoff
        await pilot.press("escape")
        await on_screen(pilot, MainScreen)
        assert not handoff.held and app.clipboard == ""
        assert new not in screen_text(app)
        # once: the same rotation is never offered again
        assert live.services.switches.new_key_handoff("meeting-zap") is None
        try:
            handoff.reveal()
        except Exception as exc:
            assert "shown once and forgotten" in str(exc)
        else:
            raise AssertionError("a forgotten handoff revealed its key again")
    # audited as shown (fingerprint and last four), the key itself nowhere
    with Session(live.services.engine) as s:
        events = list(s.exec(select(AuditEvent)).all())
    shown = [e for e in events if e.action == "key.shown"]
    assert len(shown) == 1 and shown[0].connector == "meeting-zap" and new[-4:] in shown[0].new_json
    assert not any(new in e.new_json or new in e.old_json for e in events)
    assert new.encode() not in stored_bytes(live.services)
    assert not any(new in r.getMessage() for r in caplog.records)


async def test_a_guided_rotation_offers_nothing_the_owner_made_the_key(live, memory_keyring):
    from textual import events

    live.add("gh-bot", "github", "classic", client="ChatGPT action")
    fresh = live.sandbox.mint("github", "classic")
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await rotate(pilot, "gh-bot")
        await on_screen(pilot, "NewKeyModal")
        await pilot.pause()
        app.screen.query_one("#new-key-input").post_message(events.Paste(fresh.token))
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        assert cell(app, "gh-bot", "switch") == "✔ verified"
        assert isinstance(app.screen, MainScreen)
    assert live.services.switches.new_key_handoff("gh-bot") is None
