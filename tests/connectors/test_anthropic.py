"""Anthropic provider and its sandbox (sources: the documentation URLs cited in connectors/anthropic.py)."""

import httpx
import pytest

from connectors import registry
from connectors.base import ActionState, Credential, Level, Outcome, Secret
from connectors.sandbox.core import SandboxState
from connectors.sandbox.providers import anthropic as sandbox_anthropic
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

PROVIDER = registry.get("anthropic")
REAL_API = "https://api.anthropic.test"
# shaped like an API key, made at run time; its hint is the fixture's "sk-ant-api03-EXAMPLE...igAA"
EXAMPLE_KEY = "sk-ant-api03-EXAMPLE" + "x" * 86 + "igAA"


def example_cred(**kwargs) -> Credential:
    return Credential(Secret(EXAMPLE_KEY), base_url=REAL_API, **kwargs)


# -- key recognition --------------------------------------------------------------------------------


# -- contract: the provider reads the documented responses ---------------------------------------------


async def test_parses_documented_models_list_and_rate_limit_headers():
    routes = Routes({("GET", "/v1/models"): load("anthropic", "models")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, example_cred())
    assert report.outcome is Outcome.OK and report.token_kind == "API key"
    assert [(g.scope, g.level) for g in report.grants] == [("api", Level.SEND)]
    assert report.rate_limit.limit == 50 and report.rate_limit.remaining == 49
    assert report.rate_limit.reset_at is not None and report.rate_limit.reset_at.year == 2026
    request = routes.calls[0]
    assert request.headers["x-api-key"] == EXAMPLE_KEY and request.headers["anthropic-version"] == "2023-06-01"


@pytest.mark.parametrize(
    "fixture, outcome",
    [
        ("error_authentication", Outcome.INVALID),
        ("error_disabled", Outcome.INVALID),
        ("error_rate_limit", Outcome.RATE_LIMITED),
    ],
)
async def test_reads_documented_errors(fixture, outcome):
    """A disabled or revoked key answers 401 (https://docs.anthropic.com/en/api/errors): the key no longer works."""
    routes = Routes({("GET", "/v1/models"): load("anthropic", fixture)})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, example_cred())
    assert report.outcome is outcome
    if outcome is Outcome.RATE_LIMITED:
        assert report.rate_limit.retry_after_s == 3


async def test_revoke_matches_documented_partial_key_hint():
    routes = Routes(
        {
            ("GET", "/v1/organizations/api_keys"): load("anthropic", "api_keys_list"),
            ("POST", "/v1/organizations/api_keys/apikey_EXAMPLE01"): load("anthropic", "api_key_updated"),
        }
    )
    admin = Secret("sk-ant-admin01-EXAMPLE")
    async with routes.client() as client:
        result = await PROVIDER.revoke(client, example_cred(admin_secret=admin))
    assert result.state is ActionState.APPLIED and not result.irreversible
    assert result.details["key_id"] == "apikey_EXAMPLE01"
    assert routes.calls[-1].read() == b'{"status":"inactive"}'
    assert all(r.headers["x-api-key"] == admin.reveal() for r in routes.calls)


# -- contract: the sandbox answers with the documented shapes ------------------------------------------


async def _ask(state: SandboxState, method: str, path: str, key: str, body: dict | None = None) -> httpx.Response:
    client, _ = sandbox_client(state)
    async with client:
        return await client.request(
            method,
            f"http://sandbox.invalid/anthropic{path}",
            json=body,
            headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
        )


@pytest.mark.parametrize(
    "fixture, key",
    [
        ("models", "api"),
        ("error_authentication", None),
        ("error_disabled", "inactive"),
        ("error_rate_limit", "limited"),
    ],
)
async def test_sandbox_verify_answers_like_the_documentation(fixture, key):
    state = SandboxState()
    token = {
        None: lambda: sandbox_anthropic.make_token("api"),
        "api": lambda: mint(state, "anthropic", "api").token,
        "inactive": lambda: mint(state, "anthropic", "api", status="inactive").token,
        "limited": lambda: mint(state, "anthropic", "api", meta={"rate_limited": True}).token,
    }[key]()
    assert_same_shape(await _ask(state, "GET", "/v1/models", token), load("anthropic", fixture))


async def test_sandbox_admin_api_answers_like_the_documentation():
    state = SandboxState()
    key = mint(state, "anthropic", "api")
    admin = mint(state, "anthropic", "admin")
    listed = await _ask(state, "GET", "/v1/organizations/api_keys", admin.token)
    assert_same_shape(listed, load("anthropic", "api_keys_list"))
    key_id = sandbox_anthropic.api_key_id(key)
    updated = await _ask(state, "POST", f"/v1/organizations/api_keys/{key_id}", admin.token, {"status": "inactive"})
    assert_same_shape(updated, load("anthropic", "api_key_updated"))
    assert key.status == "inactive"


# -- end to end through the in-process sandbox -----------------------------------------------------------


async def _probe(state: SandboxState, token: str, **kwargs):
    client, transport = sandbox_client(state)
    async with client:
        report = await PROVIDER.probe(client, cred(token, "anthropic"), **kwargs)
    return report, transport


