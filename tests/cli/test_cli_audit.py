"""`breaker audit`: listing, JSON, and --verify catching rows edited, deleted, reordered or cut off in SQLite."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.cli.conftest import GITHUB_KEY


@pytest.fixture
def five_events(breaker, add_github):
    """owner.add, connector.add ×3, connector.edit: events 1…5."""
    add_github("a")
    add_github("b", GITHUB_KEY[:-1] + "Q")
    add_github("c", GITHUB_KEY[:-1] + "R")
    assert breaker("edit", "a", "--owner", "Tom").code == 0
    r = breaker("audit", "--verify")
    assert r.code == 0 and "audit chain intact: 6 events" in r.out, r.out
    return 6


@pytest.fixture
def db(cli_home):
    conn = sqlite3.connect(cli_home / "breaker.db")
    yield conn
    conn.close()


def _verify(breaker):
    r = breaker("audit", "--verify")
    assert "Traceback" not in r.err
    return r


def test_listing_and_json(breaker, five_events):
    r = breaker("audit")
    assert r.code == 0
    assert "connector.add" in r.out and "owner.add" in r.out
    doc = json.loads(breaker("audit", "--json", "--limit", "2").out)
    assert doc["schema"] == "breaker.audit/1" and doc["chain"] is None
    assert [e["seq"] for e in doc["events"]] == [5, 6]
    assert set(doc["events"][0]) == {"seq", "at", "actor", "connector", "action", "old", "new", "outcome"}
    doc = json.loads(breaker("audit", "--verify", "--json").out)
    assert doc["chain"]["ok"] is True and doc["chain"]["events"] == 6 and doc["events"] == []


def test_connector_filter(breaker, five_events):
    doc = json.loads(breaker("audit", "--json", "--connector", "a").out)
    assert {e["connector"] for e in doc["events"]} == {"a"}
    assert [e["action"] for e in doc["events"]] == ["connector.add", "connector.edit"]


def test_edited_row(breaker, five_events, db):
    db.execute("UPDATE audit_event SET new_json = replace(new_json, 'Priya', 'Mallory') WHERE seq = 2")
    db.commit()
    r = _verify(breaker)
    assert r.code == 1
    assert "BROKEN at event 2" in r.out and "changed after it was written" in r.out


def test_edited_actor_or_outcome(breaker, five_events, db):
    db.execute("UPDATE audit_event SET outcome = 'failed' WHERE seq = 4")
    db.commit()
    r = _verify(breaker)
    assert r.code == 1 and "BROKEN at event 4" in r.out


def test_deleted_row(breaker, five_events, db):
    db.execute("DELETE FROM audit_event WHERE seq = 3")
    db.commit()
    r = _verify(breaker)
    assert r.code == 1
    assert "BROKEN at event 3" in r.out and "missing" in r.out


def test_reordered_rows(breaker, five_events, db):
    db.execute("UPDATE audit_event SET seq = -1 WHERE seq = 2")
    db.execute("UPDATE audit_event SET seq = 2 WHERE seq = 3")
    db.execute("UPDATE audit_event SET seq = 3 WHERE seq = -1")
    db.commit()
    r = _verify(breaker)
    assert r.code == 1
    assert "BROKEN at event 2" in r.out and "reordered" in r.out


def test_truncated_tail(breaker, five_events, db):
    db.execute("DELETE FROM audit_event WHERE seq >= 5")
    db.commit()
    r = _verify(breaker)
    assert r.code == 1
    assert "BROKEN at event 5" in r.out and "cut off" in r.out


def test_rewritten_chain_without_the_key_is_caught(breaker, five_events, db):
    """Recomputing macs with a guessed key (SHA-256 without the install key) does not pass."""
    import hashlib

    rows = db.execute("SELECT seq, prev_mac, mac FROM audit_event ORDER BY seq").fetchall()
    prev = "0" * 64
    for seq, _prev, _mac in rows:
        fake = hashlib.sha256(f"{prev}{seq}".encode()).hexdigest()
        db.execute("UPDATE audit_event SET prev_mac = ?, mac = ? WHERE seq = ?", (prev, fake, seq))
        prev = fake
    db.commit()
    r = _verify(breaker)
    assert r.code == 1 and "BROKEN at event 1" in r.out


def test_verify_json_names_the_first_broken_event(breaker, five_events, db):
    db.execute("DELETE FROM audit_event WHERE seq = 2")
    db.commit()
    r = breaker("audit", "--verify", "--json")
    assert r.code == 1
    chain = json.loads(r.out)["chain"]
    assert chain["ok"] is False and chain["first_broken"] == 2 and "missing" in chain["reason"]


def test_an_edited_row_does_not_break_the_listing(breaker, five_events, db):
    db.execute("UPDATE audit_event SET new_json = '{not json' WHERE seq = 2")
    db.commit()
    r = breaker("audit", "--json")
    assert r.code == 0
    assert json.loads(r.out)["events"][1]["new"] == "{not json"
    assert _verify(breaker).code == 1
