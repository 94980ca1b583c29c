"""Issue 9, "What was seen": every state Breaker shows is one a fresh probe would prove.

Each test here failed on the code before the fix it names.
"""

from __future__ import annotations

from app.services.switches import JobState, Switches


async def test_a_rotation_the_provider_refused_is_not_verified(world, services, sandbox):
    """Seen 1: SendGrid refuses the rotation (the key has no api_keys.* access); the key is
    unchanged — that used to end "verified by probe — the key works; the old key no longer works"."""
    old = world.add("newsletter", "sendgrid", "restricted")
    before = services.inventory.get("newsletter").credential.fingerprint
    sw = Switches(services, backoff_s=0.01)
    try:
        report = await sw.rotate("newsletter")
    finally:
        sw.close()
    view = services.inventory.get("newsletter")
    assert view.credential.fingerprint == before and services.inventory.secret_for("newsletter").reveal() == old.token
    assert report.state is not JobState.VERIFIED and not report.verified, report
    assert report.state is JobState.MANUAL  # waiting for you: nothing was applied
    assert "old key no longer works" not in report.verify_note
    assert view.switch_state is not JobState.VERIFIED


class _Killed(BaseException):
    """Stands in for SIGKILL: nothing after it runs in this process."""


async def test_a_rotation_killed_while_verifying_is_finished_not_repeated(world, services, sandbox, monkeypatch):
    """Seen 6: a rotation killed while it was being verified was left "applied"; `breaker rotate`
    again sent a second rotate call to the provider. It must finish the first one instead."""
    from app.services.switches import ladder

    old = world.add("mail", "sendgrid", "full_access")
    sw = Switches(services, backoff_s=0.01)

    async def killed(*args, **kwargs):
        raise _Killed

    try:
        with monkeypatch.context() as m:
            m.setattr(ladder.Switches, "_verify", killed)
            try:
                await sw.rotate("mail")
            except _Killed:
                pass
        assert services.inventory.get("mail").switch_state is JobState.APPLIED
        latest = sw.latest("mail")
        assert latest.interrupted and "rotate" in latest.message
        report = await sw.rotate("mail")
    finally:
        sw.close()
    creates = [p for m, p in sandbox.calls("sendgrid") if m == "POST" and p.endswith("/v3/api_keys")]
    assert len(creates) == 1, "a second rotate call was sent"
    assert report.state is JobState.VERIFIED, report
    new = services.inventory.secret_for("mail").reveal()
    assert new != old.token and sandbox.state.get(new).live and not sandbox.state.get(old.token).live


async def test_a_deep_probe_finding_stands_until_a_deep_probe_disproves_it(world, services):
    """Seen 5: a fine-grained GitHub token showed live level "—"; a deep probe found send-level
    permissions; the next ordinary probe reset the level to nothing, with no drift."""
    from app.services.probing import Prober
    from connectors.base import Level

    world.add("release-notes", "github", "fine_grained")
    prober = Prober(services)
    await prober.probe(["release-notes"], deep=True)
    found = services.inventory.get("release-notes")
    assert found.live_level is Level.SEND and any(g.scope == "issues:write" for g in found.observed)
    [again] = await prober.probe(["release-notes"])  # an ordinary probe: it cannot see these permissions
    view = services.inventory.get("release-notes")
    assert view.live_level is Level.SEND, "the deep probe's finding was dropped by an ordinary probe"
    assert {g.scope for g in view.observed} >= {g.scope for g in found.observed}
    assert any("deep probe" in g.note for g in again.report.grants)
    assert again.drift, "drift is computed from the deep finding (declared nothing above read)"
