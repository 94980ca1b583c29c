"""Three weeks of weekly reviews on the seeded inventory, made through the review service: shared
by the figures tests (a hand count of each KPI) and the figures screen's snapshot."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from app.store.db import session_scope
from app.store.models import Connector, ScopeGrant
from tests.tui.seed import NOW

WEEK = timedelta(days=7)
HOUR = timedelta(hours=1)


def exec_used(services, clock, name, when):
    saved = clock.now
    clock.now = when
    with session_scope(services.engine) as s:
        services.audit.record(s, "exec", name, new={"command": "true"}, outcome="ok")
    clock.now = saved


def decide(svc, state, name, decision, now, reason="", detail="", outcome=""):
    d = svc.check_decision(state, name, decision, reason=reason, detail=detail, now=now)
    return svc.decide(state.id, d, outcome=outcome)


def disabled_by_switch(services, name, at):
    """What a verified disable leaves in the store: mode disabled, key revoked, no live scope."""
    with session_scope(services.engine) as s:
        row = s.exec(select(Connector).where(Connector.name == name)).one()
        row.mode, row.live_level, row.last_outcome, row.switch_state, row.last_probe_at = (
            "disabled",
            None,
            "revoked",
            "verified",
            at,
        )
        s.add(row)
        for g in s.exec(select(ScopeGrant).where(ScopeGrant.connector_id == row.id, ScopeGrant.source == "observed")):
            s.delete(g)


def build_three_weeks(services, clock):
    """Weeks 10, 11 and 12 of 2026 on the seeded inventory (call inside frozen_time, after seed)."""
    if True:
        svc = services.review
        exec_used(services, clock, "github-issues-bot", NOW - timedelta(days=40))
        exec_used(services, clock, "gitlab-ci", NOW - timedelta(days=1))

        # Week 10: the first review — everything is new, so all 10 are due.
        state = svc.start(NOW)
        assert len(state.items) == 10 and state.carried == 0
        for item in ("task", "data", "tools", "actions", "identity", "validation", "monitoring", "revocation"):
            svc.answer(state.id, "github-issues-bot", item, "yes")
            svc.answer(state.id, "gitlab-ci", item, "yes")
        svc.answer(state.id, "stripe-refunds", "task", "dont_know")
        decide(svc, state, "github-issues-bot", "keep", NOW, reason="triage needs labels")
        decide(svc, state, "gitlab-ci", "keep", NOW)
        decide(svc, state, "slack-digest", "reduce", NOW, detail="draft-only", outcome="verified")
        decide(svc, state, "stripe-refunds", "keep", NOW)
        clock.now = NOW + HOUR
        svc.finish(state.id, NOW + HOUR)

        # Week 11: kept items are not asked again; anthropic-admin is disabled, openai-support rotated.
        t = NOW + WEEK
        clock.now = t
        state = svc.start(t)
        assert sorted(i.name for i in state.items) == sorted(
            [
                "slack-digest",
                "openai-support",
                "openai-support-test",
                "anthropic-admin",
                "sendgrid-newsletter",
                "notion-wiki",
                "hubspot-crm",
            ]
        )
        d = svc.check_decision(state, "anthropic-admin", "disable", now=t)
        disabled_by_switch(services, "anthropic-admin", t)  # the switch runs between check and record
        svc.decide(state.id, d, outcome="verified")
        decide(svc, state, "openai-support", "rotate", t, outcome="verified")
        decide(svc, state, "openai-support-test", "keep", t, reason="staging only")
        clock.now = t + HOUR
        svc.finish(state.id, t + HOUR)

        # Week 12: the test connector is gone (no more shared key); two keeps.
        t = NOW + 2 * WEEK
        clock.now = t
        services.inventory.remove("openai-support-test", delete_key=False)
        state = svc.start(t)
        assert sorted(i.name for i in state.items) == sorted(
            ["slack-digest", "anthropic-admin", "openai-support", "sendgrid-newsletter", "notion-wiki", "hubspot-crm"]
        )
        decide(svc, state, "notion-wiki", "keep", t, reason="wiki answers")
        decide(svc, state, "hubspot-crm", "keep", t)
        clock.now = t + HOUR
        svc.finish(state.id, t + HOUR)
        return svc
