"""Issue 10 item 8: a GitLab rotation killed after GitLab made the new token but before Breaker
stored it. The old token's identity (id, name, creation, expiry) is journalled before the call, so
finishing the switch tells the owner exactly which token GitLab made — found by listing the
account's tokens with another working key of the connector, or, without one, by name and time.
The rotation keeps the token's lifetime (expires_at), per GitLab's rotate API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from app.services.switches import JobState, Switches
from app.services.switches import steps as steps_module
from app.store.models import SwitchJob
from connectors.base import Secret
from connectors.sandbox.providers.gitlab import _token_id


class _Crash(BaseException):
    """Stands in for the process dying (SIGKILL) between GitLab's answer and the key being stored."""


def _job(services) -> SwitchJob:
    with Session(services.engine) as s:
        return s.exec(select(SwitchJob).order_by(SwitchJob.id.desc())).first()


def _new_tokens(sandbox, old_token: str) -> list:
    return [r for r in sandbox.state.tokens.values() if r.provider == "gitlab" and r.token != old_token and r.live]


async def _rotate_and_die(services, monkeypatch) -> Switches:
    async def die(ctx, secret, old):
        raise _Crash()

    monkeypatch.setattr(steps_module, "_store_new_key", die)
    sw = Switches(services, call_timeout=3, backoff_s=0.01)
    with pytest.raises(_Crash):
        await sw.rotate("ci")
    monkeypatch.undo()
    return sw


@pytest.mark.parametrize("second_key", [True, False])
async def test_a_rotation_killed_before_the_new_key_was_stored_names_the_new_key(
    world, services, sandbox, monkeypatch, second_key
):
    expires = (datetime.now(UTC) + timedelta(days=60)).replace(hour=0, minute=0, second=0, microsecond=0)
    old = world.add("ci", "gitlab", "personal")
    sandbox.state.get(old.token).meta["name"] = "ci-deploy"
    sandbox.state.get(old.token).expires_at = expires
    if second_key:  # a read-only token of the same GitLab user, registered as the reduced credential
        reduced = sandbox.mint("gitlab", "personal_read")
        sw0 = Switches(services)
        sw0.add_credential("ci", Secret(reduced.token), tier="reduced")
        sw0.close()
    sw = await _rotate_and_die(services, monkeypatch)
    try:
        job = _job(services)
        details = json.loads(job.details_json)
        assert details["old_key"]["name"] == "ci-deploy" and details["old_key"]["id"] == _token_id(old)
        assert details["old_key"]["expires_at"] == expires.date().isoformat() and details["rotate_sent_at"]
        made = _new_tokens(sandbox, old.token)
        made = [r for r in made if r.meta.get("name") == "ci-deploy"]
        assert len(made) == 1 and not sandbox.state.get(old.token).live
        assert made[0].expires_at.date() == expires.date(), "the rotation kept the token's lifetime"
        report = await sw.verify("ci")
    finally:
        sw.close()
    assert report.state is JobState.FAILED
    text = report.message + " " + " ".join(report.manual_steps)
    assert "ci-deploy" in text and "never received" in text, text
    if second_key:
        assert f"id {_token_id(made[0])}" in text, text  # found by listing the user's tokens
    else:
        assert f"id {_token_id(old)}" in text and details["rotate_sent_at"] in text, text
    assert made[0].token not in text
    rotations = [p for m, p in sandbox.calls("gitlab") if m == "POST" and p.endswith("/rotate")]
    assert len(rotations) == 1, "finishing never rotates again"
