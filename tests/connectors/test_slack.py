"""Slack provider and its sandbox (sources: the documentation URLs cited in connectors/slack.py)."""

import httpx
import pytest

from connectors import registry
from connectors.base import ActionState, Credential, Level, Outcome, Secret
from connectors.sandbox.core import SandboxState
from connectors.sandbox.providers import slack as sandbox_slack
from tests.connectors.fixtures.contract import (
    Routes,
    Unreachable,
    assert_same_shape,
    cred,
    load,
    mint,
    sandbox_client,
)
from tests.sandbox_fixtures import *  # noqa: F403  (sandbox, sandbox_state)

PROVIDER = registry.get("slack")
REAL_API = "https://slack.example.test/api"
BOT = "xoxb-123456789012-1234567890123-SANDBOXexample"
USER = "xoxp-123456789012-1234567890123-SANDBOXexample"


def real(token: str = USER) -> Credential:
    return Credential(Secret(token), base_url=REAL_API)


TEST = "/api/auth.test"


# -- key recognition --------------------------------------------------------------------------------


# -- contract: the provider reads the documented responses ------------------------------------------


async def test_parses_documented_auth_test():
    routes = Routes({("POST", TEST): load("slack", "auth_test")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real())
    assert report.outcome is Outcome.OK and report.status == 200
    assert report.identity == "grace @ Subarachnoid Workspace" and report.token_kind == "user token"
    assert {g.scope: g.level for g in report.grants} == {
        "search:read": Level.READ,
        "users:read": Level.READ,
        "chat:write": Level.SEND,
    }
    assert report.details["team_id"] == "T12345678"
    assert routes.calls[0].headers["authorization"] == f"Bearer {USER}"


async def test_parses_documented_bot_auth_test():
    routes = Routes({("POST", TEST): load("slack", "auth_test_bot")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real(BOT))
    assert report.outcome is Outcome.OK and report.details["bot_id"] == "BZYBOTHED"
    assert report.token_kind == "bot token" and report.live_level is Level.SEND


@pytest.mark.parametrize(
    "fixture, outcome",
    [
        ("auth_test_invalid", Outcome.INVALID),
        ("auth_test_revoked", Outcome.REVOKED),
        ("rate_limited", Outcome.RATE_LIMITED),
    ],
)
async def test_documented_failures(fixture, outcome):
    routes = Routes({("POST", TEST): load("slack", fixture)})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real())
    assert report.outcome is outcome
    if outcome is Outcome.RATE_LIMITED:
        assert report.rate_limit.retry_after_s == 30


@pytest.mark.parametrize(
    "error, outcome",
    [
        ("account_inactive", Outcome.REVOKED),
        ("not_authed", Outcome.INVALID),
        ("ratelimited", Outcome.RATE_LIMITED),
        ("fatal_error", Outcome.ERROR),
    ],
)
async def test_ok_false_errors_on_http_200(error, outcome):
    routes = Routes({("POST", TEST): {"status": 200, "body": {"ok": False, "error": error}}})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real())
    assert report.outcome is outcome and report.status == 200 and report.error == error


async def test_parses_documented_revoke():
    routes = Routes({("POST", "/api/auth.revoke"): load("slack", "auth_revoke")})
    async with routes.client() as client:
        result = await PROVIDER.revoke(client, real())
    assert result.state is ActionState.APPLIED and result.irreversible


# -- contract: the sandbox answers with the documented shapes ---------------------------------------


@pytest.mark.parametrize("kind, fixture", [("user", "auth_test"), ("bot", "auth_test_bot")])
async def test_sandbox_auth_test_matches_documented_shape(kind, fixture):
    state = SandboxState()
    record = mint(state, "slack", kind)
    client, _ = sandbox_client(state)
    async with client:
        response = await client.post(
            f"{cred(record.token, 'slack').base_url}/auth.test", headers={"Authorization": f"Bearer {record.token}"}
        )
    assert_same_shape(response, load("slack", fixture))
    assert response.headers["x-oauth-scopes"] == ",".join(sandbox_slack.KINDS[kind])


async def test_sandbox_failures_and_revoke_match_documented_shapes():
    state = SandboxState()
    record = mint(state, "slack", "bot")
    gone = mint(state, "slack", "bot", revoked=True)
    client, _ = sandbox_client(state)
    base = cred(record.token, "slack").base_url
    async with client:
        unknown = await client.post(f"{base}/auth.test", headers={"Authorization": "Bearer xoxb-nope"})
        revoked = await client.post(f"{base}/auth.test", data={"token": gone.token})  # a POST parameter works too
        dry_run = await client.post(f"{base}/auth.revoke", data={"token": record.token, "test": "1"})
        revoke = await client.post(f"{base}/auth.revoke", headers={"Authorization": f"Bearer {record.token}"})
    assert_same_shape(unknown, load("slack", "auth_test_invalid"))
    assert_same_shape(revoked, load("slack", "auth_test_revoked"))
    assert dry_run.json() == {"ok": True, "revoked": False}
    assert_same_shape(revoke, load("slack", "auth_revoke"))


