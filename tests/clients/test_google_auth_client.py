"""google-auth against the sandbox: https://googleapis.dev/python/google-auth/latest/ (``token_uri``,
``AuthorizedSession``). The library refreshes an access token from a refresh token and sends it
as a Bearer header; tokeninfo and revoke are plain calls on its session."""

from __future__ import annotations

from datetime import UTC

import google.auth.transport.requests as transport
from google.oauth2 import credentials

from connectors.base import Outcome
from connectors.sandbox.providers.google import CLIENT_ID
from tests.clients.conftest import on_sandbox

DOCUMENTED = "https://oauth2.googleapis.com"  # google.oauth2 token_uri's host (_DEFAULT_TOKEN_URI)


def session(sandbox, refresh_token: str) -> tuple[transport.AuthorizedSession, str]:
    base = on_sandbox(sandbox, "google", DOCUMENTED)
    creds = credentials.Credentials(
        token=None, refresh_token=refresh_token, token_uri=f"{base}/token", client_id=CLIENT_ID, client_secret="x"
    )
    creds.refresh(transport.Request())  # https://developers.google.com/identity/protocols/oauth2/web-server#offline
    return transport.AuthorizedSession(creds), base


def test_the_refreshed_token_and_the_probe_call_tokeninfo(sandbox):
    refresh = sandbox.mint("google", "refresh", identity="ada")
    api, base = session(sandbox, refresh.token)
    first = api.get(f"{base}/tokeninfo")  # the probe's call, with the token as a Bearer header
    second = api.get(f"{base}/tokeninfo")
    assert first.status_code == 200 and first.reason == "OK"
    assert first.json()["scope"].split() == refresh.scopes and first.json()["email"] == "ada@sandbox.example"
    assert first.json()["exp"] == second.json()["exp"]  # an expiry is a fact of the token, not of the call
    assert abs(int(first.json()["exp"]) - api.credentials.expiry.replace(tzinfo=UTC).timestamp()) <= 2


def test_a_revoke_through_the_session_is_seen_by_breaker_probe(sandbox, breaker_probe):
    refresh = sandbox.mint("google", "refresh")
    api, base = session(sandbox, refresh.token)
    access = api.credentials.token
    assert breaker_probe("google", access).outcome is Outcome.OK
    # https://developers.google.com/identity/protocols/oauth2/web-server#tokenrevoke: the access token
    # goes, and the refresh token it came from with it.
    assert api.post(f"{base}/revoke", data={"token": access}).status_code == 200
    assert breaker_probe("google", access).outcome is Outcome.INVALID
    assert sandbox.state.get(refresh.token).revoked