async def test_sandbox_outcomes():
    state = SandboxState()
    ok, transport = await _probe(state, mint(state, "anthropic", "api").token)
    assert ok.outcome is Outcome.OK and ok.live_level is Level.SEND
    assert transport.calls == [("GET", "/anthropic/v1/models")]

    admin, _ = await _probe(state, mint(state, "anthropic", "admin").token)
    assert admin.outcome is Outcome.OK and admin.live_level is Level.ADMIN and admin.token_kind == "admin key"

    assert (await _probe(state, sandbox_anthropic.make_token("api")))[0].outcome is Outcome.INVALID
    assert (await _probe(state, mint(state, "anthropic", "api", status="inactive").token))[0].outcome is Outcome.INVALID
    limited, _ = await _probe(state, mint(state, "anthropic", "api", meta={"rate_limited": True}).token)
    assert limited.outcome is Outcome.RATE_LIMITED and limited.rate_limit.retry_after_s == 3


async def test_deep_probe_is_the_normal_probe():
    state = SandboxState()
    report, transport = await _probe(state, mint(state, "anthropic", "api").token, deep=True)
    assert report.deep and report.requests == 1 and PROVIDER.deep_probe_requests == 0
    assert transport.calls == [("GET", "/anthropic/v1/models")]


# -- switches -----------------------------------------------------------------------------------------


async def test_revoke_then_reenable_through_admin_api():
    state = SandboxState()
    for _ in range(3):
        mint(state, "anthropic", "api")  # other keys in the organisation: the hint must pick the right one
    key = mint(state, "anthropic", "api")
    admin = mint(state, "anthropic", "admin")
    target = cred(key.token, "anthropic", admin_secret=Secret(admin.token))
    client, _ = sandbox_client(state)
    async with client:
        revoked = await PROVIDER.revoke(client, target)
        after_revoke = await PROVIDER.probe(client, target)
        reenabled = await PROVIDER.reenable(client, target)
        after_reenable = await PROVIDER.probe(client, target)
    assert revoked.state is ActionState.APPLIED and not revoked.irreversible
    assert after_revoke.outcome is Outcome.INVALID
    assert reenabled.state is ActionState.APPLIED
    assert after_reenable.outcome is Outcome.OK
    assert [r.status for r in state.tokens.values() if r.kind == "api"] == ["active"] * 4


async def test_revoke_uses_a_known_key_id_without_listing():
    state = SandboxState()
    key = mint(state, "anthropic", "api")
    admin = mint(state, "anthropic", "admin")
    client, transport = sandbox_client(state)
    async with client:
        result = await PROVIDER.revoke(
            client,
            cred(
                key.token,
                "anthropic",
                admin_secret=Secret(admin.token),
                extra={"key_id": sandbox_anthropic.api_key_id(key)},
            ),
        )
    assert result.state is ActionState.APPLIED and [m for m, _ in transport.calls] == ["POST"]


async def test_revoke_without_admin_key_is_manual_and_admin_keys_are_console_only():
    state = SandboxState()
    key = mint(state, "anthropic", "api")
    admin = mint(state, "anthropic", "admin")
    client, transport = sandbox_client(state)
    async with client:
        no_admin = await PROVIDER.revoke(client, cred(key.token, "anthropic"))
        on_admin_key = await PROVIDER.revoke(client, cred(admin.token, "anthropic", admin_secret=Secret(admin.token)))
    assert no_admin.state is ActionState.MANUAL and "Admin key" in no_admin.manual_steps[0]
    assert on_admin_key.state is ActionState.MANUAL
    assert transport.calls == [] and key.status == "active"


async def test_revoke_failures_never_raise():
    state = SandboxState()
    key = mint(state, "anthropic", "api")
    target = cred(key.token, "anthropic", admin_secret=Secret(sandbox_anthropic.make_token("admin")))
    client, _ = sandbox_client(state)
    async with client:
        refused = await PROVIDER.revoke(client, target)
    async with httpx.AsyncClient(transport=Unreachable()) as client:
        offline = await PROVIDER.revoke(client, target)
    assert refused.state is ActionState.FAILED and refused.status == 401 and not refused.retryable
    assert offline.state is ActionState.FAILED and offline.retryable


async def test_rotate_and_restrict_are_manual():
    async with httpx.AsyncClient(transport=Unreachable()) as client:
        rotate = await PROVIDER.rotate(client, example_cred())
        restrict = await PROVIDER.restrict(client, example_cred(), Level.READ)
    assert rotate.state is restrict.state is ActionState.MANUAL
    assert "no scopes" in " ".join(restrict.manual_steps)


# -- through real HTTP on a loopback port ---------------------------------------------------------------


async def test_disable_and_reenable_over_loopback(sandbox):
    key = sandbox.mint("anthropic", "api")
    admin = sandbox.mint("anthropic", "admin")
    base = sandbox.base_url("anthropic").rsplit("/", 1)[0]
    target = cred(key.token, "anthropic", base=base, admin_secret=Secret(admin.token))
    async with httpx.AsyncClient() as client:
        before = await PROVIDER.probe(client, target)
        await PROVIDER.revoke(client, target)
        disabled = await PROVIDER.probe(client, target)
        await PROVIDER.reenable(client, target)
        again = await PROVIDER.probe(client, target)
    assert before.outcome is Outcome.OK and before.rate_limit.limit == 50
    assert disabled.outcome is Outcome.INVALID
    assert again.outcome is Outcome.OK
