"""Opening the database: engine, SQLite pragmas, file permissions, schema checks.

An existing file is never dropped or rewritten: a damaged file, a file that is not SQLite,
or a database from a newer Breaker is refused with a message that says what to do.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError, OperationalError
from sqlmodel import Session, create_engine

from app.store import migrations
from app.store.errors import SQLITE_MAGIC, StoreError, check_sqlite_file, explain  # noqa: F401  (re-exported)


def _prepare_sqlite_file(path: Path) -> None:
    """Create the folder and the file (mode 0600) before SQLite does, or check an existing file."""
    if check_sqlite_file(path):
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)


# How long a short write waits for the write lock. Two shells adding 50 connectors each while a
# probe-all writes its batches queued past 5 s on a loaded 2-core machine (issue 10): 58 of 100
# adds failed "database is locked". A write holds the lock for milliseconds; waiting 60 s for it is
# waiting one's turn, not a hang (tests/hardening/test_audit_and_concurrency.py).
BUSY_TIMEOUT_MS = 60_000


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin (see _begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")  # wait for another writer instead of failing
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


WRITE = {"breaker_write": True}


def _begin(conn) -> None:
    # A unit of work (session_scope) takes the write lock at its start: two processes (the panel
    # and a `breaker panic` over SSH) then queue on busy_timeout instead of both reading the same
    # audit chain tail and forking it. Plain reads begin deferred, so a long read (verifying
    # 100,000 audit events) never holds the write lock against an emergency.
    if conn.get_execution_options().get("breaker_write"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def make_engine(db_url: str) -> Engine:
    if db_url.startswith("sqlite"):
        prefix = "sqlite:///"
        if db_url.startswith(prefix) and db_url != "sqlite:///:memory:":
            _prepare_sqlite_file(Path(db_url[len(prefix) :]))
        engine = create_engine(db_url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin)
    else:
        try:
            engine = create_engine(db_url, pool_pre_ping=True)
        except ModuleNotFoundError as exc:  # e.g. postgresql:// without its driver installed
            raise StoreError(
                f"the database URL needs the Python package {exc.name!r}, which is not installed "
                f"(e.g. `pip install psycopg` for postgresql+psycopg://); nothing was changed"
            ) from None
        except (ArgumentError, NoSuchModuleError, ValueError):
            scheme = db_url.split("://", 1)[0]
            raise StoreError(
                f"the database URL ({scheme}://…) is not one Breaker can open: use a SQLite file path, "
                "sqlite:///PATH, or a SQLAlchemy URL such as postgresql+psycopg://user@host/breaker"
            ) from None
    return engine


def open_store(db_url: str) -> Engine:
    """An engine on a database at the current schema, migrating an older one forward."""
    try:
        engine = make_engine(db_url)
    except OSError as exc:
        raise StoreError(f"cannot create the database file: {exc.strerror}") from None
    try:
        migrations.upgrade(engine)
        if db_url.startswith("sqlite"):
            # WAL only once the file is known to be ours: switching a foreign SQLite file to WAL
            # would rewrite its header. The setting is persistent, so this runs once per file.
            raw = engine.raw_connection()  # outside any transaction: SQLite refuses the switch inside one
            try:
                raw.cursor().execute("PRAGMA journal_mode = WAL")  # readers never block the writer
            finally:
                raw.close()
    except migrations.SchemaError as exc:
        engine.dispose()
        raise StoreError(str(exc)) from None
    except OperationalError as exc:
        engine.dispose()
        raise StoreError(_explain(exc, db_url)) from None
    except (DatabaseError, sqlite3.DatabaseError) as exc:
        engine.dispose()
        raise StoreError(_explain(exc, db_url)) from None
    return engine


def _explain(exc: Exception, db_url: str) -> str:
    return explain(exc, db_url.split("///")[-1] if db_url.startswith("sqlite") else "the database")


def writer(engine: Engine) -> Engine:
    """The same engine (same pool), marked so its transactions take the write lock at BEGIN.

    Kept on the engine itself: a cycle the collector frees with the engine. (A WeakKeyDictionary
    kept every engine alive for good: its value, the marked engine, holds the key.)"""
    marked = engine.__dict__.get("_breaker_writer")
    if marked is None:
        marked = engine.__dict__["_breaker_writer"] = engine.execution_options(**WRITE)
    return marked


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: committed on success, rolled back on any error."""
    session = Session(writer(engine), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except OperationalError as exc:
        session.rollback()
        raise StoreError(_explain(exc, str(engine.url))) from None
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
