"""Streaming through the gateway against the loopback SANDBOX (not a stand-in): the official openai
and anthropic SDKs read ``text/event-stream`` event by event, as the sandbox streams them; a disable
ends an open stream and the next request is refused."""

from __future__ import annotations

import time

import anthropic
import httpx
import openai
import pytest

from app.gateway.server import running
from app.services.gateway import Gateway
from app.services.views import ConnectorInput
from connectors.base import Secret
from connectors.sandbox import core
from connectors.sandbox.providers import anthropic as sandbox_anthropic
from connectors.sandbox.providers import openai as sandbox_openai
from tests.gateway.conftest import Env

ANTHROPIC_FLOW = [
    "message_start",
    "content_block_start",
    *["content_block_delta"] * len(sandbox_anthropic.REPLY),
    "content_block_stop",
    "message_delta",
    "message_stop",
]


@pytest.fixture
async def streams(services, sandbox):
    env = Env(services, "")
    env.keys = {}
    for provider, kind in (("openai", "project"), ("anthropic", None)):
        record = sandbox.mint(provider, kind) if kind else sandbox.mint(provider)
        env.keys[provider] = record.token
        services.inventory.add(
            ConnectorInput(name=provider, provider=provider, base_url=sandbox.host_url(provider)), Secret(record.token)
        )
        Gateway(services).route(provider)
        env.tokens[provider] = Gateway(services).issue(provider, "agent").token
    async with running(services, on_event=env.events.append) as gw:
        env.url, env.app = gw.url, gw.app
        yield env


def spread(times: list[float]) -> float:
    return times[-1] - times[0]


@pytest.fixture
def paced(monkeypatch):
    """100 ms between the sandbox's events (10 ms by default): "spread over at least half the pacing"
    then fails only if the reader is held ~0.5 s, not ~50 ms as on a busy CI machine it could be."""
    monkeypatch.setattr(core, "EVENT_GAP_S", 0.1)


async def test_the_sandbox_streams_event_by_event_directly(sandbox, paced):
    record = sandbox.mint("openai", "project")
    client = openai.AsyncOpenAI(api_key=record.token, base_url=sandbox.base_url("openai") + "/v1")
    times, words = [], []
    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    async for chunk in stream:
        times.append(time.perf_counter())
        words.append(chunk.choices[0].delta.content or "")
    await client.close()
    assert "".join(words) == "".join(sandbox_openai.REPLY)
    assert spread(times) >= (len(times) - 1) * core.EVENT_GAP_S * 0.5  # not one buffered body


async def test_openai_sdk_streams_through_the_gateway_event_by_event(streams, sandbox, paced):
    client = openai.AsyncOpenAI(api_key=streams.tokens["openai"], base_url=streams.base("openai") + "/v1")
    times, words = [], []
    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    async for chunk in stream:
        times.append(time.perf_counter())
        words.append(chunk.choices[0].delta.content or "")
        assert chunk.object == "chat.completion.chunk"
    not_streamed = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    await client.close()
    assert "".join(words) == "".join(sandbox_openai.REPLY) == not_streamed.choices[0].message.content
    assert len(times) == len(sandbox_openai.REPLY) + 2
    # Event by event: the chunks arrive spread over the sandbox's pacing, not all at once at the end.
    assert spread(times) >= (len(times) - 1) * core.EVENT_GAP_S * 0.5
    assert ("POST", "/openai/v1/chat/completions") in sandbox.calls("openai")
    await streams.app.flush_usage()
    assert [u["level"] for u in streams.usage()] == [4, 4]  # send: a model call spends money


async def test_anthropic_sdk_streams_through_the_gateway_in_the_documented_flow(streams, paced):
    client = anthropic.AsyncAnthropic(api_key=streams.tokens["anthropic"], base_url=streams.base("anthropic"))
    kinds, times, text = [], [], []
    async with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        async for event in stream:
            if event.type in ANTHROPIC_FLOW:
                kinds.append(event.type)
                times.append(time.perf_counter())
            if event.type == "content_block_delta":
                text.append(event.delta.text)
        final = await stream.get_final_message()
    await client.close()
    assert kinds == ANTHROPIC_FLOW
    assert "".join(text) == "".join(sandbox_anthropic.REPLY) == final.content[0].text
    assert spread(times) >= (len(times) - 1) * core.EVENT_GAP_S * 0.5


@pytest.mark.wallclock
async def test_disable_during_an_open_sandbox_stream_ends_it_and_refuses_the_next(streams, monkeypatch):
    monkeypatch.setattr(core, "EVENT_GAP_S", 0.5)  # a slow model: the switch lands mid-stream (~6 s left)
    client = anthropic.AsyncAnthropic(api_key=streams.tokens["anthropic"], base_url=streams.base("anthropic"))
    got = []
    switched_at = None
    with pytest.raises(anthropic.APIError) as raised:
        async with client.messages.stream(
            model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            async for event in stream:
                got.append(event.type)
                if event.type == "content_block_delta" and switched_at is None:
                    switched_at = time.perf_counter()
                    streams.set_mode("anthropic", "disabled")
    ended_after = time.perf_counter() - switched_at
    assert "breaker" in str(raised.value).lower() or "disabled" in str(raised.value).lower()
    assert "message_stop" not in got and ended_after < 1.5
    async with httpx.AsyncClient(base_url=streams.base("anthropic")) as agent:
        refused = await agent.post(
            "/v1/messages", headers={"x-api-key": streams.tokens["anthropic"]}, json={"model": "m", "messages": []}
        )
    assert refused.status_code == 403 and refused.json()["mode"] == "disabled"
    await client.close()
