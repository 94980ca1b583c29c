"""The inventory read as plain rows, through the standard library's sqlite3 alone.

Listing every connector is what the panel does at start and what `breaker list` is for
(tests/benchmarks/bench_startup.py times both: the panel's first rows, and the listing against a
bare sqlite3 + json dump). Through
SQLAlchemy, 10,000 connectors cost about 0.4 s of imports and 0.3 s of per-value result processing
before a single view is built. Here four SELECTs in one read transaction return named tuples, with
the timestamp columns parsed once by ``datetime.fromisoformat`` (C) into aware UTC datetimes.

The rows keep the column names of :mod:`app.store.models`, so code that reads ``row.name`` or
``row.last_probe_at`` works on either. The SQL names the tables of schema ``SCHEMA_VERSION``;
``app.store.migrations`` refuses to load if its own current version differs, so a migration that
changes these tables has to come here too.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict, namedtuple
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.store.errors import StoreError, check_sqlite_file, explain

SCHEMA_VERSION = 7

# table → the columns that hold timestamps (stored by SQLAlchemy as ISO text)
_DATES = {
    "connector": ("created_at", "updated_at", "last_probe_at"),
    "credential": ("created_at", "rotated_at", "expires_at", "revoked_at"),
    "scope_grant": ("first_seen", "last_seen"),
}
_QUERIES = {
    # routed: handed out through the gateway (issue 13) — a gateway_route row exists
    "connector": "SELECT c.*, r.connector_id IS NOT NULL AS routed FROM connector c "
    "LEFT JOIN gateway_route r ON r.connector_id = c.id ORDER BY c.name",
    "owner": "SELECT id, name FROM owner",
    "scope_grant": "SELECT * FROM scope_grant",
    "credential": "SELECT * FROM credential WHERE revoked_at IS NULL",
}


def utcnow() -> datetime:
    """Now, timezone-aware UTC: every time Breaker stores or compares."""
    return datetime.now(UTC)


def parse_time(value: Any) -> datetime | None:
    """A stored timestamp as an aware UTC datetime (SQLite keeps them as naive ISO text)."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    try:
        # Naive text, as stored: parsed with its zone in one C call (``.replace`` costs ten times more).
        return datetime.fromisoformat(value + "+00:00")
    except ValueError:  # text that carries its own offset
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class InventoryRows:
    """Every connector, ordered by name, with what the views need beside it (revoked credentials left out)."""

    connectors: list = field(default_factory=list)
    owners: dict[int, str] = field(default_factory=dict)
    grants: dict[int, list] = field(default_factory=lambda: defaultdict(list))
    credentials: dict[int, list] = field(default_factory=lambda: defaultdict(list))


def _rows(conn: Any, table: str, tail: str = "") -> list:
    cursor = conn.cursor()
    try:
        cursor.execute(_QUERIES[table] + tail)
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if table == "owner":
        return rows
    row_type = namedtuple(f"{table}_row", names)
    dates = [names.index(c) for c in _DATES.get(table, ()) if c in names]
    if not dates:
        return [row_type._make(r) for r in rows]
    out = []
    for r in rows:
        values = list(r)
        for i in dates:
            if values[i] is not None:
                values[i] = parse_time(values[i])
        out.append(row_type._make(values))
    return out


def read_inventory(conn: Any, first: int | None = None) -> InventoryRows:
    """Read the inventory on a DBAPI connection (sqlite3's, or the one under an SQLAlchemy engine),
    in one read transaction so the four queries see the same moment.

    ``first=N``: only the first N connectors by name, with their own grants and credentials — the
    panel's first screenful, read before the rest (for 10,000 connectors the whole read and its
    views take most of a second; N of them, milliseconds)."""
    own_transaction = isinstance(conn, sqlite3.Connection) and not conn.in_transaction
    if own_transaction:
        conn.execute("BEGIN")  # deferred: a read lock on the WAL snapshot, never the write lock
    try:
        if first is None:
            result = InventoryRows(connectors=_rows(conn, "connector"), owners=dict(_rows(conn, "owner")))
            grants, credentials = _rows(conn, "scope_grant"), _rows(conn, "credential")
        else:
            connectors = _rows(conn, "connector", f" LIMIT {int(first)}")
            ids = "(" + ",".join(str(int(c.id)) for c in connectors) + ")"  # integers from the table itself
            result = InventoryRows(connectors=connectors, owners=dict(_rows(conn, "owner")))
            grants = _rows(conn, "scope_grant", f" WHERE connector_id IN {ids}")
            credentials = _rows(conn, "credential", f" AND connector_id IN {ids}")
        for g in grants:
            result.grants[g.connector_id].append(g)
        for c in credentials:
            result.credentials[c.connector_id].append(c)
    finally:
        if own_transaction:
            conn.execute("COMMIT")
    return result


