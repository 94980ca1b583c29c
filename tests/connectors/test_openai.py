"""OpenAI provider and its sandbox (sources: the documentation URLs cited in connectors/openai.py)."""

import httpx
import pytest

from connectors import registry
from connectors.base import ActionState, Credential, Level, Outcome, Secret
from connectors.openai import DEEP_PROBES, missing_scopes
from connectors.sandbox.core import SandboxState
from connectors.sandbox.providers import openai as sandbox_openai
from tests.connectors.fixtures.contract import (
    Routes,
    Unreachable,
    as_response,
    assert_same_shape,
    cred,
    load,
    mint,
    real_looking_ids,
    sandbox_client,
)
from tests.sandbox_fixtures import *  # noqa: F403  (sandbox, sandbox_state)

PROVIDER = registry.get("openai")
REAL_API = "https://api.openai.test"
MAGIC = "T3BlbkFJ"
# a key shaped like a project key, made at run time, whose redacted form is the fixture's "sk-proj-EXAMPLE...abcd"
EXAMPLE_KEY = "sk-proj-EXAMPLE" + "x" * 40 + MAGIC + "y" * 40 + "abcd"


def example_cred(**kwargs) -> Credential:
    return Credential(Secret(EXAMPLE_KEY), base_url=REAL_API, **kwargs)


def denied(request: httpx.Request) -> httpx.Response:
    return as_response(load("openai", "error_missing_scopes"), request)


# -- key recognition --------------------------------------------------------------------------------


# -- contract: the provider reads the documented responses ---------------------------------------------


async def test_parses_documented_verify_responses():
    """https://platform.openai.com/docs/api-reference/models/list: /v1/models (validity), /v1/organizations 403 (not admin), /v1/me (identity)."""
    routes = Routes(
        {
            ("GET", "/v1/models"): load("openai", "models"),
            ("GET", "/v1/organizations"): {**load("openai", "error_missing_scopes"), "status": 403},
            ("GET", "/v1/me"): load("openai", "me"),
        }
    )
    async with routes.client() as client:
        report = await PROVIDER.probe(client, example_cred())
    assert report.outcome is Outcome.OK and report.status == 200
    assert report.identity == "owner@example.com"
    assert report.token_kind == "project key"
    assert report.details["models"] == 2 and report.details["organizations"] == ["org-EXAMPLE"]
    assert report.rate_limit.limit == 5000 and report.rate_limit.remaining == 4999
    assert report.rate_limit.reset_at is not None
    assert {g.scope for g in report.grants} == {"models:read", "*"}  # "*": not known without a deep probe
    assert report.live_level is Level.SEND
    assert [r.method for r in routes.calls] == ["GET", "GET", "GET"]


