"""The path a routed connector's requests reach the provider at, for every routable provider.

The client an agent runs (pointed at the gateway by the variable ``breaker exec`` sets) sends the
provider's full API path — Slack's ``/api/auth.test``, Graph's ``/v1.0/me``, GitLab's
``/api/v4/user`` — while a connector's base URL is the provider's documented base URL, which ends
with that API path for some providers (``https://slack.com/api``). The gateway's upstream must be
the base URL without it, or every forwarded call goes to ``/api/api/…`` and 404s. The other gateway
tests gave connectors a bare host (a stand-in upstream, ``sandbox.host_url``), which hid this: here
each connector gets the provider's documented base URL, and the sandbox's (what the demo gives it).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import text

from app.gateway.server import running
from app.services import binding
from app.services.gateway import Gateway
from app.services.views import ConnectorInput
from connectors import registry
from connectors.base import Secret
from connectors.requests import table_for


@dataclass(frozen=True)
class Call:
    kind: str | None  # the sandbox key's kind (None: the sandbox's first)
    method: str
    path: str  # what the client sends below the URL in the provider's gateway variable
    documented: str  # the full URL of that call at the real provider
    real_base: str | None = None  # the connector's base URL for the real provider (None: the provider's base_url)
    headers: tuple[tuple[str, str], ...] = ()  # what the client always sends besides the key


# One read-level call per routable provider, as its client sends it.
CALLS = {
    "openai": Call("project", "GET", "/models", "https://api.openai.com/v1/models"),
    "anthropic": Call(None, "GET", "/v1/models", "https://api.anthropic.com/v1/models"),
    "github": Call("classic", "GET", "/user", "https://api.github.com/user"),
    "slack": Call("bot", "POST", "auth.test", "https://slack.com/api/auth.test"),
    # A Google connector's base_url (oauth2.googleapis.com) is where its probe asks; Gmail's own host
    # is the gateway's default upstream, taken when the connector names none.
    "google": Call(
        "oauth",
        "GET",
        "/gmail/v1/users/me/messages",
        "https://gmail.googleapis.com/gmail/v1/users/me/messages",
        real_base="",
    ),
    "microsoft": Call(None, "GET", "/me", "https://graph.microsoft.com/v1.0/me"),
    "gitlab": Call(None, "GET", "/api/v4/user", "https://gitlab.com/api/v4/user"),
    "stripe": Call(None, "GET", "/v1/balance", "https://api.stripe.com/v1/balance"),
    "sendgrid": Call(None, "GET", "/v3/scopes", "https://api.sendgrid.com/v3/scopes"),
    "notion": Call(
        None, "GET", "/v1/users/me", "https://api.notion.com/v1/users/me", headers=(("notion-version", "2022-06-28"),)
    ),
    "hubspot": Call(None, "GET", "/account-info/v3/details", "https://api.hubapi.com/account-info/v3/details"),
    "airtable": Call(None, "GET", "/meta/whoami", "https://api.airtable.com/v0/meta/whoami"),
}


def routable() -> list[str]:
    return sorted(p.name for p in registry.all_providers() if table_for(p) is not None and p.gateway_url)


def test_every_routable_provider_has_a_call_here():
    assert sorted(CALLS) == routable()


def client_url(provider: str, root: str) -> str:
    """The URL the agent's client sends to: the gateway variable's value, then the client's path."""
    (suffix,) = registry.get(provider).gateway_env.values()
    call = CALLS[provider]
    return (root + suffix).rstrip("/") + "/" + call.path.lstrip("/")


@pytest.mark.parametrize("provider", sorted(CALLS))
def test_a_connector_with_the_documented_base_url_forwards_to_the_documented_url(services, sandbox, provider):
    call = CALLS[provider]
    documented = registry.get(provider).base_url if call.real_base is None else call.real_base
    key = sandbox.mint(provider, call.kind).token
    services.inventory.add(ConnectorInput(name="real", provider=provider, base_url=documented), Secret(key))
    view = Gateway(services).route("real")
    sent = client_url(provider, "http://127.0.0.1:8791/real")
    path = sent[len("http://127.0.0.1:8791/real") :]
    assert view.upstream + path == call.documented
    # ...and the seal lets the key go there.
    conn = services.inventory.get("real")
    assert view.upstream in binding.sealed_upstreams(provider, conn.base_url, dict(conn.extra))


