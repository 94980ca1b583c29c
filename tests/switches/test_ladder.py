"""The ladder's own rules, on GitHub, SendGrid, Anthropic and Stripe connectors in the sandbox:
journal first, reduced credentials, retries that stay visible, forced switches, manual steps that
end verified only when a probe agrees, and the confirmation text."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from app.services import exec as exec_service
from app.services.switches import JobState, NeedsNewKey, Switches, SwitchRefused
from app.store.models import SwitchJob
from connectors.base import Mode, Outcome, Secret
from tests.switches.conftest import audit_actions


def jobs(services) -> list[SwitchJob]:
    with Session(services.engine) as s:
        return list(s.exec(select(SwitchJob).order_by(SwitchJob.id)).all())


async def test_the_job_is_committed_before_anything_is_sent(world, switches, services, sandbox):
    world.add("bot", "github", "classic")
    seen = {}

    def on_event(event):
        if event.state == JobState.RECORDED:  # the first event: nothing may have reached the provider yet
            seen["calls"] = list(sandbox.calls("github"))
            seen["jobs"] = [(j.state, j.action) for j in jobs(services)]
            seen["mode"] = services.inventory.get("bot").mode

    await switches.disable("bot", on_event=on_event)
    assert seen["calls"] == []
    assert seen["jobs"] == [(JobState.RECORDED, "disable")]
    assert seen["mode"] is Mode.DISABLED


async def test_reduced_credential_is_switched_to_and_verified(world, switches, services, sandbox):
    full = world.add("bot", "github", "classic")  # repo (send), read:org
    reduced = world.mint("github", "classic", scopes=["read:org"])
    switches.add_credential("bot", Secret(reduced.token), tier="reduced")
    plan = switches.plan("bot", "read-only")
    assert plan.uses_reduced and not plan.calls
    assert any("still works" in w for w in plan.warnings)

    report = await switches.read_only("bot")
    view = services.inventory.get("bot")
    assert view.credential.tier == "reduced" and view.credential.last4 == reduced.token[-4:]
    assert services.inventory.secret_for("bot").reveal() == reduced.token  # what exec hands out now
    assert sandbox.state.get(full.token).live  # without --revoke-full the full key lives on, as the plan said
    assert "still works" in report.message
    # Honest state: the full key still holds send power, so the connector is not at read-only yet.
    assert report.state == JobState.APPLIED, report
    assert "full key still live — revoke it to verify" in report.verify_note
    assert report.manual_steps
    assert "switch.verified" not in audit_actions(services, "bot")
    assert services.inventory.get("bot").switch_state == JobState.APPLIED
    # A later ordinary probe (of the reduced key) must not verify it either.
    await services.prober.probe_one("bot")
    assert services.inventory.get("bot").switch_state == JobState.APPLIED

    back = await switches.enable("bot")
    assert back.state == JobState.VERIFIED
    assert services.inventory.get("bot").credential.tier == "primary"

    assert (await switches.read_only("bot")).state == JobState.APPLIED
    sandbox.state.revoke(full.token)  # the owner revokes the full key by hand
    verified = await switches.verify("bot")
    assert verified.state == JobState.VERIFIED, verified
    assert [c.tier for c in services.inventory.get("bot").credentials] == ["reduced"]  # the dead one is marked


async def test_reduced_credential_with_revoke_full(world, switches, services, sandbox):
    full = world.add("bot", "github", "classic")
    reduced = world.mint("github", "classic", scopes=["read:org"])
    switches.add_credential("bot", Secret(reduced.token), tier="reduced")
    plan = switches.plan("bot", "read-only", revoke_full=True)
    assert plan.calls and plan.irreversible_call and not plan.reversible
    report = await switches.read_only("bot", revoke_full=True)
    assert report.state == JobState.VERIFIED, report
    assert not sandbox.state.get(full.token).live
    assert sandbox.state.get(reduced.token).live
    assert [c.tier for c in services.inventory.get("bot").credentials] == ["reduced"]  # the full one is revoked


async def test_restrict_in_place_reduces_the_key_at_the_provider(world, switches, services, sandbox):
    record = world.add("mail", "sendgrid", "full_access")
    report = await switches.draft_only("mail")
    assert report.state == JobState.VERIFIED, report
    from connectors import registry

    sendgrid = registry.get("sendgrid")
    scopes = sandbox.state.get(record.token).scopes
    assert scopes and "mail.send" not in scopes  # the key really lost its send scope in the sandbox
    assert all(sendgrid.level_of(s) <= Mode.DRAFT_ONLY.ceiling for s in scopes)
    probe = await services.prober.probe_one("mail")
    assert probe.report.live_level is not None and probe.report.live_level <= Mode.DRAFT_ONLY.ceiling


async def test_a_failing_provider_is_retried_with_backoff_and_visible_as_pending(world, switches, services, sandbox):
    world.add("bot", "github", "classic")
    sandbox.faults.set("github", status=503, times=1)  # the first call fails, the retry succeeds
    events = []
    report = await switches.disable("bot", on_event=events.append)
    assert report.state == JobState.VERIFIED
    assert JobState.PENDING in [e.state for e in events]
    assert "switch.pending" in audit_actions(services, "bot")
    assert [m for m, p in sandbox.calls("github") if p.endswith("/credentials/revoke")] == ["POST", "POST"]
    assert jobs(services)[-1].attempts == 2


async def test_failure_after_bounded_retries_stays_pending_and_force_marks_out_of_sync(world, services, sandbox):
    world.add("a", "github", "classic")
    world.add("b", "github", "classic")
    sandbox.faults.set("github", status=503)
    sw = Switches(services, call_timeout=2, attempts=2, backoff_s=0.01)
    try:
        plain = await sw.disable("a")
        assert plain.state == JobState.PENDING and plain.manual_steps
        assert services.inventory.get("a").mode is Mode.DISABLED  # recorded locally regardless
        forced = await sw.disable("b", force=True)
        assert forced.state == JobState.OUT_OF_SYNC
        assert services.inventory.get("b").switch_state == JobState.OUT_OF_SYNC
        assert jobs(services)[-1].forced
        assert "switch.out-of-sync" in audit_actions(services, "b")
    finally:
        sw.close()
    revokes = [p for _, p in sandbox.calls("github") if p.endswith("/credentials/revoke")]
    assert len(revokes) == 4  # two attempts each, no more


async def test_manual_provider_ends_applied_not_verified_until_confirmed(world, switches, services, sandbox):
    record = world.add("pay", "stripe", "restricted_test")
    report = await switches.disable("pay")
    assert report.state == JobState.MANUAL and report.manual_steps
    assert services.inventory.get("pay").switch_state == JobState.MANUAL
    with pytest.raises(exec_service.ExecRefused):
        exec_service.grant(services, "pay", ["true"])  # locally it is disabled at once

    # The owner says it is done, but it is not: applied, not verified.
    confirmed = await switches.confirm("pay")
    assert confirmed.state == JobState.APPLIED and "still works" in confirmed.verify_note

    sandbox.state.revoke(record.token)  # the owner really deletes the key in the dashboard
    verified = await switches.verify("pay")
    assert verified.state == JobState.VERIFIED
    actions = audit_actions(services, "pay")
    assert actions.index("switch.manual") < actions.index("switch.confirmed") < actions.index("switch.verified")


async def test_confirm_without_a_waiting_switch_is_refused(world, switches):
    world.add("bot", "github", "classic")
    with pytest.raises(SwitchRefused):
        await switches.confirm("bot")


async def test_disable_without_the_admin_key_gives_exact_steps(world, switches, services, sandbox):
    world.add("claude", "anthropic", "api")  # no organisation admin connector registered
    plan = switches.plan("claude", "disable")
    assert any("admin key" in w for w in plan.warnings)
    report = await switches.disable("claude")
    assert report.state == JobState.MANUAL
    assert any("admin" in step.lower() for step in report.manual_steps)
    assert sandbox.state.get(world.tokens["claude"].token).live


async def test_reversible_disable_at_anthropic(world, switches, services, sandbox):
    world.admin("anthropic")
    record = world.add("claude", "anthropic", "api")
    plan = switches.plan("claude", "disable")
    assert plan.reversible and "sets the key active again" in plan.undo
    assert "status" in plan.calls[0].request and "admin" in plan.calls[0].note
    assert (await switches.disable("claude")).state == JobState.VERIFIED
    assert sandbox.state.get(record.token).status == "inactive"
    assert (await switches.enable("claude")).state == JobState.VERIFIED
    assert sandbox.state.get(record.token).status == "active"


def test_plan_for_github_says_it_is_permanent_unauthenticated_and_rate_limited(world, switches):
    world.add("bot", "github", "classic", client="Claude Desktop", env_var="GH_TOKEN")
    world.add("twin", "github", "classic", record=world.tokens["bot"])  # the very same key
    plan = switches.plan("bot", "disable")
    text = plan.text()
    assert "POST" in text and "/github/credentials/revoke" in text
    assert "60" in text and "unauthenticated" in text and "permanent" in text
    assert not plan.reversible and plan.irreversible_call
    assert "Claude Desktop" in text and "GH_TOKEN" in text
    assert "twin" in text  # connectors sharing the fingerprint stop working too
    data = plan.as_dict()
    assert data["reversible"] is False and data["calls"] and data["stops_working"]


def test_plan_of_a_guided_rotation(world, switches):
    world.add("bot", "github", "classic")
    plan = switches.plan("bot", "rotate")
    assert plan.guided and plan.manual_steps
    assert "paste" in plan.text() and "probe" in plan.text()


async def test_rotate_without_api_asks_for_the_new_key(world, switches):
    world.add("bot", "github", "classic")
    with pytest.raises(NeedsNewKey):
        await switches.rotate("bot")


async def test_guided_rotation_refuses_a_key_that_does_not_work(world, switches, services, sandbox):
    old = world.add("bot", "github", "classic")
    dead = world.mint("github", "classic")
    sandbox.state.revoke(dead.token)
    report = await switches.rotate_with("bot", Secret(dead.token))
    assert report.state == "failed" and "does not work" in report.message
    assert services.inventory.secret_for("bot").reveal() == old.token  # nothing was swapped
    assert sandbox.state.get(old.token).live
    wrong = await switches.rotate_with("bot", Secret("xoxb-SANDBOX-not-a-github-key-123456"))
    assert wrong.state == "failed" and "GitHub" in wrong.message


async def test_api_rotation_stores_the_new_key_at_once(world, switches, services, sandbox):
    old = world.add("repo", "gitlab", "personal")
    report = await switches.rotate("repo")
    assert report.state == JobState.VERIFIED, report
    new = services.inventory.secret_for("repo").reveal()
    assert new != old.token and sandbox.state.get(new).live and not sandbox.state.get(old.token).live
    details = json.loads(jobs(services)[-1].details_json)
    assert "new_ref" in details and old.token not in jobs(services)[-1].details_json
    assert services.audit.verify(services.engine).ok


async def test_no_secret_in_the_journal_or_the_audit_log(world, switches, services):
    record = world.add("bot", "github", "classic")
    new = world.mint("github", "classic")
    await switches.rotate_with("bot", Secret(new.token))
    await switches.disable("bot")
    with Session(services.engine) as s:
        dump = " ".join(str(j.model_dump()) for j in s.exec(select(SwitchJob)).all())
    events = " ".join(e.new_json + e.old_json for e in services.audit.recent(services.engine, 500))
    for token in (record.token, new.token):
        assert token not in dump and token not in events
    assert services.audit.verify(services.engine).ok


async def test_verify_needs_a_switch(world, switches):
    world.add("bot", "github", "classic")
    with pytest.raises(SwitchRefused):
        await switches.verify("bot")


async def test_probe_outcome_after_disable_is_stored(world, switches, services):
    world.add("bot", "github", "classic")
    await switches.disable("bot")
    view = services.inventory.get("bot")
    assert view.last_outcome == Outcome.INVALID.value and view.live_level is None


async def test_a_later_probe_verifies_a_waiting_switch(world, switches, services, sandbox):
    from app.services.switches import reconcile

    record = world.add("pay", "stripe", "restricted_test")
    assert (await switches.disable("pay")).state == JobState.MANUAL
    sandbox.state.revoke(record.token)  # done by hand in the dashboard
    result = await services.prober.probe_one("pay")  # the probing service reconciles on its own
    assert services.inventory.get("pay").switch_state == JobState.VERIFIED
    assert reconcile(services, [result]) == []  # and doing it again changes nothing
    assert "switch.verified" in audit_actions(services, "pay")


# -- review findings: one verification event, an audit record before every call, robust emitters,
#    and nothing blocking the event loop ------------------------------------------------------------


async def test_a_switch_writes_switch_verified_once(world, switches, services):
    world.add("bot", "github", "classic")
    report = await switches.disable("bot")
    assert report.state == JobState.VERIFIED
    assert audit_actions(services, "bot").count("switch.verified") == 1


async def test_switch_calling_is_recorded_before_the_provider_is_called(world, switches, services, monkeypatch):
    """A crash after a revoke went out still leaves a record of what was called."""
    from connectors.github import GitHub

    world.add("bot", "github", "classic")
    original = GitHub.revoke
    seen = {}

    async def revoke(self, client, cred):
        seen["actions"] = audit_actions(services, "bot")  # committed before the request leaves
        return await original(self, client, cred)

    monkeypatch.setattr(GitHub, "revoke", revoke)
    await switches.disable("bot")
    assert seen["actions"][-1] == "switch.calling", seen
    event = next(e for e in services.audit.recent(services.engine, 50, "bot") if e.action == "switch.calling")
    data = json.loads(event.new_json)
    assert "/credentials/revoke" in data["call"] and data["job"]
    assert world.tokens["bot"].token not in event.new_json
    assert services.audit.verify(services.engine).ok


async def test_a_failing_event_callback_never_leaves_a_switch_half_done(world, switches, services, sandbox):
    world.add("bot", "github", "classic")

    def broken(event):
        raise RuntimeError("the panel went away")

    report = await switches.disable("bot", on_event=broken)
    assert report.state == JobState.VERIFIED
    assert not world.alive("bot")
    assert services.inventory.get("bot").switch_state == JobState.VERIFIED


async def test_a_single_switch_does_not_block_the_event_loop(world, switches, services, monkeypatch):
    """Store reads (inventory list/get, journal reads) run off the event loop."""
    import asyncio

    from app.services.inventory import Inventory
    from app.services.switches.journal import Journal

    world.add("bot", "github", "classic")
    on_loop: list[str] = []

    def guard(name, fn):
        def wrapper(*args, **kwargs):
            try:
                asyncio.get_running_loop()
                on_loop.append(name)
            except RuntimeError:
                pass
            return fn(*args, **kwargs)

        return wrapper

    for cls, name in ((Inventory, "list"), (Inventory, "get"), (Journal, "job"), (Journal, "latest")):
        monkeypatch.setattr(cls, name, guard(f"{cls.__name__}.{name}", getattr(cls, name)))
    await switches.disable("bot")
    await switches.verify("bot")
    assert on_loop == [], on_loop
