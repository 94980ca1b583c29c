"""Asked when escape (or Cancel) would throw away a form the owner has filled in. Focus starts on
"Keep editing": escape again keeps the form, only the Discard button throws it away."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from app.tui.screens.base import CancellableModal


class DiscardConfirm(CancellableModal[bool]):
    """Dismisses with True (discard) or False (keep editing: escape, the Keep editing button)."""

    CANCELLED = False
    BINDINGS = [
        Binding("escape", "cancel", "keep editing", id="discard-cancel"),
        Binding("left", "app.focus_previous", "previous", show=False),
        Binding("right", "app.focus_next", "next", show=False),
    ]
    AUTO_FOCUS = "#cancel"

    def __init__(self, what: str) -> None:
        super().__init__(id="discard-confirm")
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical(id="discard-dialog", classes="dialog -warning"):
            yield Static("Discard what you typed?", classes="dialog-title")
            yield Static(f"{self.what} is not saved. Discarding closes the form and keeps nothing of it.")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Discard", variant="warning", id="discard")
                yield Button("Keep editing", id="cancel")

    @on(Button.Pressed, "#discard")
    def _discard(self) -> None:
        self.dismiss(True)
