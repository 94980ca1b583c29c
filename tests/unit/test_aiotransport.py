"""app.services.aiotransport: httpx's transport on aiohttp keeps every guarantee httpx's own gave
the key-sending clients — the bytes the caller set and nothing else, no cookies, no redirects, no
decompression, streaming both ways, limits, timeouts, TCP_NODELAY, and httpx's exceptions with
Breaker's own text. Each test talks to a raw asyncio server on loopback that records what came."""

from __future__ import annotations

import asyncio
import gzip
import socket

import httpx
import pytest

from app.services import pinned
from app.services.aiotransport import AiohttpTransport


class Raw:
    """A loopback HTTP/1.1 server: ``answer(head, body) -> bytes`` for each request; records heads."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.heads: list[bytes] = []
        self.bodies: list[bytes] = []
        self.connections = 0
        self.server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> Raw:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                lines = head.lower().split(b"\r\n")
                length = next((int(x.split(b":")[1]) for x in lines if x.startswith(b"content-length:")), 0)
                if any(x.startswith(b"transfer-encoding:") and b"chunked" in x for x in lines):
                    body = b""
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                        chunk = await reader.readexactly(size + 2)
                        if size == 0:
                            break
                        body += chunk[:-2]
                else:
                    body = await reader.readexactly(length)
                self.bodies.append(body)
                out = self.answer(head, body)
                if asyncio.iscoroutine(out):
                    out = await out
                if out is None:  # hang up without an answer
                    writer.close()
                    return
                writer.write(out)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


def ok(head: bytes, body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


def transport(**limits) -> AiohttpTransport:
    return pinned.transport(httpx.Limits(**(limits or {"max_connections": 10})), verify=True)


def header_names(head: bytes) -> list[bytes]:
    return [line.split(b":")[0].lower() for line in head.split(b"\r\n")[1:] if b":" in line]


def test_pinned_transport_is_the_aiohttp_one():
    assert isinstance(transport(), AiohttpTransport)


def test_only_the_headers_the_caller_set_go_out():
    """aiohttp adds User-Agent, Accept, Accept-Encoding (and Content-Type on a POST) by default."""

    async def main() -> list[bytes]:
        async with Raw(ok) as srv:
            t = transport()
            for method, content in (("GET", None), ("POST", b'{"a":1}')):
                request = httpx.Request(method, srv.url + "/v1/x", headers={"X-Case": "Kept"}, content=content)
                response = await t.handle_async_request(request)
                await response.aread()
            await t.aclose()
            return srv.heads

    get, post = asyncio.run(main())
    assert header_names(get) == [b"host", b"x-case"]
    assert header_names(post) == [b"host", b"x-case", b"content-length"]
    assert b"X-Case: Kept" in get  # the caller's spelling, as httpx kept it


def test_the_url_goes_out_as_httpx_encoded_it():
    async def main() -> bytes:
        async with Raw(ok) as srv:
            async with httpx.AsyncClient(transport=transport()) as client:
                await client.get(srv.url + "/repos/a%2Fb/c%7Ed?q=x%20y&r=%2F")
            return srv.heads[0]

    assert asyncio.run(main()).startswith(b"GET /repos/a%2Fb/c%7Ed?q=x%20y&r=%2F HTTP/1.1\r\n")


def test_no_cookie_jar_no_redirect_no_decompression():
    packed = gzip.compress(b'{"secret": "no"}')

    def answer(head: bytes, body: bytes) -> bytes:
        if head.startswith(b"GET /first"):
            return (
                b"HTTP/1.1 302 Found\r\nset-cookie: session=abc; Path=/\r\nlocation: /elsewhere\r\n"
                b"content-length: 0\r\n\r\n"
            )
        return b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n" % len(packed) + packed

    async def main():
        async with Raw(answer) as srv:
            t = transport()
            named = srv.url.replace("127.0.0.1", "localhost")  # aiohttp's jar keeps no cookie of an IP address
            first = await t.handle_async_request(httpx.Request("GET", named + "/first"))
            await first.aread()
            second = await t.handle_async_request(httpx.Request("GET", named + "/second"))
            body = b"".join([chunk async for chunk in second.aiter_raw()])  # as the gateway reads it
            await t.aclose()
            return first, second, body, srv.heads

    first, second, body, heads = asyncio.run(main())
    assert first.status_code == 302 and len(heads) == 2  # the redirect is the caller's to follow
    assert b"cookie" not in heads[1].lower()  # the Set-Cookie rode on nothing
    assert second.headers["content-encoding"] == "gzip" and body == packed  # bytes as they came


def test_a_streamed_answer_is_passed_on_event_by_event():
    go_on = None

    async def main() -> list[bytes]:
        nonlocal go_on
        go_on = asyncio.Event()

        async def serve(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
            writer.write(b"d\r\ndata: first\n\n\r\n")
            await writer.drain()
            await go_on.wait()  # the second event only after the client has the first
            writer.write(b"e\r\ndata: second\n\n\r\n0\r\n\r\n")
            await writer.drain()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        t = transport()
        response = await t.handle_async_request(httpx.Request("GET", f"http://127.0.0.1:{port}/stream"))
        got = []
        async for chunk in response.aiter_raw():
            got.append(chunk)
            go_on.set()
        await response.aclose()
        await t.aclose()
        server.close()
        return got

    assert asyncio.run(main()) == [b"data: first\n\n", b"data: second\n\n"]


def test_a_streamed_request_body_is_sent_chunked():
    async def parts():
        yield b"one,"
        await asyncio.sleep(0)
        yield b"two"

    async def main():
        async with Raw(ok) as srv:
            async with httpx.AsyncClient(transport=transport()) as client:
                await client.post(srv.url + "/upload", content=parts())
            return srv.heads[0], srv.bodies[0]

    head, body = asyncio.run(main())
    assert b"transfer-encoding: chunked" in head.lower() and body == b"one,two"
    assert head.lower().count(b"transfer-encoding") == 1


def test_connections_are_reused_a_closed_one_replaced_and_tcp_nodelay_set():
    """Two requests share one connection; after the server closes it, the next opens a new one."""

    async def main():
        peers: list[int] = []
        nodelay: list[int] = []

        async def serve(reader, writer):
            peers.append(writer.get_extra_info("peername")[1])
            for _ in range(2 if len(peers) == 1 else 1):
                await reader.readuntil(b"\r\n\r\n")
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        t = transport(max_connections=1)
        async with httpx.AsyncClient(transport=t) as client:
            for _ in range(3):
                assert (await client.get(f"http://127.0.0.1:{port}/")).text == "ok"
                for idle in t.session.connector._conns.values():  # aiohttp's idle connections
                    for proto, _ in idle:
                        sock = proto.transport.get_extra_info("socket")
                        nodelay.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                await asyncio.sleep(0.05)
        server.close()
        return peers, nodelay

    peers, nodelay = asyncio.run(main())
    assert len(peers) == 2  # requests 1 and 2 on one connection, 3 on a new one
    assert nodelay and all(nodelay)


def test_no_keepalive_means_a_new_connection_each_time():
    async def main() -> int:
        async with Raw(ok) as srv:
            async with httpx.AsyncClient(transport=transport(max_connections=4, max_keepalive_connections=0)) as c:
                for _ in range(3):
                    await c.get(srv.url + "/")
            return srv.connections

    assert asyncio.run(main()) == 3


def test_a_hang_up_is_a_remote_protocol_error_and_never_sent_again():
    """aiohttp would resend an idempotent request once on a dropped keep-alive connection; the
    gateway forwards a request at most once, so the transport does not."""

    async def main():
        async with Raw(lambda head, body: ok(head, body) if len(srv.heads) == 1 else None) as srv:
            async with httpx.AsyncClient(transport=transport()) as client:
                await client.get(srv.url + "/a")
                with pytest.raises(httpx.RemoteProtocolError):
                    await client.delete(srv.url + "/b")
            return len(srv.heads)

    assert asyncio.run(main()) == 2


def test_timeouts_and_refusals_are_httpx_exceptions_with_breakers_words():
    async def slow(head: bytes, body: bytes) -> bytes:
        await asyncio.sleep(1)
        return ok(head, body)

    async def main():
        async with Raw(slow) as srv:
            async with httpx.AsyncClient(transport=transport(), timeout=httpx.Timeout(5, read=0.1)) as client:
                with pytest.raises(httpx.ReadTimeout):
                    await client.get(srv.url + "/slow")
        with socket.socket() as s:  # a port nothing listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        async with httpx.AsyncClient(transport=transport()) as client:
            with pytest.raises(httpx.ConnectError) as caught:
                await client.get(f"http://127.0.0.1:{port}/x?token=SECRET")
        return str(caught.value)

    text = asyncio.run(main())
    assert "SECRET" not in text and "ssl" not in text.lower()
    from connectors.http import describe_transport_error

    assert describe_transport_error(httpx.ConnectError(text)) == "connection refused or unreachable"


def test_a_malformed_answer_is_a_remote_protocol_error():
    async def main():
        async with Raw(lambda head, body: b"NOT HTTP AT ALL\r\n\r\n") as srv:
            async with httpx.AsyncClient(transport=transport()) as client:
                with pytest.raises(httpx.RemoteProtocolError):
                    await client.get(srv.url + "/")

    asyncio.run(main())


def test_a_short_body_is_an_error_not_a_short_answer():
    async def main():
        async def serve(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with httpx.AsyncClient(transport=transport()) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(f"http://127.0.0.1:{port}/")
        server.close()

    asyncio.run(main())


def test_a_transport_used_from_two_event_loops_opens_a_pool_in_each():
    """A client kept across two ``asyncio.run`` calls: the second gets a pool of its own loop."""

    async def once(t: AiohttpTransport) -> int:
        async with Raw(ok) as srv:
            response = await t.handle_async_request(httpx.Request("GET", srv.url + "/"))
            await response.aread()
            return response.status_code

    t = transport()
    assert asyncio.run(once(t)) == 200
    assert asyncio.run(once(t)) == 200
    asyncio.run(t.aclose())


def test_aiohttp_is_imported_when_the_first_client_is_made_not_before():
    """The panel's first frame, probing's and the gateway's modules load no aiohttp (its import is
    ~0.15 s of CPU); pinned.transport() brings it in."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys\n"
        "import app.tui.app, app.tui.screens.main, app.cli.panel\n"
        "import app.services.probing, app.services.switches.calls, app.gateway.app, app.services.pinned\n"
        "before = 'aiohttp' in sys.modules\n"
        "import httpx\n"
        "app.services.pinned.transport(httpx.Limits(max_connections=1), verify=True)\n"
        "print(before, 'aiohttp' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]


