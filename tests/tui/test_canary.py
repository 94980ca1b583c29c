"""A canary key planted through the panel's own form must appear on no screen and not in the database.

Every screen is exported as SVG (what a screenshot, a screen recording or a shoulder-surfer would
see) at each step; the SQLite file and its WAL are read as bytes.
"""

from __future__ import annotations

from pathlib import Path

from textual import events
from textual.widgets import Input

from app.tui.app import make_app
from app.tui.screens.confirm import NewKeyModal, SwitchConfirm
from app.tui.screens.connector import ConnectorScreen
from app.tui.screens.form import ConnectorForm
from app.tui.screens.main import MainScreen
from app.tui.screens.panic import PanicConfirm
from tests.tui.pilot import click, on_screen, settle

CANARY = "ghp_SANDBOXcanary" + "Zq8Wm3Rt6Yp1Xv4Nb7L" + "C4N4"  # a GitHub classic PAT shape: 36 after ghp_
SIZE = (120, 36)


def leaks(text: str) -> list[str]:
    """Pieces of the canary found in ``text``: the whole key, or any 12-character run of it."""
    found = [CANARY] if CANARY in text else []
    found += [CANARY[i : i + 12] for i in range(len(CANARY) - 11) if CANARY[i : i + 12] in text]
    return found


async def test_canary_key_added_through_the_panel_is_never_shown_nor_stored(seeded, memory_keyring):
    assert len(CANARY) == 40
    shots: dict[str, str] = {}
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await on_screen(pilot, "ConnectorForm")  # after the keyring check (a thread)
        form = app.screen
        assert isinstance(form, ConnectorForm)
        key = form.query_one("#key", Input)
        key.focus()
        key.post_message(events.Paste(CANARY))
        await pilot.pause()
        shots["form, key pasted"] = app.export_screenshot()
        form.query_one("#name", Input).value = "canary-bot"
        form.query_one("#owner", Input).value = "Dana"
        form.query_one("#declared", Input).value = "repo:nonsense"  # refused first: the form keeps the key
        await pilot.press("ctrl+s")
        await settle(pilot)
        shots["form, validation error"] = app.export_screenshot()
        form.query_one("#declared", Input).value = "repo:read"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        app.clear_notifications()
        await pilot.pause()
        shots["main"] = app.export_screenshot()
        table = app.main_screen.table
        table.move_cursor(row=[v.name for v in table.views.values()].index("canary-bot"), animate=False)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConnectorScreen)
        shots["connector"] = app.export_screenshot()
        await pilot.press("e")
        await pilot.pause()
        shots["edit form"] = app.export_screenshot()
        await pilot.press("escape", "delete")
        await pilot.pause()
        shots["remove confirmation"] = app.export_screenshot()
        await pilot.press("escape", "escape", "l")
        await settle(pilot)
        shots["audit log"] = app.export_screenshot()
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        shots["help"] = app.export_screenshot()
        await pilot.press("escape", "ctrl+p")
        await pilot.pause()
        shots["palette"] = app.export_screenshot()
        await pilot.press("escape")
        await pilot.pause()
        # the switches: the confirmation, and the guided rotation with a new key pasted (masked)
        await pilot.press("x")
        await on_screen(pilot, SwitchConfirm)
        shots["disable confirmation"] = app.export_screenshot()
        await pilot.press("escape", "r")
        await on_screen(pilot, SwitchConfirm)
        await click(pilot, "#confirm")
        await on_screen(pilot, NewKeyModal)
        field = app.screen.query_one("#new-key-input", Input)
        field.post_message(events.Paste(CANARY))
        await pilot.pause()
        shots["rotation, new key pasted"] = app.export_screenshot()
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("exclamation_mark")
        await on_screen(pilot, PanicConfirm)
        shots["panic confirmation"] = app.export_screenshot()
        await pilot.press("escape")
        await pilot.pause()

    assert CANARY in set(memory_keyring.store.values())  # the key did reach the keyring
    for name, svg in shots.items():
        assert not leaks(svg), f"canary visible on the {name} screen"
    assert "canary-bot" in shots["main"]  # the screenshots really show the connector
    db = seeded.settings.db_path
    assert db is not None
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        if path.exists():
            data = path.read_bytes()
            assert CANARY.encode() not in data and CANARY[4:20].encode() not in data, path.name
