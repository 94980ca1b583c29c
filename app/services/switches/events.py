"""Handing :class:`SwitchEvent` objects to the caller's ``on_event`` (the panel, the CLI's progress).

One helper for the ladder and the panic alike: a callback that raises (a closed screen, a bug in
the panel) is logged and ignored, because a switch must never stop half-done for a display problem.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from app.services.switches.states import SwitchEvent

log = logging.getLogger(__name__)

EventSink = Callable[[SwitchEvent], None] | None


class _Job(Protocol):
    id: int
    connector: str
    provider: str
    action: str
    batch: str


def emit(
    on_event: EventSink,
    job: _Job,
    state: str,
    message: str,
    started: float,
    manual_steps: Iterable[str] = (),
    at: str = "",
) -> None:
    """Tell ``on_event`` that ``job`` reached ``state``; never raises."""
    if on_event is None:
        return
    try:
        on_event(
            SwitchEvent(
                connector=job.connector,
                provider=job.provider,
                action=job.action,
                state=state,
                message=message,
                manual_steps=tuple(manual_steps),
                job_id=job.id,
                batch=job.batch,
                elapsed_ms=(time.perf_counter() - started) * 1000,
                at=at,
            )
        )
    except Exception:
        log.exception("switch event callback failed (ignored; the switch goes on)")
