"""The panel runs the gateway: G starts ``breaker gateway`` as a child process, the line above the
table says where it listens, a request it holds shows at once, G stops it, quitting the panel stops
it, a child that dies is said and audited, a port already taken is said in one line.

The child reads the keys from the keyring itself, so these tests use a home whose keyring both
processes read: a demo home's file keyring (sandbox keys only), never the machine's keyring.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time

import httpx
import pytest
from sqlalchemy import text

from app.services.context import open_services
from app.services.gateway import Gateway
from app.services.views import ConnectorInput
from app.settings import load_settings
from app.tui.app import make_app
from app.tui.screens.held import HeldScreen
from app.tui.widgets import held_banner
from connectors.base import Secret
from tests.gateway.conftest import serving_upstream
from tests.tui.pilot import on_screen, settle, until

SIZE = (120, 36)
KEY = "xoxb-1234567890-1234567890-SANDBOXslackpanel"
STARTED = 120.0  # generous: a Python interpreter starting on a loaded machine (about 1.3 s when quiet)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gateway_audit(services) -> list[tuple[str, str]]:
    with services.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT action, new_json FROM audit_event WHERE action LIKE 'gateway.st%' ORDER BY seq")
        ).all()
    return [(r[0], r[1]) for r in rows]


@pytest.fixture
async def upstream():
    async with serving_upstream() as app:
        yield app


@pytest.fixture
def shared(tmp_path, monkeypatch, upstream):
    """Services on a home whose keyring the child reads too (a demo home's file keyring), holding a
    read-only Slack connector routed through the gateway, whose writes are held for the owner."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("[demo]\nenabled = true\n")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")  # never the machine's
    monkeypatch.setenv("OPENAI_API_KEY", "sk-CANARY-from-the-owners-shell")  # must not reach the child
    port = free_port()
    monkeypatch.setenv("BREAKER_GATEWAY_URL", f"http://127.0.0.1:{port}")  # where the panel's gateway listens
    services = open_services(load_settings(home=home))
    services.url = f"http://127.0.0.1:{port}"
    services.token = route_slack(services, upstream.url)
    yield services
    services.close()


def route_slack(services, upstream_url: str) -> str:
    """A read-only Slack connector through the gateway whose writes are held for the owner; its token."""
    services.inventory.add(ConnectorInput(name="slack-bot", provider="slack", base_url=upstream_url), Secret(KEY))
    gw = Gateway(services)
    gw.route("slack-bot", on_above="ask")
    with services.engine.begin() as conn:
        conn.execute(text("UPDATE connector SET mode = 'read-only' WHERE name = 'slack-bot'"))
    return gw.issue("slack-bot", "test agent").token


def child_pid(app) -> int:
    return app.main_screen.query_one("#gateway-line").runner.pid


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def press_G_until(pilot, app, words: str):
    """Press G and wait until the main screen's gateway line says ``words``; the line."""
    line = app.main_screen.query_one("#gateway-line")
    await pilot.press("G")
    await until(pilot, lambda: words in str(line.render()), timeout=STARTED)
    return line


async def test_G_starts_the_gateway_in_a_child_process_and_G_stops_it(shared):
    url = shared.url
    app = make_app(shared)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        line = app.main_screen.query_one("#gateway-line")
        assert not line.display
        await pilot.press("G")
        await until(pilot, lambda: "listening on" in str(line.render()), timeout=STARTED)
        assert url in str(line.render()) and "Press G to stop it" in str(line.render())
        pid = child_pid(app)
        assert pid != os.getpid() and alive(pid)
        with open(f"/proc/{pid}/environ", "rb") as fh:
            environ = fh.read()
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().split(b"\0")
        assert b"OPENAI_API_KEY" not in environ and b"CANARY" not in environ and KEY.encode() not in environ
        assert b"gateway" in argv and b"--run-by" in argv and not any(b"SANDBOX" in a for a in argv)
        assert os.readlink(f"/proc/{pid}/fd/0").startswith("pipe:")  # its stdin is not the terminal
        async with httpx.AsyncClient() as client:
            r = await client.get(url + "/")
            assert r.json() == {"gateway": "breaker", "ok": True}
            await pilot.press("question_mark")  # the panel's keys still answer at once
            await pilot.pause()
            assert app.screen.id != "main"
            await pilot.press("escape")
            await pilot.press("G")
            await until(pilot, lambda: not line.display, timeout=STARTED)
            with pytest.raises(httpx.ConnectError):
                await client.get(url + "/")
        assert not alive(pid) or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    events = gateway_audit(shared)
    assert [a for a, _ in events] == ["gateway.started", "gateway.stopped"]
    assert all(url in new and f"panel (process {pid})" in new and "how" not in new for _, new in events)


