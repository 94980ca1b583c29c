"""What Breaker says when the gateway is not where an agent or a second gateway expects it:
`breaker exec` on a routed connector with no gateway running warns (it used to say nothing, and the
agent got only "Connection refused"); a second `breaker gateway` on a taken port says who holds it
and how to choose another port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import threading

import pytest

from app.cli import main
from app.gateway.server import running
from app.services import exec as exec_service
from app.services import gateway as gateway_service
from app.services.gateway import Gateway
from app.services.views import ConnectorInput
from connectors.base import Secret
from tests.gateway.conftest import CANARY


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def not_breaker():
    """Another program on a loopback port: it accepts connections (the kernel's backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@contextlib.contextmanager
def breaker_gateway(services):
    """A Breaker gateway on its own thread and event loop (the code under test blocks its caller)."""
    ready, stop, found = threading.Event(), threading.Event(), {}

    async def serve() -> None:
        async with running(services) as gw:
            found["port"] = int(gw.url.rsplit(":", 1)[1])
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.01)

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(30)
    try:
        yield found["port"]
    finally:
        stop.set()
        thread.join(30)


def routed(services) -> None:
    provider, key = CANARY["chat-bot"]
    services.inventory.add(ConnectorInput(name="chat-bot", provider=provider, base_url=""), Secret(key))
    Gateway(services).route("chat-bot")


def run_exec(services) -> tuple[int, list[str]]:
    said: list[str] = []
    code = exec_service.run(services, "chat-bot", [sys.executable, "-c", "pass"], warn=said.append)
    return code, said


def test_exec_warns_when_no_gateway_answers_and_still_runs_the_child(services, monkeypatch):
    routed(services)
    monkeypatch.setenv("BREAKER_GATEWAY_URL", f"http://127.0.0.1:{free_port()}")
    code, said = run_exec(services)
    assert code == 0
    assert len(said) == 1
    assert said[0].startswith("the gateway is not running")
    assert "`breaker gateway`" in said[0] and "press G in the panel" in said[0]


def test_exec_warns_when_another_program_answers_at_the_gateway_s_address(services, monkeypatch):
    routed(services)
    with not_breaker() as port:
        monkeypatch.setenv("BREAKER_GATEWAY_URL", f"http://127.0.0.1:{port}")
        code, said = run_exec(services)
    assert code == 0
    assert len(said) == 1 and "not Breaker's gateway" in said[0] and "--port" in said[0]


def test_exec_says_nothing_when_the_gateway_runs(services, monkeypatch):
    routed(services)
    with breaker_gateway(services) as port:
        monkeypatch.setenv("BREAKER_GATEWAY_URL", f"http://127.0.0.1:{port}")
        code, said = run_exec(services)
    assert (code, said) == (0, [])


@pytest.fixture
def gateway_cli(tmp_path, capsys):
    import signal

    home = tmp_path / "cli-home"
    home.mkdir()
    before = signal.getsignal(signal.SIGTERM)  # `breaker gateway` sets its own SIGTERM handler

    def run(*argv: str) -> tuple[int, str]:
        code = main(["--home", str(home), "gateway", *argv])
        return code, capsys.readouterr().err

    yield run
    signal.signal(signal.SIGTERM, before)


def test_a_second_gateway_says_another_breaker_gateway_listens_and_how_to_choose_a_port(services, gateway_cli):
    with breaker_gateway(services) as port:
        code, err = gateway_cli("--port", str(port))
    assert code == 1
    assert f"could not listen on 127.0.0.1:{port}: another Breaker gateway is already listening there" in err
    assert "`breaker gateway --port N`" in err and "BREAKER_GATEWAY_URL" in err
    assert "Address already in use" not in err


def test_a_gateway_on_a_port_another_program_holds_says_so(gateway_cli):
    with not_breaker() as port:
        code, err = gateway_cli("--port", str(port))
    assert code == 1
    assert "another program (not Breaker's gateway) is listening there" in err and "--port N" in err


def test_the_panel_s_gateway_names_the_other_gateway_and_the_variable_to_move_it(services):
    with breaker_gateway(services) as port:
        text = gateway_service.port_taken_message("127.0.0.1", port, for_panel=True)
    assert "another Breaker gateway is already listening there" in text
    assert "BREAKER_GATEWAY_URL" in text and "--port" not in text
