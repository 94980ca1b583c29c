"""Airtable provider and its sandbox (sources: the documentation URLs cited in connectors/airtable.py)."""

import httpx
import pytest

from connectors import registry
from connectors.base import ActionState, Credential, Level, Outcome, Secret
from connectors.sandbox.core import SandboxState
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

PROVIDER = registry.get("airtable")
REAL_API = "https://api.airtable.test"
PAT = "patSANDBOXexampl." + "0" * 64
OAUTH = "oaaSANDBOXexample.v1.SANDBOXpayload." + "ab" * 16
WHOAMI = "/v0/meta/whoami"


def real(token: str = PAT) -> Credential:
    return Credential(Secret(token), base_url=REAL_API)


# -- key recognition and levels ---------------------------------------------------------------------


# -- contract: the provider reads the documented responses ------------------------------------------


@pytest.mark.parametrize("fixture, identity", [("whoami", "usrL2PNC5o3H4lBEi"), ("whoami_email", "foo@bar.com")])
async def test_parses_documented_whoami_for_a_pat(fixture, identity):
    routes = Routes({("GET", WHOAMI): load("airtable", fixture)})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real())
    assert report.outcome is Outcome.OK and report.identity == identity
    assert report.token_kind == "personal access token"
    assert report.grants == [] and "deep probe" in report.details["scopes"]
    assert len(routes.calls) == 1 and routes.calls[0].headers["authorization"] == f"Bearer {PAT}"


async def test_parses_documented_whoami_scopes_for_oauth():
    routes = Routes({("GET", WHOAMI): load("airtable", "whoami_oauth")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real(OAUTH))
    assert report.token_kind == "OAuth access token"
    assert {g.scope for g in report.grants} == {"data.records:read", "schema.bases:read", "user.email:read"}
    assert report.live_level is Level.READ


@pytest.mark.parametrize(
    "fixture, outcome",
    [
        ("unauthorized", Outcome.INVALID),
        ("invalid_permissions", Outcome.FORBIDDEN),
        ("rate_limited", Outcome.RATE_LIMITED),
    ],
)
async def test_documented_failures(fixture, outcome):
    routes = Routes({("GET", WHOAMI): load("airtable", fixture)})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real())
    assert report.outcome is outcome
    if outcome is Outcome.RATE_LIMITED:
        assert report.rate_limit.retry_after_s == 30  # Airtable's mandatory wait
    if outcome is Outcome.INVALID:
        assert report.error == "AUTHENTICATION_REQUIRED"


async def test_deep_probe_reads_documented_bases():
    base = load("airtable", "list_bases")["body"]["bases"][0]["id"]
    routes = Routes(
        {
            ("GET", WHOAMI): load("airtable", "whoami"),
            ("GET", "/v0/meta/bases"): load("airtable", "list_bases"),
            ("GET", f"/v0/meta/bases/{base}/tables"): load("airtable", "invalid_permissions"),
        }
    )
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real(), deep=True)
    assert [g.scope for g in report.grants] == ["schema.bases:read"]
    assert report.details["deep_base"] == base
    assert {r.method for r in routes.calls} == {"GET"}


# -- contract: the sandbox answers with the documented shapes ---------------------------------------


async def test_sandbox_matches_documented_shapes():
    state = SandboxState()
    pat = mint(state, "airtable", "pat")
    with_email = mint(state, "airtable", "pat", scopes=["user.email:read"])
    oauth = mint(state, "airtable", "oauth")
    client, _ = sandbox_client(state)
    base = cred(pat.token, "airtable").base_url
    bearer = lambda r: {"Authorization": f"Bearer {r.token}"}  # noqa: E731
    async with client:
        who = await client.get(f"{base}{WHOAMI}", headers=bearer(pat))
        who_email = await client.get(f"{base}{WHOAMI}", headers=bearer(with_email))
        who_oauth = await client.get(f"{base}{WHOAMI}", headers=bearer(oauth))
        unknown = await client.get(f"{base}{WHOAMI}", headers={"Authorization": "Bearer patnope"})
        bases = await client.get(f"{base}/v0/meta/bases", headers=bearer(pat))
        denied = await client.get(f"{base}/v0/meta/bases", headers=bearer(with_email))
    assert_same_shape(who, load("airtable", "whoami"))
    assert_same_shape(who_email, load("airtable", "whoami_email"))
    assert_same_shape(who_oauth, load("airtable", "whoami_oauth"))
    assert_same_shape(unknown, load("airtable", "unauthorized"))
    assert_same_shape(bases, load("airtable", "list_bases"))
    assert_same_shape(denied, load("airtable", "invalid_permissions"))