async def test_a_held_request_shows_at_once_and_is_answered_from_the_panel(shared, upstream, monkeypatch):
    # The held-requests line reads the store only every hour here: what shows it is the child's word.
    monkeypatch.setattr(held_banner, "EVERY_S", 3600.0)
    token = shared.token
    app = make_app(shared)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        banner = app.main_screen.query_one("#held-banner")
        await press_G_until(pilot, app, "listening on")
        async with httpx.AsyncClient(timeout=60) as client:
            sent = time.monotonic()
            post = asyncio.create_task(
                client.post(
                    f"{shared.url}/slack-bot/api/chat.postMessage",
                    json={"channel": "C1", "text": "deploy done"},
                    headers={"Authorization": f"Bearer {token}"},
                )
            )
            await until(pilot, lambda: banner.display, timeout=STARTED, step=0.005)
            print(f"request sent -> held line shown: {(time.monotonic() - sent) * 1000:.0f} ms")  # not asserted
            assert "slack-bot" in str(banner.render()) and not post.done()
            await pilot.press("g")
            await on_screen(pilot, HeldScreen)
            await until(pilot, lambda: len(app.screen.holds) == 1)
            await pilot.press("y")
            answer = await asyncio.wait_for(post, 60)
        assert answer.status_code == 200
        assert [s.path for s in upstream.seen] == ["/api/chat.postMessage"]  # forwarded once
        assert upstream.seen[0].headers["authorization"] == f"Bearer {KEY}"
    with shared.engine.connect() as conn:
        actions = [r[0] for r in conn.execute(text("SELECT action FROM audit_event WHERE action LIKE 'gateway.%'"))]
    assert "gateway.approved" in actions and actions[-1] == "gateway.stopped"  # quitting the panel stopped it


async def test_quitting_the_panel_stops_the_gateway(shared):
    app = make_app(shared)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        line = await press_G_until(pilot, app, "listening on")
        runner = line.runner
    assert runner.returncode == 0 and not runner.running
    assert [a for a, _ in gateway_audit(shared)] == ["gateway.started", "gateway.stopped"]


async def test_a_child_that_dies_is_said_and_audited_and_G_starts_it_again(shared):
    app = make_app(shared)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        line = await press_G_until(pilot, app, "listening on")
        os.kill(child_pid(app), signal.SIGKILL)
        await until(pilot, lambda: "stopped unexpectedly" in str(line.render()), timeout=STARTED)
        shown = str(line.render())
        assert "killed by SIGKILL" in shown and "press G to start it again" in shown and line.has_class("-failed")
        await pilot.press("G")
        await until(pilot, lambda: "listening on" in str(line.render()), timeout=STARTED)
    events = gateway_audit(shared)
    assert [a for a, _ in events] == ["gateway.started", "gateway.stopped", "gateway.started", "gateway.stopped"]
    assert "stopped unexpectedly (killed by SIGKILL)" in events[1][1]


async def test_a_port_already_taken_is_said_in_one_line(shared, monkeypatch):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    monkeypatch.setenv("BREAKER_GATEWAY_URL", f"http://127.0.0.1:{port}")
    try:
        app = make_app(shared)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            line = await press_G_until(pilot, app, "did not start")
            shown = str(line.render())
            assert f"127.0.0.1:{port}" in shown and "Traceback" not in shown
            assert "another program (not Breaker's gateway) is listening there" in shown
            assert line.has_class("-failed")
    finally:
        taken.close()
    assert gateway_audit(shared) == []


async def test_a_port_another_breaker_gateway_holds_is_said_so_with_how_to_move(shared, monkeypatch):
    from app.gateway.server import running

    async with running(shared) as other:  # `breaker gateway` in another terminal
        monkeypatch.setenv("BREAKER_GATEWAY_URL", other.url)
        app = make_app(shared)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            line = await press_G_until(pilot, app, "did not start")
            shown = " ".join(str(line.render()).split())
    assert "another Breaker gateway is already listening there" in shown
    assert "set BREAKER_GATEWAY_URL=http://127.0.0.1:N" in shown
