"""Issue 10, item 3 (DNS rebinding): the destination check looks a base URL's host name up before a
key leaves; the connection must go to the address that check accepted, never to a later answer.

A stub ``socket.getaddrinfo`` answers ``git.innocent.example`` with one address the first time and
another afterwards — for the check and for the HTTP client alike, as a rebinding DNS server would.
Two loopback servers listen on the same port, one on each address: the key must reach only the
first. (127.0.0.2 stands in for the address an attacker rebinds to: nothing can listen on
169.254.169.254 in a test; the metadata case is covered by the connect-time refusal below.)"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from app.services import binding, pinned
from app.services.probing import Prober
from app.services.switches.calls import Calls

HOST = "git.innocent.example"
KEY = "ghp_SANDBOXREBIND" + "q7Wm2Zr9Lx4Kp8Vt1Nc6" + "Tail"


@contextmanager
def server(address: str, port: int = 0) -> Iterator[tuple[int, list[str]]]:
    """A loopback HTTP server on ``address`` recording every Authorization header it receives."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args) -> None:
            pass

    srv = ThreadingHTTPServer((address, port), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv.server_address[1], seen
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def rebinding_dns(monkeypatch):
    """``answers[host] = [first, then, …]``: each lookup of ``host`` takes the next answer (the last
    one repeats). Other names go to the real resolver (none is asked for in these tests)."""
    real = socket.getaddrinfo
    answers: dict[str, list[str]] = {}
    asked: list[str] = []

    def stub(host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in answers:
            return real(host, port, family, type, proto, flags)
        asked.append(name)
        queue = answers[name]
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        fam = socket.AF_INET6 if ":" in address else socket.AF_INET
        sockaddr = (address, int(port or 0), 0, 0) if fam == socket.AF_INET6 else (address, int(port or 0))
        return [(fam, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]

    monkeypatch.setattr(socket, "getaddrinfo", stub)
    monkeypatch.setattr(binding, "resolve", binding._system_resolve)  # the real lookup, through the stub
    answers["_asked"] = asked  # type: ignore[assignment]
    return answers


def _loopback_alias_works() -> bool:
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.2", 0))
        return True
    except OSError:
        return False


needs_alias = pytest.mark.skipif(not _loopback_alias_works(), reason="127.0.0.2 is not usable here")


@needs_alias
@pytest.mark.parametrize("make", ["probe", "switch"])
def test_the_key_goes_to_the_address_the_check_accepted_never_to_a_later_answer(services, rebinding_dns, make):
    with server("127.0.0.1") as (port, honest), server("127.0.0.2", port) as (_, thief):
        rebinding_dns[HOST] = ["127.0.0.1", "127.0.0.2"]  # the check's answer, then the rebound one
        url = f"http://{HOST}:{port}/user"
        assert binding.resolved_problem(url, set(), "gh") == ""  # the check: first answer, accepted

        async def send() -> int:
            client = Prober(services).client() if make == "probe" else Calls(services).client()
            async with client:
                return (await client.get(url, headers={"Authorization": f"Bearer {KEY}"})).status_code

        assert asyncio.run(send()) == 200
        assert honest == [f"Bearer {KEY}"]
        assert thief == []  # the key never reached the second answer
        assert rebinding_dns["_asked"] == [HOST]  # looked up once, by the check; the connection used its answer


@pytest.mark.parametrize("address", ["169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254"])
def test_a_name_no_check_pinned_is_checked_when_connecting(services, rebinding_dns, address):
    rebinding_dns["api.rebound.example"] = [address]

    async def send() -> None:
        async with Prober(services).client() as client:
            await client.get("http://api.rebound.example/user", headers={"Authorization": f"Bearer {KEY}"})

    with pytest.raises(httpx.ConnectError) as caught:
        asyncio.run(send())
    text = str(caught.value)
    assert text.startswith("refused: api.rebound.example resolves to") and "link-local or cloud-metadata" in text
    assert "Nothing was sent" in text and KEY not in text
    from connectors.http import describe_transport_error

    assert describe_transport_error(caught.value) == text  # what a probe shows, word for word


def test_a_host_checked_without_an_answer_gets_its_private_rule_at_connect(services, rebinding_dns, monkeypatch):
    """The check's lookup failed (no pin); the connect-time answer is private and not confirmed: refused."""
    calls = {"n": 0}

    def flaky(host: str) -> list[str]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(-2, "Name or service not known")
        return ["10.0.0.5"]

    monkeypatch.setattr(binding, "resolve", flaky)
    assert binding.resolved_problem("https://flaky.innocent.example", set(), "gh") == ""

    async def send() -> None:
        async with Calls(services).client() as client:
            await client.get("https://flaky.innocent.example/user", headers={"Authorization": f"Bearer {KEY}"})

    with pytest.raises(httpx.ConnectError, match="private-network address the owner did not confirm"):
        asyncio.run(send())


def test_loopback_and_addresses_are_connected_without_a_lookup(services, sandbox, rebinding_dns):
    """The sandbox path stays as cheap as before: an IP literal is connected without a lookup, and
    localhost as it always was."""
    base = sandbox.base_url("github")

    async def send(url: str) -> int:
        async with Prober(services).client() as client:
            return (await client.get(url + "/user")).status_code

    assert asyncio.run(send(base)) == 401  # the sandbox answered: connected, nothing looked up
    assert asyncio.run(send(base.replace("127.0.0.1", "localhost"))) == 401  # as before: /etc/hosts
    assert "localhost" not in pinned._checked
    assert rebinding_dns["_asked"] == []


def _refused_through(make_client) -> str:
    async def send() -> None:
        async with make_client() as client:
            await client.get("http://api.rebound.example/v1/models", headers={"Authorization": f"Bearer {KEY}"})

    with pytest.raises(httpx.ConnectError) as caught:
        asyncio.run(send())
    return str(caught.value)


@pytest.mark.parametrize("which", ["probe", "switch", "gateway-upstream", "gateway-oauth"])
def test_every_key_sending_client_connects_through_the_guard(services, rebinding_dns, which):
    """Each client pinned.transport() makes refuses a metadata answer at connect: with the guard
    dropped (aiohttp's own resolver), the connection would be attempted and fail otherwise."""
    from app.gateway.app import GatewayApp

    rebinding_dns["api.rebound.example"] = ["169.254.169.254"]
    app = GatewayApp(services)
    makers = {
        "probe": lambda: Prober(services).client(),
        "switch": lambda: Calls(services).client(),
        "gateway-upstream": lambda: httpx.AsyncClient(transport=app.transports[0]),
        "gateway-oauth": lambda: app.http,
    }
    try:
        text = _refused_through(makers[which])
    finally:
        asyncio.run(app.aclose())
    assert text.startswith("refused: api.rebound.example resolves to 169.254.169.254"), text
    assert "Nothing was sent" in text and KEY not in text
