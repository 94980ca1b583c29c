"""Fixtures: a stand-in upstream, the sandbox, an inventory with routed connectors, a running gateway."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import pytest
import uvicorn
from sqlalchemy import text

from app.gateway.server import loopback_socket, running
from app.services.gateway import Gateway
from app.services.views import ConnectorInput
from connectors.base import Secret
from tests.gateway.upstream import Upstream

# Canary keys: tests assert these never reach the agent, the gateway's output or the usage records.
CANARY = {
    "chat-bot": ("openai", "sk-proj-CANARYopenai000000000000T3BlbkFJcanary0000000000000000"),
    "claude-bot": ("anthropic", "sk-ant-api03-CANARYanthropic" + "0" * 78 + "AA"),
    "mail-bot": ("google", "ya29.CANARYgoogle000000000000000000000000"),
    "gh-bot": ("github", "ghp_CANARYgithub00000000000000000000000000"),
    "slack-bot": ("slack", "xoxb-1234567890-1234567890-CANARYslack"),
    "graph-bot": (
        "microsoft",
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.eyJhdWQiOiAiaHR0cHM6Ly9ncmFwaC5taWNyb3NvZnQuY29tIiwgImNhbmFyeSI6ICJDQU5BUlkifQ.CANARYgraphsig",
    ),
}


@contextlib.asynccontextmanager
async def serving_upstream():
    """A recording stand-in for a provider, served on a loopback port of its own."""
    import asyncio

    app = Upstream()
    sock = loopback_socket()
    app.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.005)
    try:
        yield app
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
async def upstream():
    async with serving_upstream() as app:
        yield app


@dataclass
class Env:
    services: object
    url: str
    tokens: dict[str, str] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)

    def base(self, name: str) -> str:
        return f"{self.url}/{name}"

    def set_mode(self, name: str, mode: str) -> None:
        """The step a switch records first (journal.record): the mode in the store."""
        with self.services.engine.begin() as conn:
            conn.execute(text("UPDATE connector SET mode = :m WHERE name = :n"), {"m": mode, "n": name})

    def usage(self) -> list[dict]:
        with self.services.engine.connect() as conn:
            rows = conn.execute(text("SELECT * FROM gateway_use ORDER BY id")).mappings().all()
        return [dict(r) for r in rows]


def add_routed(services, name: str, upstream_url: str, mode: str = "full", above: str = "refuse") -> str:
    provider, key = CANARY[name]
    services.inventory.add(ConnectorInput(name=name, provider=provider, base_url=upstream_url), Secret(key))
    gw = Gateway(services)
    gw.route(name, on_above=above)
    if mode != "full":
        with services.engine.begin() as conn:
            conn.execute(text("UPDATE connector SET mode = :m WHERE name = :n"), {"m": mode, "n": name})
    return gw.issue(name, "test agent").token


@pytest.fixture
async def gateway(services, upstream):
    env = Env(services, "")
    for name in CANARY:
        env.tokens[name] = add_routed(services, name, upstream.url)
    async with running(services, on_event=env.events.append) as gw:
        env.url = gw.url
        env.app = gw.app
        yield env
