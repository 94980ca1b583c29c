"""After a rotation by the provider's API: the new key, to hand on by hand to a client Breaker does
not launch (a Zapier flow, a ChatGPT action). Masked until the owner asks; Copy puts it on the
clipboard (Textual's ``App.copy_to_clipboard``); when the dialog closes the key is forgotten — the
screen drops it, the service's handoff drops it, and the panel's own clipboard copy is cleared.
The key handling is the service's (:class:`app.services.switches.handoff.KeyHandoff`): this screen
only asks for it and shows it."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from app.tui.markup import escape
from app.tui.screens.base import SCREENS_CSS
from connectors.base import Secret

MASK = "•" * 24
HINT = "s shows it · c copies it · escape closes (and forgets it)"


class NewKeyHandOn(ModalScreen[None]):
    """The new key of one rotation, shown once on request. Focus starts on Done: nothing is shown
    or copied by accident."""

    CSS_PATH = SCREENS_CSS

    BINDINGS = [
        Binding("escape", "done", "done", id="handoff-done"),
        Binding("s", "show", "show / hide the key", id="handoff-show"),
        Binding("c", "copy", "copy the key", id="handoff-copy"),
        Binding("left", "app.focus_previous", "previous", show=False),
        Binding("right", "app.focus_next", "next", show=False),
    ]
    AUTO_FOCUS = "#done"

    def __init__(self, handoff: Any, report: Any = None) -> None:
        super().__init__(id="handoff")
        self.handoff = handoff
        self.report = report
        self.revealed = False  # the key is on the screen now
        self._copied = ""  # what this dialog put on the clipboard, to clear the panel's copy on close

    @property
    def shows_secret(self) -> bool:
        """The key is on the screen: the app refuses screenshots meanwhile."""
        return self.revealed

    def compose(self) -> ComposeResult:
        h = self.handoff
        name = escape(h.connector)
        client = escape(h.client) if h.client else "Whatever uses this key"
        with Vertical(id="handoff-dialog", classes="dialog -warning"):
            yield Static(f"Hand on the new key of {name}", classes="dialog-title")
            yield Static(
                f"[b]{name}[/b] has a new key (ending …{escape(h.last4)}). [b]{client}[/b] needs it, unless it "
                f"gets its key through `breaker exec {name}`, which hands out the new one by itself.\n\n"
                "Breaker shows it [b]this once[/b]: masked until you press Show, forgotten when you close "
                "this dialog (it stays in the keyring for `breaker exec`).",
                id="handoff-text",
            )
            yield Static(self._masked(), id="handoff-key")
            yield Static(HINT, id="handoff-note")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Show the key", id="show")
                yield Button("Copy to clipboard", variant="primary", id="copy")
                yield Button("Done", id="done")

    def _masked(self) -> Text:
        return Text(f"{MASK}{self.handoff.last4}")

    # -- asking the service for the key (a keyring read: a thread) -------------------------------
    @work(thread=True, exclusive=True, group="handoff", exit_on_error=False, description="reading the new key")
    def _reveal(self, then: str) -> None:
        try:
            secret = self.handoff.reveal()
        except Exception as exc:  # HandoffGone, a locked keyring: one line
            self.app.call_from_thread(self._say, str(exc) or type(exc).__name__, True)
            return
        self.app.call_from_thread(self._got, secret, then)

    def _got(self, secret: Secret, then: str) -> None:
        if not self.is_attached or not self.handoff.held:
            return  # closed meanwhile: forgotten already
        if then == "show":
            self.revealed = True
            self.query_one("#handoff-key", Static).update(Text(secret.reveal()))
            self.query_one("#show", Button).label = "Hide the key"
            self._say("Shown. Paste it where it is needed; press Hide (or close) when done.")
        else:
            self._copied = secret.reveal()
            self.app.copy_to_clipboard(self._copied)
            who = self.handoff.client or "where it is needed"
            self._say(
                f"Copied to the clipboard: paste it into {who} now. The clipboard keeps it until you copy "
                "something else."
            )

    def _say(self, text: str, error: bool = False) -> None:
        note = self.query_one("#handoff-note", Static)
        note.update(Text(text))
        note.set_class(error, "-error")

    # -- the owner's keys -------------------------------------------------------------------------
    def action_show(self) -> None:
        if self.revealed:
            self._hide()
            return
        self._reveal("show")

    def _hide(self) -> None:
        self.revealed = False
        self.query_one("#handoff-key", Static).update(self._masked())
        self.query_one("#show", Button).label = "Show the key"
        self._say(HINT)

    def action_copy(self) -> None:
        self._reveal("copy")

    def action_done(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#show")
    def _show_pressed(self) -> None:
        self.action_show()

    @on(Button.Pressed, "#copy")
    def _copy_pressed(self) -> None:
        self.action_copy()

    @on(Button.Pressed, "#done")
    def _done_pressed(self) -> None:
        self.action_done()

    def on_unmount(self) -> None:
        self.forget()

    def dismiss(self, result: Any = None):
        self.forget()  # before the screen goes: nothing of the key survives the dialog
        return super().dismiss(result)

    def forget(self) -> None:
        self.handoff.forget()
        if self.revealed and self.is_attached:
            self._hide()
        self.revealed = False
        if self._copied:
            self.app.forget_clipboard(self._copied)  # type: ignore[attr-defined]
            self._copied = ""
