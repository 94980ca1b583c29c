"""What every Breaker screen shares."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from textual import on
from textual.screen import ModalScreen
from textual.widgets import Button
from textual.worker import Worker

SCREENS_CSS = str(Path(__file__).resolve().parent.parent / "screens.tcss")
"""The rules of every screen but the main one: each names this file in its ``CSS_PATH``, so Textual
parses it when the first of them opens instead of before the panel's first frame (the main screen's
rules are the app's ``breaker.tcss``). What it buys, bench_startup's panel at 1,000 connectors,
callgrind to the first frame with rows: 1,623 → 1,577 M instructions (fewer rules to parse, and to
match against each widget every time it is styled). tests/tui/test_panel_start.py checks every screen."""


class ReportsWorkerErrors:
    """Worker.StateChanged does not bubble: each screen hands failed workers to the app, which says
    what failed in one line (workers run with exit_on_error=False, so the panel stays up)."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.app.worker_changed(event)  # type: ignore[attr-defined]


ResultType = TypeVar("ResultType")


class CancellableModal(ModalScreen[ResultType]):
    """A modal that escape (its ``cancel`` action) and the ``#cancel`` button both close with
    :attr:`CANCELLED`: one definition of "Cancel does nothing" for every confirmation in the panel."""

    CSS_PATH = SCREENS_CSS

    CANCELLED: Any = None

    def action_cancel(self) -> None:
        self.dismiss(self.CANCELLED)

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()  # one path: a screen that asks before discarding asks for both
