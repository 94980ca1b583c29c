"""Running the gateway: uvicorn on a loopback socket, the ASGI app of :mod:`app.gateway.app`."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

import uvicorn

from app.gateway.app import GatewayApp

T = TypeVar("T")


class NotLoopback(ValueError):
    pass


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``breaker gateway``'s main coroutine on uvloop's event loop (libuv; a runtime dependency
    where it builds, not on Windows), else on asyncio's own. What it buys, counted with callgrind on
    the gateway process over sequential ``GET /v1/models`` (docs/benchmarks.md, "The gateway"): fewer
    instructions per request in the loop itself and in every await of the upstream client. It sets
    TCP_NODELAY on every accepted TCP connection itself (tests/gateway/test_process.py checks)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - platforms uvloop does not build on
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def loopback_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket on a loopback address; anything else is refused."""
    try:
        address = ipaddress.ip_address("127.0.0.1" if host == "localhost" else host)
    except ValueError:
        raise NotLoopback(f"{host!r} is not an IP address; the gateway listens on loopback only") from None
    if not address.is_loopback:
        raise NotLoopback(f"{host} is not a loopback address; the gateway listens on loopback only")
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    # proto=IPPROTO_TCP, not the default 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
    # sockets whose proto says TCP (asyncio.base_events._set_nodelay), and accepted connections
    # inherit the listener's proto. With proto 0 every answer written as head + body (uvicorn writes
    # them separately) waited for the client's delayed ACK: ~40 ms added to each request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((str(address), port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class _OneWrite:
    """The transport uvicorn writes an answer to, holding a response head until the body written
    right after it (in the same turn of the event loop), so both leave in one ``writelines`` — one
    system call, one segment — instead of two. uvicorn writes the head at ``http.response.start``
    and the body at ``http.response.body``: the agent got the head alone, woke for it, and read
    again for the body. A head with nothing after it in the same turn (a stream's first event
    comes later) is written at the end of that turn. Everything else goes to the real transport."""

    __slots__ = ("_transport", "_head", "_loop")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None
        self._loop = asyncio.get_running_loop()

    def write(self, data: bytes) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._transport.writelines((head, data))
        elif data.startswith(b"HTTP/"):
            self._head = data
            self._loop.call_soon(self._flush)
        else:
            self._transport.write(data)

    def _flush(self) -> None:
        head, self._head = self._head, None
        if head is not None:
            self._transport.write(head)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


def _protocol() -> type[asyncio.Protocol] | str:
    """uvicorn's httptools protocol writing each answer through :class:`_OneWrite`."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is a runtime dependency; uvicorn's own choice else
        return "auto"

    class OneWriteProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.transport = _OneWrite(transport)  # type: ignore[assignment]

    return OneWriteProtocol


class _Server(uvicorn.Server):
    """uvicorn's server, writing the usage rows that wait once its connections are closed. On
    SIGTERM or SIGINT uvicorn stops serving and then raises the signal again from ``serve()``
    (its default action ends the process there, before any ``finally`` after it): without this, a
    ``breaker gateway`` stopped with SIGTERM lost the usage rows of its last batch."""

    def __init__(self, config: uvicorn.Config, app: GatewayApp) -> None:
        super().__init__(config)
        self.gateway_app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().shutdown(sockets)
        finally:
            await self.gateway_app.flush_usage()


class RunningGateway:
    """A gateway serving on a socket; ``url`` is its base URL."""

    def __init__(self, app: GatewayApp, sock: socket.socket) -> None:
        self.app = app
        self.sock = sock
        host, port = sock.getsockname()[:2]
        self.url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        # proxy_headers off: agents connect from loopback, which uvicorn trusts by default, so an agent's
        # X-Forwarded-For/-Proto would otherwise rewrite the request's client and scheme. No Date or
        # Server header of uvicorn's own: a forwarded answer carries the provider's (uvicorn added a
        # second of each to every one), and the gateway's own answers carry their Date
        # (GatewayApp.respond).
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http=_protocol(),
            ws="none",
            timeout_keep_alive=30,
            proxy_headers=False,
            server_header=False,
            date_header=False,
        )
        self.server = _Server(config, app)
        self.task: asyncio.Task | None = None

    async def start(self) -> RunningGateway:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.005)
        return self

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.app.aclose()
        self.sock.close()


@contextlib.asynccontextmanager
async def running(
    services, host: str = "127.0.0.1", port: int = 0, *, queue=None, on_event: Callable[[str], None] | None = None
) -> AsyncIterator[RunningGateway]:
    app = GatewayApp(services, queue=queue, on_event=on_event)
    gw = await RunningGateway(app, loopback_socket(host, port)).start()
    try:
        yield gw
    finally:
        await gw.stop()
