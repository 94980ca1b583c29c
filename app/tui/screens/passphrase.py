"""The encrypted-file keyring's passphrase, asked in a dialog while the panel owns the terminal.

``app.services.filekeyring`` would read it from the terminal, which the panel holds: the prompt
would sit hidden under the panel and wait forever. The panel registers :func:`ask` instead (see
``BreakerApp.on_mount``): the thread that needs a key waits while this dialog asks. The input is
masked; the passphrase is checked against the file before the dialog closes (in a thread: the key
derivation takes a moment), kept in memory for this panel only, and never shown, logged or
written. Cancel leaves the keyring locked, and the step that needed it says so in one line.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from app.tui.markup import escape
from app.tui.screens.base import CancellableModal


class PassphraseDialog(CancellableModal["bytes | None"]):
    """Dismisses with the passphrase (bytes, checked against the file) or None (Cancel, escape)."""

    CANCELLED = None
    BINDINGS = [Binding("escape", "cancel", "cancel", id="passphrase-cancel")]
    AUTO_FOCUS = "#passphrase"

    def __init__(self, path: Path, right: Callable[[bytes], bool]) -> None:
        super().__init__(id="passphrase-dialog")
        self.path = path
        self.right = right

    def compose(self) -> ComposeResult:
        with Vertical(id="passphrase-box", classes="dialog"):
            yield Static("Unlock the encrypted keyring", classes="dialog-title")
            yield Static(
                f"Breaker's keys are encrypted in [b]{escape(str(self.path))}[/b]\n"
                "Type its passphrase to go on. It stays in memory for this panel only.",
                id="passphrase-text",
            )
            yield Input(password=True, placeholder="passphrase (hidden)", id="passphrase")
            yield Static("", id="passphrase-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Unlock", variant="primary", id="unlock")
                yield Button("Cancel", id="cancel")

    @on(Input.Submitted, "#passphrase")
    @on(Button.Pressed, "#unlock")
    def _unlock(self) -> None:
        field = self.query_one("#passphrase", Input)
        value = field.value.encode()
        if not value:
            self._say("Type the passphrase, or Cancel to leave the keyring locked.")
            return
        field.disabled = True
        self._say("Checking…")
        self._check(value)

    @work(thread=True, exclusive=True, exit_on_error=False, description="checking the passphrase")
    def _check(self, value: bytes) -> None:
        ok = self.right(value)
        self.app.call_from_thread(self._checked, value if ok else None)

    def _checked(self, value: bytes | None) -> None:
        field = self.query_one("#passphrase", Input)
        field.value = ""  # nothing of it stays on screen
        if value is not None:
            self.dismiss(value)
            return
        field.disabled = False
        field.focus()
        self._say("That passphrase does not open this keyring. Try again, or Cancel.")

    def _say(self, text: str) -> None:
        self.query_one("#passphrase-error", Static).update(f"[$text-warning]{escape(text)}[/]")


def asker(app: App) -> Callable[[Path, Callable[[bytes], bool]], bytes | None]:
    """What ``filekeyring.set_asker`` takes: shows the dialog on ``app`` and waits for the answer (on
    the thread that needs the key). On the panel's own thread nothing can wait: a one-line refusal."""

    def ask(path: Path, right: Callable[[bytes], bool]) -> bytes | None:
        import keyring.errors

        from app.services.filekeyring import HOW_TO_GIVE

        answer: concurrent.futures.Future = concurrent.futures.Future()

        def show() -> None:
            app.push_screen(PassphraseDialog(path, right), answer.set_result)

        try:
            app.call_from_thread(show)
        except RuntimeError:  # the panel's own thread, or the panel has stopped
            raise keyring.errors.KeyringLocked(
                f"the encrypted keyring {path} needs its passphrase, which the panel asks in a dialog when a "
                f"step in the background needs it; {HOW_TO_GIVE}"
            ) from None
        while True:
            try:
                return answer.result(timeout=0.5)
            except concurrent.futures.TimeoutError:
                if not app.is_running:
                    return None

    return ask
