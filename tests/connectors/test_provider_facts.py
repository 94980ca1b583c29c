"""Provider facts checked against each provider's documentation (issue 9), the page beside each shape."""

from __future__ import annotations

import json

import httpx
import pytest

from connectors import registry
from connectors.base import ActionState, Credential, Level, Secret

SENDGRID_KEY = "SG.EXAMPLEidEXAMPLEid0001.EXAMPLEsecretEXAMPLEsecretEXAMPLEsecret0001"
SENDGRID = "https://api.sendgrid.test"


def _client(handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def _sendgrid(get_body: dict, writes: list) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=get_body)
        writes.append((request.method, request.url.path))
        sent = json.loads(request.content or b"{}")
        return httpx.Response(200, json={"api_key_id": "x", "name": "n", "scopes": sent.get("scopes", [])})

    return _client(handler)


# https://www.twilio.com/docs/sendgrid/api-reference/api-keys/retrieve-an-existing-api-key
# The published spec: {"result": [{"api_key_id": …, "name": …, "scopes": [...]}]}.
WRAPPED = {"result": [{"api_key_id": "EXAMPLEidEXAMPLEid0001", "name": "mail", "scopes": ["mail.send", "stats.read"]}]}
FLAT = {"api_key_id": "EXAMPLEidEXAMPLEid0001", "name": "mail", "scopes": ["mail.send", "stats.read"]}


@pytest.mark.parametrize("body", [WRAPPED, FLAT], ids=["spec result wrapper", "flat"])
async def test_sendgrid_reads_the_key_in_both_shapes(body):
    writes: list = []
    async with _sendgrid(body, writes) as client:
        result = await registry.get("sendgrid").restrict(
            client, Credential(Secret(SENDGRID_KEY), base_url=SENDGRID), Level.READ
        )
    assert result.state is ActionState.APPLIED, result
    assert writes == [("PUT", "/v3/api_keys/EXAMPLEidEXAMPLEid0001")]


@pytest.mark.parametrize(
    "body", [{"result": []}, {"name": "mail", "scopes": []}, {}], ids=["empty result", "no scopes", "nothing"]
)
async def test_sendgrid_fails_closed_when_the_scopes_cannot_be_read(body):
    """A restrict is never "applied" and a rotation never creates a key (which would get full access
    without scopes) when the current scopes could not be read."""
    provider = registry.get("sendgrid")
    cred = Credential(Secret(SENDGRID_KEY), base_url=SENDGRID)
    writes: list = []
    async with _sendgrid(body, writes) as client:
        restricted = await provider.restrict(client, cred, Level.READ)
        rotated = await provider.rotate(client, cred)
    assert restricted.state is ActionState.FAILED and rotated.state is ActionState.FAILED
    assert rotated.new_secret is None and writes == [], writes


# https://api.slack.com/authentication/rotation: xoxe.xoxb- is a rotating bot token (xoxe.xoxp- a
# rotating user / app configuration token), not an app configuration token.
def test_slack_names_a_rotating_bot_token():
    slack = registry.get("slack")
    bot = "xoxe.xoxb-1-" + "A" * 40
    user = "xoxe.xoxp-1-" + "B" * 40
    assert slack.recognise(bot).kind == "rotating bot token"
    assert slack.kind_of(bot) == "rotating bot token"
    assert slack.recognise(user).kind == "app configuration token"


# https://platform.openai.com/docs/api-reference/project-api-keys/list: list project keys with
# owner_project_access=any, or enabled keys can be missed.
async def test_openai_lists_project_keys_of_every_owner():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "GET":
            return httpx.Response(200, json={"data": [], "has_more": False})
        return httpx.Response(200, json={"deleted": True})

    cred = Credential(
        Secret("sk-proj-" + "A" * 60),
        base_url="https://api.openai.test",
        extra={"project_id": "proj_1"},
        admin_secret=Secret("sk-admin-" + "B" * 60),
    )
    async with _client(handler) as client:
        await registry.get("openai").revoke(client, cred)
    listing = [r for r in seen if r.method == "GET" and r.url.path.endswith("/api_keys")]
    assert listing and listing[0].url.params.get("owner_project_access") == "any"


# https://docs.stripe.com/api/invoices/create: every parameter is optional (`customer` too), so an empty
# POST /v1/invoices creates a draft invoice. Write probes go to https://docs.stripe.com/api/invoices/update
# (and the other resources' update endpoints) with an id that does not exist: 404 when permitted.
def test_stripe_deep_probe_never_creates_it_posts_to_ids_that_do_not_exist():
    from connectors.stripe import BOGUS_ID, DEEP_PROBES

    posts = [p for p in DEEP_PROBES if p.method == "POST"]
    assert ("POST", "/v1/invoices") not in {(p.method, p.path) for p in posts}
    assert any(p.path == f"/v1/invoices/{BOGUS_ID}" and p.permitted == (404,) for p in posts)
    for probe in posts:
        if probe.path != "/v1/account_links":  # no update endpoint; a create needs account, type, URLs
            assert probe.path.endswith(f"/{BOGUS_ID}") and probe.permitted == (404,), probe


