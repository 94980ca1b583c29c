"""HubSpot provider and its sandbox (sources: the documentation URLs cited in connectors/hubspot.py)."""

import httpx
import pytest

from connectors import registry
from connectors.base import ActionState, Credential, Level, Outcome, Secret
from connectors.sandbox.core import SandboxState, TokenRecord
from connectors.sandbox.providers import hubspot as sandbox_hubspot
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

PROVIDER = registry.get("hubspot")
REAL_API = "https://api.hubapi.test"
EXAMPLE_TOKEN = "pat-na1-EXAMPLE0-0000-0000-0000-000000000000"


def example_cred(**kwargs) -> Credential:
    return Credential(Secret(EXAMPLE_TOKEN), base_url=REAL_API, **kwargs)


def oauth(state: SandboxState, kind: str, **fields):
    token = sandbox_hubspot.make_oauth_token(kind)
    fields.setdefault("scopes", list(sandbox_hubspot.OAUTH_SCOPES))
    return state.add(TokenRecord(token=token, provider="hubspot", kind=kind, **fields))


# -- key recognition and classification --------------------------------------------------------------


def test_recognises_eu_private_app_tokens():  # the sandbox's own kinds: test_recognition.py
    assert PROVIDER.recognise("pat-eu1-EXAMPLE0-0000-0000-0000-000000000000") is not None


# -- contract: the provider reads the documented responses ---------------------------------------------


async def test_parses_documented_usage_and_token_info():
    routes = Routes(
        {
            ("GET", "/account-info/v3/api-usage/daily/private-apps"): load("hubspot", "usage"),
            ("POST", "/oauth/v2/private-apps/get/access-token-info"): load("hubspot", "token_info"),
        }
    )
    async with routes.client() as client:
        report = await PROVIDER.probe(client, example_cred())
    assert report.outcome is Outcome.OK and report.identity == "hub 62515"
    assert {g.scope for g in report.grants} == {
        "crm.objects.contacts.read",
        "crm.objects.contacts.write",
        "transactional-email",
    }
    assert report.live_level is Level.SEND
    assert report.rate_limit.limit == 190 and report.rate_limit.remaining == 189
    assert report.details["daily_limit"] == {"daily": 500000, "daily_remaining": 499999}
    assert report.details["daily_usage"]["usageLimit"] == 500000
    info = routes.calls[1]
    assert info.read() == b'{"tokenKey":"' + EXAMPLE_TOKEN.encode() + b'"}'
    assert info.headers["authorization"] == f"Bearer {EXAMPLE_TOKEN}"


async def test_valid_token_without_usage_scope_and_without_token_info_assumes_power():
    routes = Routes(
        {
            ("GET", "/account-info/v3/api-usage/daily/private-apps"): {
                **load("hubspot", "error_unauthorized"),
                "status": 403,
            }
        }
    )
    async with routes.client() as client:
        report = await PROVIDER.probe(client, example_cred())
    assert report.outcome is Outcome.OK and [g.scope for g in report.grants] == ["*"]
    assert report.details["token_info_status"] == 404


@pytest.mark.parametrize(
    "fixture, outcome", [("error_unauthorized", Outcome.INVALID), ("error_rate_limited", Outcome.RATE_LIMITED)]
)
async def test_reads_documented_errors(fixture, outcome):
    routes = Routes({("GET", "/account-info/v3/api-usage/daily/private-apps"): load("hubspot", fixture)})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, example_cred())
    assert report.outcome is outcome
    if outcome is Outcome.INVALID:
        assert report.error == "INVALID_AUTHENTICATION"
    else:
        assert report.rate_limit.retry_after_s == 10 and report.rate_limit.remaining == 0


async def test_parses_documented_oauth_token_metadata():
    token = "EXAMPLE-access-token"
    routes = Routes({("GET", f"/oauth/v1/access-tokens/{token}"): load("hubspot", "access_token")})
    async with routes.client() as client:
        report = await PROVIDER.probe(
            client, Credential(Secret(token), base_url=REAL_API, extra={"token_type": "oauth_access"})
        )
    assert report.outcome is Outcome.OK and report.identity == "owner@example.com"
    assert report.expires_at is not None and report.details["hub_id"] == 62515
    assert report.token_kind == "OAuth access token"


# -- contract: the sandbox answers with the documented shapes ------------------------------------------


