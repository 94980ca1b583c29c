"""`breaker exec` on a routed connector: the child gets the gateway's URL and a token for this run,
never the key; the official SDK in the child reaches the provider through the gateway with only what
the environment holds; the canary key appears in no output, log or record."""

from __future__ import annotations

import asyncio
import json
import sys

from sqlalchemy import text

from app.services import exec as exec_service
from tests.gateway.conftest import CANARY

CHILD = """
import json, os, openai
client = openai.OpenAI(max_retries=0)  # reads OPENAI_BASE_URL and OPENAI_API_KEY
models = [m.id for m in client.models.list().data]
print(json.dumps({"env": dict(os.environ), "models": models}))
"""


async def test_exec_hands_the_child_a_token_and_the_gateway_url_never_the_key(gateway, upstream, monkeypatch, capfd):
    monkeypatch.setenv("BREAKER_GATEWAY_URL", gateway.url)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY["chat-bot"][1])  # even a key in the owner's shell is replaced
    proc_out = await asyncio.to_thread(_run_child, gateway.services)
    out = json.loads(proc_out)
    env = out["env"]
    assert env["OPENAI_BASE_URL"] == gateway.base("chat-bot") + "/v1"
    assert env["OPENAI_API_KEY"].startswith("brk_")
    assert out["models"] == ["gpt-sandbox"]
    assert upstream.seen[-1].headers["authorization"] == f"Bearer {CANARY['chat-bot'][1]}"
    for _, key in CANARY.values():
        assert key not in proc_out
    # the run's token was revoked when the child ended
    with gateway.services.engine.connect() as conn:
        rows = conn.execute(text("SELECT client, revoked_at FROM gateway_token WHERE client LIKE 'exec:%'")).all()
    assert len(rows) == 1 and rows[0][1] is not None
    # the audit log says it went through the gateway, and holds no key or token
    with gateway.services.engine.connect() as conn:
        audit = conn.execute(text("SELECT action, new_json FROM audit_event")).all()
    exec_events = [json.loads(n) for a, n in audit if a == "exec"]
    assert exec_events and exec_events[-1]["via"] == "gateway"
    dump = json.dumps([list(r) for r in audit])
    assert env["OPENAI_API_KEY"] not in dump
    for _, key in CANARY.values():
        assert key not in dump
    await gateway.app.flush_usage()
    captured = capfd.readouterr()
    for _, key in CANARY.values():
        assert key not in captured.out + captured.err


def _run_child(services) -> str:
    import os
    import tempfile

    with tempfile.TemporaryFile() as out:
        code = exec_service.run(services, "chat-bot", [sys.executable, "-c", CHILD], stdout=out)
        out.seek(0)
        text_out = out.read().decode()
    assert code == 0, text_out
    assert os.environ.get("OPENAI_BASE_URL") is None  # Breaker's own environment is untouched
    return text_out


async def test_the_gateway_log_and_usage_never_hold_the_canary(gateway, upstream):
    import httpx

    async with httpx.AsyncClient() as client:
        for name in CANARY:
            await client.post(
                gateway.base(name) + "/anything/at/all",
                headers={"Authorization": f"Bearer {gateway.tokens[name]}"},
                json={"x": 1},
            )
    await gateway.app.flush_usage()
    dump = json.dumps(gateway.usage(), default=str) + "\n".join(gateway.events)
    for _, key in CANARY.values():
        assert key not in dump
    for token in gateway.tokens.values():
        assert token not in dump
