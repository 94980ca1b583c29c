"""Rotation never loses a key: not to Breaker's own time limit, not to a retry, not to a crash.

A provider that mints a key (SendGrid create-then-delete, GitLab self-rotate) may have deleted the
old key by the time Breaker hears back. The new key must therefore be kept whatever happens: the
call is never cut off, never sent twice once a key came back, and the key's credential row is
committed (inactive) the moment it is in the keyring, so a crash leaves it findable and
``breaker rotate NAME`` (or verify) finishes the job.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlmodel import Session, select

from app.services.switches import JobState, Switches
from app.services.switches import steps as steps_module
from app.services.switches.calls import CallPolicy, Calls
from app.store.models import Credential, SwitchJob
from connectors.base import ActionResult, ActionState, Secret
from tests.switches.conftest import audit_actions


def _jobs(services) -> list[SwitchJob]:
    with Session(services.engine) as s:
        return list(s.exec(select(SwitchJob).order_by(SwitchJob.id)).all())


def _creds(services) -> list[Credential]:
    with Session(services.engine) as s:
        return list(s.exec(select(Credential).order_by(Credential.id)).all())


def _creates(sandbox) -> int:
    return sum(1 for m, p in sandbox.calls("sendgrid") if m == "POST" and p.endswith("/v3/api_keys"))


async def test_a_rotation_slower_than_one_call_limit_keeps_the_new_key(world, services, sandbox):
    """SendGrid's rotate is 4 requests; a limit sized for one request used to cut it off after the
    provider had created the new key and deleted the old one."""
    old = world.add("mail", "sendgrid", "full_access")
    # each of the 4 requests well within its own timeout; together past one request's limit (1 s + 1 s)
    sandbox.faults.set("sendgrid", latency_ms=600, times=4)
    sw = Switches(services, call_timeout=1.0, backoff_s=0.01)
    try:
        report = await sw.rotate("mail")
    finally:
        sw.close()
    new = services.inventory.secret_for("mail").reveal()
    assert new != old.token, "Breaker kept the old key"
    assert sandbox.state.get(new).live, "the key Breaker hands out must work"
    assert not sandbox.state.get(old.token).live
    assert report.state == JobState.VERIFIED, report
    assert _creates(sandbox) == 1


async def test_a_rotation_past_the_limit_is_awaited_and_shown_pending(world, services, sandbox, monkeypatch):
    """Even past a correctly sized limit a minting call is never cancelled: the job shows pending
    while Breaker waits, and the key that finally comes back is stored."""
    from connectors.sendgrid import SendGrid

    old = world.add("mail", "sendgrid", "full_access")
    original = SendGrid.rotate

    async def slow_rotate(self, client, cred):
        await asyncio.sleep(0.6)  # beyond the action's limit, shortened below
        return await original(self, client, cred)

    monkeypatch.setattr(SendGrid, "rotate", slow_rotate)
    # Only the action's own deadline is shortened. The per-request timeout stays roomy: the probes
    # that verify the new key and the dead old one share it, and a 50 ms timeout there made this
    # test read "applied" on a loaded CI machine.
    monkeypatch.setattr(CallPolicy, "limit", lambda self, requests=1: 0.2)
    sw = Switches(services, call_timeout=5, backoff_s=0.01)
    seen: list[tuple[str, str]] = []

    def on_event(event):
        if event.state == JobState.PENDING:
            seen.append((event.state, sw.journal.latest("mail").state))

    try:
        report = await sw.rotate("mail", on_event=on_event)
    finally:
        sw.close()
    assert seen and seen[0] == (JobState.PENDING, JobState.PENDING), seen  # visible as pending, in the journal too
    new = services.inventory.secret_for("mail").reveal()
    assert new != old.token and sandbox.state.get(new).live
    assert report.state == JobState.VERIFIED, report
    assert _creates(sandbox) == 1
    assert "switch.pending" in audit_actions(services, "mail")


async def test_calls_never_cancel_a_minting_action(services):
    """The unit rule: ``mints=True`` shields the action and awaits it past the limit."""
    calls = Calls(services, policy=CallPolicy(timeout_s=0.05, attempts=3, backoff_s=0.01))
    late: list[float] = []

    async def send() -> ActionResult:
        await asyncio.sleep(1.2)
        return ActionResult("rotate", ActionState.APPLIED, "ok", new_secret=Secret("SG.SANDBOX-new"))

    async def on_late(limit: float) -> None:
        late.append(limit)

    result, attempts = await calls.call("rotate", send, repeatable=False, mints=True, requests=1, on_late=on_late)
    assert result.state is ActionState.APPLIED and result.new_secret is not None
    assert attempts == 1 and late == [pytest.approx(1.05)]


async def test_a_failed_rotation_that_returned_a_key_is_not_sent_again(world, services, sandbox, monkeypatch):
    """SendGrid created the new key but could not delete the old one (HTTP 503, retryable): the
    result carries the new key. Resending would mint a second key and lose the first."""
    from connectors.sendgrid import SendGrid

    old = world.add("mail", "sendgrid", "full_access")

    async def failing_delete(self, client, cred, action="revoke"):
        return ActionResult(action, ActionState.FAILED, "HTTP 503", status=503, retryable=True)

    monkeypatch.setattr(SendGrid, "_revoke", failing_delete)
    sw = Switches(services, call_timeout=3, attempts=3, backoff_s=0.01)
    try:
        report = await sw.rotate("mail")
    finally:
        sw.close()
    assert _creates(sandbox) == 1, "the rotation was sent again"
    new = services.inventory.secret_for("mail").reveal()
    assert new != old.token and sandbox.state.get(new).live  # the new key is stored and handed out
    assert report.state != JobState.VERIFIED  # the old key still works: not verified
    assert sandbox.state.get(old.token).live


class _Crash(BaseException):
    """Stands in for the process dying (SIGKILL) at this point."""


async def test_a_crash_after_the_new_key_arrived_leaves_it_findable_and_verify_finishes(
    world, services, sandbox, monkeypatch
):
    old = world.add("repo", "gitlab", "personal")  # GitLab's rotate kills the old token at once

    async def crash(ctx, cred):
        raise _Crash()

    original = steps_module._retire_old
    monkeypatch.setattr(steps_module, "_retire_old", crash)
    sw = Switches(services, call_timeout=3, backoff_s=0.01)
    try:
        with pytest.raises(_Crash):
            await sw.rotate("repo")
        monkeypatch.setattr(steps_module, "_retire_old", original)

        # What the crash left: the job still applying, the new key's row committed (inactive).
        job = _jobs(services)[-1]
        assert job.state == "applying"
        details = json.loads(job.details_json)
        assert details.get("new_ref"), details
        rows = {c.keyring_ref: c for c in _creds(services)}
        assert details["new_ref"] in rows and not rows[details["new_ref"]].active
        new_secret = services.secrets.get(details["new_ref"])
        assert new_secret is not None and sandbox.state.get(new_secret.reveal()).live
        assert "switch.key-stored" in audit_actions(services, "repo")

        latest = sw.latest("repo")
        assert latest.interrupted and "breaker rotate repo" in latest.message

        report = await sw.verify("repo")
    finally:
        sw.close()
    assert report.state == JobState.VERIFIED, report
    assert services.inventory.secret_for("repo").reveal() == new_secret.reveal()
    assert not sandbox.state.get(old.token).live
    rotations = [p for m, p in sandbox.calls("gitlab") if m == "POST" and p.endswith("/rotate")]
    assert len(rotations) == 1, "finishing must not rotate again"
    assert services.audit.verify(services.engine).ok


async def test_rotate_again_finishes_an_interrupted_rotation_instead_of_minting(world, services, sandbox, monkeypatch):
    world.add("repo", "gitlab", "personal")

    async def crash(ctx, cred):
        raise _Crash()

    original = steps_module._retire_old
    monkeypatch.setattr(steps_module, "_retire_old", crash)
    sw = Switches(services, call_timeout=3, backoff_s=0.01)
    try:
        with pytest.raises(_Crash):
            await sw.rotate("repo")
        monkeypatch.setattr(steps_module, "_retire_old", original)
        new_ref = json.loads(_jobs(services)[-1].details_json)["new_ref"]
        report = await sw.rotate("repo")
    finally:
        sw.close()
    assert report.state == JobState.VERIFIED, report
    assert services.inventory.get("repo").credential.keyring_ref == new_ref
    assert len([p for m, p in sandbox.calls("gitlab") if m == "POST" and p.endswith("/rotate")]) == 1