async def test_sandbox_answers_like_the_documentation():
    state = SandboxState()
    app = mint(state, "hubspot", "private_app")
    limited = mint(state, "hubspot", "private_app", meta={"rate_limited": True})
    access = oauth(state, "oauth_access")
    client, _ = sandbox_client(state)
    base = "http://sandbox.invalid/hubspot"
    async with client:

        def get(path: str, token: str):
            return client.get(f"{base}{path}", headers={"Authorization": f"Bearer {token}"})

        usage_path = "/account-info/v3/api-usage/daily/private-apps"
        assert_same_shape(await get(usage_path, app.token), load("hubspot", "usage"))
        assert_same_shape(
            await get(usage_path, sandbox_hubspot.make_token("private_app")), load("hubspot", "error_unauthorized")
        )
        assert_same_shape(await get(usage_path, limited.token), load("hubspot", "error_rate_limited"))
        info = await client.post(
            f"{base}/oauth/v2/private-apps/get/access-token-info",
            json={"tokenKey": app.token},
            headers={"Authorization": f"Bearer {app.token}"},
        )
        assert_same_shape(info, load("hubspot", "token_info"))
        assert_same_shape(
            await client.get(f"{base}/oauth/v1/access-tokens/{access.token}"), load("hubspot", "access_token")
        )


# -- end to end through the in-process sandbox -----------------------------------------------------------


async def _probe(state: SandboxState, token: str, **extra):
    client, transport = sandbox_client(state)
    async with client:
        report = await PROVIDER.probe(client, cred(token, "hubspot", extra=extra))
    return report, transport


async def test_sandbox_outcomes():
    state = SandboxState()
    ok, transport = await _probe(state, mint(state, "hubspot", "private_app").token)
    assert ok.outcome is Outcome.OK and ok.live_level is Level.SEND and ok.identity == f"hub {sandbox_hubspot.HUB_ID}"
    # the normal probe reads, plus the documented introspection POST
    assert transport.calls == [
        ("GET", "/hubspot/account-info/v3/api-usage/daily/private-apps"),
        ("POST", "/hubspot/oauth/v2/private-apps/get/access-token-info"),
    ]

    assert (await _probe(state, sandbox_hubspot.make_token("private_app")))[0].outcome is Outcome.INVALID
    limited, _ = await _probe(state, mint(state, "hubspot", "private_app", meta={"rate_limited": True}).token)
    assert limited.outcome is Outcome.RATE_LIMITED


async def test_sandbox_oauth_tokens():
    state = SandboxState()
    access, _ = await _probe(state, oauth(state, "oauth_access").token, token_type="oauth_access")
    refresh, _ = await _probe(state, oauth(state, "oauth_refresh").token, token_type="oauth_refresh")
    unknown, _ = await _probe(state, sandbox_hubspot.make_oauth_token("oauth_access"), token_type="oauth_access")
    assert access.outcome is Outcome.OK and access.expires_at is not None
    assert refresh.outcome is Outcome.OK and refresh.details["client_id"] == "sandbox-client"
    assert unknown.outcome is Outcome.INVALID


# -- switches -----------------------------------------------------------------------------------------


async def test_revoke_oauth_refresh_token_kills_it_and_its_access_tokens():
    state = SandboxState()
    refresh = oauth(state, "oauth_refresh")
    access = oauth(state, "oauth_access", meta={"refresh_token": refresh.token})
    client, transport = sandbox_client(state)
    async with client:
        result = await PROVIDER.revoke(client, cred(refresh.token, "hubspot", extra={"token_type": "oauth_refresh"}))
        after = await PROVIDER.probe(client, cred(refresh.token, "hubspot", extra={"token_type": "oauth_refresh"}))
        access_after = await PROVIDER.probe(client, cred(access.token, "hubspot", extra={"token_type": "oauth_access"}))
    assert result.state is ActionState.APPLIED and result.status == 204
    assert after.outcome is Outcome.INVALID and access_after.outcome is Outcome.INVALID
    assert result.message and refresh.token not in result.message


@pytest.mark.parametrize("action", ["revoke", "rotate", "restrict"])
async def test_private_app_switches_are_manual(action):
    state = SandboxState()
    key = mint(state, "hubspot", "private_app")
    client, transport = sandbox_client(state)
    async with client:
        call = getattr(PROVIDER, action)
        target = cred(key.token, "hubspot")
        result = await (call(client, target, Level.READ) if action == "restrict" else call(client, target))
    assert result.state is ActionState.MANUAL and transport.calls == [] and not key.revoked
    assert "Private Apps" in result.manual_steps[0]


async def test_revoke_failure_never_raises():
    async with httpx.AsyncClient(transport=Unreachable()) as client:
        result = await PROVIDER.revoke(
            client, Credential(Secret("refresh-SANDBOX"), base_url=REAL_API, extra={"token_type": "oauth_refresh"})
        )
    assert result.state is ActionState.FAILED and result.retryable


# -- through real HTTP on a loopback port ---------------------------------------------------------------


async def test_probe_over_loopback(sandbox):
    key = sandbox.mint("hubspot", "private_app")
    base = sandbox.base_url("hubspot").rsplit("/", 1)[0]
    async with httpx.AsyncClient() as client:
        report = await PROVIDER.probe(client, cred(key.token, "hubspot", base=base))
    assert report.outcome is Outcome.OK and report.rate_limit.limit == 190
    assert "transactional-email" in {g.scope for g in report.grants}
