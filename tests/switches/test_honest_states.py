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