# -- every outcome, end to end through the in-process sandbox ---------------------------------------


async def test_outcomes_through_the_sandbox():
    state = SandboxState()
    live = mint(state, "slack", "bot", identity="acme-support-bot")
    inactive = mint(state, "slack", "user", status="inactive")
    client, transport = sandbox_client(state)
    async with client:
        ok = await PROVIDER.probe(client, cred(live.token, "slack"))
        gone = await PROVIDER.probe(client, cred(inactive.token, "slack"))
        unknown = await PROVIDER.probe(client, cred(sandbox_slack.make_token("bot"), "slack"))
    assert ok.outcome is Outcome.OK and ok.identity == "acme-support-bot @ Sandbox Workspace"
    assert ok.live_level is Level.SEND
    assert gone.outcome is Outcome.REVOKED and gone.error == "account_inactive"
    assert unknown.outcome is Outcome.INVALID and unknown.error == "invalid_auth"
    # auth.test is the documented introspection POST; nothing else is sent
    assert {call for call in transport.calls} == {("POST", "/slack/api/auth.test")}


async def test_http_errors_are_errors():  # unreachable, malformed: test_failures.py
    broken = Routes({("POST", TEST): {"status": 503, "body": {"ok": False}}})
    async with broken.client() as client:
        unavailable = await PROVIDER.probe(client, real())
    assert unavailable.outcome is Outcome.ERROR and unavailable.status == 503


async def test_refresh_tokens_are_not_sent_anywhere():
    async with httpx.AsyncClient(transport=Unreachable()) as client:
        report = await PROVIDER.probe(client, real("xoxe-1-SANDBOXexampleexampleexample"))
    assert report.outcome is Outcome.ERROR and report.requests == 0


# -- switches ---------------------------------------------------------------------------------------


async def test_revoke_then_probe_is_revoked():
    state = SandboxState()
    record = mint(state, "slack", "bot")
    client, transport = sandbox_client(state)
    async with client:
        result = await PROVIDER.revoke(client, cred(record.token, "slack"))
        after = await PROVIDER.probe(client, cred(record.token, "slack"))
        again = await PROVIDER.revoke(client, cred(record.token, "slack"))
    assert result.state is ActionState.APPLIED and result.status == 200
    assert ("POST", "/slack/api/auth.revoke") in transport.calls
    assert after.outcome is Outcome.REVOKED and after.error == "token_revoked"
    assert again.state is ActionState.APPLIED  # already revoked: the goal holds


async def test_revoke_failures():
    unknown = Routes({("POST", "/api/auth.revoke"): load("slack", "auth_test_invalid")})
    async with unknown.client() as client:
        refused = await PROVIDER.revoke(client, real())
    limited = Routes({("POST", "/api/auth.revoke"): load("slack", "rate_limited")})
    async with limited.client() as client:
        slow = await PROVIDER.revoke(client, real())
    async with httpx.AsyncClient(transport=Unreachable()) as client:
        down = await PROVIDER.revoke(client, real())
        rotate = await PROVIDER.rotate(client, real())
    assert refused.state is ActionState.FAILED and not refused.retryable and refused.message == "invalid_auth"
    assert slow.state is ActionState.FAILED and slow.retryable
    assert down.state is ActionState.FAILED and down.retryable
    assert rotate.state is ActionState.MANUAL and any("api.slack.com/apps" in s for s in rotate.manual_steps)


# -- real HTTP through the loopback sandbox ---------------------------------------------------------


async def test_probe_and_revoke_over_real_http(sandbox):
    record = sandbox.mint("slack", "bot", identity="acme-support-bot")
    credential = Credential(Secret(record.token), base_url=sandbox.base_url("slack"))
    async with httpx.AsyncClient(timeout=5) as client:
        before = await PROVIDER.probe(client, credential)
        result = await PROVIDER.revoke(client, credential)
        after = await PROVIDER.probe(client, credential)
    assert before.outcome is Outcome.OK and {g.scope for g in before.grants} == set(sandbox_slack.KINDS["bot"])
    assert result.state is ActionState.APPLIED
    assert after.outcome is Outcome.REVOKED
