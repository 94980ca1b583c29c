"""What every Breaker screen shares."""

from __future__ import annotations

from typing import Any, TypeVar

from textual import on
from textual.screen import ModalScreen
from textual.widgets import Button
from textual.worker import Worker


class ReportsWorkerErrors:
    """Worker.StateChanged does not bubble: each screen hands failed workers to the app, which says
    what failed in one line (workers run with exit_on_error=False, so the panel stays up)."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.app.worker_changed(event)  # type: ignore[attr-defined]


ResultType = TypeVar("ResultType")


class CancellableModal(ModalScreen[ResultType]):
    """A modal that escape (its ``cancel`` action) and the ``#cancel`` button both close with
    :attr:`CANCELLED`: one definition of "Cancel does nothing" for every confirmation in the panel."""

    CANCELLED: Any = None

    def action_cancel(self) -> None:
        self.dismiss(self.CANCELLED)

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()  # one path: a screen that asks before discarding asks for both
