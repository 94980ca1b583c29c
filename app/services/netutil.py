"""Small pieces every network-facing service shares: one TLS context, optional gates.

Probing and the switches both open one small ``httpx`` pool per provider endpoint; these are the
parts they have in common, kept in one place so the two cannot drift apart.
"""

from __future__ import annotations

import asyncio
import logging
import select
import ssl
import typing
from contextlib import asynccontextmanager
from functools import cache

if typing.TYPE_CHECKING:  # httpx and httpcore are imported by the clients that use this
    import httpcore

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


def _readable(sock) -> bool:
    """Whether data (or the peer's close) waits on ``sock``: one poll, no wait. A closed socket counts
    as readable, so the pool drops the connection."""
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class CheapIdleCheck:
    """An httpcore network stream (its ``AsyncNetworkStream`` interface) that answers the pool's
    "is this idle connection readable?" from the socket it keeps, and passes everything else on.

    httpcore's pool asks that of every idle connection each time it places a request; through
    anyio's stream each answer builds its table of attributes and calls ``getpeername``: 20,000
    answers in a probe-all of 1,000 connectors, the largest single cost in httpcore there
    (tests/benchmarks/bench_probe.py; figures in docs/benchmarks.md)."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self.inner = inner
        self._sock = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self.inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self.inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> CheapIdleCheck:
        return CheapIdleCheck(await self.inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable" and self._sock is not None:
            return _readable(self._sock)
        return self.inner.get_extra_info(info)
