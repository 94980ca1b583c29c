"""Small pieces every network-facing service shares: one TLS context, optional gates.

Probing and the switches both open one small ``httpx`` pool per provider endpoint; these are the
parts they have in common, kept in one place so the two cannot drift apart.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from contextlib import asynccontextmanager
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
