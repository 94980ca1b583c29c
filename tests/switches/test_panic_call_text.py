"""The panic journal says, per job, what will really happen for that connector's kind of key
(issue 9): an Anthropic admin key has no Admin API call (admin keys are disabled in the Console,
https://platform.claude.com/docs/en/manage-claude/admin-api-keys), so its job must not name
``POST /v1/organizations/api_keys/{key_id}``; an Anthropic API key's job does."""

from __future__ import annotations

from sqlmodel import Session, select

from app.services.switches import JobState, Switches
from app.services.switches.panic import _call_text
from app.store.models import Connector, SwitchJob


def _jobs(services) -> dict[str, SwitchJob]:
    with Session(services.engine) as s:
        rows = s.exec(select(SwitchJob, Connector).where(SwitchJob.connector_id == Connector.id)).all()
        return {c.name: j for j, c in rows}


async def test_panic_job_names_the_call_for_each_kind_of_key(world, services):
    world.admin("anthropic")  # anthropic-org-admin: an organisation admin key
    world.connector("claude-bot", "anthropic")  # an API key (sk-ant-api03-…)
    assert "admin" in services.inventory.get("anthropic-org-admin").credential.kind
    sw = Switches(services, call_timeout=3)
    try:
        summary = await sw.panic()
    finally:
        sw.close()
    jobs = _jobs(services)
    admin_job, key_job = jobs["anthropic-org-admin"], jobs["claude-bot"]
    assert "api_keys" not in admin_job.provider_call, admin_job.provider_call
    assert admin_job.provider_call.startswith("manual steps"), admin_job.provider_call
    assert "admin key" in admin_job.provider_call
    assert key_job.provider_call.startswith("POST /v1/organizations/api_keys/")
    # and the run agrees with what the journal said
    states = {r.connector: r.state for r in [*summary.verified, *summary.not_verified]}
    assert states["anthropic-org-admin"] is JobState.MANUAL
    assert states["claude-bot"] is JobState.VERIFIED


def test_call_text_follows_the_kind_of_key():
    assert _call_text("anthropic", "admin key").startswith("manual steps")
    assert _call_text("anthropic", "API key").startswith("POST /v1/organizations/api_keys/")
    assert _call_text("github", "classic PAT") == "POST /credentials/revoke"
    assert _call_text("github", "GitHub App installation token") == "PUT /app/installations/{installation_id}/suspended"
    assert _call_text("github", "OAuth app token") == "DELETE /applications/{client_id}/token"
    assert _call_text("airtable", "personal access token").startswith("manual steps")
    assert _call_text("hubspot", "private-app token").startswith("manual steps")  # only refresh tokens: by API
    assert (
        _call_text("hubspot", "OAuth refresh token") == "POST /oauth/2026-03/token/revoke (OAuth refresh tokens only)"
    )


def test_the_panic_plan_names_every_call_of_a_provider(world, services):
    world.admin("anthropic")
    world.connector("claude-bot", "anthropic")
    sw = Switches(services)
    try:
        text = sw.panic_plan().as_dict()["calls"]["anthropic"]
    finally:
        sw.close()
    assert "/v1/organizations/api_keys/" in text and "manual steps" in text, text
