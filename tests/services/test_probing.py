"""The probing service: concurrency bounds, Retry-After, storage of results, drift. A tiny fake
provider keeps these tests independent of any real provider module."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import keyring.errors
import pytest

from app.services.inventory import ConnectorInput
from app.services.probing import Prober
from connectors import registry
from connectors.base import Grant, Level, Mode, Outcome, Provider, Secret
from connectors.http import guard, json_body, outcome_for_status, rate_limit_state


class FakeProvider(Provider):
    name = "fake"
    title = "Fake"
    base_url = "https://fake.example"

    async def probe(self, client, cred, *, deep=False):
        async def run():
            from connectors.base import ProbeReport

            r = await client.get(self.url(cred, "/me"), headers={"authorization": f"Bearer {cred.secret.reveal()}"})
            report = ProbeReport(
                outcome_for_status(r.status_code),
                status=r.status_code,
                rate_limit=rate_limit_state(r.headers),
                requests=1,
            )
            if report.outcome is Outcome.OK:
                body = json_body(r)
                report.identity = body["login"]
                report.grants = [Grant(s, Level.parse(lv)) for s, lv in body["scopes"]]
            else:
                report.error = r.text[:200]  # a careless provider echoing the request: _scrub must catch it
            return report

        return await guard(run, deep=deep)


@pytest.fixture(autouse=True)
def fake_provider(monkeypatch):
    monkeypatch.setitem(registry.BUILTIN, "fake", f"{__name__}:FakeProvider")
    registry.get.cache_clear()
    yield
    registry.get.cache_clear()


def add(services, name, key, declared=(), host="fake.example"):
    return services.inventory.add(
        ConnectorInput(name=name, provider="fake", owner="Ana", base_url=f"https://{host}", declared=tuple(declared)),
        Secret(key),
    )


def transport(handler):
    return httpx.MockTransport(handler)


async def test_probe_stores_result_observed_grants_and_drift(services):
    add(services, "bot", "fake-key-1234", declared=[Grant("read:a", Level.READ)])

    def handler(request):
        return httpx.Response(200, json={"login": "bot-user", "scopes": [["read:a", "read"], ["send:b", "send"]]})

    [result] = await Prober(services, transport(handler)).probe()
    assert result.report.outcome is Outcome.OK
    assert result.report.identity == "bot-user"
    assert any("undeclared" in d and "send:b" in d for d in result.drift)
    view = services.inventory.get("bot")
    assert view.live_level is Level.SEND and view.last_outcome == "ok"
    assert {g.scope for g in view.observed} == {"read:a", "send:b"}
    assert view.drift  # the stored view computes the same drift
    history = Prober(services).history("bot")
    assert history[0].outcome == "ok" and history[0].live_level is Level.SEND
    assert services.audit.verify(services.engine).ok


async def test_revoked_key_clears_live_level_and_observed(services):
    add(services, "bot", "fake-key-1234")
    ok = transport(lambda r: httpx.Response(200, json={"login": "x", "scopes": [["w", "write"]]}))
    await Prober(services, ok).probe()
    dead = transport(lambda r: httpx.Response(401, json={"message": "Bad credentials"}))
    [result] = await Prober(services, dead).probe()
    assert result.report.outcome is Outcome.INVALID
    view = services.inventory.get("bot")
    assert view.live_level is None and view.observed == ()


async def test_mode_ceiling_drift(services):
    add(services, "bot", "fake-key-1234", declared=[Grant("w", Level.WRITE)])
    from sqlmodel import select

    from app.store.db import session_scope
    from app.store.models import Connector

    with session_scope(services.engine) as s:
        s.exec(select(Connector)).one().mode = Mode.READ_ONLY.value
    ok = transport(lambda r: httpx.Response(200, json={"login": "x", "scopes": [["w", "write"]]}))
    [result] = await Prober(services, ok).probe()
    assert any("above the read-only ceiling" in d for d in result.drift)


async def test_unreachable_and_malformed_are_outcomes(services):
    add(services, "down", "fake-key-1111", host="down.example")
    add(services, "junk", "fake-key-2222", host="junk.example")

    def handler(request):
        if request.url.host == "down.example":
            raise httpx.ConnectError("connection refused")
        return httpx.Response(200, content=b"<html>not json")

    results = {r.connector: r for r in await Prober(services, transport(handler)).probe()}
    assert results["down"].report.outcome is Outcome.UNREACHABLE
    assert "refused" in results["down"].report.error
    assert results["junk"].report.outcome is Outcome.ERROR
    assert "malformed" in results["junk"].report.error


async def test_retry_after_is_waited_out(services):
    add(services, "bot", "fake-key-1234")
    calls = []

    def handler(request):
        calls.append(time.perf_counter())
        if len(calls) == 1:
            return httpx.Response(429, headers={"retry-after": "0.2"})
        return httpx.Response(200, json={"login": "x", "scopes": []})

    [result] = await Prober(services, transport(handler)).probe()
    assert result.report.outcome is Outcome.OK
    assert len(calls) == 2 and calls[1] - calls[0] >= 0.19


async def test_a_retried_probe_counts_every_request_it_sent(services):
    """Issue 9, seen 7: a probe retried after 429 + Retry-After reported only its last attempt's
    requests (`probe --json` said 1 while 2 went out)."""
    add(services, "bot", "fake-key-1234")
    calls = []

    def handler(request):
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(429, headers={"retry-after": "0.05"})
        return httpx.Response(200, json={"login": "x", "scopes": []})

    [result] = await Prober(services, transport(handler)).probe()
    assert result.report.outcome is Outcome.OK
    assert result.report.requests == len(calls) == 2


async def test_long_retry_after_is_reported_not_waited(services):
    add(services, "bot", "fake-key-1234")
    handler = lambda r: httpx.Response(429, headers={"retry-after": "3600"})  # noqa: E731
    started = time.perf_counter()
    [result] = await Prober(services, transport(handler)).probe()
    assert time.perf_counter() - started < 5  # one probe, not an hour (nor max_retry_wait_s, 30 s)
    assert result.report.outcome is Outcome.RATE_LIMITED and "3600" in result.report.error


async def test_concurrency_is_bounded_per_host_and_overall(services, monkeypatch):
    from dataclasses import replace

    services.settings = replace(services.settings, probe=replace(services.settings.probe, concurrency=6, per_host=2))
    for i in range(8):
        add(services, f"a{i}", f"fake-key-a{i:04d}", host="a.example")
        add(services, f"b{i}", f"fake-key-b{i:04d}", host=f"b{i}.example")
    in_flight = {"a": 0, "all": 0}
    peak = {"a": 0, "all": 0}

    class SlowTransport(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request):
            is_a = request.url.host == "a.example"
            in_flight["all"] += 1
            in_flight["a"] += is_a
            peak["all"] = max(peak["all"], in_flight["all"])
            peak["a"] = max(peak["a"], in_flight["a"])
            await asyncio.sleep(0.2)  # long enough that probes started one by one on a busy machine overlap
            in_flight["all"] -= 1
            in_flight["a"] -= is_a
            return httpx.Response(200, json={"login": "x", "scopes": []}, request=request)

    results = await Prober(services, SlowTransport()).probe()
    assert len(results) == 16 and all(r.report.outcome is Outcome.OK for r in results)
    assert peak["a"] <= 2
    assert peak["all"] <= 6
    assert peak["all"] >= 4  # b-hosts were not starved behind the busy a-host


async def test_secret_never_stored_in_probe_rows(services):
    key = "fake-key-CANARY-7777"
    add(services, "bot", key)

    def handler(request):
        return httpx.Response(500, json={"message": f"echo {request.headers['authorization']}"})

    [result] = await Prober(services, transport(handler)).probe()
    assert result.report.outcome is Outcome.ERROR
    assert key not in result.report.error and "echo" in result.report.error  # masked, not dropped
    raw = services.settings.db_path.read_bytes()
    wal = services.settings.db_path.with_name(services.settings.db_path.name + "-wal")
    if wal.exists():
        raw += wal.read_bytes()
    assert key.encode() not in raw


async def test_a_cookie_one_key_received_never_rides_along_with_another_keys_probe(services):
    """One client serves every connector of a provider endpoint: a provider's session cookie
    must not carry one key's session into the next key's probe."""
    add(services, "first", "fake-key-1111")
    add(services, "second", "fake-key-2222")
    sent_cookies = []

    def handler(request):
        sent_cookies.append(request.headers.get("cookie"))
        return httpx.Response(
            200,
            json={"login": "x", "scopes": []},
            headers={"set-cookie": "session=abc123; Path=/; Domain=fake.example"},
        )

    results = await Prober(services, transport(handler)).probe()
    assert [r.report.outcome for r in results] == [Outcome.OK, Outcome.OK]
    assert sent_cookies == [None, None]


async def test_probes_start_while_later_keys_are_still_being_read(services, memory_keyring, monkeypatch):
    """Keys are read a slice at a time beside the probes, not all before the first one (an OS
    keyring can take milliseconds a key)."""
    from app.services.probing import KEY_SLICE

    for i in range(KEY_SLICE * 3):
        add(services, f"bot-{i:02d}", f"fake-key-{i:04d}")
    first_probe_sent = threading.Event()
    waited = []
    reads = []
    real_get = memory_keyring.get_password

    def slow_get(service, username):
        if ":cred:" in username:
            reads.append(username)
            if len(reads) == KEY_SLICE + 1:  # the next slice waits until a probe went out
                waited.append(first_probe_sent.wait(timeout=30))
        return real_get(service, username)

    monkeypatch.setattr(memory_keyring, "get_password", slow_get)

    def handler(request):
        first_probe_sent.set()
        return httpx.Response(200, json={"login": "x", "scopes": []})

    results = await Prober(services, transport(handler)).probe()
    assert waited == [True]
    assert [r.report.outcome for r in results] == [Outcome.OK] * (KEY_SLICE * 3)


async def test_a_keyring_that_fails_is_each_probes_outcome(services, memory_keyring, monkeypatch):
    add(services, "bot", "fake-key-1234")

    def locked(service, username):
        raise keyring.errors.KeyringLocked("locked")

    monkeypatch.setattr(memory_keyring, "get_password", locked)
    [result] = await Prober(services, transport(lambda r: httpx.Response(200))).probe()
    assert result.report.outcome is Outcome.ERROR and "keyring" in result.report.error
