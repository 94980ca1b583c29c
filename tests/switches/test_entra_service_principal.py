"""Microsoft Entra: an application token's app is switched off by disabling its service principal —
``PATCH /servicePrincipals(appId='{appId}')`` with ``{"accountEnabled": false}``, and ``true`` to enable it
again (https://learn.microsoft.com/en-us/graph/api/serviceprincipal-update) — with the organisation's
admin token (Application.ReadWrite.All). Entra then issues no new token for the app
(https://learn.microsoft.com/en-us/entra/identity/enterprise-apps/disable-user-sign-in-portal), but an
access token already issued works until it expires: the switch is "applied", on the still-live
checklist, and verified only when a probe finds the token dead."""

from __future__ import annotations

from datetime import UTC, datetime

from app.services import checklist
from app.services.switches import JobState, Switches
from connectors.base import Outcome
from connectors.sandbox.providers import microsoft as ms

ADMIN_SCOPES = ["User.Read", "Application.ReadWrite.All"]


def _service_principal(sandbox):
    return ms._service_principal(sandbox.state, ms.APP_ID)


async def test_app_is_disabled_reversibly_and_verified_only_when_its_token_is_dead(world, switches, services, sandbox):
    admin = world.add("ms-admin", "microsoft", "admin", scopes=ADMIN_SCOPES)
    sw = Switches(services)
    sw.mark_admin_connector("ms-admin")
    sw.close()
    world.add("mailer", "microsoft", "application")
    view = services.inventory.get("mailer")
    assert view.credential.kind == "Graph application token (JWT)"

    plan = switches.plan("mailer", "disable")
    assert "PATCH" in plan.text() and "servicePrincipals(appId='{appid}')" in plan.text(), plan.text()
    assert plan.reversible and not plan.irreversible_call and not plan.warnings

    report = await switches.disable("mailer")
    assert report.state is JobState.APPLIED, (report.message, report.verify_note)  # the token still works
    assert _service_principal(sandbox).meta["accountEnabled"] is False
    assert ("PATCH", f"/microsoft/v1.0/servicePrincipals(appId='{ms.APP_ID}')") in sandbox.calls("microsoft")
    assert [i.connector for i in checklist.items(services)] == ["mailer"]

    report = await switches.enable("mailer")
    assert report.state is JobState.VERIFIED, (report.message, report.verify_note)
    assert _service_principal(sandbox).meta["accountEnabled"] is True

    await switches.disable("mailer")
    assert not (await checklist.done(services, "mailer")).ticked  # the issued token still works
    world.tokens["mailer"].expires_at = datetime.now(UTC)  # the token reaches its expiry
    checked = await checklist.done(services, "mailer")
    assert checked.ticked, checked.message
    assert services.inventory.get("mailer").off
    assert (await services.prober.probe_one("mailer")).report.outcome is Outcome.INVALID
    assert sandbox.state.get(admin.token).live


async def test_without_an_admin_token_the_disable_waits_for_you(world, switches, sandbox):
    world.add("mailer", "microsoft", "application")
    plan = switches.plan("mailer", "disable")
    assert any("Application.ReadWrite.All" in w for w in plan.warnings), plan.text()
    report = await switches.disable("mailer")
    assert report.state is JobState.MANUAL and report.manual_steps
    assert _service_principal(sandbox).meta["accountEnabled"] is True


def test_without_an_admin_token_the_plan_does_not_promise_a_permanent_revoke(world, switches):
    world.add("mailer", "microsoft", "application")
    plan = switches.plan("mailer", "disable")
    assert "for good" not in plan.undo and not plan.irreversible_call, plan.text()