async def test_documented_invalid_key_is_invalid_and_its_message_is_not_kept():
    routes = Routes({("GET", "/v1/models"): load("openai", "error_invalid_api_key")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, example_cred())
    assert report.outcome is Outcome.INVALID and report.status == 401
    assert report.error == "invalid_api_key"
    assert "Incorrect" not in repr(report)


async def test_documented_rate_limit_is_rate_limited():
    routes = Routes({("GET", "/v1/models"): load("openai", "error_rate_limited")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, example_cred())
    assert report.outcome is Outcome.RATE_LIMITED
    assert report.rate_limit.remaining == 0 and report.error == "rate_limit_exceeded"


def test_parses_missing_scopes_from_the_documented_denial():
    response = as_response(load("openai", "error_missing_scopes"), httpx.Request("POST", f"{REAL_API}/v1/responses"))
    assert missing_scopes(response) == ["api.responses.write"]


async def test_deep_probe_reads_documented_denials():
    """Every deep probe denied with the documented 401 → every permission denied, scope name kept."""
    answers = {
        ("GET", "/v1/models"): load("openai", "models"),
        ("GET", "/v1/organizations"): {**load("openai", "error_missing_scopes"), "status": 403},
        ("GET", "/v1/me"): load("openai", "me"),
    }
    answers |= {(p.method, p.path): denied for p in DEEP_PROBES}
    routes = Routes(answers)
    async with routes.client() as client:
        report = await PROVIDER.probe(client, example_cred(), deep=True)
    assert report.outcome is Outcome.OK and report.deep
    assert {g.scope for g in report.grants} == {"models:read"}
    assert set(report.details["denied"]) == {p.scope for p in DEEP_PROBES}
    assert report.details["missing_scopes"] == ["api.responses.write"]
    assert report.requests == PROVIDER.deep_probe_requests


async def test_revoke_matches_documented_redacted_value_and_deletes():
    """https://platform.openai.com/docs/api-reference/project-api-keys: list project keys, match redacted_value (unconfirmed), DELETE → deleted:true."""
    routes = Routes(
        {
            ("GET", "/v1/organization/projects/proj_EXAMPLE/api_keys"): load("openai", "project_api_keys"),
            ("DELETE", "/v1/organization/projects/proj_EXAMPLE/api_keys/key_EXAMPLE1"): load(
                "openai", "project_api_key_deleted"
            ),
        }
    )
    admin = Secret("sk-admin-" + "EXAMPLE" * 8)
    async with routes.client() as client:
        result = await PROVIDER.revoke(client, example_cred(extra={"project_id": "proj_EXAMPLE"}, admin_secret=admin))
    assert result.state is ActionState.APPLIED and result.irreversible
    assert result.details["key_id"] == "key_EXAMPLE1"
    assert all(r.headers["authorization"] == f"Bearer {admin.reveal()}" for r in routes.calls)


# -- contract: the sandbox answers with the documented shapes ------------------------------------------


async def _ask(state: SandboxState, method: str, path: str, token: str) -> httpx.Response:
    client, _ = sandbox_client(state)
    async with client:
        return await client.request(
            method,
            f"http://sandbox.invalid/openai{path}",
            headers={"Authorization": f"Bearer {token}"},
            json={"speed": 1},
        )


@pytest.mark.parametrize(
    "fixture, kind, method, path",
    [
        ("models", "project", "GET", "/v1/models"),
        ("me", "project", "GET", "/v1/me"),
        ("error_invalid_api_key", None, "GET", "/v1/models"),
        ("error_missing_scopes", "restricted", "POST", "/v1/images/generations"),
        ("error_rate_limited", "limited", "GET", "/v1/models"),
        ("admin_api_keys", "admin", "GET", "/v1/organization/admin_api_keys"),
        ("project_api_keys", "admin", "GET", f"/v1/organization/projects/{sandbox_openai.DEFAULT_PROJECT}/api_keys"),
    ],
)
async def test_sandbox_answers_like_the_documentation(fixture, kind, method, path):
    state = SandboxState()
    mint(state, "openai", "project")
    if kind is None:
        token = sandbox_openai.make_token("project")  # never registered
    elif kind == "limited":
        token = mint(state, "openai", "project", meta={"rate_limited": True}).token
    else:
        token = mint(state, "openai", kind).token
    assert_same_shape(await _ask(state, method, path, token), load("openai", fixture))


async def test_sandbox_delete_answers_like_the_documentation():
    state = SandboxState()
    victim = mint(state, "openai", "project")
    admin = mint(state, "openai", "admin")
    path = f"/v1/organization/projects/{sandbox_openai.DEFAULT_PROJECT}/api_keys/{sandbox_openai.key_id(victim)}"
    assert_same_shape(await _ask(state, "DELETE", path, admin.token), load("openai", "project_api_key_deleted"))
    assert victim.revoked


# -- end to end through the in-process sandbox -----------------------------------------------------------


async def _probe(state: SandboxState, token: str, *, deep: bool = False, **kwargs):
    client, transport = sandbox_client(state)
    async with client:
        report = await PROVIDER.probe(client, cred(token, "openai", **kwargs), deep=deep)
    return report, transport


async def test_sandbox_project_key_is_ok_and_normal_probe_only_reads():
    state = SandboxState()
    key = mint(state, "openai", "project", identity="ada")
    report, transport = await _probe(state, key.token)
    assert report.outcome is Outcome.OK and report.identity == "ada@sandbox.invalid"
    assert report.requests == 3 == len(transport.calls)
    assert {method for method, _ in transport.calls} == {"GET"}


async def test_sandbox_deep_probe_finds_restricted_permissions_with_bogus_ids_only():
    state = SandboxState()
    key = mint(state, "openai", "restricted")
    report, transport = await _probe(state, key.token, deep=True)
    assert report.outcome is Outcome.OK
    granted = {g.scope: g.level for g in report.grants}
    assert granted == {
        "models:read": Level.READ,
        "files:read": Level.READ,
        "responses:read": Level.READ,
        "responses:write": Level.SEND,
    }
    assert "model.request" in report.details["missing_scopes"]
    assert report.requests == PROVIDER.deep_probe_requests == len(transport.calls)
    assert real_looking_ids([path for _, path in transport.calls]) == []


async def test_sandbox_service_account_and_admin_keys_are_told_apart():
    state = SandboxState()
    service = await _probe(state, mint(state, "openai", "service_account").token)
    admin = await _probe(state, mint(state, "openai", "admin").token)
    legacy = await _probe(state, mint(state, "openai", "legacy").token)
    assert service[0].token_kind == "service-account key" and service[0].live_level is Level.SEND
    assert admin[0].token_kind == "admin key" and admin[0].live_level is Level.ADMIN
    assert [p for _, p in admin[1].calls] == ["/openai/v1/organization/admin_api_keys"]
    # a key that may read /v1/organizations counts as full access (TruffleHog's heuristic, ❓)
    assert legacy[0].live_level is Level.ADMIN and "*" not in {g.scope for g in legacy[0].grants}


async def test_sandbox_restricted_key_without_models_read_is_still_valid():
    state = SandboxState()
    key = mint(state, "openai", "restricted", scopes=["responses:write"])
    report, _ = await _probe(state, key.token)
    assert report.outcome is Outcome.OK and report.details["denied"] == ["models:read"]


async def test_sandbox_outcomes_invalid_and_rate_limited():  # unreachable, malformed: test_failures.py
    state = SandboxState()
    invalid, _ = await _probe(state, sandbox_openai.make_token("project"))
    assert invalid.outcome is Outcome.INVALID and invalid.status == 401

    limited, _ = await _probe(state, mint(state, "openai", "project", meta={"rate_limited": True}).token)
    assert limited.outcome is Outcome.RATE_LIMITED and limited.rate_limit.retry_after_s == 2


# -- switches -----------------------------------------------------------------------------------------


async def test_revoke_through_admin_api_kills_the_key():
    state = SandboxState()
    key = mint(state, "openai", "project")
    admin = mint(state, "openai", "admin")
    client, _ = sandbox_client(state)
    async with client:
        target = cred(
            key.token, "openai", extra={"project_id": sandbox_openai.DEFAULT_PROJECT}, admin_secret=Secret(admin.token)
        )
        result = await PROVIDER.revoke(client, target)
        after = await PROVIDER.probe(client, target)
    assert result.state is ActionState.APPLIED, result.message
    assert after.outcome is Outcome.INVALID


async def test_revoke_an_admin_key_through_admin_api():
    state = SandboxState()
    doomed, keeper = mint(state, "openai", "admin"), mint(state, "openai", "admin")
    client, _ = sandbox_client(state)
    async with client:
        result = await PROVIDER.revoke(client, cred(doomed.token, "openai", admin_secret=Secret(keeper.token)))
    assert result.state is ActionState.APPLIED and doomed.revoked and not keeper.revoked


async def test_revoke_without_admin_key_or_project_is_manual():
    state = SandboxState()
    key = mint(state, "openai", "project")
    client, transport = sandbox_client(state)
    async with client:
        no_admin = await PROVIDER.revoke(client, cred(key.token, "openai"))
        no_project = await PROVIDER.revoke(client, cred(key.token, "openai", admin_secret=Secret("x" * 20)))
    assert no_admin.state is ActionState.MANUAL and "admin key" in " ".join(no_admin.manual_steps)
    assert no_project.state is ActionState.MANUAL and "project_id" in " ".join(no_project.manual_steps)
    assert transport.calls == [] and not key.revoked


async def test_revoke_failures_never_raise():
    state = SandboxState()
    key = mint(state, "openai", "project")
    target = cred(
        key.token,
        "openai",
        extra={"project_id": sandbox_openai.DEFAULT_PROJECT, "key_id": "key_x"},
        admin_secret=Secret(sandbox_openai.make_token("admin")),
    )  # an admin key the sandbox does not know
    client, _ = sandbox_client(state)
    async with client:
        refused = await PROVIDER.revoke(client, target)
    async with httpx.AsyncClient(transport=Unreachable()) as client:
        offline = await PROVIDER.revoke(client, target)
    assert refused.state is ActionState.FAILED and refused.status == 401 and not refused.retryable
    assert offline.state is ActionState.FAILED and offline.retryable


async def test_rotate_and_restrict_are_manual():
    client = httpx.AsyncClient(transport=Unreachable())
    async with client:
        rotate = await PROVIDER.rotate(client, example_cred())
        restrict = await PROVIDER.restrict(client, example_cred(), Level.READ)
    assert rotate.state is restrict.state is ActionState.MANUAL
    assert PROVIDER.dashboard_url in rotate.manual_steps[0]


# -- through real HTTP on a loopback port ---------------------------------------------------------------


async def test_probe_and_revoke_over_loopback(sandbox):
    key = sandbox.mint("openai", "project")
    admin = sandbox.mint("openai", "admin")
    base = sandbox.base_url("openai").rsplit("/", 1)[0]
    target = cred(
        key.token,
        "openai",
        base=base,
        extra={"project_id": sandbox_openai.DEFAULT_PROJECT},
        admin_secret=Secret(admin.token),
    )
    async with httpx.AsyncClient() as client:
        before = await PROVIDER.probe(client, target)
        result = await PROVIDER.revoke(client, target)
        after = await PROVIDER.probe(client, target)
    assert before.outcome is Outcome.OK and before.rate_limit.limit == 5000
    assert result.state is ActionState.APPLIED
    assert after.outcome is Outcome.INVALID


async def test_sandbox_admin_key_probe_reads_its_documented_last_used_at():
    """AdminAPIKey.last_used_at, "the Unix timestamp (in seconds) of when the API key was last used"
    (https://platform.openai.com/docs/api-reference/admin-api-keys/list), of this key: found among
    the listed keys by its redacted value, or by the connector's key_id."""
    state = SandboxState()
    mint(state, "openai", "admin")  # another admin key on the same page
    key = mint(state, "openai", "admin", meta={"last_used_at": 1_760_000_000})
    report, transport = await _probe(state, key.token)
    assert report.details["last_used_at"] == 1_760_000_000 and report.details["key_id"].startswith("key_")
    assert report.requests == 1 == len(transport.calls)
    # the probe was a use: the next probe sees it (Breaker tells its own probes apart: tests/review)
    again, _ = await _probe(state, key.token)
    assert again.details["last_used_at"] > 1_760_000_000
    by_id, _ = await _probe(state, key.token, extra={"key_id": report.details["key_id"]})
    assert by_id.details["key_id"] == report.details["key_id"]


async def test_admin_key_last_used_only_when_one_listed_key_is_this_one():
    from connectors.openai import own_key

    key = sandbox_openai.make_token("admin")
    c = cred(key, "openai")
    mine = {"id": "key_1", "redacted_value": sandbox_openai.redacted_value(key), "last_used_at": 5}
    assert own_key([mine, {"id": "key_2", "redacted_value": "sk-admin...zzzz"}], c) is mine
    assert own_key([mine, dict(mine, id="key_3")], c) is None  # two fit: neither is taken
    assert own_key("not a list", c) is None
    assert (
        own_key([{"id": "key_1", "last_used_at": 5}], cred(key, "openai", extra={"key_id": "key_1"}))["id"] == "key_1"
    )
