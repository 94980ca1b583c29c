"""Every switch against every provider the sandbox serves, end to end over real HTTP.

For each provider and action: the key is really revoked, restricted or replaced in the sandbox,
the next probe proves it, and the job's states and audit events are right. Providers without an
API for an action end "manual" (applied — not verified) until the owner confirms and a probe agrees.
"""

from __future__ import annotations

import pytest

from app.services import exec as exec_service
from app.services.switches import JobState, label
from connectors.base import Mode, Outcome, Secret
from tests.switches.conftest import CASES, audit_actions, present_providers

PROVIDERS = present_providers()


def test_the_sandbox_serves_providers_to_test():
    assert len(PROVIDERS) >= 4, PROVIDERS


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_disable(provider, world, switches, services):
    case = CASES[provider]
    world.connector("bot", provider)
    assert world.alive("bot")
    events = []
    report = await switches.disable("bot", on_event=events.append)

    assert report.state == case.disable, (report, report.verify_note)
    view = services.inventory.get("bot")
    assert view.mode is Mode.DISABLED  # recorded locally whatever the provider did
    assert view.switch_state == report.state
    actions = audit_actions(services, "bot")
    assert actions[actions.index("switch.recorded") :][:1] == ["switch.recorded"]
    assert [e.state for e in events][0] == "recorded"
    if case.disable == JobState.VERIFIED:
        assert not world.alive("bot"), "the key must be dead in the sandbox"
        probe = await services.prober.probe_one("bot")  # the next probe, independent of the switch
        assert probe.report.outcome in (Outcome.INVALID, Outcome.REVOKED)
        assert {"switch.applied", "switch.verified"} <= set(actions)
        assert actions.index("switch.recorded") < actions.index("switch.applied") < actions.index("switch.verified")
    else:
        assert report.state == JobState.MANUAL and report.manual_steps
        assert "waiting for you" in label(report.state)
        assert world.alive("bot")
        assert "switch.manual" in actions and "switch.verified" not in actions
    with pytest.raises(exec_service.ExecRefused):
        exec_service.grant(services, "bot", ["true"])
    assert services.audit.verify(services.engine).ok


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_read_only_without_a_reduced_key(provider, world, switches, services):
    case = CASES[provider]
    world.connector("bot", provider)
    report = await switches.read_only("bot")
    assert report.state == case.read_only, (report, report.verify_note)
    assert services.inventory.get("bot").mode is Mode.READ_ONLY
    if case.read_only == JobState.VERIFIED:  # restricted in place: the key lives on with less power
        assert world.alive("bot")
        probe = await services.prober.probe_one("bot")
        assert probe.report.outcome is Outcome.OK and probe.report.live_level is not None
        assert probe.report.live_level <= Mode.READ_ONLY.ceiling
    else:
        assert report.manual_steps, "a switch that is not verified must say what to do"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_rotate(provider, world, switches, services):
    case = CASES[provider]
    old = world.connector("bot", provider)
    before = services.inventory.get("bot").credential
    plan = switches.plan("bot", "rotate")
    assert plan.guided == (case.rotate == "guided")
    if case.rotate == "api":
        report = await switches.rotate("bot")
    else:
        new = world.mint(provider, case.kind)
        report = await switches.rotate_with("bot", Secret(new.token))
    assert report.state == case.rotate_ends, (report, report.verify_note)
    after = services.inventory.get("bot").credential
    assert after.fingerprint != before.fingerprint, "the connector now hands out a new key"
    assert services.inventory.secret_for("bot").reveal() != old.token
    if case.rotate_ends == JobState.VERIFIED:
        assert not world.alive("bot"), "the old key must be dead"
        probe = await services.prober.probe_one("bot")
        assert probe.report.outcome is Outcome.OK, "the new key works"
    assert services.audit.verify(services.engine).ok


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_enable_after_disable(provider, world, switches, services):
    case = CASES[provider]
    world.connector("bot", provider)
    await switches.disable("bot")
    report = await switches.enable("bot")
    assert services.inventory.get("bot").mode is Mode.FULL
    if CASES[provider].disable != JobState.VERIFIED:  # never revoked: the key still works
        assert report.state == JobState.VERIFIED
    else:
        assert report.state == case.enable_after_disable, (report, report.verify_note)
    if report.state == JobState.MANUAL:
        assert any("rotate" in s for s in report.manual_steps), "say how to bring a new key"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_plan_says_what_where_undo_and_what_stops(provider, world, switches):
    record = world.connector("bot", provider)
    for action in ("draft-only", "read-only", "disable", "enable", "rotate"):
        plan = switches.plan("bot", action)
        text = plan.text()
        assert "Undo:" in text and plan.undo
        assert plan.calls or plan.manual_steps or plan.uses_reduced or action == "enable", (action, text)
        assert record.token not in text and record.token not in str(plan.as_dict())
        if action in ("disable", "rotate"):
            assert "What will stop working" in text
        for call in plan.calls:
            assert call.request.split()[0] in ("GET", "POST", "PUT", "PATCH", "DELETE") or "API" in call.request
            assert world.sandbox.base_url(provider) in call.request  # where: the connector's own base URL
