"""``!`` with the keyring locked (issue 9, seen 3): the plan and both confirmations need no key;
every connector is recorded disabled, the calls not made are listed, nothing reaches a provider."""

from __future__ import annotations

import keyring.errors
from textual.widgets import Static

from app.tui.app import make_app
from app.tui.screens.panic import PanicScreen, PanicTypeConfirm
from app.tui.widgets.outline import Outline
from connectors.base import Mode
from tests.tui.pilot import click, on_screen, settle, until
from tests.tui.test_panic import SIZE, build, open_first_step


async def test_bang_with_a_locked_keyring_records_everything_and_lists_the_calls_not_made(
    live, memory_keyring, monkeypatch
):
    build(live)

    def locked(*_a, **_k):
        raise keyring.errors.KeyringLocked("Failed to unlock the collection!")

    monkeypatch.setattr(memory_keyring, "get_password", locked)
    monkeypatch.setattr(memory_keyring, "set_password", locked)
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_first_step(pilot)
        await click(pilot, "#continue")
        await on_screen(pilot, PanicTypeConfirm)
        await pilot.press(*"PANIC", "enter")
        await on_screen(pilot, PanicScreen)
        screen = app.screen
        await until(pilot, lambda: screen.finished, timeout=30)
        await pilot.pause()
        summary = screen.summary
        assert summary is not None and not summary.ok
        assert {r.connector for r in summary.not_called} == {"gh-1", "gh-2", "ci", "mail", "digest", "crm"}
        text = screen.query_one("#panic-summary-text", Outline).plain()
        assert "provider NOT called" in text and "panic --resume" in text
        assert "may still work" in str(screen.query_one("#panic-status", Static).content)
    assert {v.mode for v in live.services.inventory.list()} == {Mode.DISABLED}
    assert not [c for p in ("github", "gitlab", "sendgrid", "slack", "hubspot") for c in live.calls(p)]
