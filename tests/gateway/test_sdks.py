"""The official OpenAI and Anthropic SDKs with their base URL pointed at the gateway, streaming included;
a switch during an open stream ends it, and the next request is refused."""

from __future__ import annotations

import time

import anthropic
import httpx
import openai
import pytest

from tests.gateway.conftest import CANARY


def openai_client(gateway) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key=gateway.tokens["chat-bot"], base_url=gateway.base("chat-bot") + "/v1", max_retries=0
    )


def anthropic_client(gateway) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        api_key=gateway.tokens["claude-bot"], base_url=gateway.base("claude-bot"), max_retries=0
    )


async def test_openai_sdk_plain_and_streaming(gateway, upstream):
    client = openai_client(gateway)
    models = await client.models.list()
    assert [m.id for m in models.data] == ["gpt-sandbox"]
    done = await client.chat.completions.create(model="gpt-sandbox", messages=[{"role": "user", "content": "hi"}])
    assert done.choices[0].message.content == "hello"
    stream = await client.chat.completions.create(
        model="gpt-sandbox", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    words = [chunk.choices[0].delta.content async for chunk in stream]
    assert words == [f"w{i} " for i in range(upstream.events)]
    assert all(s.headers["authorization"] == f"Bearer {CANARY['chat-bot'][1]}" for s in upstream.seen)
    await client.close()


async def test_anthropic_sdk_plain_and_streaming(gateway, upstream):
    client = anthropic_client(gateway)
    message = await client.messages.create(
        model="claude-sandbox", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[0].text == "hello"
    async with client.messages.stream(
        model="claude-sandbox", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        text = [t async for t in stream.text_stream]
    assert "".join(text) == "".join(f"w{i} " for i in range(upstream.events))
    assert all(s.headers["x-api-key"] == CANARY["claude-bot"][1] for s in upstream.seen)
    assert all("authorization" not in s.headers for s in upstream.seen)
    await client.close()


async def test_read_only_refuses_model_calls_with_a_problem_the_sdk_surfaces(gateway, upstream):
    gateway.set_mode("chat-bot", "read-only")
    client = openai_client(gateway)
    assert (await client.models.list()).data  # a read still passes
    with pytest.raises(openai.PermissionDeniedError) as exc:
        await client.chat.completions.create(model="gpt-sandbox", messages=[{"role": "user", "content": "hi"}])
    assert exc.value.response.headers["content-type"] == "application/problem+json"
    body = exc.value.response.json()
    assert (body["connector"], body["mode"], body["level"]) == ("chat-bot", "read-only", "send")
    assert [s.path for s in upstream.seen] == ["/v1/models"]
    await client.close()


async def test_streamed_events_arrive_one_by_one_not_buffered(gateway, upstream):
    upstream.pause_s = 0.25
    upstream.events = 6
    arrivals = []
    async with httpx.AsyncClient() as client:
        async with client.stream(
            "POST",
            gateway.base("chat-bot") + "/v1/chat/completions",
            json={"model": "m", "messages": [], "stream": True},
            headers={"Authorization": f"Bearer {gateway.tokens['chat-bot']}"},
        ) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            async for line in r.aiter_lines():
                if line.startswith("data:"):
                    arrivals.append(time.perf_counter())
    gaps = sorted(b - a for a, b in zip(arrivals, arrivals[1:-1]))
    # Each event came on its own, as sent 250 ms apart: a buffered stream arrives all at once (every gap
    # ~0). The median, not the minimum: one late event on a loaded machine (a 16 ms gap at load 10)
    # is the scheduler, not buffering. Half of the events would have to be held 150 ms to fail it.
    assert len(arrivals) == 7 and gaps[len(gaps) // 2] > 0.1


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
async def test_disable_during_an_open_stream_ends_it_and_the_next_request_is_refused(gateway, upstream, sdk):
    # 200 ms between events: events the client had not read yet when it switched (a busy machine) are
    # few, so "fewer than 10" leaves ~1.4 s of lag
    upstream.pause_s = 0.2
    upstream.events = 50  # ten seconds of stream, were it not ended
    name = "chat-bot" if sdk == "openai" else "claude-bot"
    received = 0
    started = time.perf_counter()
    with pytest.raises((openai.APIError, anthropic.APIError, httpx.HTTPError)):
        if sdk == "openai":
            client = openai_client(gateway)
            stream = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "x"}], stream=True
            )
            async for _chunk in stream:
                received += 1
                if received == 3:
                    gateway.set_mode(name, "disabled")
                    switched = time.perf_counter()
        else:
            client = anthropic_client(gateway)
            async with client.messages.stream(
                model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}]
            ) as s:
                async for _text in s.text_stream:
                    received += 1
                    if received == 3:
                        gateway.set_mode(name, "disabled")
                        switched = time.perf_counter()
    ended = time.perf_counter()
    assert received < 10 and ended - started < 5
    # the next request is refused, and how long after the switch the first refusal came is measured
    if sdk == "openai":
        with pytest.raises(openai.PermissionDeniedError) as exc:
            await client.models.list()
    else:
        with pytest.raises(anthropic.PermissionDeniedError) as exc:
            await client.models.list()
    refused_after = time.perf_counter() - switched
    assert exc.value.response.json()["mode"] == "disabled"
    assert refused_after < 3.0  # the stream's end and one request; bench_gateway measures it properly
    print(
        f"{sdk}: stream ended {ended - switched:.3f}s after the switch; first refusal {refused_after * 1000:.1f} ms after it"
    )
    await client.close()
