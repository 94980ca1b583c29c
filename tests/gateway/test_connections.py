"""The gateway's connections: Nagle's algorithm off on every accepted socket, and no state carried
from one agent's request to another's through the upstream client."""

from __future__ import annotations

import socket

import httpx

from app.gateway.server import loopback_socket, running


def test_the_listening_socket_says_tcp_so_asyncio_turns_nagle_off_on_accepted_ones():
    # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; accepted sockets inherit it.
    sock = loopback_socket()
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


async def test_an_accepted_connection_has_nagle_off(services):
    """With Nagle on, an answer written as head then body waits for the client's delayed ACK
    (~40 ms on Linux) before the body leaves: the cause of a constant ~47 ms per request."""
    async with running(services) as gw:
        async with httpx.AsyncClient() as client:
            r = await client.get(gw.url + "/")
            assert r.status_code == 200
            connections = list(gw.server.server_state.connections)
            assert connections
            for protocol in connections:
                sock = protocol.transport.get_extra_info("socket")
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


async def test_a_providers_cookie_never_rides_along_on_a_later_request(gateway, upstream):
    async with httpx.AsyncClient() as client:
        r = await client.get(
            gateway.base("gh-bot") + "/_set_cookie", headers={"Authorization": f"Bearer {gateway.tokens['gh-bot']}"}
        )
        assert r.status_code == 200 and "set-cookie" not in r.headers
        for name in ("gh-bot", "graph-bot"):
            auth = f"Bearer {gateway.tokens[name]}"
            r = await client.get(gateway.base(name) + "/v1.0/me/messages", headers={"Authorization": auth})
            assert r.status_code == 200, r.text
            assert "cookie" not in upstream.seen[-1].headers
            assert "CANARYcookie" not in repr(upstream.seen[-1].headers)


class Recording:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def write(self, data: bytes) -> None:
        self.calls.append(("write", data))

    def writelines(self, parts) -> None:
        self.calls.append(("writelines", tuple(parts)))

    def close(self) -> None:
        self.calls.append(("close",))

    def get_extra_info(self, name: str):
        return ("127.0.0.1", 1) if name in ("sockname", "peername") else None


async def test_an_answer_leaves_in_one_write_and_a_lone_head_at_the_end_of_the_turn():
    import asyncio

    from app.gateway.server import _OneWrite

    raw = Recording()
    out = _OneWrite(raw)
    out.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    out.write(b"{}")
    assert raw.calls == [("writelines", (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n", b"{}"))]
    raw.calls.clear()
    out.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n")  # a stream: no body yet
    assert raw.calls == []
    await asyncio.sleep(0)
    assert raw.calls == [("write", b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n")]
    out.write(b"5\r\ndata:\r\n")  # later chunks go straight out
    out.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    out.close()  # a held head is written before the connection closes
    assert raw.calls[1:] == [("write", b"5\r\ndata:\r\n"), ("write", b"HTTP/1.1 400 Bad Request\r\n\r\n"), ("close",)]
    assert out.get_extra_info("peername") == ("127.0.0.1", 1)


async def test_the_gateways_connections_write_through_one_write(services):
    from app.gateway.server import _OneWrite

    async with running(services) as gw:
        async with httpx.AsyncClient() as client:
            r = await client.get(gw.url + "/")
            assert r.status_code == 200 and r.json()["gateway"] == "breaker"
            (connection,) = gw.server.server_state.connections
            assert isinstance(connection.transport, _OneWrite)
