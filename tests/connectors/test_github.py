"""GitHub provider and its sandbox (sources: the documentation URLs cited in connectors/github.py)."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from connectors import registry
from connectors.base import ActionState, Credential, Level, Outcome, Secret
from connectors.github import DEEP_CHECKS, error_message, expand_scopes, parse_expiry
from connectors.sandbox.core import SandboxState
from connectors.sandbox.providers import github as sandbox_github
from tests.connectors.fixtures.contract import (
    Routes,
    Unreachable,
    assert_same_shape,
    cred,
    load,
    mint,
    real_looking_ids,
    sandbox_client,
)
from tests.sandbox_fixtures import *  # noqa: F403  (sandbox, sandbox_state)

PROVIDER = registry.get("github")
REAL_API = "https://api.github.test"
# Shaped like tokens, made at run time, never real: the fixture tests need a prefix only.
CLASSIC = "ghp_SANDBOX" + "x" * 29
INSTALLATION = "ghs_SANDBOX" + "y" * 29
FINE = "github_pat_SANDBOX" + "z" * 40


def real(token: str) -> Credential:
    return Credential(Secret(token), base_url=REAL_API)


def fixture_without(name: str, header: str) -> dict:
    data = load("github", name)
    return {**data, "headers": {k: v for k, v in data.get("headers", {}).items() if k.lower() != header}}


# -- key recognition --------------------------------------------------------------------------------


def test_legacy_hex_token_is_recognised_with_low_confidence():
    pattern = PROVIDER.recognise(("0123456789abcdef" * 3)[:40])  # an obvious pattern, not a token
    assert pattern is not None and pattern.confidence == 1


# -- scopes and levels ------------------------------------------------------------------------------


def test_scope_hierarchy_expands_to_children():
    expanded = dict(expand_scopes(["admin:org", "user"]))
    assert expanded["write:org"] == "admin:org" and expanded["read:org"] == "admin:org"
    assert {"read:user", "user:email", "user:follow"} <= set(expanded)


def test_expiry_header_formats():
    assert parse_expiry("2026-12-31 23:59:59 UTC") == datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert parse_expiry("2026-12-31 16:59:59 -0700") == datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert parse_expiry("soon") is None and parse_expiry(None) is None


# -- contract: the provider reads the documented responses ------------------------------------------


async def test_parses_documented_classic_user_response():
    routes = Routes({("GET", "/user"): load("github", "user")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real(CLASSIC))
    assert report.outcome is Outcome.OK and report.status == 200
    assert report.identity == "octocat" and report.token_kind == "classic PAT"
    grants = {g.scope: g for g in report.grants}
    assert grants["repo"].level is Level.SEND and grants["read:org"].level is Level.READ
    assert grants["public_repo"].note == "implied by repo"
    assert report.live_level is Level.SEND
    assert report.expires_at == datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert report.rate_limit.limit == 5000 and report.rate_limit.remaining == 4999
    assert report.rate_limit.reset_at is not None and report.details["rate_limit_resource"] == "core"
    assert report.requests == 1 and [r.method for r in routes.calls] == ["GET"]
    assert routes.calls[0].headers["authorization"] == f"Bearer {CLASSIC}"
    assert routes.calls[0].headers["x-github-api-version"] == "2022-11-28"


async def test_parses_documented_fine_grained_user_and_repos():
    routes = Routes(
        {
            ("GET", "/user"): fixture_without("user", "x-oauth-scopes"),
            ("GET", "/user/repos"): load("github", "user_repos"),
        }
    )
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real(FINE))
    assert report.outcome is Outcome.OK and report.token_kind == "fine-grained PAT"
    assert report.identity == "octocat" and report.grants == []  # not reported without a deep probe
    assert report.details["accessible_repos"] == 1 and report.details["repos_truncated"] is False
    assert report.requests == 2


async def test_parses_documented_installation_repositories():
    routes = Routes({("GET", "/installation/repositories"): load("github", "installation_repositories")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real(INSTALLATION))
    assert report.outcome is Outcome.OK and report.token_kind == "GitHub App installation token"
    assert report.identity == "app installation (octocat)"
    assert report.details["accessible_repos"] == 1 and report.details["repository_selection"] == "selected"


async def test_documented_bad_credentials_is_invalid():
    routes = Routes({("GET", "/user"): load("github", "bad_credentials")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real(CLASSIC))
    assert report.outcome is Outcome.INVALID and report.status == 401 and report.error == "Bad credentials"


async def test_documented_primary_rate_limit_403_is_rate_limited():
    routes = Routes({("GET", "/user"): load("github", "rate_limited")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real(CLASSIC))
    assert report.outcome is Outcome.RATE_LIMITED and report.status == 403
    assert report.rate_limit.remaining == 0 and report.rate_limit.reset_at is not None


async def test_plain_403_is_forbidden():
    answer = {
        "status": 403,
        "headers": {"x-ratelimit-remaining": "4000"},
        "body": {"message": "Resource not accessible by integration"},
    }
    routes = Routes({("GET", "/user"): answer})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real(CLASSIC))
    assert report.outcome is Outcome.FORBIDDEN


async def test_429_with_retry_after_is_rate_limited():
    routes = Routes(
        {
            ("GET", "/user"): lambda r: httpx.Response(
                429, headers={"retry-after": "120"}, json={"message": "secondary rate limit"}
            )
        }
    )
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real(CLASSIC))
    assert report.outcome is Outcome.RATE_LIMITED and report.rate_limit.retry_after_s == 120


# -- contract: the sandbox answers with the documented shapes ---------------------------------------


async def test_sandbox_user_matches_documented_shape():
    state = SandboxState()
    record = mint(state, "github", "classic", expires_at=datetime.now(UTC) + timedelta(days=30))
    client, _ = sandbox_client(state)
    async with client:
        response = await client.get(
            f"{cred(record.token, 'github').base_url}/user", headers={"Authorization": f"Bearer {record.token}"}
        )
    assert_same_shape(response, load("github", "user"))
    assert response.headers["x-oauth-scopes"] == "repo, read:org"
    assert response.headers["github-authentication-token-expiration"].endswith(" UTC")


@pytest.mark.parametrize(
    "kind, method, path, fixture",
    [
        ("installation", "GET", "/installation/repositories", "installation_repositories"),
        ("fine_grained", "GET", "/user/repos", "user_repos"),
    ],
)
async def test_sandbox_lists_match_documented_shapes(kind, method, path, fixture):
    state = SandboxState()
    record = mint(state, "github", kind)
    client, _ = sandbox_client(state)
    async with client:
        response = await client.request(
            method,
            f"{cred(record.token, 'github').base_url}{path}",
            headers={"Authorization": f"Bearer {record.token}"},
        )
    assert_same_shape(response, load("github", fixture))


async def test_sandbox_bad_credentials_and_revoke_match_documented_shapes():
    state = SandboxState()
    record = mint(state, "github", "classic")
    client, _ = sandbox_client(state)
    base = cred(record.token, "github").base_url
    async with client:
        unknown = await client.get(f"{base}/user", headers={"Authorization": "Bearer ghp_SANDBOXunknown"})
        revoked = await client.post(f"{base}/credentials/revoke", json={"credentials": [record.token]})
        authed = await client.post(
            f"{base}/credentials/revoke",
            json={"credentials": [record.token]},
            headers={"Authorization": f"Bearer {record.token}"},
        )
    assert_same_shape(unknown, load("github", "bad_credentials"))
    assert_same_shape(revoked, load("github", "credentials_revoke"))
    assert authed.status_code == 403  # "Any authenticated requests will return a 403."


# -- every outcome, end to end through the in-process sandbox ---------------------------------------


async def test_ok_and_invalid_through_the_sandbox():
    state = SandboxState()
    record = mint(state, "github", "classic", identity="acme-bot")
    client, transport = sandbox_client(state)
    async with client:
        ok = await PROVIDER.probe(client, cred(record.token, "github"))
        unknown = await PROVIDER.probe(client, cred(sandbox_github.make_token("classic"), "github"))
    assert ok.outcome is Outcome.OK and ok.identity == "acme-bot" and ok.live_level is Level.SEND
    assert ok.rate_limit.limit == 5000 and ok.rate_limit.remaining == 4999
    assert unknown.outcome is Outcome.INVALID and unknown.status == 401


async def test_expired_sandbox_token_is_invalid_and_expiry_is_read():
    state = SandboxState()
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    live = mint(state, "github", "fine_grained", expires_at=soon)
    dead = mint(state, "github", "classic", expires_at=datetime.now(UTC) - timedelta(days=1))
    client, _ = sandbox_client(state)
    async with client:
        report = await PROVIDER.probe(client, cred(live.token, "github"))
        expired = await PROVIDER.probe(client, cred(dead.token, "github"))
    assert report.outcome is Outcome.OK and report.expires_at == soon
    assert expired.outcome is Outcome.INVALID


@pytest.mark.parametrize("kind", list(sandbox_github.KINDS))
async def test_non_deep_probes_only_read(kind):
    state = SandboxState()
    record = mint(state, "github", kind)
    client, transport = sandbox_client(state)
    async with client:
        report = await PROVIDER.probe(client, cred(record.token, "github"))
    assert report.outcome is Outcome.OK
    assert {method for method, _ in transport.calls} <= {"GET", "HEAD"}
    assert report.requests == len(transport.calls)


# -- deep probes ------------------------------------------------------------------------------------


async def test_deep_probe_learns_fine_grained_permissions_with_bogus_targets():
    state = SandboxState()
    record = mint(
        state, "github", "fine_grained", scopes=["metadata:read", "contents:read", "issues:write", "actions:read"]
    )
    client, transport = sandbox_client(state)
    async with client:
        report = await PROVIDER.probe(client, cred(record.token, "github"), deep=True)
    assert report.outcome is Outcome.OK and report.deep
    assert {g.scope: g.level for g in report.grants} == {
        "contents:read": Level.READ,
        "issues:write": Level.SEND,
        "actions:read": Level.READ,
    }
    assert report.requests == len(transport.calls) <= PROVIDER.deep_probe_requests
    writes = [path for method, path in transport.calls if method not in ("GET", "HEAD")]
    assert len(writes) == sum(1 for c in DEEP_CHECKS if c.method != "GET")
    assert all("breaker-deep-probe-" in path for path in writes)  # never a real object
    assert real_looking_ids(writes) == []
    assert "deep_unknown" not in report.details


async def test_deep_probe_of_an_installation_token():
    state = SandboxState()
    record = mint(state, "github", "installation")
    client, transport = sandbox_client(state)
    async with client:
        report = await PROVIDER.probe(client, cred(record.token, "github"), deep=True)
    assert {g.scope for g in report.grants} == {"contents:write", "pull_requests:read"}
    assert transport.calls[0] == ("GET", "/github/installation/repositories")


async def test_deep_probe_of_a_classic_token_sends_nothing_more():
    state = SandboxState()
    record = mint(state, "github", "classic")
    client, transport = sandbox_client(state)
    async with client:
        report = await PROVIDER.probe(client, cred(record.token, "github"), deep=True)
    assert report.requests == 1 and len(transport.calls) == 1


# -- switches ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["classic", "fine_grained", "oauth", "user_to_server"])
async def test_revoke_through_the_credentials_api_kills_the_token(kind):
    state = SandboxState()
    record = mint(state, "github", kind)
    client, transport = sandbox_client(state)
    async with client:
        result = await PROVIDER.revoke(client, cred(record.token, "github"))
        after = await PROVIDER.probe(client, cred(record.token, "github"))
    assert result.state is ActionState.APPLIED and result.status == 202 and result.irreversible
    assert ("POST", "/github/credentials/revoke") in transport.calls
    assert after.outcome is Outcome.INVALID


async def test_revoke_installation_token_deletes_it():
    state = SandboxState()
    record = mint(state, "github", "installation")
    client, transport = sandbox_client(state)
    async with client:
        result = await PROVIDER.revoke(client, cred(record.token, "github"))
        after = await PROVIDER.probe(client, cred(record.token, "github"))
    assert result.state is ActionState.APPLIED and result.status == 204
    assert ("DELETE", "/github/installation/token") in transport.calls
    assert after.outcome is Outcome.INVALID


async def test_revoke_failures_are_results_not_exceptions():
    async with httpx.AsyncClient(transport=Unreachable()) as client:
        down = await PROVIDER.revoke(client, real(CLASSIC))
    spammed = Routes(
        {
            ("POST", "/credentials/revoke"): lambda r: httpx.Response(
                422, json={"message": f"Validation failed for {CLASSIC}"}
            )
        }
    )
    async with spammed.client() as client:
        refused = await PROVIDER.revoke(client, real(CLASSIC))
    broken = Routes({("POST", "/credentials/revoke"): lambda r: httpx.Response(500, json={"message": "boom"})})
    async with broken.client() as client:
        failed = await PROVIDER.revoke(client, real(CLASSIC))
    assert down.state is ActionState.FAILED and down.retryable
    assert refused.state is ActionState.FAILED and not refused.retryable and refused.status == 422
    assert CLASSIC not in refused.message  # an echoed token is masked
    assert failed.state is ActionState.FAILED and failed.retryable
    assert "authorization" not in spammed.calls[0].headers  # the revoke call is unauthenticated


async def test_legacy_token_revoke_rotate_restrict_are_manual():
    async with httpx.AsyncClient(transport=Unreachable()) as client:
        revoke = await PROVIDER.revoke(client, real(("0123456789abcdef" * 3)[:40]))
        rotate = await PROVIDER.rotate(client, real(CLASSIC))
        restrict = await PROVIDER.restrict(client, real(CLASSIC), Level.READ)
    for result in (revoke, rotate, restrict):
        assert result.state is ActionState.MANUAL
        assert any("https://github.com/settings/" in step for step in result.manual_steps)


def test_error_message_masks_the_secret():
    response = httpx.Response(422, json={"message": f"bad {CLASSIC}"})
    assert CLASSIC not in error_message(response, Credential(Secret(CLASSIC)))


# -- real HTTP through the loopback sandbox ---------------------------------------------------------


async def test_probe_and_revoke_over_real_http(sandbox):
    record = sandbox.mint("github", "classic", identity="octo-sandbox")
    credential = Credential(Secret(record.token), base_url=sandbox.base_url("github"))
    async with httpx.AsyncClient(timeout=5) as client:
        before = await PROVIDER.probe(client, credential)
        result = await PROVIDER.revoke(client, credential)
        after = await PROVIDER.probe(client, credential)
    assert before.outcome is Outcome.OK and before.identity == "octo-sandbox"
    assert result.state is ActionState.APPLIED
    assert after.outcome is Outcome.INVALID
    assert sandbox.calls("github") == [
        ("GET", "/github/user"),
        ("POST", "/github/credentials/revoke"),
        ("GET", "/github/user"),
    ]
