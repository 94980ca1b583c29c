"""The confirmation of how a connector is handed out: as its key, or through the gateway (issue 13).

It shows the service's own words (``Handout.plan()``: what changes at once, what stops working, how
to undo it); focus starts on Cancel, so enter or a stray key changes nothing.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from app.tui.screens.base import CancellableModal
from app.tui.screens.confirm import FOCUS_KEYS, plan_outline
from app.tui.widgets.outline import Outline


class HandoutConfirm(CancellableModal[bool]):
    """Dismisses with True (change it) or False (Cancel, escape)."""

    CANCELLED = False
    BINDINGS = [Binding("escape,n", "cancel", "cancel", id="handout-cancel"), *FOCUS_KEYS]
    AUTO_FOCUS = "#cancel"

    def __init__(self, handout: Any) -> None:
        super().__init__(id="handout-confirm")
        self.handout = handout

    def compose(self) -> ComposeResult:
        title, _, body = self.handout.plan().partition("\n\n")
        to_gateway = self.handout.via == "key"
        with Vertical(id="handout-dialog", classes="dialog -warning"):
            yield Static(title, classes="dialog-title", markup=False)
            yield Outline(plan_outline(body, reversible=True), id="handout-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Through the gateway" if to_gateway else "As its key", variant="warning", id="confirm")
                yield Button("Cancel", id="cancel")

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.dismiss(True)
