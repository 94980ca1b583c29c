"""GitHub switches by API (issue 9), end to end against the sandbox:

* a GitHub App installation is SUSPENDED as the app — ``PUT /app/installations/{installation_id}/suspended``,
  undone by ``DELETE`` on the same path (https://docs.github.com/en/rest/apps/apps#suspend-an-app-installation) —
  with a JWT signed by the app's private key (RS256, ≤ 10 minutes,
  https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app);
  the private key is the connector's admin credential in the keyring. Verified only when a fresh
  probe of the installation token is refused; enable lifts it and the probe works again.
* an OAuth app's token is revoked by the app — ``DELETE /applications/{client_id}/token`` with Basic
  client_id:client_secret (https://docs.github.com/en/rest/apps/oauth-applications#delete-an-app-token).
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.services.switches import JobState
from connectors.base import Outcome, Secret
from connectors.sandbox.providers import github as gh


@pytest.fixture(scope="module")
def app_keys() -> tuple[str, str]:
    """(the private key as Breaker stores it: the PEM body on one line, the public key PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return base64.b64encode(der).decode(), public


async def test_installation_is_suspended_reversibly_as_the_app(world, switches, services, sandbox, app_keys):
    private, public = app_keys
    app = gh.register_app(sandbox.state, public)
    world.add("app-bot", "github", "installation", extra={"app_id": gh.SANDBOX_APP_ID})
    switches.add_credential("app-bot", Secret(private), tier="admin", kind="GitHub App private key")

    plan = switches.plan("app-bot", "disable")
    assert "/app/installations/{installation_id}/suspended" in plan.text(), plan.text()
    assert plan.reversible and not plan.irreversible_call
    assert not plan.warnings, plan.warnings

    sandbox.clear_requests()
    report = await switches.disable("app-bot")
    assert report.state is JobState.VERIFIED, (report.message, report.verify_note)
    assert app.meta["suspended"] == gh.SANDBOX_INSTALLATION
    calls = sandbox.calls("github")
    assert ("GET", "/github/repos/sandbox-org/sandbox-repo/installation") in calls  # the id looked up as the app
    assert ("PUT", f"/github/app/installations/{gh.SANDBOX_INSTALLATION}/suspended") in calls
    assert ("DELETE", "/github/installation/token") not in calls  # the token itself is kept
    probe = await services.prober.probe_one("app-bot")  # an independent, later probe
    assert probe.report.outcome is Outcome.REVOKED

    report = await switches.enable("app-bot")
    assert report.state is JobState.VERIFIED, (report.message, report.verify_note)
    assert app.meta["suspended"] == ""
    assert ("DELETE", f"/github/app/installations/{gh.SANDBOX_INSTALLATION}/suspended") in sandbox.calls("github")
    assert (await services.prober.probe_one("app-bot")).report.outcome is Outcome.OK


async def test_without_the_app_key_the_plan_says_the_token_is_deleted_for_good(world, switches, sandbox):
    world.add("app-bot", "github", "installation")
    plan = switches.plan("app-bot", "disable")
    assert any("private key" in w for w in plan.warnings), plan.text()
    assert not plan.reversible and plan.irreversible_call
    report = await switches.disable("app-bot")
    assert report.state is JobState.VERIFIED
    assert ("DELETE", "/github/installation/token") in sandbox.calls("github")
    assert not world.alive("app-bot")


async def test_a_wrong_app_key_is_refused_and_nothing_is_suspended(world, switches, sandbox, app_keys):
    private, _ = app_keys
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    app = gh.register_app(
        sandbox.state,
        other.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
    )
    world.add("app-bot", "github", "installation", extra={"app_id": gh.SANDBOX_APP_ID, "installation_id": "4242"})
    switches.add_credential("app-bot", Secret(private), tier="admin", kind="GitHub App private key")
    report = await switches.disable("app-bot")
    assert report.state is not JobState.VERIFIED and report.state is not JobState.APPLIED, report
    assert not app.meta.get("suspended") and world.alive("app-bot")


async def test_oauth_app_token_is_revoked_by_the_app(world, switches, services, sandbox):
    secret = gh.register_oauth_app(sandbox.state)
    world.add("oauth-bot", "github", "oauth", extra={"client_id": gh.SANDBOX_OAUTH_CLIENT})
    switches.add_credential("oauth-bot", Secret(secret.token), tier="admin", kind="OAuth app client secret")
    plan = switches.plan("oauth-bot", "disable")
    assert "DELETE" in plan.text() and "/applications/{client_id}/token" in plan.text(), plan.text()
    sandbox.clear_requests()
    report = await switches.disable("oauth-bot")
    assert report.state is JobState.VERIFIED, (report.message, report.verify_note)
    calls = sandbox.calls("github")
    assert any(m == "DELETE" and p.startswith("/github/applications/") and p.endswith("/token") for m, p in calls)
    assert ("POST", "/github/credentials/revoke") not in calls
    assert not world.alive("oauth-bot")
    assert sandbox.state.get(secret.token).live  # the app's secret itself is untouched
