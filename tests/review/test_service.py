"""The review service on a stored inventory: a review that resumes, answers and decisions (audited),
the report (no secret, every connector, nothing external, its hash audited) and the migration."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from datetime import timedelta

import pytest

import app.services.review.figures
import app.services.review.report
import app.services.review.service  # noqa: F401
from app.services.inventory import ValidationError
from app.services.review import ReviewError
from tests.tui.seed import KEYS, NOW, frozen_time, seed


@pytest.fixture
def review(services):
    with frozen_time(NOW) as clock:
        seed(services, clock)
        yield services.review, clock


def events(services, action):
    return [e for e in services.audit.recent(services.engine, 500) if e.action == action]


def test_a_review_resumes_with_its_answers(review, services):
    svc, _clock = review
    state = svc.start(NOW)
    assert state.items and len(state.items) <= 10
    first = state.items[0].name
    svc.answer(state.id, first, "task", "yes", "still needed")
    svc.answer(state.id, first, "data", "dont_know")
    again = svc.start(NOW + timedelta(hours=1))  # leave and come back: the same review
    assert again.id == state.id
    assert again.item(first).answers == {"task": ("yes", "still needed"), "data": ("dont_know", "")}
    assert [i.name for i in again.items] == [i.name for i in state.items]  # the queue stays frozen
    assert len(events(services, "review.answer")) == 2 and len(events(services, "review.start")) == 1


def test_keep_of_a_high_risk_item_needs_a_reason(review, services):
    svc, _ = review
    state = svc.start(NOW)
    high = next(i for i in state.items if i.high_risk)
    with pytest.raises(ValidationError) as err:
        svc.check_decision(state, high.name, "keep", reason="  ")
    assert "reason" in err.value.errors
    d = svc.check_decision(state, high.name, "keep", reason="the release depends on it", now=NOW)
    assert d.until == NOW + timedelta(weeks=4)
    svc.decide(state.id, d)
    assert svc.state(state.id).item(high.name).decision.reason == "the release depends on it"
    [event] = events(services, "review.decide")
    assert json.loads(event.new_json)["decision"] == "keep"


def test_snooze_needs_a_reason_and_an_end_within_90_days(review):
    svc, _ = review
    state = svc.start(NOW)
    name = state.items[0].name
    with pytest.raises(ValidationError) as err:
        svc.check_decision(state, name, "snooze", reason="", until=NOW + timedelta(days=91), now=NOW)
    assert set(err.value.errors) == {"reason", "until"}
    ok = svc.check_decision(state, name, "snooze", reason="after the audit", until=NOW + timedelta(days=90), now=NOW)
    assert ok.until == NOW + timedelta(days=90)


def test_reassign_changes_the_owner_through_the_inventory(review, services):
    svc, _ = review
    state = svc.start(NOW)
    name = "anthropic-admin" if any(i.name == "anthropic-admin" for i in state.items) else state.items[0].name
    with pytest.raises(ValidationError):
        svc.check_decision(state, name, "reassign", detail="")
    svc.decide(state.id, svc.check_decision(state, name, "reassign", detail="Priya", reason="she runs it now"))
    assert services.inventory.get(name).owner == "Priya"


def test_finish_writes_the_report_and_audits_its_hash(review, services):
    svc, clock = review
    state = svc.start(NOW)
    clock.now = NOW + timedelta(minutes=20)
    finished = svc.finish(state.id)
    assert finished.finished_at is not None
    md, html = svc.report(fmt="md"), svc.report(fmt="html")
    [event] = events(services, "review.finish")
    body = json.loads(event.new_json)
    assert body["report_md_sha256"] == hashlib.sha256(md.encode()).hexdigest()
    assert body["report_html_sha256"] == hashlib.sha256(html.encode()).hexdigest()
    with pytest.raises(ReviewError):
        svc.answer(state.id, state.items[0].name, "task", "yes")  # a finished review is closed


def test_the_report_holds_no_secret_names_every_connector_and_nothing_external(review, services):
    svc, _ = review
    state = svc.start(NOW)
    svc.finish(state.id)
    md, html = svc.report(fmt="md"), svc.report(fmt="html")
    for text in (md, html):
        for key in KEYS.values():
            assert key not in text and key[-12:] not in text
        assert "SANDBOX" not in text
        for view in services.inventory.list():
            assert view.name in text
    lowered = html.lower()
    assert "<script" not in lowered and "http://" not in lowered and "https://" not in lowered
    assert not re.search(r"\b(src|href|xlink:href)\s*=", lowered)
    assert "@import" not in lowered and "url(" not in lowered
    assert "<svg" in lowered and "<style>" in lowered


def test_report_escapes_what_the_owner_typed(review, services):
    svc, _ = review
    state = svc.start(NOW)
    name = state.items[0].name
    svc.answer(state.id, name, "task", "yes", "<img src=x onerror=alert(1)> | pipe")
    svc.finish(state.id)
    html = svc.report(fmt="html")
    assert "<img" not in html and "&lt;img src=x" in html
    assert "\\| pipe" in svc.report(fmt="md")


def test_version_1_database_is_migrated(tmp_path, memory_keyring):
    from sqlalchemy import create_engine
    from sqlmodel import SQLModel

    from app.store import migrations

    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    # A version-1 database: the tables as they were (review without the new columns).
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE breaker_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
        conn.exec_driver_sql("INSERT INTO breaker_meta VALUES ('schema_version', '1'), ('install_id', 'abc')")
        for table in SQLModel.metadata.sorted_tables:
            if table.name in ("breaker_meta", "review_week"):
                continue
            cols = [
                c
                for c in table.columns
                if not (
                    table.name == "review" and c.name not in ("id", "started_at", "finished_at", "actor", "report_md")
                )
            ]
            cols = [
                c
                for c in cols
                if not (
                    table.name == "review_answer"
                    and c.name not in ("id", "review_id", "connector_id", "item", "answer", "note")
                )
            ]
            cols = [c for c in cols if not (table.name == "probe" and c.name == "provider_last_used_at")]
            conn.exec_driver_sql(f"CREATE TABLE {table.name} ({', '.join(c.name + ' VARCHAR' for c in cols)})")
        conn.exec_driver_sql(
            "INSERT INTO review (id, started_at, actor, report_md) VALUES (1, '2026-01-01', 'x', 'old')"
        )
    assert migrations.upgrade(engine) == migrations.CURRENT_VERSION  # 2 and every later step
    with sqlite3.connect(path) as conn:
        cols = {r[1] for r in conn.execute("PRAGMA table_info(review)")}
        assert {"iso_week", "queue_json", "report_html", "report_sha256"} <= cols
        assert conn.execute("SELECT report_md, queue_json FROM review").fetchone() == ("old", "[]")
        assert conn.execute("SELECT COUNT(*) FROM review_week").fetchone() == (0,)
        assert "provider_last_used_at" in {r[1] for r in conn.execute("PRAGMA table_info(probe)")}


def test_bulk_decisions_only_for_items_sharing_one_recommendation(review, services):
    svc, _ = review
    state = svc.start(NOW)
    by_rec: dict = {}
    for item in state.items:
        by_rec.setdefault(item.recommended, []).append(item.name)
    rec, names = next((r, n) for r, n in by_rec.items() if r[0] and len(n) > 1)
    lone = next(n[0] for r, n in by_rec.items() if r != rec)
    assert sorted(svc.bulk_names(state, names[0])) == sorted(names)
    assert lone not in svc.bulk_names(state, names[0])
    with pytest.raises(ReviewError, match="one by one"):
        svc.decide_bulk(state.id, names[0], "disable", reason="x")
    done = svc.decide_bulk(
        state.id, names[0], "snooze", reason="after the audit", until=NOW + timedelta(days=30), now=NOW
    )
    assert sorted(d.connector for d in done) == sorted(names)
    after = svc.state(state.id)
    assert all(after.item(n).decision.decision == "snooze" for n in names)
    assert after.item(lone).decision is None


def test_the_report_shows_each_decision_s_severity_as_it_stood_when_decided(review, services):
    """A verified disable leaves its connector with no finding; the report still says how severe it
    was when the owner decided."""
    from tests.review.history import disabled_by_switch

    svc, _ = review
    state = svc.start(NOW)
    d = svc.check_decision(state, "anthropic-admin", "disable", now=NOW)
    assert d.severity in ("high", "critical")
    disabled_by_switch(services, "anthropic-admin", NOW)
    svc.decide(state.id, d, outcome="verified")
    svc.finish(state.id)
    row = next(line for line in svc.report(fmt="md").splitlines() if line.startswith("| anthropic-admin |"))
    assert f"| {d.severity} | disable |" in row
