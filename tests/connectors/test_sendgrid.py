"""SendGrid provider and its sandbox (sources: the documentation URLs cited in connectors/sendgrid.py)."""

import httpx
import pytest

from connectors import registry
from connectors.base import ActionState, Credential, Level, Outcome, Secret
from connectors.sandbox.core import SandboxState
from connectors.sandbox.providers import sendgrid as sandbox_sendgrid
from connectors.sandbox.server import SandboxServer
from connectors.sendgrid import key_id
from tests.connectors.fixtures.contract import (
    Routes,
    Unreachable,
    as_response,
    assert_same_shape,
    cred,
    load,
    mint,
    sandbox_client,
)
from tests.sandbox_fixtures import *  # noqa: F403  (sandbox, sandbox_state)

PROVIDER = registry.get("sendgrid")
REAL_API = "https://api.sendgrid.test"
EXAMPLE_KEY = "SG.EXAMPLEidEXAMPLEid0001.EXAMPLEsecretEXAMPLEsecretEXAMPLEsecret0001"


def example_cred(**kwargs) -> Credential:
    return Credential(Secret(EXAMPLE_KEY), base_url=REAL_API, **kwargs)


# -- key recognition and classification --------------------------------------------------------------


def test_recognises_its_sandbox_tokens_and_reads_the_id_from_the_middle():
    token = sandbox_sendgrid.make_token("full_access")
    assert "SANDBOX" in token and len(token) == 69
    assert PROVIDER.recognise(token).kind == "API key"
    assert key_id(token) == token.split(".")[1] and len(key_id(token)) == 22


def test_sandbox_mint_takes_the_key_id_from_the_token():
    server = SandboxServer()  # minting needs no running server
    record = server.mint("sendgrid", "restricted")
    assert record.key_id == key_id(record.token) == sandbox_sendgrid.key_id_of(record.token)
    assert server.state.by_key_id("sendgrid", record.key_id) is record
    assert [t["key_id"] for t in server.tokens()] == [key_id(record.token)]


# -- contract: the provider reads the documented responses ---------------------------------------------


