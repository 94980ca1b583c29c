"""hubspot-api-client against the sandbox: https://github.com/HubSpot/hubspot-api-python
(``host`` for the generated APIs, ``base_url`` for ``api_request``)."""

from __future__ import annotations

import hubspot
import pytest
from hubspot.oauth import ApiException

from connectors.base import Outcome
from tests.clients.conftest import on_sandbox, provider_probe

DOCUMENTED = hubspot.oauth.Configuration().host  # https://api.hubapi.com


def client(sandbox, token: str | None = None) -> hubspot.Client:
    base = on_sandbox(sandbox, "hubspot", DOCUMENTED)
    return hubspot.Client.create(access_token=token, host=base, base_url=base)


def test_the_private_app_probe_calls_and_the_account_hubspot_follows(sandbox):
    record = sandbox.mint("hubspot", "private_app")
    api = client(sandbox, record.token)
    # https://developers.hubspot.com/docs/api/private-apps: the verify call and the scope lookup
    usage = api.api_request({"method": "GET", "path": "/account-info/v3/api-usage/daily/private-apps"})
    assert usage.status_code == 200
    info = api.api_request(
        {"method": "POST", "path": "/oauth/v2/private-apps/get/access-token-info", "body": {"tokenKey": record.token}}
    ).json()
    assert info["scopes"] == record.scopes
    # The account the token named (hubId) is the one the account-info API describes.
    details = api.api_request({"method": "GET", "path": "/account-info/v3/details"}).json()
    assert details["portalId"] == info["hubId"]


def test_the_oauth_probe_calls_through_the_generated_oauth_api(sandbox):
    refresh = sandbox.mint("hubspot", "oauth_refresh", identity="ada")
    access = sandbox.mint("hubspot", "oauth_access", meta={"refresh_token": refresh.token})
    api = client(sandbox)
    assert api.oauth.access_tokens_api.get(access.token).hub_id == 62515
    assert api.oauth.refresh_tokens_api.get(refresh.token).client_id == "sandbox-client"


def test_a_revoke_through_hubspot_is_seen_by_breakers_probe(sandbox):
    refresh = sandbox.mint("hubspot", "oauth_refresh")
    access = sandbox.mint("hubspot", "oauth_access", meta={"refresh_token": refresh.token})
    assert provider_probe(sandbox, "hubspot", access.token, token_type="oauth_access").outcome is Outcome.OK
    # https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/v1/delete-oauth-v1-refresh-tokens-token
    client(sandbox).oauth.refresh_tokens_api.archive(refresh.token)
    assert provider_probe(sandbox, "hubspot", access.token, token_type="oauth_access").outcome is Outcome.INVALID
    assert provider_probe(sandbox, "hubspot", refresh.token, token_type="oauth_refresh").outcome is Outcome.INVALID
    with pytest.raises(ApiException) as gone:
        client(sandbox).oauth.access_tokens_api.get(access.token)
    assert gone.value.status == 404
