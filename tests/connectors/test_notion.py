"""Notion provider and its sandbox (sources: the documentation URLs cited in connectors/notion.py)."""

import base64

import httpx
import pytest

from connectors import registry
from connectors.base import ActionState, Credential, Level, Outcome, Secret
from connectors.notion import BOGUS_ID, DEEP_PROBES
from connectors.sandbox.core import SandboxState
from connectors.sandbox.providers import notion as sandbox_notion
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

PROVIDER = registry.get("notion")
REAL_API = "https://api.notion.test"


def example_cred(**kwargs) -> Credential:
    return Credential(Secret("ntn_00000000000EXAMPLE" + "0" * 28), base_url=REAL_API, **kwargs)


# -- key recognition --------------------------------------------------------------------------------


# -- contract: the provider reads the documented responses ---------------------------------------------


@pytest.mark.parametrize(
    "fixture, kind",
    [("users_me_public", "public integration token"), ("users_me_workspace", "internal integration token")],
)
async def test_parses_documented_bot_user(fixture, kind):
    routes = Routes({("GET", "/v1/users/me"): load("notion", fixture)})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, example_cred())
    assert report.outcome is Outcome.OK and report.identity == "Example bot (Example Workspace)"
    assert report.token_kind == kind
    assert [g.scope for g in report.grants] == ["*"]  # capabilities need a deep probe
    assert routes.calls[0].headers["notion-version"] == "2022-06-28"


@pytest.mark.parametrize(
    "fixture, outcome", [("error_unauthorized", Outcome.INVALID), ("error_rate_limited", Outcome.RATE_LIMITED)]
)
async def test_reads_documented_errors(fixture, outcome):
    routes = Routes({("GET", "/v1/users/me"): load("notion", fixture)})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, example_cred())
    assert report.outcome is outcome and report.error == load("notion", fixture)["body"]["code"]
    if outcome is Outcome.RATE_LIMITED:
        assert report.rate_limit.retry_after_s == 1


async def test_deep_probe_reads_documented_capability_answers():
    """400 validation_error = capability held; 403 restricted_resource = missing (TH scopes.json)."""
    answers = {
        ("GET", "/v1/users/me"): load("notion", "users_me_workspace"),
        ("GET", "/v1/users"): load("notion", "users_list"),
    }
    for probe in DEEP_PROBES:
        answers[(probe.method, probe.path)] = load(
            "notion", "error_restricted" if "comments" in probe.path else "error_validation"
        )
    routes = Routes(answers)
    async with routes.client() as client:
        report = await PROVIDER.probe(client, example_cred(), deep=True)
    assert {g.scope for g in report.grants} == {
        "read_content",
        "update_content",
        "insert_content",
        "read_user_with_email",
    }
    assert set(report.details["denied"]) == {"read_comments", "insert_comments"}
    assert report.live_level is Level.WRITE
    assert report.requests == PROVIDER.deep_probe_requests


async def test_revoke_public_token_with_documented_answer():
    routes = Routes({("POST", "/v1/oauth/revoke"): load("notion", "oauth_revoke")})
    async with routes.client() as client:
        result = await PROVIDER.revoke(
            client, example_cred(extra={"client_id": "client-EXAMPLE"}, admin_secret=Secret("secret_EXAMPLE"))
        )
    assert result.state is ActionState.APPLIED
    request = routes.calls[0]
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"client-EXAMPLE:secret_EXAMPLE").decode()
    assert request.read() == b'{"token":"' + example_cred().secret.reveal().encode() + b'"}'


# -- contract: the sandbox answers with the documented shapes ------------------------------------------


async def test_sandbox_answers_like_the_documentation():
    state = SandboxState()
    internal = mint(state, "notion", "internal")
    public = mint(state, "notion", "public")
    bare = mint(state, "notion", "internal", scopes=[])
    limited = mint(state, "notion", "internal", meta={"rate_limited": True})
    client_secret = mint(state, "notion", "admin", meta={"client_id": "sandbox-client"})
    client, _ = sandbox_client(state)
    base = "http://sandbox.invalid/notion"

    def headers(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "Notion-Version": "2022-06-28"}

    async with client:
        me = f"{base}/v1/users/me"
        assert_same_shape(await client.get(me, headers=headers(public.token)), load("notion", "users_me_public"))
        assert_same_shape(await client.get(me, headers=headers(internal.token)), load("notion", "users_me_workspace"))
        assert_same_shape(await client.get(me, headers=headers("ntn_nope")), load("notion", "error_unauthorized"))
        assert_same_shape(await client.get(me, headers=headers(limited.token)), load("notion", "error_rate_limited"))
        page = f"{base}/v1/pages/{BOGUS_ID}"
        assert_same_shape(await client.get(page, headers=headers(bare.token)), load("notion", "error_restricted"))
        assert_same_shape(await client.get(page, headers=headers(internal.token)), load("notion", "error_validation"))
        assert_same_shape(
            await client.get(f"{base}/v1/users", headers=headers(internal.token)), load("notion", "users_list")
        )
        revoked = await client.post(
            f"{base}/v1/oauth/revoke", json={"token": public.token}, auth=("sandbox-client", client_secret.token)
        )
        assert_same_shape(revoked, load("notion", "oauth_revoke"))
    assert public.revoked


