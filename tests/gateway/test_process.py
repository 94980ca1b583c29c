"""`breaker gateway` as a process: on uvloop's event loop, Nagle off on its accepted connections, and
every usage row written when it is stopped with SIGTERM (the panel stops its child gateway so)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.gateway.server import run, running
from app.services.context import open_services
from app.services.gateway import Gateway
from app.services.views import ConnectorInput
from app.settings import load_settings
from connectors.base import Secret

ROOT = Path(__file__).resolve().parents[2]


def test_breaker_gateways_loop_sets_nagle_off_on_accepted_connections(services):
    async def main() -> tuple[str, int]:
        async with running(services) as gw:
            async with httpx.AsyncClient() as client:
                assert (await client.get(gw.url + "/")).status_code == 200
                (protocol,) = list(gw.server.server_state.connections)
                sock = protocol.transport.get_extra_info("socket")
                return type(asyncio.get_running_loop()).__module__, sock.getsockopt(
                    socket.IPPROTO_TCP, socket.TCP_NODELAY
                )

    loop_module, nodelay = run(main())
    assert loop_module.startswith("uvloop")
    assert nodelay != 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigterm_writes_every_usage_row_and_audits_the_stop_before_the_process_ends(tmp_path, sandbox):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("[demo]\nenabled = true\n")  # the file keyring: readable by the child
    svc = open_services(load_settings(home=home))
    try:
        key = Secret(sandbox.mint("openai", kind="project").token)
        svc.inventory.add(ConnectorInput(name="chat", provider="openai", base_url=sandbox.base_url("openai")), key)
        gw = Gateway(svc)
        gw.route("chat")
        token = gw.issue("chat", "agent").token
    finally:
        svc.close()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-m", "app", "--home", str(home), "gateway", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "breaker gateway did not start"
                time.sleep(0.05)
        with httpx.Client() as client:
            for _ in range(7):
                r = client.get(url + "/chat/v1/models", headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200, r.text
        child.send_signal(signal.SIGTERM)  # at once: the rows wait for their batch (USAGE_FLUSH_S)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    with sqlite3.connect(home / "breaker.db") as db:
        (count,) = db.execute("SELECT count(*) FROM gateway_use").fetchone()
        runs = [a for (a,) in db.execute("SELECT action FROM audit_event WHERE action LIKE 'gateway.st%' ORDER BY seq")]
    assert count == 7
    assert runs == ["gateway.started", "gateway.stopped"]  # SIGTERM ends it as Ctrl-C does: the stop is audited
    assert child.returncode == 0


def test_a_serving_gateway_freezes_start_up_out_of_the_collector_and_collects_young_objects_rarely():
    import gc

    from app.cli.gateway_cmds import serving_collector

    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    with serving_collector():
        assert gc.get_freeze_count() > frozen
        assert gc.get_threshold()[0] == 50_000
    assert gc.get_threshold() == threshold
