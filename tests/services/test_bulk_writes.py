"""app.store.bulk writes exactly what the ORM writes: the same stored text, the same values read back.

The probe-all writer and the audit log hand their rows to the SQLite driver directly; if the text
of a timestamp differed from SQLAlchemy's by a character, ordering by time and reading rows back
would quietly go wrong.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlmodel import Session, select

from app.services.inventory import ConnectorInput
from app.store.bulk import insert_many, update_many
from app.store.db import session_scope
from app.store.models import Connector, Credential, Probe
from connectors.base import Secret

GITHUB_KEY = "ghp_SANDBOX" + "b" * 30 + "BULK"
WHEN = datetime(2026, 3, 2, 8, 30, 5, 123456, tzinfo=UTC)


def _probe_fields(connector_id: int, **over) -> dict:
    fields = dict(
        connector_id=connector_id,
        at=WHEN,
        outcome="ok",
        status=200,
        identity="bot",
        live_scopes_json='[["repo", 3]]',
        live_level=3,
        latency_ms=101.5,
        error="",
        deep=True,
        token_kind="classic",
        expires_at=WHEN + timedelta(days=30),
    )
    fields.update(over)
    return fields


def _stored(db, table: str, row_id: int) -> tuple:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone()[1:]  # all but the id


def test_a_bulk_insert_stores_what_the_orm_stores(services):
    view = services.inventory.add(ConnectorInput(name="gh"), Secret(GITHUB_KEY))
    for over in (
        {},
        {"deep": False, "expires_at": None, "status": None, "live_level": None},
        {"at": WHEN.astimezone(timezone(timedelta(hours=2)))},
    ):  # an offset other than UTC
        with session_scope(services.engine) as s:
            orm = Probe(**_probe_fields(view.id, **over))
            s.add(orm)
            s.flush()
            orm_id = orm.id
            insert_many(s, Probe.__table__, [_probe_fields(view.id, **over)])
            bulk_id = s.exec(select(Probe.id).order_by(Probe.id.desc())).first()
        assert bulk_id == orm_id + 1
        orm_text, bulk_text = (
            _stored(services.settings.db_path, "probe", orm_id),
            _stored(services.settings.db_path, "probe", bulk_id),
        )
        assert bulk_text == orm_text
        with Session(services.engine) as s:
            back = s.get(Probe, bulk_id)
        assert back.at == over.get("at", WHEN) and back.deep is over.get("deep", True)
        assert back.expires_at == over.get("expires_at", WHEN + timedelta(days=30))


def test_a_naive_time_is_refused_as_the_orm_refuses_it(services):
    view = services.inventory.add(ConnectorInput(name="gh"), Secret(GITHUB_KEY))
    with pytest.raises(ValueError, match="naive"):
        with session_scope(services.engine) as s:
            insert_many(s, Probe.__table__, [_probe_fields(view.id, at=WHEN.replace(tzinfo=None))])
    with Session(services.engine) as s:
        assert s.exec(select(Probe)).all() == []  # nothing was written


def test_a_bulk_update_by_id_stores_what_the_orm_stores(services):
    a = services.inventory.add(ConnectorInput(name="a"), Secret(GITHUB_KEY))
    b = services.inventory.add(ConnectorInput(name="b"), Secret(GITHUB_KEY.replace("BULK", "BULL")))
    with session_scope(services.engine) as s:
        row = s.get(Connector, a.id)
        row.last_probe_at, row.last_outcome, row.live_level = WHEN, "ok", 4
        s.add(row)
    with session_scope(services.engine) as s:
        update_many(
            s, Connector.__table__, [{"id": b.id, "last_probe_at": WHEN, "last_outcome": "ok", "live_level": 4}]
        )
    db = services.settings.db_path
    with sqlite3.connect(db) as conn:
        texts = conn.execute("SELECT last_probe_at, last_outcome, live_level FROM connector ORDER BY name").fetchall()
    assert texts[0] == texts[1]
    assert services.inventory.get("b").last_probe_at == WHEN and services.inventory.get("b").live_level == 4


def test_a_bulk_update_with_conditions_touches_only_the_matching_rows_and_stores_what_the_orm_stores(services):
    """A probe's expiry goes to the connector's active key only (update_many(..., only=...))."""
    a = services.inventory.add(ConnectorInput(name="a"), Secret(GITHUB_KEY))
    b = services.inventory.add(ConnectorInput(name="b"), Secret(GITHUB_KEY.replace("BULK", "BULL")))
    with session_scope(services.engine) as s:  # b also holds an old, inactive key
        s.add(Credential(connector_id=b.id, keyring_ref="old", fingerprint="f", active=False))
    with session_scope(services.engine) as s:
        s.execute(
            Credential.__table__.update()
            .where(Credential.connector_id == a.id, Credential.active.is_(True))
            .values(expires_at=WHEN)
        )
        update_many(
            s,
            Credential.__table__,
            [{"connector_id": b.id, "expires_at": WHEN}],
            key="connector_id",
            only={"active": True},
        )
    with sqlite3.connect(services.settings.db_path) as conn:
        rows = conn.execute("SELECT connector_id, active, expires_at FROM credential ORDER BY id").fetchall()
    by_key = {(cid, active): expires for cid, active, expires in rows}
    assert by_key[(a.id, 1)] == by_key[(b.id, 1)] is not None  # the same stored text as the ORM's
    assert by_key[(b.id, 0)] is None  # the inactive key is left alone
    assert services.inventory.get("b").credential.expires_at == WHEN


def test_a_driver_error_is_the_stores_one_line_message_and_nothing_is_kept(services):
    from app.store.errors import StoreError

    view = services.inventory.add(ConnectorInput(name="gh"), Secret(GITHUB_KEY))
    with sqlite3.connect(services.settings.db_path) as conn:  # the disk "fills up" on the next probe row
        conn.execute(
            "CREATE TRIGGER full BEFORE INSERT ON probe BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END"
        )
    with pytest.raises(StoreError, match="disk is full"):
        with session_scope(services.engine) as s:
            insert_many(s, Probe.__table__, [_probe_fields(view.id)])
    with Session(services.engine) as s:
        assert s.exec(select(Probe)).all() == []
