"""Every finding rule of the weekly review, with its edges (issue 11). Pure: no store, no Textual."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.services.review.findings import (
    Facts,
    Severity,
    findings_for,
    forbidden_level,
)
from app.services.review.queue import LastDecision, build_queue, digest, keep_until, risk
from app.services.views import ConnectorView, CredentialView
from app.settings import ReviewSettings
from connectors.base import Grant, Level, Mode

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
S = ReviewSettings()


def cred(age_days: int | None = 10, expires_in: float | None = 400, fingerprint: str = "fp1") -> CredentialView:
    return CredentialView(
        fingerprint=fingerprint,
        last4="abcd",
        tier="primary",
        kind="",
        active=True,
        created_at=None if age_days is None else NOW - timedelta(days=age_days),
        rotated_at=None,
        expires_at=None if expires_in is None else NOW + timedelta(days=expires_in),
        revoked_at=None,
        keyring_ref="ref",
    )


def view(**over) -> ConnectorView:
    base = dict(
        id=1,
        name="bot",
        provider="github",
        owner="Dana",
        purpose_access="the docs repository",
        purpose_task="read issues",
        purpose_forbidden="",
        environment="test",
        mode=Mode.FULL,
        base_url="",
        env_var="",
        client="",
        tags=(),
        extra={},
        declared=(Grant("issues", Level.READ),),
        observed=(Grant("issues", Level.READ),),
        credentials=(cred(),),
        last_probe_at=NOW - timedelta(hours=2),
        last_outcome="ok",
        live_level=Level.READ,
        switch_state=None,
        created_at=NOW - timedelta(days=60),
        updated_at=NOW - timedelta(days=60),
    )
    base.update(over)
    return ConnectorView(**base)


def facts(v: ConnectorView | None = None, **over) -> Facts:
    return Facts(view=v or view(), now=NOW, **over)


def rules(f: Facts) -> dict[str, Severity]:
    return {x.rule: x.severity for x in findings_for(f, S)}


def test_a_clean_connector_has_no_finding():
    assert findings_for(facts(), S) == []


# -- the purpose sentence's "may not" ---------------------------------------------------------------
def test_live_level_that_can_do_what_is_forbidden_is_critical():
    v = view(
        purpose_task="summarise the daily stand-up",
        purpose_forbidden="post messages",
        live_level=Level.SEND,
        observed=(Grant("chat:write", Level.SEND),),
        declared=(Grant("chat:write", Level.SEND),),
    )
    assert forbidden_level(v) is Level.SEND
    found = findings_for(facts(v), S)
    assert found[0].rule == "forbidden" and found[0].severity is Severity.CRITICAL
    assert "post messages" in found[0].reason and found[0].recommendation == "reduce"


def test_forbidden_below_the_live_level_is_no_finding():
    v = view(purpose_task="summarise", purpose_forbidden="post messages", live_level=Level.WRITE)
    assert "forbidden" not in rules(facts(v))


def test_forbidden_that_the_task_itself_needs_cannot_be_told_by_level():
    # "post answers" needs send, so "may not post in other channels" is about channels, not levels.
    v = view(purpose_task="post answers", purpose_forbidden="post in other channels", live_level=Level.SEND)
    assert forbidden_level(v) is None and "forbidden" not in rules(facts(v))


# -- ceiling and drift ----------------------------------------------------------------------------
def test_disabled_but_working_is_critical_and_above_ceiling_is_high():
    off = view(mode=Mode.DISABLED, live_level=Level.READ)
    assert rules(facts(off))["ceiling"] is Severity.CRITICAL
    high = view(mode=Mode.DRAFT_ONLY, live_level=Level.SEND, observed=(Grant("issues", Level.READ),))
    assert rules(facts(high))["ceiling"] is Severity.HIGH
    assert "ceiling" not in rules(facts(view(mode=Mode.DRAFT_ONLY, live_level=Level.DRAFT)))


def test_undeclared_scopes_are_drift_critical_at_write_and_above():
    write = view(observed=(Grant("issues", Level.READ), Grant("contents", Level.WRITE)), live_level=Level.WRITE)
    assert rules(facts(write))["drift"] is Severity.CRITICAL
    read = view(observed=(Grant("issues", Level.READ), Grant("meta", Level.READ)))
    assert rules(facts(read))["drift"] is Severity.MEDIUM


def test_declared_scopes_never_seen_live():
    v = view(declared=(Grant("issues", Level.READ), Grant("pulls", Level.READ)))
    found = {x.rule: x for x in findings_for(facts(v), S)}
    assert found["declared-unseen"].severity is Severity.LOW and "pulls" in found["declared-unseen"].reason


# -- use -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("days", "expected"),
    [(29, None), (30, Severity.MEDIUM), (89, Severity.MEDIUM), (90, Severity.HIGH)],
)
def test_unused_for_30_days_high_at_90(days, expected):
    f = facts(provider_last_used=NOW - timedelta(days=days))
    assert rules(f).get("unused") is expected


def test_unused_takes_the_latest_of_provider_and_breaker_use():
    f = facts(provider_last_used=NOW - timedelta(days=100), breaker_last_used=NOW - timedelta(days=3))
    assert "unused" not in rules(f)
    f = facts(provider_last_used=NOW - timedelta(days=40), breaker_last_used=NOW - timedelta(days=100))
    found = next(x for x in findings_for(f, S) if x.rule == "unused")
    assert "40 days" in found.reason and "the provider" in found.reason


def test_unknown_use_is_no_claim():
    assert "unused" not in rules(facts())


def test_connectors_younger_than_14_days_are_left_out():
    used = NOW - timedelta(days=45)
    young = view(created_at=NOW - timedelta(days=13, hours=23))
    old_enough = view(created_at=NOW - timedelta(days=14))
    assert "unused" not in rules(facts(young, provider_last_used=used))
    assert rules(facts(old_enough, provider_last_used=used))["unused"] is Severity.MEDIUM


def test_own_probes_are_not_a_use_the_provider_reports():
    from app.services.review.service import provider_use

    p1, p2 = NOW - timedelta(days=50), NOW - timedelta(days=20)
    # GitLab reports each probe's own request as the last use: only Breaker since the first probe
    assert provider_use([(p1, p1 - timedelta(seconds=2)), (p2, p2 - timedelta(seconds=1))]) == (
        None,
        p1 - timedelta(seconds=2),
    )
    # a use 11 minutes before a probe is someone else's
    other = p2 - timedelta(minutes=11)
    assert provider_use([(p1, p1), (p2, other)]) == (other, None)
    assert provider_use([(p1, None)]) == (None, None)


def test_only_own_probes_since_40_days_is_unused():
    f = facts(provider_quiet_since=NOW - timedelta(days=40))
    found = next(x for x in findings_for(f, S) if x.rule == "unused")
    assert found.severity is Severity.MEDIUM and "no use seen since" in found.reason
    assert "unused" not in rules(facts(provider_quiet_since=NOW - timedelta(days=29)))


def test_routed_through_the_gateway_with_no_request_is_unused():
    assert rules(facts(routed_since=NOW - timedelta(days=31)))["unused"] is Severity.MEDIUM
    assert rules(facts(routed_since=NOW - timedelta(days=95)))["unused"] is Severity.HIGH
    assert "unused" not in rules(facts(routed_since=NOW - timedelta(days=10)))
    # a request forwarded 3 days ago is a use
    used = {Level.READ: NOW - timedelta(days=3)}
    assert "unused" not in rules(facts(routed_since=NOW - timedelta(days=95), breaker_last_used=used[Level.READ]))


def _gateway_facts(v=None, routed_days=60, levels=None, **over):
    levels = levels if levels is not None else {Level.READ: NOW - timedelta(days=2)}
    return facts(
        v
        or view(
            observed=(Grant("issues", Level.READ), Grant("contents:write", Level.WRITE), Grant("admin", Level.ADMIN)),
            declared=(Grant("issues", Level.READ), Grant("contents:write", Level.WRITE), Grant("admin", Level.ADMIN)),
            live_level=Level.ADMIN,
        ),
        routed_since=NOW - timedelta(days=routed_days),
        level_last_used=levels,
        breaker_last_used=max(levels.values()) if levels else None,
        **over,
    )


def test_levels_held_but_not_used_through_the_gateway():
    found = next(x for x in findings_for(_gateway_facts(), S) if x.rule == "unused-level")
    assert found.severity is Severity.MEDIUM and "write, admin" in found.reason and "read level" in found.reason
    assert (found.recommendation, found.detail) == ("reduce", "read-only")
    # routed 95 days and nothing above read in 90 days: high
    assert rules(_gateway_facts(routed_days=95))["unused-level"] is Severity.HIGH
    # a write request 40 days ago: still idle for 30 days, but not for 90
    levels = {Level.READ: NOW - timedelta(days=2), Level.WRITE: NOW - timedelta(days=40)}
    assert rules(_gateway_facts(routed_days=95, levels=levels))["unused-level"] is Severity.MEDIUM
    # write used within the window: only admin is idle, no mode cuts admin alone → rotate
    levels = {Level.WRITE: NOW - timedelta(days=5)}
    found = next(x for x in findings_for(_gateway_facts(levels=levels), S) if x.rule == "unused-level")
    assert "admin" in found.reason and "write," not in found.reason and found.recommendation == "rotate"
    # everything held was used: nothing
    levels = {Level.ADMIN: NOW - timedelta(days=5)}
    assert "unused-level" not in rules(_gateway_facts(levels=levels))


def test_level_use_is_known_only_when_the_gateway_carries_every_use():
    # routed for less than the window: the gateway has not watched 30 days
    assert "unused-level" not in rules(_gateway_facts(routed_days=20))
    # the key itself was handed out by breaker exec within the window
    assert "unused-level" not in rules(_gateway_facts(key_handed_out=NOW - timedelta(days=9)))
    assert "unused-level" in rules(_gateway_facts(key_handed_out=NOW - timedelta(days=45)))
    # the provider saw a use two days after the gateway's last request: something went around it
    assert "unused-level" not in rules(_gateway_facts(provider_last_used=NOW))
    # no gateway route at all: unknown, no claim
    f = facts(
        view(observed=(Grant("issues", Level.READ), Grant("admin", Level.ADMIN)), live_level=Level.ADMIN),
        level_last_used={Level.READ: NOW - timedelta(days=2)},
    )
    assert "unused-level" not in rules(f)


def test_a_young_connector_has_no_unused_level_13_vs_14_days():
    held = (Grant("issues", Level.READ), Grant("admin", Level.ADMIN))
    young = view(observed=held, declared=held, live_level=Level.ADMIN, created_at=NOW - timedelta(days=13, hours=23))
    old = view(observed=held, declared=held, live_level=Level.ADMIN, created_at=NOW - timedelta(days=14))
    assert "unused-level" not in rules(_gateway_facts(young))
    assert "unused-level" in rules(_gateway_facts(old))


def test_unused_thresholds_are_settings():
    f = facts(provider_last_used=NOW - timedelta(days=12))
    assert "unused" not in rules(f)
    quick = ReviewSettings(unused_days=10, unused_high_days=12)
    assert {x.rule: x.severity for x in findings_for(f, quick)}["unused"] is Severity.HIGH
    assert "unused-level" in {x.rule for x in findings_for(_gateway_facts(routed_days=12), quick)}


# -- keys --------------------------------------------------------------------------------------------
def test_key_older_than_90_days():
    assert "key-age" not in rules(facts(view(credentials=(cred(age_days=90),))))
    assert rules(facts(view(credentials=(cred(age_days=91),))))["key-age"] is Severity.MEDIUM


def test_a_key_with_no_creation_date_or_no_key_at_all():
    assert "key-age" not in rules(facts(view(credentials=(cred(age_days=None),))))
    assert findings_for(facts(view(credentials=())), S) == []


@pytest.mark.parametrize(
    ("days_left", "expected"),
    [
        (31, None),
        (30, Severity.LOW),
        (8, Severity.LOW),
        (7, Severity.MEDIUM),
        (1.5, Severity.MEDIUM),
        (1, Severity.HIGH),
        (0.1, Severity.HIGH),
        (-2, Severity.HIGH),
    ],
)
def test_expiring_within_30_7_and_1_days(days_left, expected):
    f = facts(view(credentials=(cred(expires_in=days_left),)))
    assert rules(f).get("expiring") is expected


def test_a_key_that_never_expires():
    assert rules(facts(view(credentials=(cred(expires_in=None),))))["no-expiry"] is Severity.LOW


def test_shared_key_no_owner_no_purpose():
    found = rules(facts(view(owner="", purpose_access="", purpose_task=""), shared_with=("other",)))
    assert found["shared-key"] is Severity.HIGH
    assert found["no-owner"] is Severity.MEDIUM and found["no-purpose"] is Severity.MEDIUM


@pytest.mark.parametrize(
    ("env", "mode", "level", "expected"),
    [
        ("prod", Mode.FULL, Level.WRITE, Severity.HIGH),
        ("prod", Mode.FULL, Level.ADMIN, Severity.HIGH),
        ("prod", Mode.FULL, Level.DRAFT, None),
        ("test", Mode.FULL, Level.SEND, None),
        ("prod", Mode.DRAFT_ONLY, Level.DRAFT, None),
    ],
)
def test_write_send_admin_in_production_without_draft_only(env, mode, level, expected):
    v = view(environment=env, mode=mode, live_level=level, observed=(Grant("issues", Level.READ),))
    assert rules(facts(v)).get("prod-write") is expected


# -- stale data ----------------------------------------------------------------------------------------
def test_never_probed_says_probe_first_and_nothing_else_recommends():
    v = view(last_probe_at=None, last_outcome=None, live_level=None, observed=(), owner="")
    found = findings_for(facts(v, shared_with=("x",)), S)
    stale = [x for x in found if x.rule == "stale"]
    assert stale and stale[0].reason.startswith("Data stale: probe first") and stale[0].recommendation == "probe"
    assert all(x.recommendation == "" for x in found if x.rule != "stale")
    assert {x.rule for x in found} >= {"shared-key", "no-owner"}  # still shown, just no advice


def test_failed_probe_and_old_probe_are_stale():
    assert "stale" in rules(facts(view(last_outcome="unreachable")))
    assert "stale" not in rules(facts(view(last_probe_at=NOW - timedelta(days=7, hours=23))))
    assert "stale" in rules(facts(view(last_probe_at=NOW - timedelta(days=8))))


def test_a_disabled_connector_whose_key_is_dead_is_not_failing():
    v = view(mode=Mode.DISABLED, last_outcome="revoked", live_level=None, observed=(), switch_state="verified")
    assert findings_for(facts(v), S) == []


# -- the checklist and discovery -----------------------------------------------------------------------
def test_dont_know_after_two_reviews():
    assert "dont-know" not in rules(facts(dont_know={"data": 1}))
    found = next(x for x in findings_for(facts(dont_know={"data": 2, "task": 1}), S) if x.rule == "dont-know")
    assert "data" in found.reason and "task" not in found.reason


def test_found_by_discovery_and_never_reviewed():
    v = view(tags=("unreviewed", "discovered"))
    f = facts(v, discovered=True, found_in=("Claude Desktop: ~/.config/Claude/claude_desktop_config.json",))
    found = next(x for x in findings_for(f, S) if x.rule == "discovered")
    assert found.severity is Severity.MEDIUM and "Claude Desktop" in found.reason
    assert "discovered" not in rules(facts(v, discovered=True, reviewed=True))
    # what an old record's free-form extra said is not discovery
    assert "discovered" not in rules(facts(view(extra={"discovered_by": "x"})))


# -- the queue -----------------------------------------------------------------------------------------
def _queue(views, last=None, now=NOW, cap=10, shared=None):
    fs = {v.name: Facts(v, now, shared_with=(shared or {}).get(v.name, ())) for v in views}
    found = {n: findings_for(f, S) for n, f in fs.items()}
    return build_queue(fs, found, last or {}, now, cap)


def test_queue_sorted_by_level_times_shared_and_never_expiring_then_capped():
    a = view(id=1, name="a", live_level=Level.WRITE, observed=(Grant("issues", Level.READ),))
    b = view(id=2, name="b", live_level=Level.READ, credentials=(cred(expires_in=None),))
    c = view(id=3, name="c", live_level=Level.ADMIN, observed=(Grant("issues", Level.READ),))
    q = _queue([a, b, c], shared={"b": ("x",)}, cap=2)
    assert [i.name for i in q.items] == ["c", "b"] and [i.name for i in q.carried] == ["a"]
    assert [i.risk for i in q.items] == [5, 4]


def test_a_snooze_holds_until_its_end():
    v = view(owner="")  # a medium finding: due unless snoozed
    d = digest(v)
    snooze = {"bot": LastDecision("snooze", NOW - timedelta(days=10), NOW + timedelta(days=1), d, "medium")}
    assert "snoozed" in _queue([v], snooze).skipped["bot"]
    later = NOW + timedelta(days=1)
    assert [i.name for i in _queue([v], snooze, now=later).items] == ["bot"]


def test_a_keep_holds_while_unchanged_and_lapses():
    v = view(owner="")
    kept_at = NOW - timedelta(weeks=3)
    keep = {"bot": LastDecision("keep", kept_at, keep_until(kept_at, Severity.MEDIUM, S), digest(v), "medium")}
    assert "kept" in _queue([v], keep).skipped["bot"]
    # changed since the keep: asked again at once
    changed = replace(v, mode=Mode.DRAFT_ONLY, live_level=Level.READ)
    assert "changed" in _queue([changed], keep).items[0].why
    # a high-risk keep lapses after 4 weeks, any other after 12
    high = {"bot": LastDecision("keep", kept_at, keep_until(kept_at, Severity.HIGH, S), digest(v), "high")}
    assert _queue([v], high, now=kept_at + timedelta(weeks=4)).items[0].why.startswith("the keep")
    assert "kept" in _queue([v], keep, now=kept_at + timedelta(weeks=11)).skipped["bot"]
    assert _queue([v], keep, now=kept_at + timedelta(weeks=12)).items[0].why.startswith("the keep")


def test_unchanged_and_clean_after_a_decision_is_not_asked():
    v = view()
    last = {"bot": LastDecision("reduce", NOW - timedelta(days=7), None, digest(v), "")}
    q = _queue([v], last)
    assert not q.items and "nothing risky" in q.skipped["bot"]


def test_risk_of_a_disabled_connector_is_zero():
    v = view(mode=Mode.DISABLED, live_level=None, last_outcome="revoked", credentials=(cred(expires_in=None),))
    assert risk(Facts(v, NOW), []) == 0