async def test_parses_documented_scopes_and_rate_limit_headers():
    routes = Routes({("GET", "/v3/scopes"): load("sendgrid", "scopes")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, example_cred())
    assert report.outcome is Outcome.OK
    assert {g.scope: g.level for g in report.grants}["mail.send"] is Level.SEND
    assert report.live_level is Level.SEND
    assert report.rate_limit.limit == 600 and report.rate_limit.remaining == 599
    assert report.rate_limit.reset_at is not None
    assert report.details["api_key_id"] == "EXAMPLEidEXAMPLEid0001"


async def test_reads_identity_from_documented_profile():
    scopes = load("sendgrid", "scopes")
    scopes["body"]["scopes"].append("user.profile.read")
    routes = Routes({("GET", "/v3/scopes"): scopes, ("GET", "/v3/user/profile"): load("sendgrid", "user_profile")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, example_cred())
    assert report.identity == "Example Co" and report.requests == 2


@pytest.mark.parametrize(
    "fixture, outcome", [("error_unauthorized", Outcome.INVALID), ("error_rate_limited", Outcome.RATE_LIMITED)]
)
async def test_reads_documented_errors(fixture, outcome):
    routes = Routes({("GET", "/v3/scopes"): load("sendgrid", fixture)})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, example_cred())
    assert report.outcome is outcome


async def test_restrict_with_documented_bodies_keeps_scopes_at_or_below_the_ceiling():
    sent = []

    def update(request: httpx.Request) -> httpx.Response:
        sent.append(request.read())
        return as_response(load("sendgrid", "api_key_updated"), request)

    routes = Routes(
        {
            ("GET", "/v3/api_keys/EXAMPLEidEXAMPLEid0001"): load("sendgrid", "api_key"),
            ("PUT", "/v3/api_keys/EXAMPLEidEXAMPLEid0001"): update,
        }
    )
    async with routes.client() as client:
        result = await PROVIDER.restrict(client, example_cred(), Level.READ)
    assert result.state is ActionState.APPLIED
    assert sent == [b'{"name":"Example mail key","scopes":["templates.read"]}']
    assert result.details == {"kept": ["templates.read"], "removed": ["mail.send"]}


async def test_rotate_with_documented_bodies_checks_the_new_key_before_deleting_the_old():
    routes = Routes(
        {
            ("GET", "/v3/api_keys/EXAMPLEidEXAMPLEid0001"): load("sendgrid", "api_key"),
            ("POST", "/v3/api_keys"): load("sendgrid", "api_key_created"),
            ("GET", "/v3/scopes"): load("sendgrid", "scopes"),
            ("DELETE", "/v3/api_keys/EXAMPLEidEXAMPLEid0001"): load("sendgrid", "api_key_deleted"),
        }
    )
    async with routes.client() as client:
        result = await PROVIDER.rotate(client, example_cred())
    assert result.state is ActionState.APPLIED
    assert result.new_secret == Secret(load("sendgrid", "api_key_created")["body"]["api_key"])
    assert [(r.method, r.url.path) for r in routes.calls] == [
        ("GET", "/v3/api_keys/EXAMPLEidEXAMPLEid0001"),
        ("POST", "/v3/api_keys"),
        ("GET", "/v3/scopes"),
        ("DELETE", "/v3/api_keys/EXAMPLEidEXAMPLEid0001"),
    ]
    assert routes.calls[2].headers["authorization"].endswith("0002")  # the check used the new key


def _rotation_routes(check) -> Routes:
    return Routes(
        {
            ("GET", "/v3/api_keys/EXAMPLEidEXAMPLEid0001"): load("sendgrid", "api_key"),
            ("POST", "/v3/api_keys"): load("sendgrid", "api_key_created"),
            ("GET", "/v3/scopes"): check,
            ("DELETE", "/v3/api_keys/EXAMPLEidEXAMPLEid0002"): load("sendgrid", "api_key_deleted"),
        }
    )


async def test_rotate_removes_a_new_key_that_fails_its_probe_and_keeps_the_old():
    routes = _rotation_routes(load("sendgrid", "error_unauthorized"))
    async with routes.client() as client:
        result = await PROVIDER.rotate(client, example_cred())
    assert result.state is ActionState.FAILED and result.new_secret is None
    assert [(r.method, r.url.path) for r in routes.calls][-1] == ("DELETE", "/v3/api_keys/EXAMPLEidEXAMPLEid0002")


async def test_rotate_never_loses_a_created_key_on_a_network_failure():
    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection reset")

    routes = _rotation_routes(drop)
    async with routes.client() as client:
        result = await PROVIDER.rotate(client, example_cred())
    assert result.state is ActionState.FAILED and result.details == {"old_key_alive": True}
    assert result.new_secret == Secret(load("sendgrid", "api_key_created")["body"]["api_key"])


# -- contract: the sandbox answers with the documented shapes ------------------------------------------


async def _ask(state: SandboxState, method: str, path: str, token: str, body: dict | None = None) -> httpx.Response:
    client, _ = sandbox_client(state)
    async with client:
        return await client.request(
            method, f"http://sandbox.invalid/sendgrid{path}", json=body, headers={"Authorization": f"Bearer {token}"}
        )


async def test_sandbox_answers_like_the_documentation():
    state = SandboxState()
    admin = mint(state, "sendgrid", "admin")
    key = mint(state, "sendgrid", "restricted")
    ident = sandbox_sendgrid.key_id_of(key.token)
    limited = mint(state, "sendgrid", "restricted", meta={"rate_limited": True})

    assert_same_shape(await _ask(state, "GET", "/v3/scopes", key.token), load("sendgrid", "scopes"))
    assert_same_shape(await _ask(state, "GET", "/v3/scopes", "SG.nope"), load("sendgrid", "error_unauthorized"))
    assert_same_shape(await _ask(state, "GET", "/v3/scopes", limited.token), load("sendgrid", "error_rate_limited"))
    assert_same_shape(await _ask(state, "GET", "/v3/user/profile", admin.token), load("sendgrid", "user_profile"))
    assert_same_shape(await _ask(state, "GET", f"/v3/api_keys/{ident}", admin.token), load("sendgrid", "api_key"))
    assert_same_shape(
        await _ask(state, "POST", "/v3/api_keys", admin.token, {"name": "n", "scopes": ["mail.send"]}),
        load("sendgrid", "api_key_created"),
    )
    assert_same_shape(
        await _ask(state, "PUT", f"/v3/api_keys/{ident}", admin.token, {"name": "n", "scopes": ["templates.read"]}),
        load("sendgrid", "api_key_updated"),
    )
    assert key.scopes == ["templates.read"]
    assert_same_shape(
        await _ask(state, "DELETE", f"/v3/api_keys/{ident}", admin.token), load("sendgrid", "api_key_deleted")
    )
    assert key.revoked


# -- end to end through the in-process sandbox -----------------------------------------------------------


async def _probe(state: SandboxState, token: str, **kwargs):
    client, transport = sandbox_client(state)
    async with client:
        report = await PROVIDER.probe(client, cred(token, "sendgrid"), **kwargs)
    return report, transport


async def test_sandbox_outcomes():
    state = SandboxState()
    ok, transport = await _probe(state, mint(state, "sendgrid", "full_access", identity="Ada").token)
    assert ok.outcome is Outcome.OK and ok.live_level is Level.ADMIN and ok.identity == "Sandbox Co"
    assert {m for m, _ in transport.calls} == {"GET"}

    assert (await _probe(state, sandbox_sendgrid.make_token("restricted")))[0].outcome is Outcome.INVALID
    forbidden, _ = await _probe(state, mint(state, "sendgrid", "billing").token)
    assert forbidden.outcome is Outcome.FORBIDDEN and forbidden.status == 403 and forbidden.grants == []
    limited, _ = await _probe(state, mint(state, "sendgrid", "restricted", meta={"rate_limited": True}).token)
    assert limited.outcome is Outcome.RATE_LIMITED and limited.rate_limit.remaining == 0


async def test_deep_probe_is_the_normal_probe():
    state = SandboxState()
    report, transport = await _probe(state, mint(state, "sendgrid", "restricted").token, deep=True)
    assert report.deep and transport.calls == [("GET", "/sendgrid/v3/scopes")]


# -- switches -----------------------------------------------------------------------------------------


async def test_revoke_with_its_own_full_access_key():
    state = SandboxState()
    key = mint(state, "sendgrid", "full_access")
    client, transport = sandbox_client(state)
    async with client:
        result = await PROVIDER.revoke(client, cred(key.token, "sendgrid"))
        after = await PROVIDER.probe(client, cred(key.token, "sendgrid"))
    assert result.state is ActionState.APPLIED and result.status == 204 and result.irreversible
    assert transport.calls[0] == ("DELETE", f"/sendgrid/v3/api_keys/{key_id(key.token)}")
    assert after.outcome is Outcome.INVALID


async def test_revoke_of_a_restricted_key_needs_an_admin_key():
    state = SandboxState()
    key = mint(state, "sendgrid", "restricted")
    admin = mint(state, "sendgrid", "admin")
    client, _ = sandbox_client(state)
    async with client:
        alone = await PROVIDER.revoke(client, cred(key.token, "sendgrid"))
        with_admin = await PROVIDER.revoke(client, cred(key.token, "sendgrid", admin_secret=Secret(admin.token)))
        after = await PROVIDER.probe(client, cred(key.token, "sendgrid"))
    assert alone.state is ActionState.MANUAL and "Register" in alone.manual_steps[0]
    assert with_admin.state is ActionState.APPLIED and after.outcome is Outcome.INVALID and not admin.revoked


async def test_restrict_reduces_scopes_to_the_ceiling():
    state = SandboxState()
    key = mint(state, "sendgrid", "full_access")
    admin = mint(state, "sendgrid", "admin")
    target = cred(key.token, "sendgrid", admin_secret=Secret(admin.token))
    client, _ = sandbox_client(state)
    async with client:
        result = await PROVIDER.restrict(client, target, Level.READ)
        after = await PROVIDER.probe(client, target)
    assert result.state is ActionState.APPLIED
    assert "mail.send" in result.details["removed"] and "api_keys.delete" in result.details["removed"]
    assert after.outcome is Outcome.OK and after.live_level is Level.READ
    assert all(s.endswith(".read") for s in key.scopes)


async def test_restrict_with_nothing_left_fails_rather_than_emptying_the_key():
    state = SandboxState()
    key = mint(state, "sendgrid", "restricted", scopes=["mail.send"])
    admin = mint(state, "sendgrid", "admin")
    client, _ = sandbox_client(state)
    async with client:
        result = await PROVIDER.restrict(
            client, cred(key.token, "sendgrid", admin_secret=Secret(admin.token)), Level.READ
        )
    assert result.state is ActionState.FAILED and key.scopes == ["mail.send"]


async def test_rotate_new_key_works_and_old_key_dies():
    state = SandboxState()
    key = mint(state, "sendgrid", "restricted")
    admin = mint(state, "sendgrid", "admin")
    client, _ = sandbox_client(state)
    async with client:
        result = await PROVIDER.rotate(client, cred(key.token, "sendgrid", admin_secret=Secret(admin.token)))
        old = await PROVIDER.probe(client, cred(key.token, "sendgrid"))
        new = await PROVIDER.probe(client, cred(result.new_secret.reveal(), "sendgrid"))
    assert result.state is ActionState.APPLIED and "SANDBOX" in result.new_secret.reveal()
    assert result.new_secret.reveal() not in result.message + repr(result)
    assert old.outcome is Outcome.INVALID
    assert new.outcome is Outcome.OK and {g.scope for g in new.grants} == set(key.scopes)


async def test_switch_failures_never_raise():
    state = SandboxState()
    key = mint(state, "sendgrid", "full_access")
    async with httpx.AsyncClient(transport=Unreachable()) as client:
        results = [
            await PROVIDER.revoke(client, cred(key.token, "sendgrid")),
            await PROVIDER.restrict(client, cred(key.token, "sendgrid"), Level.READ),
            await PROVIDER.rotate(client, cred(key.token, "sendgrid")),
        ]
    assert all(r.state is ActionState.FAILED and r.retryable for r in results)
    assert not key.revoked


# -- through real HTTP on a loopback port ---------------------------------------------------------------


async def test_rotate_over_loopback(sandbox):
    key = sandbox.mint("sendgrid", "full_access")
    base = sandbox.base_url("sendgrid").rsplit("/", 1)[0]
    async with httpx.AsyncClient() as client:
        result = await PROVIDER.rotate(client, cred(key.token, "sendgrid", base=base))
        old = await PROVIDER.probe(client, cred(key.token, "sendgrid", base=base))
        new = await PROVIDER.probe(client, cred(result.new_secret.reveal(), "sendgrid", base=base))
    assert result.state is ActionState.APPLIED
    assert old.outcome is Outcome.INVALID and new.outcome is Outcome.OK