def _self_signed(tmp_path, name: str) -> tuple[str, str]:
    """A certificate for ``name`` (its own issuer) and its key, as PEM files."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


def test_tls_is_verified_against_the_urls_host_while_the_socket_goes_to_the_pinned_address(tmp_path):
    """A pinned name's connection goes to its pinned address, and the certificate is checked with
    the caller's context against the URL's host name (SNI), not the address: a certificate for
    another name, or one the context does not trust, is a TLS failure and nothing is sent."""
    import ssl as ssl_

    from connectors.http import describe_transport_error

    host, other = "tls.innocent.example", "tls.elsewhere.example"
    served = {name: _self_signed(tmp_path, name) for name in (host, other)}

    async def main() -> list:
        out = []
        for serve_as in (host, other):
            server_ctx = ssl_.create_default_context(ssl_.Purpose.CLIENT_AUTH)
            server_ctx.load_cert_chain(*served[serve_as])
            seen: list[bytes] = []

            async def handle(reader, writer, seen=seen):
                try:
                    seen.append(await reader.readuntil(b"\r\n\r\n"))
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    await writer.drain()
                except (asyncio.IncompleteReadError, ConnectionError, ssl_.SSLError):
                    pass
                writer.close()

            server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
            port = server.sockets[0].getsockname()[1]
            pinned.pin(host, ["127.0.0.1"], private_ok=False)
            for trusting in ("both", "none"):
                client_ctx = ssl_.create_default_context()
                if trusting == "both":
                    for cert, _ in served.values():
                        client_ctx.load_verify_locations(cert)
                t = pinned.transport(httpx.Limits(max_connections=2), client_ctx)
                async with httpx.AsyncClient(transport=t) as client:
                    try:
                        response = await client.get(f"https://{host}:{port}/", headers={"authorization": "Bearer k"})
                        out.append((serve_as, trusting, response.text))
                    except httpx.ConnectError as exc:
                        out.append((serve_as, trusting, describe_transport_error(exc)))
            out.append((serve_as, "sent", len(seen)))
            server.close()
        return out

    assert asyncio.run(main()) == [
        (host, "both", "ok"),  # trusted, right name: answered at the pinned address
        (host, "none", "TLS handshake failed"),  # the caller's context does not trust it
        (host, "sent", 1),
        (other, "both", "TLS handshake failed"),  # trusted, but for another name
        (other, "none", "TLS handshake failed"),
        (other, "sent", 0),  # nothing reached the server that is not the URL's host
    ]


def test_max_connections_is_the_callers():
    """Six requests at once through a pool of two: two connections, each reused."""

    async def slow(head: bytes, body: bytes) -> bytes:
        await asyncio.sleep(0.05)
        return ok(head, body)

    async def main() -> tuple[int, int]:
        async with Raw(slow) as srv:
            async with httpx.AsyncClient(transport=transport(max_connections=2)) as client:
                answers = await asyncio.gather(*(client.get(srv.url + f"/{i}") for i in range(6)))
            return srv.connections, sum(r.status_code == 200 for r in answers)

    assert asyncio.run(main()) == (2, 6)


def test_verify_true_is_httpxs_verified_default_made_once():
    import ssl as ssl_

    a, b = transport(), pinned.transport(httpx.Limits(max_connections=1), verify=True)
    assert a.ssl is b.ssl  # one CA load for the gateway's nine transports, not nine
    assert a.ssl.verify_mode == ssl_.CERT_REQUIRED and a.ssl.check_hostname
    assert a.ssl.cert_store_stats()["x509_ca"] > 0
    assert pinned.transport(httpx.Limits(), verify=False).ssl is False
