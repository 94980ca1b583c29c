"""Google provider and its sandbox (sources: the documentation URLs cited in connectors/google.py)."""

from datetime import UTC, datetime, timedelta

import httpx

from connectors import registry
from connectors.base import ActionState, Credential, Level, Outcome, Secret
from connectors.google import G
from connectors.sandbox.core import SandboxState
from connectors.sandbox.providers import google as sandbox_google
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

PROVIDER = registry.get("google")
REAL_API = "https://oauth2.example.test"
TOKEN = "ya29.SANDBOX" + "e" * 40
API_KEY = "AIzaSy" + "SANDBOX" + "k" * 26


def real(token: str = TOKEN) -> Credential:
    return Credential(Secret(token), base_url=REAL_API)


# -- key recognition and levels ---------------------------------------------------------------------


# -- contract: the provider reads the documented responses ------------------------------------------


async def test_parses_documented_tokeninfo():
    routes = Routes({("POST", "/tokeninfo"): load("google", "tokeninfo")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real())
    assert report.outcome is Outcome.OK and report.status == 200
    assert report.identity == "someone@example.com"
    grants = {g.scope: g for g in report.grants}
    assert grants[G + "gmail.compose"].level is Level.SEND and "no draft-only" in grants[G + "gmail.compose"].note
    assert grants["openid"].level is Level.READ and report.live_level is Level.SEND
    assert report.expires_at == datetime.fromtimestamp(1767225600, tz=UTC)
    assert report.details["access_type"] == "offline"
    # the token travels in a header, never in the address
    call = routes.calls[0]
    assert call.method == "POST" and TOKEN not in str(call.url)
    assert call.headers["authorization"] == f"Bearer {TOKEN}"


async def test_documented_invalid_token_is_invalid():
    routes = Routes({("POST", "/tokeninfo"): load("google", "tokeninfo_invalid")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real())
    assert report.outcome is Outcome.INVALID and report.status == 400 and report.error == "Invalid Value"


async def test_parses_documented_models_list_for_an_api_key():
    routes = Routes({("GET", "/v1/models"): load("google", "models")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real(API_KEY))
    assert report.outcome is Outcome.OK and report.token_kind == "API key"
    assert report.live_level is Level.SEND  # calling models spends money
    call = routes.calls[0]
    assert call.headers["x-goog-api-key"] == API_KEY and API_KEY not in str(call.url)


async def test_documented_invalid_api_key_is_invalid():
    routes = Routes({("GET", "/v1/models"): load("google", "api_key_invalid")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real(API_KEY))
    assert report.outcome is Outcome.INVALID and "API key not valid" in report.error


async def test_parses_documented_revoke():
    routes = Routes({("POST", "/revoke"): load("google", "revoke")})
    async with routes.client() as client:
        result = await PROVIDER.revoke(client, real())
    assert result.state is ActionState.APPLIED and result.irreversible
    call = routes.calls[0]
    assert call.headers["content-type"] == "application/x-www-form-urlencoded" and TOKEN not in str(call.url)


# -- contract: the sandbox answers with the documented shapes ---------------------------------------


async def test_sandbox_matches_documented_shapes():
    state = SandboxState()
    token = mint(state, "google", "oauth")
    key = mint(state, "google", "api_key")
    client, _ = sandbox_client(state)
    base = cred(token.token, "google").base_url
    async with client:
        info = await client.post(f"{base}/tokeninfo", headers={"Authorization": f"Bearer {token.token}"})
        legacy = await client.get(f"{base}/oauth2/v3/tokeninfo", params={"access_token": token.token})
        bad = await client.post(f"{base}/tokeninfo", data={"access_token": "ya29.nope"})
        models = await client.get(f"{base}/v1/models", headers={"x-goog-api-key": key.token})
        bad_key = await client.get(f"{base}/v1/models", headers={"x-goog-api-key": "AIza-nope"})
        revoke = await client.post(f"{base}/revoke", data={"token": token.token})
    assert_same_shape(info, load("google", "tokeninfo"))
    assert_same_shape(legacy, load("google", "tokeninfo"))
    assert_same_shape(bad, load("google", "tokeninfo_invalid"))
    assert_same_shape(models, load("google", "models"))
    assert_same_shape(bad_key, load("google", "api_key_invalid"))
    assert_same_shape(revoke, load("google", "revoke"))
    assert revoke.content == b""


# -- every outcome, end to end through the in-process sandbox ---------------------------------------


async def test_outcomes_through_the_sandbox():
    state = SandboxState()
    live = mint(state, "google", "oauth", identity="maria")
    expired = mint(state, "google", "oauth", expires_at=datetime.now(UTC) - timedelta(minutes=1))
    client, transport = sandbox_client(state)
    async with client:
        ok = await PROVIDER.probe(client, cred(live.token, "google"))
        dead = await PROVIDER.probe(client, cred(expired.token, "google"))
        unknown = await PROVIDER.probe(client, cred(sandbox_google.make_token("oauth"), "google"))
    assert ok.outcome is Outcome.OK and ok.identity == "maria@sandbox.example" and ok.live_level is Level.SEND
    assert ok.expires_at is not None and ok.expires_at > datetime.now(UTC)
    assert dead.outcome is Outcome.INVALID and unknown.outcome is Outcome.INVALID
    # tokeninfo is the documented introspection POST; nothing else is sent
    assert set(transport.calls) == {("POST", "/google/tokeninfo")}


async def test_rate_limited_and_quota():  # unreachable, malformed: test_failures.py
    limited = Routes(
        {
            ("POST", "/tokeninfo"): lambda r: httpx.Response(
                429, headers={"retry-after": "5"}, json={"error": "rate_limit_exceeded"}
            )
        }
    )
    async with limited.client() as client:
        slow = await PROVIDER.probe(client, real())
    quota = Routes(
        {
            ("GET", "/v1/models"): {
                "status": 403,
                "body": {
                    "error": {
                        "code": 403,
                        "message": "Quota exceeded",
                        "status": "PERMISSION_DENIED",
                        "errors": [{"reason": "rateLimitExceeded"}],
                    }
                },
            }
        }
    )
    async with quota.client() as client:
        quota_report = await PROVIDER.probe(client, real(API_KEY))
    assert slow.outcome is Outcome.RATE_LIMITED and slow.rate_limit.retry_after_s == 5
    assert quota_report.outcome is Outcome.RATE_LIMITED


async def test_restricted_api_key_is_forbidden():
    routes = Routes(
        {
            ("GET", "/v1/models"): {
                "status": 403,
                "body": {
                    "error": {
                        "code": 403,
                        "message": "Method doesn't allow unregistered callers",
                        "status": "PERMISSION_DENIED",
                    }
                },
            }
        }
    )
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real(API_KEY))
    assert report.outcome is Outcome.FORBIDDEN


# -- switches ---------------------------------------------------------------------------------------


async def test_revoke_then_probe_is_invalid():
    state = SandboxState()
    record = mint(state, "google", "oauth")
    client, transport = sandbox_client(state)
    async with client:
        result = await PROVIDER.revoke(client, cred(record.token, "google"))
        after = await PROVIDER.probe(client, cred(record.token, "google"))
        again = await PROVIDER.revoke(client, cred(record.token, "google"))
    assert result.state is ActionState.APPLIED and result.status == 200
    assert ("POST", "/google/revoke") in transport.calls
    assert after.outcome is Outcome.INVALID
    assert again.state is ActionState.FAILED and not again.retryable and again.status == 400


async def test_api_key_switches_are_manual_and_failures_are_results():
    async with httpx.AsyncClient(transport=Unreachable()) as client:
        key_revoke = await PROVIDER.revoke(client, real(API_KEY))
        down = await PROVIDER.revoke(client, real())
        restrict = await PROVIDER.restrict(client, real(), Level.DRAFT)
    broken = Routes({("POST", "/revoke"): {"status": 503, "body": {"error": "backend_error"}}})
    async with broken.client() as client:
        failed = await PROVIDER.revoke(client, real())
    assert key_revoke.state is ActionState.MANUAL
    assert any("console.cloud.google.com/apis/credentials" in s for s in key_revoke.manual_steps)
    assert down.state is ActionState.FAILED and down.retryable
    assert restrict.state is ActionState.MANUAL and any("draft-only" in s for s in restrict.manual_steps)
    assert failed.state is ActionState.FAILED and failed.retryable


# -- real HTTP through the loopback sandbox ---------------------------------------------------------


async def test_probe_and_revoke_over_real_http(sandbox):
    record = sandbox.mint("google", "oauth", identity="maria")
    credential = Credential(Secret(record.token), base_url=sandbox.base_url("google"))
    async with httpx.AsyncClient(timeout=5) as client:
        before = await PROVIDER.probe(client, credential)
        result = await PROVIDER.revoke(client, credential)
        after = await PROVIDER.probe(client, credential)
    assert before.outcome is Outcome.OK and before.identity == "maria@sandbox.example"
    assert result.state is ActionState.APPLIED
    assert after.outcome is Outcome.INVALID
    assert sandbox.calls("google") == [
        ("POST", "/google/tokeninfo"),
        ("POST", "/google/revoke"),
        ("POST", "/google/tokeninfo"),
    ]
