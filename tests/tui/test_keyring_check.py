"""Issue 10: the panel checks the keyring before the add form opens. A locked or absent keyring is
said in two lines (what was found, what to do) and no form opens, instead of a form that fails at
Save after the owner pasted a key."""

from __future__ import annotations

import keyring.errors
import pytest

from app.services.keyrings import NoKeyringError
from app.tui.app import make_app
from app.tui.screens.form import ConnectorForm
from app.tui.screens.main import MainScreen
from tests.tui.pilot import Notes, on_screen, settle, until

SIZE = (120, 36)


def locked(memory_keyring, monkeypatch) -> None:
    def refuse(*_args):
        raise keyring.errors.KeyringLocked("the collection is locked")

    monkeypatch.setattr(memory_keyring, "set_password", refuse)


def absent(seeded, monkeypatch) -> None:
    def no_keyring():
        raise NoKeyringError("no keyring")

    monkeypatch.setattr(seeded.secrets, "_backend", None)
    monkeypatch.setattr(seeded.secrets, "_factory", no_keyring)


@pytest.mark.parametrize(
    ("break_keyring", "found"),
    [
        (lambda seeded, mk, mp: locked(mk, mp), "could not store a test item (KeyringLocked); is it locked?"),
        (lambda seeded, mk, mp: absent(seeded, mp), "No keyring could be found on this machine"),
    ],
    ids=["locked", "absent"],
)
async def test_no_usable_keyring_says_what_to_do_and_opens_no_form(
    seeded, memory_keyring, monkeypatch, break_keyring, found
):
    app = make_app(seeded)
    notes = Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await settle(pilot)
        break_keyring(seeded, memory_keyring, monkeypatch)
        await pilot.press("a")
        await until(pilot, lambda: any(n.title == "No usable keyring" for n in notes))
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)  # no form to paste a key into
        (note,) = [n for n in notes if n.title == "No usable keyring"]
        lines = note.message.split("\n")
        assert len(lines) == 2 and found in lines[0]
        assert "unlock your keyring" in lines[1] and "breaker doctor" in lines[1]
        assert note.severity == "error"
        monkeypatch.undo()  # unlocked (or installed): the next press opens the form
        await pilot.press("a")
        await on_screen(pilot, ConnectorForm)


async def test_a_working_keyring_is_checked_once_and_leaves_nothing_behind(seeded, memory_keyring):
    before = dict(memory_keyring.store)
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await on_screen(pilot, ConnectorForm)
        assert app.main_screen.keyring_ready
        assert memory_keyring.store == before  # the test item was stored, read back and deleted
        await pilot.press("escape")
        await on_screen(pilot, MainScreen)
        await pilot.press("a")  # checked already: the form opens at once
        await pilot.pause()
        assert isinstance(app.screen, ConnectorForm)
