"""Many rows in one statement, for the hot paths: a probe-all's results and their audit events.

SQLAlchemy's executemany spends about 50 µs of Python per row on building parameters and
processing types. Beside a probe-all, whose event loop shares the GIL with the results writer,
that was the larger part of Breaker's own cost. On SQLite these helpers hand the rows straight to
the driver's ``executemany``, inside the session's own transaction, converting the two types that
need it as SQLModel and SQLAlchemy store them: an aware datetime as ``YYYY-MM-DD HH:MM:SS.ffffff``
UTC text (a naive one is refused, as SQLModel's UTCDateTime refuses it), a Boolean as 0/1. On any other database they are Core statements. tests/services/test_bulk_writes.py holds what
they store equal to what the ORM stores; tests/benchmarks/bench_probe.py is the benchmark they answer to.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Table, bindparam
from sqlalchemy.orm import Session

from app.store.errors import StoreError, explain


def sqlite_time(moment: datetime) -> str:
    """An aware datetime as SQLModel's UTCDateTime stores it on SQLite: UTC, no offset."""
    if moment.utcoffset() is None:  # refused, as UTCDateTime refuses it: a naive time is ambiguous
        raise ValueError("a naive datetime cannot be stored; Breaker's times are aware UTC")
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f}"


def _converter(table: Table, name: str) -> Callable[[Any], Any] | None:
    kind = table.c[name].type
    kind = getattr(kind, "impl", kind)  # a TypeDecorator (SQLModel's UTCDateTime) stores as its impl
    if isinstance(kind, DateTime):
        return lambda value: None if value is None else sqlite_time(value)
    if isinstance(kind, Boolean):
        return lambda value: None if value is None else int(bool(value))
    return None


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _driver(session: Session):
    """The session's sqlite3 connection (in its transaction), or None on another database."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return None
    return connection.connection.driver_connection


def _executemany(driver: sqlite3.Connection, sql: str, values: list[list[Any]]) -> None:
    # The driver's own errors, in the words app.store.db gives SQLAlchemy's (locked, damaged, full …).
    try:
        driver.executemany(sql, values)
    except sqlite3.Error as exc:
        raise StoreError(explain(exc, "the database")) from None


def _values(table: Table, names: list[str], rows: list[dict[str, Any]]) -> list[list[Any]]:
    values = [[row[name] for name in names] for row in rows]
    for i, name in enumerate(names):
        convert = _converter(table, name)
        if convert is not None:
            for row in values:
                row[i] = convert(row[i])
    return values


def insert_many(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT every row (all with the same keys) in one executemany."""
    if not rows:
        return
    driver = _driver(session)
    if driver is None:
        session.execute(table.insert(), rows)
        return
    names = list(rows[0])
    columns = ", ".join(_quoted(name) for name in names)
    sql = f"INSERT INTO {_quoted(table.name)} ({columns}) VALUES ({', '.join('?' * len(names))})"
    _executemany(driver, sql, _values(table, names, rows))


def update_many(
    session: Session, table: Table, rows: list[dict[str, Any]], key: str = "id", only: dict[str, Any] | None = None
) -> None:
    """UPDATE each row by ``key`` (every row with the same keys) in one executemany; ``only``: more
    column = value conditions, the same for every row (e.g. ``{"active": True}``)."""
    if not rows:
        return
    names = [name for name in rows[0] if name != key]
    only = only or {}
    driver = _driver(session)
    if driver is None:
        renamed = [{("b_" + k if k == key else k): v for k, v in row.items()} for row in rows]
        session.execute(
            table.update()
            .where(table.c[key] == bindparam("b_" + key), *(table.c[name] == value for name, value in only.items()))
            .values({name: bindparam(name) for name in names}),
            renamed,
        )
        return
    assignments = ", ".join(f"{_quoted(name)} = ?" for name in names)
    conditions = " AND ".join(f"{_quoted(name)} = ?" for name in [key, *only])
    sql = f"UPDATE {_quoted(table.name)} SET {assignments} WHERE {conditions}"
    fixed = [{**row, **only} for row in rows] if only else rows
    _executemany(driver, sql, _values(table, [*names, key, *only], fixed))
