"""`breaker gateway` as a process and the decision queue: one HELD line per hold, holds answered in the
panel are printed, and once the process is killed (kill -9) its holds are lost — never approved."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from app.services.context import open_services
from app.services.gateway import Gateway
from app.services.queue import Queue
from app.services.views import ConnectorInput
from app.settings import load_settings
from connectors.base import Secret
from tests.gateway.test_process import free_port

ROOT = Path(__file__).resolve().parents[2]


def until(check, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_breaker_gateway_prints_each_hold_once_and_a_killed_gateways_holds_are_lost(tmp_path, sandbox):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("[demo]\nenabled = true\n")  # the file keyring: readable by the child
    svc = open_services(load_settings(home=home))
    key = Secret(sandbox.mint("openai", kind="project").token)
    svc.inventory.add(ConnectorInput(name="chat", provider="openai", base_url=sandbox.base_url("openai")), key)
    gw = Gateway(svc)
    gw.route("chat", on_above="ask")
    token = gw.issue("chat", "agent").token
    with svc.engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(text("UPDATE connector SET mode = 'read-only' WHERE name = 'chat'"))
    port = free_port()
    err = (tmp_path / "stderr").open("w")
    child = subprocess.Popen(
        [sys.executable, "-m", "app", "--home", str(home), "gateway", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stderr=err,
        stdout=subprocess.DEVNULL,
    )
    answers: list = []
    url = f"http://127.0.0.1:{port}"

    def agent(words: str) -> None:
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": words}]}
        try:
            r = httpx.post(
                url + "/chat/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60
            )
            answers.append(r.status_code)
        except httpx.HTTPError as exc:
            answers.append(type(exc).__name__)

    def printed() -> str:
        return (tmp_path / "stderr").read_text()

    try:
        until(lambda: "Breaker gateway on" in printed(), "breaker gateway did not start")
        threading.Thread(target=agent, args=("write the invoice",), daemon=True).start()
        (first,) = until(lambda: Queue(svc).pending(), "nothing was held")
        assert "“write the invoice”" in first.what and "model gpt-4o" in first.what
        until(lambda: "HELD #" in printed(), "the hold was not printed")
        Queue(svc).answer(first.id, approve=False, by="owner")  # as the panel does
        until(lambda: answers, "the agent got no answer")
        until(lambda: f"#{first.id} denied in the panel" in printed(), "the panel's answer was not printed")
        assert printed().count(f"HELD #{first.id} ") == 1, printed()
        assert answers == [403]

        threading.Thread(target=agent, args=("send the report",), daemon=True).start()
        (approved,) = until(lambda: Queue(svc).pending(), "the second request was not held")
        child.stdin.write(f"y {approved.id}\n".encode())  # typed at the gateway's terminal
        child.stdin.flush()
        until(lambda: len(answers) == 2, "the approved request got no answer")
        assert answers[1] == 200
        until(
            lambda: f"#{approved.id} sent, once (the provider answered 200)" in printed(), "the sending was not printed"
        )
        assert f"#{approved.id} approved; the gateway will send it once (chat)" in printed()
        assert "in the panel" not in printed().split(f"HELD #{approved.id} ")[1]  # answered here, not there

        threading.Thread(target=agent, args=("pay the supplier",), daemon=True).start()
        (second,) = until(lambda: Queue(svc).pending(), "the third request was not held")
        child.kill()  # kill -9: no clean stop, nothing told
        child.wait(30)
        until(lambda: len(answers) == 3, "the agent's connection was not closed")
        answer = Queue(svc).answer(second.id, approve=True, by="owner")
        assert answer is not None and answer.lost  # never "approved": nothing can send it
        assert Queue(svc).pending() == []
        assert [h.lost for h in Queue(svc).pending(with_lost=True)] == [True]
        with svc.engine.connect() as conn:
            actions = [
                a
                for (a,) in conn.execute(
                    text("SELECT action FROM audit_event WHERE action LIKE 'gateway.%' ORDER BY seq")
                )
            ]
        assert actions[-2:] == ["gateway.held", "gateway.lost"]
    finally:
        if child.poll() is None:
            child.kill()
        err.close()
        svc.close()