def open_current(path: Path, wait: float = 5.0) -> sqlite3.Connection | None:
    """A connection for reading the SQLite file at ``path`` when it exists and is at this code's
    schema; None when it does not exist yet or needs the full store (to be created, migrated, or
    refused with the migrations' message). A folder or another program's file raises StoreError.
    ``wait``: seconds to wait for a writer's lock (0: raise at once)."""
    if not check_sqlite_file(path):
        return None
    conn = None
    try:
        # mode=rw: never create the file (it could vanish after the check; the full store makes it, 0600)
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=wait, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "breaker_meta" not in tables:
            conn.close()
            return None
        row = conn.execute("SELECT value FROM breaker_meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise StoreError(explain(exc, str(path))) from None
    if row is None or row[0] != str(SCHEMA_VERSION):
        conn.close()
        return None
    return conn


# `breaker list --json` shows fewer columns than a view holds: it reads only those, as plain tuples in
# this order, timestamps as stored (its records parse the four they show). app.services.export.listing_records
# turns them into records; tests/services/test_snapshot_read.py holds those equal to the views' records.
LISTING_CONNECTOR = (
    "id",
    "name",
    "provider",
    "owner_id",
    "purpose_access",
    "purpose_task",
    "purpose_forbidden",
    "environment",
    "mode",
    "base_url",
    "client",
    "tags",
    "last_probe_at",
    "last_outcome",
    "live_level",
    "switch_state",
)
LISTING_GRANT = ("connector_id", "scope", "level", "source")
LISTING_CREDENTIAL = (
    "connector_id",
    "id",
    "active",
    "tier",
    "fingerprint",
    "last4",
    "kind",
    "created_at",
    "rotated_at",
    "expires_at",
)


@dataclass
class ListingRows:
    """Every connector's listed columns (:data:`LISTING_CONNECTOR`), ordered by name; owners' names by
    id; by connector id, its grants and unrevoked credentials (:data:`LISTING_GRANT` and
    :data:`LISTING_CREDENTIAL` without the leading connector_id)."""

    connectors: list[tuple]
    owners: dict[int, str]
    grants: dict[int, list[tuple]]
    credentials: dict[int, list[tuple]]


def read_listing_file(path: Path, wait: float = 5.0) -> ListingRows | None:
    """What `breaker list --json` shows of the inventory in the SQLite file at ``path``, in one read
    transaction; None when only the full store can open it (see :func:`open_current`)."""
    conn = open_current(path, wait)
    if conn is None:
        return None
    try:
        conn.execute("BEGIN")  # deferred: a read lock on the WAL snapshot, never the write lock
        connectors = conn.execute(f"SELECT {', '.join(LISTING_CONNECTOR)} FROM connector ORDER BY name").fetchall()
        owners = dict(conn.execute("SELECT id, name FROM owner").fetchall())
        grants: dict[int, list[tuple]] = defaultdict(list)
        for g in conn.execute(f"SELECT {', '.join(LISTING_GRANT)} FROM scope_grant").fetchall():
            grants[g[0]].append(g[1:])
        credentials: dict[int, list[tuple]] = defaultdict(list)
        query = f"SELECT {', '.join(LISTING_CREDENTIAL)} FROM credential WHERE revoked_at IS NULL"
        for c in conn.execute(query).fetchall():
            credentials[c[0]].append(c[1:])
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise StoreError(explain(exc, str(path))) from None
    finally:
        conn.close()
    return ListingRows(connectors, owners, grants, credentials)


def read_inventory_and_install_id(path: Path, wait: float = 5.0) -> tuple[InventoryRows, str] | None:
    """The inventory in the SQLite file at ``path`` and its install id (which names its keys in the
    keyring), or None as :func:`read_inventory_file`: what `breaker probe` needs to start probing
    before the store stack is imported."""
    conn = open_current(path, wait)
    if conn is None:
        return None
    try:
        rows = read_inventory(conn)
        found = conn.execute("SELECT value FROM breaker_meta WHERE key = 'install_id'").fetchone()
    except sqlite3.Error as exc:
        raise StoreError(explain(exc, str(path))) from None
    finally:
        conn.close()
    return (rows, found[0]) if found is not None else None  # no install id: the full store says what is wrong


def read_inventory_file(path: Path, first: int | None = None, wait: float = 5.0) -> InventoryRows | None:
    """The inventory in the SQLite file at ``path`` (``first``: see :func:`read_inventory`), or
    None when only the full store can open it (see :func:`open_current`, which takes ``wait``)."""
    conn = open_current(path, wait)
    if conn is None:
        return None
    try:
        return read_inventory(conn, first)
    except sqlite3.Error as exc:
        raise StoreError(explain(exc, str(path))) from None
    finally:
        conn.close()
