"""What every Breaker screen shares."""

from __future__ import annotations

from textual.worker import Worker


class ReportsWorkerErrors:
    """Worker.StateChanged does not bubble: each screen hands failed workers to the app, which says
    what failed in one line (workers run with exit_on_error=False, so the panel stays up)."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.app.worker_changed(event)  # type: ignore[attr-defined]
