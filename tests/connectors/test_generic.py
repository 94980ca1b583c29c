"""The generic HTTP provider (settings from cred.extra)."""

import httpx
import pytest

from connectors import registry
from connectors.base import ActionState, Credential, Level, Outcome, Secret
from connectors.sandbox.core import SandboxState
from connectors.sandbox.providers import generic as sandbox_generic
from tests.connectors.fixtures.contract import Unreachable, cred, mint, sandbox_client
from tests.sandbox_fixtures import *  # noqa: F403  (sandbox, sandbox_state)

PROVIDER = registry.get("generic")


async def _probe(state: SandboxState, token: str, **extra) -> tuple:
    client, transport = sandbox_client(state)
    extra.setdefault("url", "/verify")
    async with client:
        report = await PROVIDER.probe(client, cred(token, "generic", extra=extra))
    return report, transport


def test_recognises_no_key_and_its_tokens_say_sandbox():
    token = sandbox_generic.make_token("bearer")
    assert "SANDBOX" in token and PROVIDER.recognise(token) is None
    assert [r.provider for r in registry.recognise(token)] == []


async def test_valid_key_reports_the_declared_level_only():
    state = SandboxState()
    key = mint(state, "generic", "bearer", identity="ada")
    default, transport = await _probe(state, key.token, identity_field="user.name")
    declared, _ = await _probe(state, key.token, level="read")
    assert default.outcome is Outcome.OK and default.live_level is Level.WRITE and default.identity == "ada"
    assert declared.live_level is Level.READ and declared.identity == ""
    assert default.rate_limit.limit == 100 and default.rate_limit.remaining == 99
    assert transport.calls == [("GET", "/generic/verify")]


async def test_auth_header_template_and_valid_status():
    state = SandboxState()
    key = mint(state, "generic", "bearer")
    api_key, _ = await _probe(state, key.token, auth_header="X-Api-Key: {token}")
    no_content, _ = await _probe(state, key.token, url="/verify-204", valid_status="200, 204")
    strict, _ = await _probe(state, key.token, url="/verify-204")  # 204 is not the declared "valid"
    assert api_key.outcome is Outcome.OK
    assert no_content.outcome is Outcome.OK and no_content.status == 204
    assert strict.outcome is Outcome.ERROR and strict.status == 204


async def test_absolute_url_wins_over_base_url():
    state = SandboxState()
    key = mint(state, "generic", "bearer")
    client, transport = sandbox_client(state)
    async with client:
        report = await PROVIDER.probe(
            client,
            Credential(
                Secret(key.token),
                base_url="http://elsewhere.invalid",
                extra={"url": "http://sandbox.invalid/generic/verify"},
            ),
        )
    assert report.outcome is Outcome.OK and transport.calls == [("GET", "/generic/verify")]


async def test_outcomes():
    state = SandboxState()
    assert (await _probe(state, sandbox_generic.make_token("bearer")))[0].outcome is Outcome.INVALID
    forbidden, _ = await _probe(state, mint(state, "generic", "bearer").token, url="/verify-admin")
    assert forbidden.outcome is Outcome.FORBIDDEN and forbidden.grants == []
    limited, _ = await _probe(state, mint(state, "generic", "bearer", meta={"rate_limited": True}).token)
    assert limited.outcome is Outcome.RATE_LIMITED and limited.rate_limit.retry_after_s == 5


@pytest.mark.parametrize(
    "extra, words",
    [
        ({}, "url"),
        ({"url": "/verify", "auth_header": "Authorization Bearer {token}"}, "auth_header"),
        ({"url": "/verify", "auth_header": "Authorization: Bearer"}, "auth_header"),
        ({"url": "/verify", "auth_header": "X: {token}\r\nY: z"}, "auth_header"),
        ({"url": "/verify", "valid_status": "ok"}, "valid_status"),
        ({"url": "/verify", "level": "god"}, "level"),
    ],
)
async def test_bad_settings_are_an_error_outcome_without_a_request(extra, words):
    async with httpx.AsyncClient(transport=Unreachable()) as client:
        report = await PROVIDER.probe(client, cred("gen_SANDBOX_secret", "generic", extra=extra))
    assert report.outcome is Outcome.ERROR and words in report.error and "gen_SANDBOX_secret" not in report.error


async def test_relative_url_needs_a_base_url():
    async with httpx.AsyncClient(transport=Unreachable()) as client:
        report = await PROVIDER.probe(client, Credential(Secret("k" * 12), extra={"url": "/verify"}))
    assert report.outcome is Outcome.ERROR and "base URL" in report.error


async def test_switches_are_manual():
    async with httpx.AsyncClient(transport=Unreachable()) as client:
        target = cred("gen_SANDBOX_secret", "generic", extra={"url": "/verify"})
        results = [
            await PROVIDER.revoke(client, target),
            await PROVIDER.rotate(client, target),
            await PROVIDER.restrict(client, target, Level.READ),
        ]
    assert all(r.state is ActionState.MANUAL for r in results)
    assert results[0].manual_steps[0].startswith("Open the dashboard of the service")


# -- through real HTTP on a loopback port ---------------------------------------------------------------


async def test_probe_over_loopback(sandbox):
    key = sandbox.mint("generic", "bearer", identity="ada")
    base = sandbox.base_url("generic").rsplit("/", 1)[0]
    async with httpx.AsyncClient() as client:
        report = await PROVIDER.probe(
            client, cred(key.token, "generic", base=base, extra={"url": "/verify", "identity_field": "user.name"})
        )
    assert report.outcome is Outcome.OK and report.identity == "ada"
