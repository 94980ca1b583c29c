"""Small pieces every network-facing service shares: one TLS context, optional gates.

Probing and the switches both open one small ``httpx`` pool per provider endpoint; these are the
parts they have in common, kept in one place so the two cannot drift apart.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import sys
import threading
from contextlib import asynccontextmanager, contextmanager
from functools import cache

# httpx logs every request line ("HTTP Request: GET <url>") at INFO. Some providers put a token
# in the URL path (HubSpot OAuth), so those lines must never reach a log handler.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)


@cache
def tls_context() -> ssl.SSLContext:
    """One verified TLS context for every client: loading the CA bundle costs ~20 ms each time."""
    return ssl.create_default_context()


@asynccontextmanager
async def gated(gate: asyncio.Semaphore | None):
    """``async with gated(sem)``: hold the semaphore when there is one."""
    if gate is None:
        yield
    else:
        async with gate:
            yield


# -- the GIL while many requests are in flight -----------------------------------------------------

SHORT_SWITCH_INTERVAL_S = 0.0005
_switch_lock = threading.Lock()
_switch_users = 0
_switch_saved = 0.0


@contextmanager
def short_gil_slices():
    """Shorter GIL time slices while probes run, a probe-all above all (``sys.setswitchinterval``).

    A probe-all's results writer is a thread; the requests are sent and read by the event loop.
    With Python's default 5 ms interval the loop waits up to 5 ms whenever the writer holds the
    GIL, and a whole round of responses waits with it: 1,000 probes took 1.3x their ideal instead
    of 1.2x (tests/benchmarks/bench_probe.py). Half a millisecond keeps the loop responsive at a
    small cost in switching. Nested and concurrent uses are counted; the last one out puts the
    previous interval back."""
    global _switch_users, _switch_saved
    with _switch_lock:
        if _switch_users == 0:
            _switch_saved = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch_saved, SHORT_SWITCH_INTERVAL_S))
        _switch_users += 1
    try:
        yield
    finally:
        with _switch_lock:
            _switch_users -= 1
            if _switch_users == 0:
                sys.setswitchinterval(_switch_saved)
