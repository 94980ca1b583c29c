"""An OpenAI service-account key is rotated by API (issue 9): the Admin API makes a new key for the
same service account — ``POST /v1/organization/projects/{project_id}/service_accounts/{service_account_id}/api_keys``,
https://platform.openai.com/docs/api-reference/project-service-accounts — Breaker stores it, probes
it, hands it out, and deletes the old key (``DELETE …/api_keys/{key_id}``,
https://platform.openai.com/docs/api-reference/project-api-keys/delete). Verified means a fresh
probe shows the new key working and the old one dead. A user-owned project key stays guided."""

from __future__ import annotations

from app.services.switches import JobState
from connectors.base import Outcome

PROJECT = {"project_id": "proj_SANDBOX"}


async def test_service_account_key_rotates_by_api_and_the_old_key_dies(world, switches, services, sandbox):
    world.admin("openai")
    old = world.add("svc", "openai", "service_account", extra=dict(PROJECT))
    before = services.inventory.get("svc").credential
    assert "service-account" in before.kind

    plan = switches.plan("svc", "rotate")
    assert not plan.guided, plan.text()
    assert "/service_accounts/{service_account_id}/api_keys" in plan.text()
    sandbox.clear_requests()
    report = await switches.rotate("svc")

    assert report.state is JobState.VERIFIED, (report.message, report.verify_note)
    after = services.inventory.get("svc").credential
    assert after.fingerprint != before.fingerprint and after.last4 != before.last4
    assert not world.alive("svc"), "the old key must be deleted at OpenAI"
    calls = sandbox.calls("openai")
    # (the sandbox's log masks path segments with the word SANDBOX: proj_SANDBOX, svc_acct_SANDBOX)
    assert any(m == "POST" and p.endswith("/service_accounts/[token]/api_keys") for m, p in calls), calls
    assert any(m == "DELETE" and "/api_keys/key_" in p for m, p in calls)
    new = next(
        r
        for r in sandbox.state.tokens.values()
        if r.provider == "openai" and r.live and r.token != old.token and r.kind == "service_account"
    )
    assert new.meta["service_account_id"] == "svc_acct_SANDBOX"
    probe = await services.prober.probe_one("svc")  # a later ordinary probe: the new key works
    assert probe.report.outcome is Outcome.OK


async def test_a_stale_key_id_after_rotation_still_finds_the_new_key_to_revoke(world, switches, services, sandbox):
    world.admin("openai")
    old = world.mint("openai", "service_account")
    old_id = old.key_id if old.key_id.startswith("key_") else f"key_{old.key_id}"
    world.add("svc", "openai", extra={**PROJECT, "key_id": old_id}, record=old)
    assert (await switches.rotate("svc")).state is JobState.VERIFIED
    # The connector's key_id still names the old (deleted) key; the disable must find the new one.
    report = await switches.disable("svc")
    assert report.state is JobState.VERIFIED, (report.message, report.verify_note)
    assert not any(r.live for r in sandbox.state.tokens.values() if r.kind == "service_account")


async def test_a_user_owned_project_key_stays_guided(world, switches):
    world.admin("openai")
    world.add("proj", "openai", "project", extra=dict(PROJECT))
    assert switches.plan("proj", "rotate").guided


async def test_without_an_admin_key_the_rotation_waits_for_you(world, switches):
    world.add("svc", "openai", "service_account", extra=dict(PROJECT))
    plan = switches.plan("svc", "rotate")
    assert any("admin key" in w for w in plan.warnings), plan.text()
    report = await switches.rotate("svc")
    assert report.state is JobState.MANUAL and report.manual_steps
    assert world.alive("svc")