# -- every outcome, end to end through the in-process sandbox ---------------------------------------


async def test_outcomes_through_the_sandbox():
    state = SandboxState()
    live = mint(state, "airtable", "oauth", identity="sam")
    revoked = mint(state, "airtable", "pat", revoked=True)
    client, transport = sandbox_client(state)
    async with client:
        ok = await PROVIDER.probe(client, cred(live.token, "airtable"))
        gone = await PROVIDER.probe(client, cred(revoked.token, "airtable"))
    assert ok.outcome is Outcome.OK and ok.identity == "sam@sandbox.example" and ok.live_level is Level.READ
    assert gone.outcome is Outcome.INVALID
    assert set(transport.calls) == {("GET", "/airtable/v0/meta/whoami")}


# -- deep probes ------------------------------------------------------------------------------------


async def test_deep_probe_learns_pat_read_scopes_with_gets_only():
    state = SandboxState()
    record = mint(state, "airtable", "pat", scopes=["schema.bases:read", "data.records:read", "webhook:manage"])
    client, transport = sandbox_client(state)
    async with client:
        report = await PROVIDER.probe(client, cred(record.token, "airtable"), deep=True)
    assert {g.scope for g in report.grants} == {"schema.bases:read", "data.records:read", "webhook:manage"}
    assert report.live_level is Level.SEND
    assert "data.records:write" in report.details["deep_untested"]  # honest about what it cannot test
    assert {method for method, _ in transport.calls} == {"GET"}
    assert report.requests == len(transport.calls) <= PROVIDER.deep_probe_requests


async def test_deep_probe_without_a_reachable_base():
    state = SandboxState()
    record = mint(state, "airtable", "pat", scopes=["data.records:read"])
    client, transport = sandbox_client(state)
    async with client:
        report = await PROVIDER.probe(client, cred(record.token, "airtable"), deep=True)
    assert report.grants == [] and "no base reachable" in report.details["deep_note"]
    assert len(transport.calls) == 2


# -- switches: no API, so exact manual steps ---------------------------------------------------------


async def test_switches_are_manual_with_the_dashboard_url():
    async with httpx.AsyncClient(transport=Unreachable()) as client:
        results = [
            await PROVIDER.revoke(client, real()),
            await PROVIDER.rotate(client, real()),
            await PROVIDER.restrict(client, real(), Level.READ),
        ]
    for result in results:
        assert result.state is ActionState.MANUAL
        assert any("https://airtable.com/create/tokens" in step for step in result.manual_steps)
    assert not (PROVIDER.can_revoke or PROVIDER.can_rotate or PROVIDER.can_restrict)


# -- real HTTP through the loopback sandbox ---------------------------------------------------------


async def test_probe_over_real_http(sandbox):
    record = sandbox.mint("airtable", "pat", scopes=["schema.bases:read", "data.records:read"], identity="sam")
    credential = Credential(Secret(record.token), base_url=sandbox.base_url("airtable"))
    async with httpx.AsyncClient(timeout=5) as client:
        shallow = await PROVIDER.probe(client, credential)
        deep = await PROVIDER.probe(client, credential, deep=True)
    sandbox.state.revoke(record.token)  # as if the owner deleted it in the dashboard
    async with httpx.AsyncClient(timeout=5) as client:
        after = await PROVIDER.probe(client, credential)
    assert shallow.outcome is Outcome.OK and shallow.grants == []
    assert {g.scope for g in deep.grants} == {"schema.bases:read", "data.records:read"}
    assert after.outcome is Outcome.INVALID
