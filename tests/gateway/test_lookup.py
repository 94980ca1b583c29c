"""The per-request read (app.services.gateway.Lookup): kept between commits, read again after any.

The gateway keeps the routes it read until something is committed to the store (``PRAGMA
data_version``): these tests count the SELECTs the lookup's own connection runs, and check that a
mode written by another connection or another process, a revoked token and a new token are all
seen by the very next lookup.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from app.services.gateway import Gateway, Lookup, settled
from connectors.base import Mode
from tests.gateway.conftest import add_routed


def counting(lookup: Lookup) -> list[str]:
    seen: list[str] = []
    assert lookup._conn is not None
    lookup._conn.set_trace_callback(lambda sql: seen.append(sql) if "gateway_token" in sql else None)
    return seen


def test_a_route_is_read_once_while_nothing_is_committed(services):
    token = add_routed(services, "chat-bot", "http://127.0.0.1:9")
    lookup = Lookup(services)
    selects = counting(lookup)
    try:
        first = lookup.route(token)
        assert first is not None and first.mode is Mode.FULL
        for _ in range(20):
            assert lookup.route(token) == first
        assert len(selects) == 1
        assert lookup.route("brk_not-a-token") is None
        assert lookup.route("brk_not-a-token") is None
        assert len(selects) == 2
    finally:
        lookup.close()


def test_a_mode_committed_by_this_process_or_another_is_seen_by_the_next_lookup(services):
    token = add_routed(services, "chat-bot", "http://127.0.0.1:9")
    lookup = Lookup(services)
    selects = counting(lookup)
    try:
        assert lookup.route(token).mode is Mode.FULL
        with services.engine.begin() as conn:  # the store's own connection (a switch in this process)
            conn.exec_driver_sql("UPDATE connector SET mode = 'read-only' WHERE name = 'chat-bot'")
        assert lookup.route(token).mode is Mode.READ_ONLY
        db = str(services.settings.db_path)
        script = (
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "c.execute(\"UPDATE connector SET mode = 'disabled' WHERE name = 'chat-bot'\")"
        )
        subprocess.run([sys.executable, "-c", script, db], check=True)  # `breaker disable` in another process
        assert lookup.route(token).mode is Mode.DISABLED
        assert len(selects) == 3
    finally:
        lookup.close()


def test_a_revoked_token_is_refused_and_a_new_one_accepted_at_the_next_lookup(services):
    token = add_routed(services, "chat-bot", "http://127.0.0.1:9")
    lookup = Lookup(services)
    try:
        route = lookup.route(token)
        assert route is not None
        gw = Gateway(services)
        newer = gw.issue("chat-bot", "second agent").token
        assert lookup.route(newer) is not None
        assert gw.revoke("chat-bot", route.token_id)
        assert lookup.route(token) is None
        assert lookup.route(newer) is not None
    finally:
        lookup.close()


def test_what_is_kept_is_bounded(services, monkeypatch):
    token = add_routed(services, "chat-bot", "http://127.0.0.1:9")
    monkeypatch.setattr(Lookup, "MAX_KEPT", 8)
    lookup = Lookup(services)
    try:
        for n in range(50):
            assert lookup.route(f"brk_unknown-{n}") is None
            assert len(lookup._kept) <= 8
        assert lookup.route(token) is not None
    finally:
        lookup.close()


def test_the_lookup_never_writes(services):
    """It reads through its own connection only: a write there would move other readers' data_version."""
    add_routed(services, "chat-bot", "http://127.0.0.1:9")
    lookup = Lookup(services)
    try:
        assert lookup._conn is not None
        assert lookup._conn.total_changes == 0
        lookup.route("brk_x")
        assert lookup._conn.total_changes == 0
        assert isinstance(lookup._conn, sqlite3.Connection)
    finally:
        lookup.close()


def pragmas(lookup: Lookup) -> list[str]:
    seen: list[str] = []
    assert lookup._conn is not None
    lookup._conn.set_trace_callback(lambda sql: seen.append(sql) if "data_version" in sql else None)
    return seen


def test_while_nothing_is_committed_the_wal_index_header_answers_instead_of_the_pragma(services):
    token = add_routed(services, "chat-bot", "http://127.0.0.1:9")
    lookup = Lookup(services)
    asked = pragmas(lookup)
    try:
        for _ in range(3):
            assert lookup.route(token) is not None
        if lookup._shm is None:
            pytest.skip("no /proc/self/fd here: the PRAGMA answers every lookup")
        before = len(asked)
        for _ in range(20):
            assert lookup.route(token).mode is Mode.FULL
        assert len(asked) == before  # the header did not move: no PRAGMA
    finally:
        lookup.close()


def test_every_commit_moves_the_header_and_is_seen_by_the_next_lookup(services):
    """Commits from the store's engine, a plain connection and another process, one after another,
    each seen by the very next lookup — also when the WAL is checkpointed and restarted between."""
    token = add_routed(services, "chat-bot", "http://127.0.0.1:9")
    db = str(services.settings.db_path)
    lookup = Lookup(services)
    asked = pragmas(lookup)
    other = sqlite3.connect(db, isolation_level=None)
    script = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
        "c.execute(\"UPDATE connector SET mode = ? WHERE name = 'chat-bot'\", (sys.argv[2],))"
    )
    modes = [Mode.READ_ONLY, Mode.FULL, Mode.DRAFT_ONLY, Mode.DISABLED]
    try:
        assert lookup.route(token).mode is Mode.FULL
        for n in range(24):
            mode = modes[n % len(modes)]
            if n % 3 == 0:
                with services.engine.begin() as conn:
                    conn.exec_driver_sql("UPDATE connector SET mode = ? WHERE name = 'chat-bot'", (mode.value,))
            elif n % 3 == 1:
                other.execute("UPDATE connector SET mode = ? WHERE name = 'chat-bot'", (mode.value,))
            else:
                subprocess.run([sys.executable, "-c", script, db, mode.value], check=True)
            if n % 8 == 7:
                other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            asked_before = len(asked)
            assert lookup.route(token).mode is mode
            assert len(asked) == asked_before + 1  # the header moved: SQLite was asked
            assert lookup.route(token).mode is mode
    finally:
        other.close()
        lookup.close()


def test_only_a_settled_wal_index_header_is_kept():
    header = (3007000).to_bytes(4, sys.byteorder) + bytes(8) + b"\x01" + bytes(35)
    assert settled(header + header)
    assert not settled(header + header[:-1] + b"\x02")  # a writer between the two copies
    assert not settled(bytes(96))  # not initialised
    assert not settled((header + header)[:95])
    assert not settled(None)