# -- end to end through the in-process sandbox -----------------------------------------------------------


async def _probe(state: SandboxState, token: str, **kwargs):
    client, transport = sandbox_client(state)
    async with client:
        report = await PROVIDER.probe(client, cred(token, "notion"), **kwargs)
    return report, transport


async def test_sandbox_outcomes():
    state = SandboxState()
    ok, transport = await _probe(state, mint(state, "notion", "internal").token)
    assert ok.outcome is Outcome.OK and ok.identity == "Sandbox Bot (Sandbox Workspace)"
    assert transport.calls == [("GET", "/notion/v1/users/me")]

    assert (await _probe(state, sandbox_notion.make_token("internal")))[0].outcome is Outcome.INVALID
    limited, _ = await _probe(state, mint(state, "notion", "internal", meta={"rate_limited": True}).token)
    assert limited.outcome is Outcome.RATE_LIMITED


async def test_sandbox_deep_probe_finds_capabilities_with_bogus_ids_only():
    state = SandboxState()
    key = mint(state, "notion", "read_only")
    report, transport = await _probe(state, key.token, deep=True)
    assert {g.scope: g.level for g in report.grants} == {
        "read_content": Level.READ,
        "read_comments": Level.READ,
        "read_user_without_email": Level.READ,
    }
    assert set(report.details["denied"]) == {"update_content", "insert_content", "insert_comments"}
    assert report.live_level is Level.READ
    assert report.requests == PROVIDER.deep_probe_requests == len(transport.calls)
    assert real_looking_ids([path for _, path in transport.calls]) == []


async def test_sandbox_deep_probe_of_a_full_integration():
    state = SandboxState()
    report, _ = await _probe(state, mint(state, "notion", "internal").token, deep=True)
    assert report.live_level is Level.SEND  # insert_comments
    assert "read_user_with_email" in {g.scope for g in report.grants}


# -- switches -----------------------------------------------------------------------------------------


async def test_revoke_public_integration_token():
    state = SandboxState()
    token = mint(state, "notion", "public")
    client_secret = mint(state, "notion", "admin", meta={"client_id": "sandbox-client"})
    target = cred(
        token.token, "notion", extra={"client_id": "sandbox-client"}, admin_secret=Secret(client_secret.token)
    )
    client, _ = sandbox_client(state)
    async with client:
        result = await PROVIDER.revoke(client, target)
        after = await PROVIDER.probe(client, target)
    assert result.state is ActionState.APPLIED and after.outcome is Outcome.INVALID


async def test_revoke_with_wrong_client_secret_fails_without_raising():
    state = SandboxState()
    token = mint(state, "notion", "public")
    mint(state, "notion", "admin", meta={"client_id": "sandbox-client"})
    target = cred(
        token.token,
        "notion",
        extra={"client_id": "sandbox-client"},
        admin_secret=Secret(sandbox_notion.make_token("admin")),
    )
    client, _ = sandbox_client(state)
    async with client:
        result = await PROVIDER.revoke(client, target)
    async with httpx.AsyncClient(transport=Unreachable()) as client:
        offline = await PROVIDER.revoke(client, target)
    assert result.state is ActionState.FAILED and result.status == 401 and not token.revoked
    assert offline.state is ActionState.FAILED and offline.retryable


async def test_internal_integration_switches_are_manual():
    state = SandboxState()
    key = mint(state, "notion", "internal")
    client, transport = sandbox_client(state)
    async with client:
        revoke = await PROVIDER.revoke(client, cred(key.token, "notion"))
        rotate = await PROVIDER.rotate(client, cred(key.token, "notion"))
        restrict = await PROVIDER.restrict(client, cred(key.token, "notion"), Level.READ)
    assert revoke.state is rotate.state is restrict.state is ActionState.MANUAL
    assert "client secret" in revoke.manual_steps[0] and "Capabilities" in restrict.manual_steps[1]
    assert transport.calls == []


# -- through real HTTP on a loopback port ---------------------------------------------------------------


async def test_deep_probe_over_loopback(sandbox):
    key = sandbox.mint("notion", "read_only")
    base = sandbox.base_url("notion").rsplit("/", 1)[0]
    async with httpx.AsyncClient() as client:
        report = await PROVIDER.probe(client, cred(key.token, "notion", base=base), deep=True)
    assert report.outcome is Outcome.OK and report.live_level is Level.READ
