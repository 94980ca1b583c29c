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
