"""The encrypted-file keyring inside the panel (issue 10, keyring on every machine): its passphrase
cannot be typed at a terminal the panel owns, so the panel asks in a masked dialog — or, cancelled,
says in one line how to give it. Never a wait without end.

The terminal is faked as a terminal whose ``getpass`` never returns (what happens under a running
panel: the keystrokes go to the panel). On the code before this dialog, ``a`` waited on it forever."""

from __future__ import annotations

import getpass
import sys
import threading

import pytest
from textual.widgets import Input, Static

from app.services import filekeyring
from app.services.context import open_services
from app.services.filekeyring import EncryptedFileKeyring
from app.settings import load_settings
from app.tui.app import make_app
from app.tui.screens.form import ConnectorForm
from app.tui.screens.main import MainScreen
from app.tui.screens.passphrase import PassphraseDialog
from tests.tui.pilot import Notes, on_screen, settle, until

PASSPHRASE = "correct horse battery staple"
GENEROUS = 60.0  # seconds: a loaded CI machine is slow; the old code never got there at all


class _Terminal:
    """stdin as a terminal (the panel runs in one)."""

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        return ""


@pytest.fixture
def locked_file_keyring(tmp_path, monkeypatch):
    """Services on an encrypted-file keyring whose passphrase is not known to this process yet."""
    path = tmp_path / "keyring.enc"
    backend = EncryptedFileKeyring(path)
    filekeyring._passphrases[str(path)] = PASSPHRASE.encode()  # opening the store makes its install keys
    services = open_services(load_settings(home=tmp_path / "home"), keyring=backend)
    services.secrets.set_value("install:fingerprint", "11" * 32)
    services.secrets.set_value("install:audit", "22" * 32)
    filekeyring._passphrases.clear()
    backend._key = None  # as in a new process: the passphrase must be asked for
    monkeypatch.delenv(filekeyring.FD_ENV, raising=False)
    never = threading.Event()
    asked = []

    def hangs(prompt: str = "") -> str:  # a terminal read under a running panel
        asked.append(prompt)
        never.wait(GENEROUS * 2)
        return ""

    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr(getpass, "getpass", hangs)
    yield services, asked
    never.set()
    filekeyring._passphrases.clear()
    services.close()


async def test_the_panel_asks_for_the_passphrase_in_a_masked_dialog(locked_file_keyring):
    services, asked = locked_file_keyring
    notes = Notes()
    app = make_app(services)
    async with app.run_test(size=(120, 36), message_hook=notes) as pilot:
        await settle(pilot)
        await pilot.press("a")  # the add form first checks the keyring: that needs the passphrase
        await on_screen(pilot, PassphraseDialog, timeout=GENEROUS)
        field = app.screen.query_one("#passphrase", Input)
        assert field.password  # masked
        await pilot.press(*"wrong one", "enter")
        error = app.screen.query_one("#passphrase-error", Static)
        await until(pilot, lambda: "does not open" in str(error.content), timeout=GENEROUS)
        assert isinstance(app.screen, PassphraseDialog) and field.value == ""
        await pilot.press(*PASSPHRASE, "enter")
        await on_screen(pilot, ConnectorForm, timeout=GENEROUS)
        texts = " ".join(notes.texts())
        assert PASSPHRASE not in texts and "wrong one" not in texts
    assert asked == []  # the terminal was never read


async def test_cancelled_it_says_in_one_line_how_to_give_it(locked_file_keyring):
    services, asked = locked_file_keyring
    notes = Notes()
    app = make_app(services)
    async with app.run_test(size=(120, 36), message_hook=notes) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await on_screen(pilot, PassphraseDialog, timeout=GENEROUS)
        await pilot.press("escape")
        await on_screen(pilot, MainScreen, timeout=GENEROUS)
        await until(pilot, lambda: any("No usable keyring" in t for t in notes.texts()), timeout=GENEROUS)
        text = next(t for t in notes.texts() if "No usable keyring" in t)
        assert "stays locked" in text and filekeyring.FD_ENV in text
        assert not isinstance(app.screen, ConnectorForm)
    assert asked == []


def test_without_the_panel_the_terminal_is_asked_as_before(tmp_path, monkeypatch):
    """The dialog's asker is the panel's alone: once the panel is gone, the terminal is used again."""
    assert filekeyring._asker is None
    monkeypatch.delenv(filekeyring.FD_ENV, raising=False)
    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": PASSPHRASE)
    path = tmp_path / "k.enc"
    try:
        EncryptedFileKeyring(path).set_password("breaker", "x", "y")
        assert filekeyring._passphrases[str(path)] == PASSPHRASE.encode()
    finally:
        filekeyring._passphrases.clear()