# https://airtable.com/developers/web/api/list-block-installations: needs workspacesAndBases:read, exists
# only on Enterprise plans, answers a bare JSON array — its 200 says nothing about block:manage.
async def test_airtable_never_reads_block_manage_from_block_installations():
    from connectors.airtable import WRITE_SCOPES_UNTESTED, Airtable
    from connectors.base import Credential, Secret

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        path = request.url.path
        if path.endswith("/whoami"):
            return httpx.Response(200, json={"id": "usrSANDBOX"})  # a PAT: no scopes listed
        if path.endswith("/meta/bases"):
            return httpx.Response(200, json={"bases": [{"id": "appSANDBOX1", "name": "b"}]})
        if path.endswith("/blockInstallations"):
            return httpx.Response(200, json=[])  # the documented bare array
        return httpx.Response(403, json={"error": {"type": "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND"}})

    async with _client(handler) as client:
        report = await Airtable().probe(
            client, Credential(Secret("patSANDBOX.0123456789abcdef"), base_url="https://api.airtable.test"), deep=True
        )
    assert "block:manage" not in {g.scope for g in report.grants}
    assert not any(p.endswith("/blockInstallations") for p in seen), seen
    assert "block:manage" in WRITE_SCOPES_UNTESTED and "block:manage" in report.details["deep_untested"]


# https://docs.github.com/en/rest/credentials/revoke: on github.com the call is unauthenticated ("any
# authenticated request will return a 403"). https://docs.github.com/en/enterprise-server@latest/rest/credentials/revoke:
# on GitHub Enterprise Server (API at https://HOST/api/v3) it requires authentication.
@pytest.mark.parametrize(
    "base_url, authenticated", [(None, False), ("https://ghe.example.test/api/v3", True)], ids=["dotcom", "ghes"]
)
async def test_github_credentials_revoke_is_authenticated_only_on_enterprise_server(base_url, authenticated):
    token = "ghp_SANDBOX" + "a1B2c3D4e5" * 3 + "XYZW9"
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(202, json={})

    async with _client(handler) as client:
        result = await registry.get("github").revoke(client, Credential(Secret(token), base_url=base_url))
    assert result.state is ActionState.APPLIED
    (request,) = sent
    assert request.url.path.endswith("/credentials/revoke")
    assert ("authorization" in request.headers) is authenticated
    assert json.loads(request.content) == {"credentials": [token]}


# https://docs.anthropic.com/en/api/errors: 401 authentication_error ("There's an issue with your API key").
# A key disabled through the Admin API (https://docs.anthropic.com/en/api/admin-api/apikeys/update-api-key,
# status inactive) or revoked answers 401 — read as "the key no longer works", which proves a disable.
async def test_anthropic_disabled_key_answers_401_and_counts_as_dead():
    from app.services.switches.calls import dead
    from connectors.base import Outcome
    from connectors.sandbox.core import SandboxState
    from tests.connectors.test_anthropic import _probe, mint

    state = SandboxState()
    report, _ = await _probe(state, mint(state, "anthropic", "api", status="inactive").token)
    assert report.status == 401 and report.outcome is Outcome.INVALID and dead(report) is True


# HubSpot OAuth access tokens: the documented example "CJSP5qf1KhICAQEYs-gDIIGOBii1hQIyGQAf3xBKmlwHjX7OIpuIFEavB2-qYAGQsF4"
# (https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/v1/get-oauth-token-metadata),
# "allow for tokens to be up to 300 characters"
# (https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/v1/refresh-oauth-token).
HUBSPOT_OAUTH_EXAMPLES = (
    "CJSP5qf1KhICAQEYs-gDIIGOBii1hQIyGQAf3xBKmlwHjX7OIpuIFEavB2-qYAGQsF4",
    "CKDZpunPLhICAQEYs-gDIIGOBii1hQIyGQAf3xBKEgsYjYMJVvlHEz9tFHAwSq1TQAM40s0D",
)


@pytest.mark.parametrize("token", HUBSPOT_OAUTH_EXAMPLES)
def test_hubspot_oauth_access_tokens_are_accepted_and_probed_as_oauth(services, token):
    from app.services.inventory import ConnectorInput
    from connectors.hubspot import HubSpot

    view = services.inventory.add(ConnectorInput(name="crm", provider="hubspot"), Secret(token))
    assert view.provider == "hubspot" and view.credential.kind == "OAuth access token"
    assert HubSpot._token_type(Credential(Secret(token))) == "oauth_access"
    assert (
        HubSpot._token_type(Credential(Secret("pat-na1-" + "a" * 8 + "-aaaa-aaaa-aaaa-" + "a" * 12))) == "private_app"
    )
