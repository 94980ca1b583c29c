"""What can be wrong with a database file, in words for the owner. Standard library only, so the
fast read path (:mod:`app.store.snapshot`) gives the same messages as the full store."""

from __future__ import annotations

from pathlib import Path

SQLITE_MAGIC = b"SQLite format 3\x00"


class StoreError(Exception):
    """The store cannot be opened or written. The message is for the owner; no traceback."""


def check_sqlite_file(path: Path) -> bool:
    """True when ``path`` is an existing SQLite file, False when it does not exist yet; raises
    :class:`StoreError` for a folder or another program's file (which is never touched).

    The header is read through SQLite (read-only), never with a plain ``open()``: closing any plain
    descriptor of a file drops every POSIX lock this process holds on it, SQLite's included. A panel
    that had checked its open database so lost its locks, and the next process to close the
    database (a CLI command, the gateway's child) deleted the WAL under it: from then on the panel
    read a forked copy and never saw the gateway's held requests."""
    if not path.exists():
        return False
    if path.is_dir():
        raise StoreError(f"{path} is a folder, not a database file.")
    import sqlite3

    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=0)
        try:
            conn.execute("PRAGMA schema_version").fetchone()  # reads the header
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorcode", None) == 26 or "not a database" in str(exc):  # SQLITE_NOTADB
            raise StoreError(
                f"{path} is not a SQLite database (damaged, or another program's file). "
                "Breaker left it untouched; move it aside or point --db elsewhere."
            ) from None
        # busy, malformed further in, unreadable: a SQLite file; the store explains the rest
    return True


def explain(exc: Exception, where: str) -> str:
    """One line for a database error (SQLAlchemy's or sqlite3's) on the database ``where``."""
    text = str(getattr(exc, "orig", exc)).lower()
    if "locked" in text or "busy" in text:
        return f"{where} is locked by another program (another Breaker?). Try again in a moment."
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return (
            f"{where} is damaged. Breaker left it untouched; restore it from a backup, "
            "or move it aside to start a new inventory."
        )
    if "disk is full" in text or "database or disk is full" in text or "no space" in text:
        return f"{where}: the disk is full, so nothing more could be written. Free some space and try again."
    if "readonly" in text or "read-only" in text or "permission" in text:
        return f"{where} cannot be written (permissions)."
    return f"{where}: database error ({type(exc).__name__})."
