"""Schema migrations: a small versioned scheme instead of Alembic.

Why not Alembic: Breaker's schema is small, ships inside one package, and must migrate a
single-user SQLite file on start-up with no extra tool or ini file. Each migration is a
function from version N-1 to N, run in one transaction; the version lives in ``breaker_meta``.
A database whose version is newer than this code knows is refused, never touched.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from app.store import models
from app.store.snapshot import SCHEMA_VERSION


class SchemaError(Exception):
    pass


def _v1_initial(conn: Connection) -> None:
    SQLModel.metadata.create_all(conn)


def _v2_review(conn: Connection) -> None:
    """The weekly review (issue 11): columns on review and review_answer, and the review_week table."""
    columns = {
        "review": [
            ("iso_week", "VARCHAR NOT NULL DEFAULT ''"),
            ("queue_json", "VARCHAR NOT NULL DEFAULT '[]'"),
            ("findings_json", "VARCHAR NOT NULL DEFAULT '{}'"),
            ("carried", "INTEGER NOT NULL DEFAULT 0"),
            ("report_html", "VARCHAR NOT NULL DEFAULT ''"),
            ("report_sha256", "VARCHAR NOT NULL DEFAULT ''"),
        ],
        "probe": [("provider_last_used_at", "DATETIME")],
        "review_answer": [
            ("at", "DATETIME"),
            ("detail", "VARCHAR NOT NULL DEFAULT ''"),
            ("until", "DATETIME"),
            ("outcome", "VARCHAR NOT NULL DEFAULT ''"),
            ("digest", "VARCHAR NOT NULL DEFAULT ''"),
            ("severity", "VARCHAR NOT NULL DEFAULT ''"),
            ("drift_since", "DATETIME"),
        ],
    }
    inspector = inspect(conn)
    for table, wanted in columns.items():
        have = {c["name"] for c in inspector.get_columns(table)}
        for name, ddl in wanted:
            if name not in have:  # a database created at version 2 already has them (create_all)
                conn.execute(text(f'ALTER TABLE {table} ADD COLUMN "{name}" {ddl}'))
    models.ReviewWeek.__table__.create(conn, checkfirst=True)


def _v3_credential_binding(conn: Connection) -> None:
    """credential.binding: the seal of where a key may be sent (app.services.binding)."""
    columns = {c["name"] for c in inspect(conn).get_columns("credential")}
    if "binding" not in columns:  # a database made by create_all at this version has it already
        conn.execute(text("ALTER TABLE credential ADD COLUMN binding VARCHAR NOT NULL DEFAULT ''"))


def _v4_discovery(conn: Connection) -> None:
    """Discovery (breaker scan): remembered folders, found MCP servers, the places keys are wired."""
    for table in (models.ScanFolder, models.FoundServer, models.FoundPlace):
        table.__table__.create(conn, checkfirst=True)


def _v5_gateway(conn: Connection) -> None:
    """The gateway's tables (issue 13): routes, issued tokens (hashes only), usage, held requests."""
    names = ("gateway_route", "gateway_token", "gateway_use", "gateway_hold")
    SQLModel.metadata.create_all(conn, tables=[SQLModel.metadata.tables[n] for n in names])


def _v6_audit_pending(conn: Connection) -> None:
    """Audit entries written while the keyring was locked, waiting to be sealed into the chain."""
    models.AuditPending.__table__.create(conn, checkfirst=True)


def _v7_hold_holder(conn: Connection) -> None:
    """gateway_hold.holder: the gateway process holding the request (app.services.queue.holder_id), so
    an answer is never offered for a hold whose gateway has stopped."""
    columns = {c["name"] for c in inspect(conn).get_columns("gateway_hold")}
    if "holder" not in columns:  # a database made by create_all at this version has it already
        conn.execute(text("ALTER TABLE gateway_hold ADD COLUMN holder VARCHAR NOT NULL DEFAULT ''"))


# version → migration that produces it. Append only; never edit a released step.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _v1_initial,
    2: _v2_review,
    3: _v3_credential_binding,
    4: _v4_discovery,
    5: _v5_gateway,
    6: _v6_audit_pending,
    7: _v7_hold_holder,
}
CURRENT_VERSION = max(MIGRATIONS)
# The fast read path names this schema's tables in its own SQL: a new migration must update it too.
if CURRENT_VERSION != SCHEMA_VERSION:
    raise ImportError(f"app.store.snapshot reads schema {SCHEMA_VERSION}; migrations reach {CURRENT_VERSION}")


def current_version(conn: Connection) -> int | None:
    """The database's schema version; None for an empty database."""
    tables = set(inspect(conn).get_table_names())
    if not tables:
        return None
    if "breaker_meta" not in tables:
        raise SchemaError(
            "this database was not made by Breaker (it has tables but no breaker_meta); "
            "Breaker left it untouched. Point --db at another file."
        )
    row = conn.execute(text("SELECT value FROM breaker_meta WHERE key = 'schema_version'")).first()
    if row is None:
        raise SchemaError("this Breaker database has no schema version; it may be damaged. Breaker left it untouched.")
    return int(row[0])


def upgrade(engine: Engine) -> int:
    with engine.begin() as conn:
        version = current_version(conn)
        if version is not None and version > CURRENT_VERSION:
            raise SchemaError(
                f"this database uses schema version {version}, made by a newer Breaker; this one knows "
                f"version {CURRENT_VERSION}. Upgrade Breaker (pip install -U breaker); the database was not changed."
            )
        start = 0 if version is None else version
        for target in range(start + 1, CURRENT_VERSION + 1):
            MIGRATIONS[target](conn)
            _set_meta(conn, "schema_version", str(target))
        if version is None:
            _set_meta(conn, "install_id", uuid.uuid4().hex[:12])
    return CURRENT_VERSION


def _set_meta(conn: Connection, key: str, value: str) -> None:
    updated = conn.execute(text("UPDATE breaker_meta SET value = :v WHERE key = :k"), {"k": key, "v": value})
    if updated.rowcount == 0:
        conn.execute(text("INSERT INTO breaker_meta (key, value) VALUES (:k, :v)"), {"k": key, "v": value})


def install_id(engine: Engine) -> str:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT value FROM breaker_meta WHERE key = 'install_id'")).first()
    if row is None:
        raise SchemaError("this Breaker database has no install id; it may be damaged.")
    return row[0]
