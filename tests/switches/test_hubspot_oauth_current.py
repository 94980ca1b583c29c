"""HubSpot OAuth on the current (2026-03) endpoints, before the v1 sunset on 2027-02-16
(https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/v1/migration-guide):
with the app's client id and client secret, a refresh token is revoked with
``POST /oauth/2026-03/token/revoke`` (https://developers.hubspot.com/docs/api-reference/latest/authentication/oauth-tokens/revoke-token)
and the switch is verified by ``POST /oauth/2026-03/token/introspect``
(https://developers.hubspot.com/docs/api-reference/2026-03/authentication/oauth-tokens/token-introspect)
answering ``{"active": false}``. No v1 endpoint is called."""

from __future__ import annotations

from app.services.switches import JobState
from connectors.base import Secret
from connectors.sandbox.providers import hubspot as hs

EXTRA = {"token_type": "oauth_refresh", "client_id": "sandbox-client"}


def _refresh(world, n: int = 1):
    """A refresh token in HubSpot's documented shape ("na1-ab12-cd34-ef56-gh78-abcdef123456")."""
    return world.mint("hubspot", "oauth_refresh", token=f"na1-ab12-cd34-ef56-gh78-SANDBOX{n:05d}")


async def test_refresh_token_revoked_and_verified_on_the_current_api(world, switches, services, sandbox):
    client_secret = hs.register_client(sandbox.state)
    refresh = world.add("crm-oauth", "hubspot", extra=dict(EXTRA), record=_refresh(world))
    access = world.mint("hubspot", "oauth_access", meta={"refresh_token": refresh.token})
    switches.add_credential("crm-oauth", Secret(client_secret.token), tier="admin", kind="OAuth client secret")

    plan = switches.plan("crm-oauth", "disable")
    assert "/oauth/2026-03/token/revoke" in plan.text(), plan.text()
    sandbox.clear_requests()
    report = await switches.disable("crm-oauth")
    assert report.state is JobState.VERIFIED, (report.message, report.verify_note)
    calls = sandbox.calls("hubspot")
    assert ("POST", "/hubspot/oauth/2026-03/token/revoke") in calls
    assert ("POST", "/hubspot/oauth/2026-03/token/introspect") in calls  # the verification
    assert not any("/oauth/v1/" in path for _, path in calls), calls
    assert not world.alive("crm-oauth") and not sandbox.state.get(access.token).live
    assert sandbox.state.get(client_secret.token).live  # the app's secret is untouched


async def test_a_wrong_client_secret_is_refused_and_the_token_lives(world, switches, sandbox):
    hs.register_client(sandbox.state)
    world.add("crm-oauth", "hubspot", extra=dict(EXTRA), record=_refresh(world))
    switches.add_credential(
        "crm-oauth", Secret("client-secret-SANDBOX-wrong"), tier="admin", kind="OAuth client secret"
    )
    report = await switches.disable("crm-oauth")
    assert report.state is not JobState.VERIFIED and report.state is not JobState.APPLIED, report
    assert world.alive("crm-oauth")


async def test_without_the_client_secret_the_v1_endpoint_is_still_used(world, switches, sandbox):
    world.add("crm-oauth", "hubspot", extra=dict(EXTRA), record=_refresh(world))
    report = await switches.disable("crm-oauth")
    assert report.state is JobState.VERIFIED
    assert any(m == "DELETE" and p.startswith("/hubspot/oauth/v1/refresh-tokens/") for m, p in sandbox.calls("hubspot"))
