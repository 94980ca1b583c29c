"""Changes made to the store outside this process: ``breaker disable`` or ``breaker panic`` in another
terminal, a ``breaker gateway`` starting there, a probe-all run by cron.

Every change to the inventory is audited in the same transaction (app.services.audit), so the
audit chain's new events since the last look say what changed and to which connector. Looking is
cheap when nothing changed: one ``PRAGMA data_version`` on a connection of this watcher's own, a
number SQLite moves whenever another connection commits to the file
(https://www.sqlite.org/pragma.html#pragma_data_version); only when it moved are the new events
read (by their primary key, from where the last look stopped). Events this process's own audit log
committed are left out: the panel's own changes already refresh what they touch.

Not for the UI thread: :meth:`StoreWatch.poll` reads the database (call it from a worker thread,
one call at a time).
"""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

GATEWAY_ACTIONS = ("gateway.started", "gateway.stopped")


@dataclass(frozen=True)
class Outside:
    """What other processes changed since the last look."""

    names: frozenset[str]  # the connectors the new events changed ("" for an inventory-wide one); not gateway.*
    actions: frozenset[str]
    gateway: tuple[tuple[str, dict], ...] = field(default=())  # (action, its "new" fields), oldest first

    def __bool__(self) -> bool:
        return bool(self.actions)


NOTHING = Outside(frozenset(), frozenset())


class StoreWatch:
    """Polled by the panel about once a second; see the module docstring."""

    def __init__(self, services) -> None:
        self.services = services
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None
        self.seen: int | None = None  # the newest audit event looked at

    def _connection(self) -> sqlite3.Connection | None:
        path = self.services.settings.db_path
        if path is None:
            return None
        if self._conn is None:
            self._conn = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False, timeout=5
            )
        return self._conn

    def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        conn = self._connection()
        if conn is not None:
            return conn.execute(sql, params).fetchall()
        from sqlalchemy import text  # another database (PostgreSQL): a pooled connection per look

        marked = sql.replace("?", ":p0")
        with self.services.engine.connect() as c:
            return [tuple(r) for r in c.execute(text(marked), {"p0": params[0]} if params else {}).all()]

    def start(self) -> None:
        """From now on: the newest event so far counts as seen (call before reading what is shown)."""
        with self._lock:
            if self.seen is None:
                self.seen = self._newest()

    def _newest(self) -> int:
        return self._rows("SELECT coalesce(max(seq), 0) FROM audit_event")[0][0]

    def moved(self) -> bool:
        """Another connection committed since the last call (always True without SQLite)."""
        conn = self._connection()
        if conn is None:
            return True
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        moved, self._version = version != self._version, version
        return moved

    def poll(self) -> Outside:
        """The changes other processes committed since the last poll (NOTHING when none)."""
        with self._lock:
            if self.seen is None:
                self.seen = self._newest()
                self.moved()
                return NOTHING
            if not self.moved():
                return NOTHING
            rows = self._rows(
                "SELECT seq, connector, action, new_json FROM audit_event WHERE seq > ? ORDER BY seq", (self.seen,)
            )
            if not rows:
                return NOTHING
            self.seen = rows[-1][0]
        audit = self.services.audit
        wrote = getattr(audit, "wrote", lambda _seq: False)
        theirs = [r for r in rows if not wrote(r[0])]
        if not theirs:
            return NOTHING
        gateway = []
        for _seq, _name, action, new_json in theirs:
            if action in GATEWAY_ACTIONS:
                try:
                    new = json.loads(new_json or "null")
                except ValueError:
                    new = None
                gateway.append((action, new if isinstance(new, dict) else {}))
        # A gateway's events (a request held, answered, forwarded) change no connector: not in names.
        names = frozenset(r[1] for r in theirs if not r[2].startswith("gateway."))
        return Outside(names, frozenset(r[2] for r in theirs), tuple(gateway))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


# -- a gateway serving from another process -----------------------------------------------------------


@dataclass(frozen=True)
class Serving:
    url: str
    where: str  # "breaker gateway", "panel (process 123)"


def same_address(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.hostname, pa.port) == (pb.hostname, pb.port)


def answers(url: str, timeout: float = 0.5) -> bool:
    """Something accepts connections at ``url``'s address (loopback: microseconds)."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=timeout):
            return True
    except OSError:
        return False


def serving_elsewhere(services, url: str, scan: int = 20_000) -> Serving | None:
    """A gateway at ``url`` another process started, and whose port still answers: the newest
    gateway.started/stopped event for that address (among the newest ``scan`` events) is a start,
    and the address accepts connections. None otherwise (never started, stopped, or gone without
    saying so — killed)."""
    watch = StoreWatch(services)
    try:
        rows = watch._rows(
            "SELECT action, new_json FROM audit_event WHERE seq > (SELECT coalesce(max(seq), 0) FROM audit_event) - ? "
            "AND action IN (?, ?) ORDER BY seq DESC".replace("(?, ?)", "('gateway.started', 'gateway.stopped')"),
            (scan,),
        )
    finally:
        watch.close()
    for action, new_json in rows:
        try:
            new = json.loads(new_json or "null")
        except ValueError:
            continue
        if not isinstance(new, dict) or not same_address(str(new.get("url", "")), url):
            continue
        if action != "gateway.started":
            return None
        return Serving(str(new["url"]), str(new.get("where", ""))) if answers(url) else None
    return None
