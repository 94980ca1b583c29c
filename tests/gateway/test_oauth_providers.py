"""OAuth refresh at the gateway for Microsoft Graph, HubSpot and Notion, against the sandbox's token
endpoints, each in its provider's documented shape:

- Microsoft identity platform, ``POST /{tenant}/oauth2/v2.0/token``, a form with ``scope``; a new
  refresh token in every answer
  (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token);
- HubSpot, ``POST /oauth/2026-03/token``, a form with the client in the body; the refresh token unchanged
  (https://developers.hubspot.com/docs/api-reference/2026-03/authentication/oauth-tokens/refresh-oauth-token);
- Notion, ``POST /v1/oauth/token``, JSON with the client as HTTP Basic; a new refresh token, the old
  one dead (https://developers.notion.com/reference/refresh-a-token).

Requests arriving together share one refresh; a rotated refresh token is in the keyring before the
access token is used, and the next refresh works with it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx
import pytest

from app.gateway.server import running
from app.services.gateway import Gateway, GatewayError, set_oauth_client
from app.services.views import ConnectorInput
from connectors.base import Secret
from connectors.sandbox.providers import microsoft as sandbox_microsoft


@dataclass
class Case:
    sandbox_kind: str
    client_id: str
    token_path: str  # as the sandbox logs it
    read: str  # a read through the gateway that needs a live access token
    rotates: bool
    old_dies: bool
    headers: dict[str, str] = field(default_factory=dict)


CASES = {
    "microsoft": Case(
        "refresh", sandbox_microsoft.APP_ID, "/microsoft/common/oauth2/v2.0/token", "/v1.0/me", True, False
    ),
    "hubspot": Case(
        "oauth_refresh", "sandbox-client", "/hubspot/oauth/2026-03/token", "/account-info/v3/details", False, False
    ),
    "notion": Case(
        "refresh",
        "sandbox-client",
        "/notion/v1/oauth/token",
        "/v1/users/me",
        True,
        True,
        {"notion-version": "2022-06-28"},
    ),
}


def client_secret(sandbox, provider: str) -> str:
    if provider == "notion":  # the sandbox checks Notion's client secret against its integration record
        return sandbox.mint("notion", "admin").token
    return "sandbox-client-secret"


def token_calls(sandbox, case: Case, provider: str) -> int:
    return sum(1 for method, path in sandbox.calls(provider) if (method, path) == ("POST", case.token_path))


@pytest.fixture
def refreshing(services, sandbox):
    """``add(provider)``: a connector ``PROVIDER-bot`` holding a refresh token the sandbox minted (added
    as `breaker add --refresh-token` does: these providers' have no shape to check), with its OAuth
    client, routed through the gateway. Returns (the refresh token's record, the name, a Breaker token)."""

    def add(provider: str, *, client_id: str | None = None, meta: dict | None = None):
        case = CASES[provider]
        refresh = sandbox.mint(provider, case.sandbox_kind, meta=meta)
        name = f"{provider}-bot"
        services.inventory.add(
            ConnectorInput(name=name, provider=provider, base_url=sandbox.host_url(provider)),
            Secret(refresh.token),
            kind="OAuth refresh token",
        )
        set_oauth_client(services, name, client_id or case.client_id, Secret(client_secret(sandbox, provider)))
        gateway = Gateway(services)
        gateway.route(name)
        return refresh, name, gateway.issue(name, "agent").token

    return add


@pytest.mark.parametrize("provider", sorted(CASES))
async def test_one_refresh_for_requests_arriving_together_and_a_rotated_token_kept(
    services, sandbox, refreshing, provider
):
    case = CASES[provider]
    refresh, name, token = refreshing(provider)
    cred = services.inventory.get(name).credential
    assert cred.kind == "OAuth refresh token"
    events: list[str] = []
    async with running(services, on_event=events.append) as gw:
        headers = {"authorization": f"Bearer {token}", **case.headers}
        async with httpx.AsyncClient(base_url=f"{gw.url}/{name}", headers=headers) as c:
            answers = await asyncio.gather(*(c.get(case.read) for _ in range(8)))
            assert [a.status_code for a in answers] == [200] * 8, answers[0].text
            assert token_calls(sandbox, case, provider) == 1  # one refresh for eight requests
            stored = services.secrets.get(cred.keyring_ref).reveal()
            if case.rotates:
                assert stored != refresh.token and "SANDBOX" in stored
                assert services.inventory.get(name).credential.last4 == stored[-4:]
            else:
                assert stored == refresh.token
            assert sandbox.state.get(refresh.token).live is not case.old_dies
            gw.app.oauth._tokens.clear()  # the access token expires: the next refresh uses the stored token
            assert (await c.get(case.read)).status_code == 200
            assert token_calls(sandbox, case, provider) == 2
    actions = [e.action for e in services.audit.recent(services.engine, 50, name)]
    assert ("credential.rotated" in actions) is case.rotates
    assert "credential.oauth_client" in actions
    for text in [*(a.text for a in answers), *events]:
        assert refresh.token not in text and stored not in text


@pytest.mark.parametrize("provider", sorted(CASES))
async def test_a_refused_refresh_is_a_502_naming_the_provider(services, refreshing, provider):
    case = CASES[provider]
    refresh, name, token = refreshing(provider, client_id="not-the-client")
    async with running(services) as gw:
        headers = {"authorization": f"Bearer {token}", **case.headers}
        async with httpx.AsyncClient(base_url=f"{gw.url}/{name}", headers=headers) as c:
            answer = await c.get(case.read)
    assert answer.status_code == 502
    body = answer.json()
    assert body["refused_by"] == "breaker-gateway" and "refused to refresh" in body["detail"]
    assert refresh.token not in answer.text


def test_graphs_own_host_never_gets_the_token_request():
    from connectors import registry

    graph = registry.get("microsoft")
    real = "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    assert graph.token_url(None) == real
    assert graph.token_url("https://graph.microsoft.com/v1.0") == real  # a base URL naming Graph itself
    assert (
        graph.token_url("http://127.0.0.1:9/microsoft/v1.0") == "http://127.0.0.1:9/microsoft/common/oauth2/v2.0/token"
    )


# -- Microsoft: the tenant a refresh token is redeemed at -------------------------------------------------------
TENANT_ID = sandbox_microsoft.TENANT
TENANT_DOMAIN = "contoso.onmicrosoft.com"


@pytest.fixture
def graph_refreshing(refreshing):
    """``microsoft-bot``, holding the refresh token of a single-tenant app (redeemed at its tenant only)."""

    def add():
        return refreshing(
            "microsoft", meta={"client_id": sandbox_microsoft.APP_ID, "tenant": TENANT_ID, "domains": TENANT_DOMAIN}
        )

    return add


def token_paths(sandbox) -> list[str]:
    return [path for method, path in sandbox.calls("microsoft") if method == "POST" and path.endswith("/token")]


async def read_me(gw, token: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"{gw.url}/microsoft-bot", headers={"authorization": f"Bearer {token}"}) as c:
        return await c.get("/v1.0/me")


@pytest.mark.parametrize("tenant", [TENANT_DOMAIN, TENANT_ID.upper()])
async def test_a_single_tenant_refresh_token_is_redeemed_at_the_tenant_the_owner_gave(
    services, sandbox, graph_refreshing, tenant
):
    refresh, _name, token = graph_refreshing()
    async with running(services) as gw:
        refused = await read_me(gw, token)  # at /common: the identity platform refuses a single-tenant app
        assert refused.status_code == 502 and "invalid_request" in refused.json()["detail"]
        assert Gateway(services).set_tenant("microsoft-bot", tenant) == tenant.lower()
        gw.app._sealed.clear()  # the gateway reads the settings again with the seal (within 5 s anyway)
        answer = await read_me(gw, token)
    assert answer.status_code == 200, answer.text
    assert token_paths(sandbox) == [
        "/microsoft/common/oauth2/v2.0/token",
        f"/microsoft/{tenant.lower()}/oauth2/v2.0/token",
    ]
    assert services.inventory.get("microsoft-bot").extra["tenant"] == tenant.lower()
    (edit,) = [e for e in services.audit.recent(services.engine, 50, "microsoft-bot") if e.action == "connector.edit"]
    assert tenant.lower() in edit.new_json and refresh.token not in edit.new_json


async def test_a_tenant_changed_outside_breaker_gets_no_refresh_token(services, sandbox, graph_refreshing):
    from sqlalchemy import text

    _refresh, _name, token = graph_refreshing()
    Gateway(services).set_tenant("microsoft-bot", TENANT_DOMAIN)
    with services.engine.begin() as conn:  # someone with the database, not the keyring
        conn.execute(
            text("UPDATE connector SET extra_json = :x WHERE name = 'microsoft-bot'"),
            {"x": '{"tenant": "attacker.example"}'},
        )
    async with running(services) as gw:
        answer = await read_me(gw, token)
    assert answer.status_code == 502 and token_paths(sandbox) == []
    actions = [e.action for e in services.audit.recent(services.engine, 50, "microsoft-bot")]
    assert "key.refused" in actions


@pytest.mark.parametrize(
    "bad",
    [
        "attacker.example/x",
        "common/../attacker",
        "owner@contoso.com",
        "127.0.0.1",
        "contoso.com:443",
        "contoso.com?x=1",
        "contoso.com#x",
        "%2e%2e",
        "localhost",
        "",
        " ",
        "a..b",
        "-contoso.com",
        "x" * 64 + ".com",
    ],
)
def test_a_tenant_that_could_move_the_refresh_token_is_refused(services, graph_refreshing, bad):
    graph_refreshing()
    before = services.inventory.get("microsoft-bot").extra
    with pytest.raises(GatewayError, match="is not a Microsoft tenant"):
        Gateway(services).set_tenant("microsoft-bot", bad)
    assert services.inventory.get("microsoft-bot").extra == before


def test_only_a_provider_with_tenants_takes_one(services, sandbox):
    services.inventory.add(
        ConnectorInput(name="crm", provider="hubspot", base_url=sandbox.host_url("hubspot")),
        Secret(sandbox.mint("hubspot", "oauth_refresh").token),
        kind="OAuth refresh token",
    )
    with pytest.raises(GatewayError, match="HubSpot has no OAuth tenant"):
        Gateway(services).set_tenant("crm", "common")


def test_the_token_url_names_the_tenant():
    from connectors import registry

    graph = registry.get("microsoft")
    assert graph.token_url(None, {"tenant": TENANT_DOMAIN}) == (
        f"https://login.microsoftonline.com/{TENANT_DOMAIN}/oauth2/v2.0/token"
    )
    assert graph.token_url("https://graph.microsoft.com/v1.0", {"tenant": "organizations"}) == (
        "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"
    )
    assert graph.token_url(None, {}) == graph.token_url(None) == graph.oauth_token_url
    with pytest.raises(ValueError):
        graph.token_url(None, {"tenant": "attacker.example/x"})
