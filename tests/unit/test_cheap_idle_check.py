"""app.services.netutil.CheapIdleCheck: the pool's "is this idle connection readable?" answered
from the kept socket — the same answer httpcore's own stream gives, everything else passed on."""

from __future__ import annotations

import asyncio
import socket

from app.services.netutil import CheapIdleCheck


class Inner:
    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.calls = sock, []

    def get_extra_info(self, info: str):
        self.calls.append(info)
        return self.sock if info == "socket" else f"inner {info}"

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.sock.recv(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.sock.sendall(buffer)

    async def aclose(self) -> None:
        self.sock.close()


def test_an_idle_connection_is_readable_once_the_peer_wrote_or_closed():
    ours, peer = socket.socketpair()
    inner = Inner(ours)
    stream = CheapIdleCheck(inner)
    assert stream.get_extra_info("is_readable") is False  # idle, nothing pending: the pool reuses it
    peer.sendall(b"x")
    assert stream.get_extra_info("is_readable") is True
    assert asyncio.run(stream.read(10)) == b"x"
    peer.close()
    assert stream.get_extra_info("is_readable") is True  # the server closed it: the pool drops it
    assert "is_readable" not in inner.calls  # answered from the kept socket
    assert stream.get_extra_info("server_addr") == "inner server_addr"  # the rest passed on
    asyncio.run(stream.aclose())
    assert stream.get_extra_info("is_readable") is True  # a closed socket is never reused


def test_through_httpx_the_connection_is_reused_and_a_closed_one_replaced():
    """A keep-alive server: two requests share one connection; after the server closes it, the
    next request opens a new one instead of failing on the dead one."""
    import httpx

    from app.services import pinned

    async def main() -> list[int]:
        peers: list[int] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peers.append(writer.get_extra_info("peername")[1])
            for _ in range(2 if len(peers) == 1 else 1):
                await reader.readuntil(b"\r\n\r\n")
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(transport=pinned.transport(limits, None)) as client:
            for _ in range(3):
                assert (await client.get(f"http://127.0.0.1:{port}/")).text == "ok"
                await asyncio.sleep(0.05)
        server.close()
        return peers

    assert len(asyncio.run(main())) == 2  # requests 1 and 2 on one connection, 3 on a new one