@pytest.mark.parametrize("provider", sorted(CALLS))
async def test_the_demo_s_base_url_through_the_gateway_reaches_the_sandbox_at_the_client_s_path(
    services, sandbox, provider
):
    call = CALLS[provider]
    key = sandbox.mint(provider, call.kind).token
    # What `breaker demo` gives the connector: the documented base URL with the host swapped.
    services.inventory.add(
        ConnectorInput(name="demo", provider=provider, base_url=sandbox.base_url(provider)), Secret(key)
    )
    Gateway(services).route("demo")
    token = Gateway(services).issue("demo", "agent").token
    async with running(services) as gw:
        async with httpx.AsyncClient(headers={"authorization": f"Bearer {token}"}) as agent:
            answer = await agent.request(call.method, client_url(provider, f"{gw.url}/demo"), headers=call.headers)
    assert sandbox.calls(provider) == [(call.method, f"/{provider}{urlsplit(call.documented).path}")]
    assert answer.status_code == 200, answer.text[:300]


@pytest.mark.parametrize("provider", ["slack", "microsoft", "gitlab"])
async def test_a_route_stored_with_the_api_path_doubled_is_corrected(services, sandbox, provider):
    # Homes routed before the fix stored the base URL itself (…/slack/api) as the upstream.
    call = CALLS[provider]
    base = sandbox.base_url(provider)
    services.inventory.add(
        ConnectorInput(name="old", provider=provider, base_url=base), Secret(sandbox.mint(provider, call.kind).token)
    )
    gw_service = Gateway(services)
    gw_service.route("old")
    with services.engine.begin() as conn:
        conn.execute(text("UPDATE gateway_route SET upstream = :u"), {"u": base})
    assert gw_service.get("old").upstream == sandbox.host_url(provider)  # read corrected
    token = gw_service.issue("old", "agent").token
    async with running(services) as gw:
        async with httpx.AsyncClient(headers={"authorization": f"Bearer {token}"}) as agent:
            answer = await agent.request(call.method, client_url(provider, f"{gw.url}/old"), headers=call.headers)
    assert answer.status_code == 200, answer.text[:300]
    assert sandbox.calls(provider) == [(call.method, f"/{provider}{urlsplit(call.documented).path}")]
    # Routing it again stores the corrected upstream, audited.
    gw_service.route("old")
    with services.engine.connect() as conn:
        stored = conn.execute(text("SELECT upstream FROM gateway_route")).scalar_one()
    assert stored == sandbox.host_url(provider)


def test_an_owner_upstream_with_the_api_path_is_kept_without_it(services, sandbox):
    key = sandbox.mint("gitlab").token
    services.inventory.add(ConnectorInput(name="ci", provider="gitlab", base_url=""), Secret(key))
    view = Gateway(services).route("ci", upstream="https://git.example.com/gitlab/api/v4/", rules_host="gitlab.com")
    assert view.upstream == "https://git.example.com/gitlab"  # the prefix before /api/v4 is kept


def test_every_provider_whose_base_url_has_a_path_on_its_gateway_host_declares_it():
    # A new provider whose documented base URL ends with a path its clients also send must say so
    # (Provider.api_paths), or its routed requests get the path twice.
    for provider in registry.all_providers():
        if table_for(provider) is None or not provider.gateway_url:
            continue
        base = urlsplit(provider.base_url)
        path = base.path.rstrip("/")
        if path and base.hostname == urlsplit(provider.gateway_url).hostname:
            assert path in provider.api_paths, provider.name
            assert provider.gateway_upstream(provider.base_url) == provider.gateway_url, provider.name
