"""The audit log: every change, probe, switch, exec, panic and review, hash-chained.

Each event's ``mac`` is HMAC-SHA256, keyed by a per-install key in the keyring, over the previous
event's mac and a canonical JSON form of this event. The chain's head (last seq and mac) is kept
in the keyring beside the key after every commit, so an edited, deleted, reordered or cut-off
row breaks the chain, and write access to the database alone is not enough to forge it.

**When the keyring cannot be read** (locked, or absent in a new SSH session) the chain's key is out
of reach, yet the emergency disable must still record what it does. Such events are not dropped
and not refused: they go to ``audit_pending``, in order, each chained to the one before by a plain
SHA-256 (the first to the sealed chain's last mac), in the same transaction as the change they
describe. They are *unsealed*: without the key, anyone who can write the database could rewrite
them consistently, so they are sealed at the first chance — the next audited write made with the
keyring open moves every waiting entry into the HMAC chain (its own time kept, the SHA-256 links
checked first; a mismatch is recorded as a break), adds an ``audit.sealed`` event saying how many
and when they were written, and deletes them from ``audit_pending``, all in one transaction.
``verify`` reports them plainly ("N entries waiting to be sealed"), and says which part could not
be checked when the keyring is out of reach. Design notes: docs/audit.md.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import logging
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from app.services.keyrings import NoKeyringError
from app.services.secrets import SecretStore, SecretStoreError
from app.store.bulk import insert_many
from app.store.models import AuditEvent, AuditPending, utcnow
from connectors.base import Secret

GENESIS = "0" * 64
HEAD_REF = "install:audit-head"
# Set (never cleared by a write) when a write finds the chain's head or key gone: the break stays
# visible in `audit --verify` and the panel's audit screen instead of being papered over.
BROKEN_REF = "install:audit-broken"
_TAIL = "breaker_audit_tail"
_PENDING = "breaker_audit_pending"  # this transaction writes unsealed entries (the keyring is out of reach)
_FIRST = "breaker_audit_first"  # the first sequence number this transaction writes
# What a keyring that cannot be read raises (app.services.secrets): the audit key is out of reach.
KEYRING_UNAVAILABLE = (NoKeyringError, SecretStoreError)


def keyring_problem(exc: BaseException) -> str:
    """Why the keyring could not be read, as the end of "…the keyring, which …": no advice about
    storing keys (nothing is being stored), one line, the backend's own words masked (secrets.py)."""
    if isinstance(exc, NoKeyringError):
        return "could not be found: no usable OS keyring in this session (`breaker doctor` says what to set up)"
    detail = getattr(exc, "detail", "")
    return f"could not be read ({detail}): is it locked? `breaker doctor` checks it" if detail else str(exc)


def _pending_hash(prev: str, row: dict[str, Any]) -> str:
    body = (
        f'{{"action":{encode_basestring(row["action"])},"actor":{encode_basestring(row["actor"])},'
        f'"at":{encode_basestring(row["at"].isoformat())},"connector":{encode_basestring(row["connector"])},'
        f'"new":{row["new_json"]},"old":{row["old_json"]},"outcome":{encode_basestring(row["outcome"])}}}'
    )
    return hashlib.sha256((prev + body).encode()).hexdigest()


class SecretInAuditError(TypeError):
    """Someone tried to put a Secret into an audit value. Refused before anything is written."""


def _default(value: Any) -> Any:
    if isinstance(value, Secret):
        raise SecretInAuditError("a secret cannot be written to the audit log or an export")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "value") and isinstance(value.value, (str, int)):  # enums
        return value.value
    raise TypeError(f"cannot record a {type(value).__name__} in the audit log")


_CANONICAL = json.JSONEncoder(default=_default, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_CONTAINERS = (dict, list, tuple, set, frozenset)


def canonical_json(value: Any) -> str:
    """Stable JSON (sorted keys, no spaces). Refuses :class:`Secret` anywhere inside ``value``.

    Idempotent: ``canonical_json(json.loads(canonical_json(v))) == canonical_json(v)``, which the
    audit chain relies on (events are written from the text, verified from the text read back)."""
    text = _CANONICAL.encode(value)
    if _has_non_string_keys(value):
        # JSON makes keys strings, and read back they sort as strings ({10: a, 9: b} is written
        # with "9" first, but "10" sorts first once it is a string): settle on the order read back.
        text = _CANONICAL.encode(json.loads(text))
    return text


def _has_non_string_keys(value: Any) -> bool:
    # Called for every audit value: leaves are skipped without a call of their own.
    if type(value) is dict:
        for key, item in value.items():
            if type(key) is not str or (isinstance(item, _CONTAINERS) and _has_non_string_keys(item)):
                return True
        return False
    if isinstance(value, dict):  # a dict subclass
        return _has_non_string_keys(dict(value))
    if isinstance(value, _CONTAINERS):
        return any(_has_non_string_keys(item) for item in value if isinstance(item, _CONTAINERS))
    return False


def _body_json(row: dict[str, Any]) -> str:
    """canonical_json of the body :meth:`AuditLog._body_of` builds, written out directly: the body's
    keys in sorted order are fixed, and ``old_json`` / ``new_json`` are canonical_json texts, which
    read back and written again give the same text (canonical_json is idempotent). verify()
    recomputes every mac the long way; a test holds the two equal on awkward values."""
    quoted = encode_basestring  # json's own string quoting (ensure_ascii=False), without an encoder per call
    return (
        f'{{"action":{quoted(row["action"])},"actor":{quoted(row["actor"])},'
        f'"at":{quoted(row["at"].isoformat())},"connector":{quoted(row["connector"])},'
        f'"new":{row["new_json"]},"old":{row["old_json"]},"outcome":{quoted(row["outcome"])},'
        f'"seq":{int(row["seq"])}}}'
    )


def _pending_problem(entries) -> str:
    """ "" when the waiting entries still chain by SHA-256 (each to the one before), else what is wrong."""
    for before, entry in zip(entries, entries[1:]):
        if entry["prev_hash"] != before["hash"]:
            return "were removed or reordered"
    for entry in entries:
        if _pending_hash(entry["prev_hash"], dict(entry)) != entry["hash"]:
            return "were changed"
    return ""


def actor_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers): still record something honest
        return "unknown"


@dataclass(frozen=True)
class ChainStatus:
    ok: bool
    events: int
    first_broken: int | None = None  # seq of the first event that does not verify
    reason: str = ""
    head_lagging: bool = False  # rows past the head verify: a crash between commit and head update
    pending: int = 0  # entries written while the keyring was out of reach, not sealed yet
    unchecked: str = ""  # why the sealed chain could not be checked at all (the keyring is out of reach)

    def summary(self) -> str:
        waiting = ""
        if self.pending:
            waiting = (
                f"; {self.pending} entr{'y' if self.pending == 1 else 'ies'} written while the keyring could not "
                "be read {verb} waiting to be sealed (the next change made with the keyring open seals them)"
            ).replace("{verb}", "is" if self.pending == 1 else "are")
        if self.unchecked:
            return (
                f"audit chain NOT CHECKED: its key is kept in the keyring, which {self.unchecked}. "
                f"{self.events} sealed events could not be checked{waiting}. Unlock the keyring and run "
                "`breaker audit --verify` again"
            )
        if self.ok:
            tail = " (head caught up after an interrupted write)" if self.head_lagging else ""
            return f"audit chain intact: {self.events} events{tail}{waiting}"
        where = f" at event {self.first_broken}" if self.first_broken is not None else ""
        return f"audit chain BROKEN{where}: {self.reason}{waiting}"


class AuditLog:
    def __init__(self, secrets: SecretStore, actor: str | None = None) -> None:
        self.secrets = secrets
        self.actor = actor or actor_name()
        self._known_head: tuple[int, str] | None = None  # the head this process last saw or wrote
        self.unsealed_written = 0  # entries this process wrote unsealed (the keyring could not be read)
        # The sequence numbers this log committed, as (first, last) ranges, newest last: the panel
        # tells its own changes from another terminal's by them (app.services.changes).
        self.committed: deque[tuple[int, int]] = deque(maxlen=4096)

    # -- a break found by a write stays found ------------------------------------------------------
    def _check_before_write(self, last_seq: int, last_mac: str) -> None:
        """Before chaining onto the newest row: is it the chain's real end? A missing head, a head
        past the newest row (events cut off) or a missing audit key is recorded as a break that
        no later write can heal. Reads the keyring once per process; later writes compare with
        what this process wrote."""
        if last_seq == 0:
            return
        head = self._known_head
        if head is None:
            if not self.secrets.has_install_key("audit"):
                self._mark_broken(
                    last_seq + 1,
                    "the audit key was missing from the keyring and was replaced: events up to "
                    f"{last_seq} can no longer be verified",
                )
                return
            head = self.head()
            if head is None:
                self._mark_broken(
                    last_seq + 1,
                    f"the chain head kept in the keyring was missing when event {last_seq + 1} was written "
                    "(events may have been deleted before it)",
                )
                return
        head_seq, head_mac = head
        if head_seq > last_seq:
            self._mark_broken(
                last_seq + 1, f"the newest {head_seq - last_seq} event(s) were cut off (the head said {head_seq})"
            )
        elif head_seq == last_seq and not hmac.compare_digest(head_mac, last_mac):
            self._mark_broken(last_seq, "the newest event does not match the head in the keyring")

    def _mark_broken(self, seq: int, reason: str) -> None:
        try:
            if self.secrets.get_value(BROKEN_REF) is None:  # the first break found is the one to report
                self.secrets.set_value(BROKEN_REF, f"{seq}:{reason}")
        except Exception:
            logging.getLogger(__name__).warning("audit chain break could not be recorded in the keyring")
        logging.getLogger(__name__).warning("audit chain broken at event %s: %s", seq, reason)

    def recorded_break(self) -> tuple[int, str] | None:
        value = self.secrets.get_value(BROKEN_REF)
        if not value:
            return None
        seq, _, reason = value.partition(":")
        return (int(seq) if seq.isdigit() else 0), reason

    def _mac(self, prev_mac: str, body: dict[str, Any]) -> str:
        key = self.secrets.install_key("audit")
        return hmac.new(key, (prev_mac + canonical_json(body)).encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def _body_of(row: dict[str, Any]) -> dict[str, Any]:
        """What the mac covers: every field of the event but the macs themselves."""
        return {
            "seq": row["seq"],
            "at": row["at"].isoformat(),
            "actor": row["actor"],
            "connector": row["connector"],
            "action": row["action"],
            "old": json.loads(row["old_json"]),
            "new": json.loads(row["new_json"]),
            "outcome": row["outcome"],
        }

    @classmethod
    def _body(cls, ev: AuditEvent) -> dict[str, Any]:
        return cls._body_of(ev.model_dump())

    def record(
        self, session: Session, action: str, connector: str = "", old: Any = None, new: Any = None, outcome: str = "ok"
    ) -> int:
        """Add one event to ``session``'s transaction; it is written (and the head moves) on commit.

        Returns the event's sequence number."""
        return self.record_many(session, [(action, connector, old, new, outcome)])[0]

    def record_many(self, session: Session, items: list[tuple[str, str, Any, Any, str]]) -> list[int]:
        """Add several events (action, connector, old, new, outcome) in one bulk insert.

        Used where many events are written at once (a probe-all, a panic): the chain is the same
        as with :meth:`record`, only the insert is one statement instead of one ORM flush per row.
        """
        # Serialise first: a Secret anywhere raises before anything is added.
        encoded = [
            (action, connector, canonical_json(old), canonical_json(new), outcome)
            for action, connector, old, new, outcome in items
        ]
        tail = session.info.get(_TAIL)
        if tail is None:
            table = AuditEvent.__table__
            last = session.execute(sa_select(table.c.seq, table.c.mac).order_by(table.c.seq.desc()).limit(1)).first()
            tail = (last.seq, last.mac) if last else (0, GENESIS)
            session.info[_FIRST] = tail[0] + 1
            if not session.info.get("breaker_audit_listening"):
                session.info["breaker_audit_listening"] = True
                sa_event.listen(session, "after_commit", self._after_commit)
                sa_event.listen(session, "after_rollback", self._after_rollback)
            try:
                self._check_before_write(*tail)
                self.secrets.install_key("audit")
            except KEYRING_UNAVAILABLE:
                session.info[_PENDING] = True  # the whole transaction writes unsealed entries
            else:
                tail = self._seal_pending(session, *tail)
            session.info[_TAIL] = tail
        if session.info.get(_PENDING):
            return self._record_pending(session, encoded)
        seq, prev = tail
        key = self.secrets.install_key("audit") if encoded else b""
        rows: list[dict[str, Any]] = []
        for action, connector, old_json, new_json, outcome in encoded:
            seq += 1
            row = {
                "seq": seq,
                "at": utcnow(),
                "actor": self.actor,
                "connector": connector,
                "action": action,
                "old_json": old_json,
                "new_json": new_json,
                "outcome": outcome,
                "prev_mac": prev,
            }
            body = _body_json(row)  # == canonical_json(self._body_of(row)), without parsing old and new again
            prev = row["mac"] = hmac.new(key, (prev + body).encode(), hashlib.sha256).hexdigest()
            rows.append(row)
        # Plain rows in one executemany (app.store.bulk): a probe-all or a panic writes hundreds at once.
        insert_many(session, AuditEvent.__table__, rows)
        session.info[_TAIL] = (seq, prev)
        session.info["breaker_audit_dirty"] = True
        return [row["seq"] for row in rows]

    # -- unsealed entries (the keyring is out of reach) -----------------------------------------------
    def _record_pending(self, session: Session, encoded: list[tuple[str, str, str, str, str]]) -> list[int]:
        """Write ``encoded`` to ``audit_pending``, chained by SHA-256 (see the module docstring).
        Returns the entries' ids (not sequence numbers: those are given when they are sealed)."""
        if not encoded:
            return []
        table = AuditPending.__table__
        last = session.execute(sa_select(table.c.id, table.c.hash).order_by(table.c.id.desc()).limit(1)).first()
        if last is not None:
            next_id, prev = last.id + 1, last.hash
        else:
            next_id, prev = 1, session.info[_TAIL][1]  # linked to the sealed chain's end
        rows: list[dict[str, Any]] = []
        for action, connector, old_json, new_json, outcome in encoded:
            row = {
                "id": next_id,
                "at": utcnow(),
                "actor": self.actor,
                "connector": connector,
                "action": action,
                "old_json": old_json,
                "new_json": new_json,
                "outcome": outcome,
                "prev_hash": prev,
            }
            prev = row["hash"] = _pending_hash(prev, row)
            rows.append(row)
            next_id += 1
        insert_many(session, table, rows)
        self.unsealed_written += len(rows)  # counted before commit: a note, not a proof (the CLI says it)
        return [row["id"] for row in rows]

    def _seal_pending(self, session: Session, last_seq: int, last_mac: str) -> tuple[int, str]:
        """Move every waiting entry into the chain after (last_seq, last_mac), then an ``audit.sealed``
        event; returns the new tail. Runs in the caller's transaction, before its own events."""
        table = AuditPending.__table__
        waiting = session.execute(sa_select(table).order_by(table.c.id)).mappings().all()
        if not waiting:
            return last_seq, last_mac
        problem = _pending_problem(waiting)
        key = self.secrets.install_key("audit")
        seq, prev = last_seq, last_mac
        rows: list[dict[str, Any]] = []

        def chain(row: dict[str, Any]) -> None:
            nonlocal seq, prev
            seq += 1
            row = {**row, "seq": seq, "prev_mac": prev}
            prev = row["mac"] = hmac.new(key, (prev + _body_json(row)).encode(), hashlib.sha256).hexdigest()
            rows.append(row)

        for entry in waiting:
            chain({k: entry[k] for k in ("at", "actor", "connector", "action", "old_json", "new_json", "outcome")})
        sealed = {
            "entries": len(waiting),
            "first_seq": last_seq + 1,
            "written_from": waiting[0]["at"].isoformat(),
            "written_to": waiting[-1]["at"].isoformat(),
            "why": "written while the keyring could not be read",
        }
        if problem:
            sealed["problem"] = problem
        chain(
            {
                "at": utcnow(),
                "actor": self.actor,
                "connector": "",
                "action": "audit.sealed",
                "old_json": "null",
                "new_json": canonical_json(sealed),
                "outcome": "failed" if problem else "ok",
            }
        )
        insert_many(session, AuditEvent.__table__, rows)
        session.execute(table.delete().where(table.c.id <= waiting[-1]["id"]))
        session.info["breaker_audit_dirty"] = True
        if problem:
            self._mark_broken(
                last_seq + 1, f"entries written while the keyring was locked {problem} before they were sealed"
            )
        return seq, prev

    @staticmethod
    def pending(engine: Engine) -> int:
        """How many entries wait to be sealed (written while the keyring could not be read)."""
        with Session(engine) as session:
            return session.exec(select(func.count()).select_from(AuditPending)).one()

    @staticmethod
    def recent_pending(engine: Engine, limit: int = 200, connector: str | None = None) -> list[AuditPending]:
        with Session(engine) as session:
            query = select(AuditPending)
            if connector is not None:
                query = query.where(AuditPending.connector == connector)
            return list(session.exec(query.order_by(col(AuditPending.id).desc()).limit(limit)).all())

    def _after_commit(self, session: Session) -> None:
        # The events are committed; moving the head is the second step. It must never raise: a
        # keyring hiccup here would turn a committed change into an apparent failure. A head that
        # lags is caught up by the next commit or by verify() (rows past the head still chain).
        try:
            if session.info.pop("breaker_audit_dirty", False):
                seq, mac = session.info[_TAIL]
                self.committed.append((session.info.get(_FIRST, seq), seq))
                self.secrets.set_value(HEAD_REF, f"{seq}:{mac}")
                self._known_head = (seq, mac)
        except Exception:
            logging.getLogger(__name__).warning("audit chain head not moved (keyring unavailable); it catches up later")
        finally:
            session.info.pop(_TAIL, None)
            session.info.pop(_PENDING, None)
            session.info.pop(_FIRST, None)

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(_TAIL, None)
        session.info.pop(_PENDING, None)
        session.info.pop("breaker_audit_dirty", None)
        session.info.pop(_FIRST, None)

    def wrote(self, seq: int) -> bool:
        """This log committed event ``seq`` (one of its last 4,096 transactions)."""
        # a copy first (taken in one C call, so under the GIL no writer thread appends mid-way):
        # iterating the deque itself while another thread commits raises "deque mutated"
        return any(first <= seq <= last for first, last in reversed(list(self.committed)))

    def head(self) -> tuple[int, str] | None:
        value = self.secrets.get_value(HEAD_REF)
        if not value:
            return None
        seq, _, mac = value.partition(":")
        return int(seq), mac

    def verify(self, engine: Engine, batch: int = 5000) -> ChainStatus:
        """Walk the whole chain; name the first event that does not verify. A break a write found
        earlier (head or key gone) is reported even where the rows now chain. Entries waiting to be
        sealed are counted (and their SHA-256 links checked); a keyring that cannot be read makes
        the status "not checked" (``unchecked`` says why), never "broken"."""
        pending = self.pending(engine)
        try:
            status = self._verify(engine, batch)
            found = self.recorded_break()
        except KEYRING_UNAVAILABLE as exc:
            return ChainStatus(False, self.count(engine), pending=pending, unchecked=keyring_problem(exc))
        problem = ""
        if pending:
            with Session(engine) as session:
                entries = [e.model_dump() for e in session.exec(select(AuditPending).order_by(col(AuditPending.id)))]
            problem = _pending_problem(entries)
        if problem:
            reason = f"entries waiting to be sealed {problem}"
            if status.ok:
                status = ChainStatus(False, status.events, status.events + 1, reason)
            else:
                status = replace(status, reason=f"{status.reason}; also: {reason}")
        status = replace(status, pending=pending)
        if found is None:
            return status
        seq, reason = found
        if status.ok:
            return ChainStatus(False, status.events, seq, reason, pending=pending)
        first = min(seq, status.first_broken or seq)
        return ChainStatus(False, status.events, first, f"{reason}; also: {status.reason}", pending=pending)

    def _verify(self, engine: Engine, batch: int) -> ChainStatus:
        if self.count(engine) and not self.secrets.has_install_key("audit"):
            return ChainStatus(
                False, self.count(engine), 1, "the audit key is missing from the keyring: no event can be verified"
            )
        prev, expected_seq, count = GENESIS, 1, 0
        last_seq = 0
        with Session(engine) as session:
            start = 0
            while True:
                rows = session.exec(
                    select(AuditEvent).where(AuditEvent.seq > start).order_by(col(AuditEvent.seq)).limit(batch)
                ).all()
                if not rows:
                    break
                for ev in rows:
                    if ev.seq != expected_seq:
                        return ChainStatus(
                            False,
                            count,
                            expected_seq,
                            f"event {expected_seq} is missing (next is {ev.seq}): deleted or reordered",
                        )
                    if ev.prev_mac != prev:
                        return ChainStatus(
                            False, count, ev.seq, "it does not follow the event before it (reordered or replaced)"
                        )
                    try:
                        body = self._body(ev)
                    except ValueError:
                        return ChainStatus(False, count, ev.seq, "its stored values are not valid JSON (edited)")
                    if not hmac.compare_digest(self._mac(prev, body), ev.mac):
                        return ChainStatus(False, count, ev.seq, "its contents were changed after it was written")
                    prev, expected_seq, count, last_seq = ev.mac, ev.seq + 1, count + 1, ev.seq
                start = rows[-1].seq
        head = self.head()
        if head is None:
            if count:
                return ChainStatus(False, count, None, "the chain head kept in the keyring is missing")
            return ChainStatus(True, 0)
        head_seq, head_mac = head
        if head_seq > last_seq:
            return ChainStatus(
                False,
                count,
                last_seq + 1,
                f"the newest {head_seq - last_seq} event(s) were cut off (the head says {head_seq})",
            )
        if head_seq == last_seq:
            if not hmac.compare_digest(head_mac, prev):
                return ChainStatus(False, count, last_seq, "the newest event does not match the head in the keyring")
            return ChainStatus(True, count)
        # head_seq < last_seq: the rows after the head verified; check the head's own row.
        with Session(engine) as session:
            row = session.get(AuditEvent, head_seq)
        if row is None or not hmac.compare_digest(row.mac, head_mac):
            return ChainStatus(False, count, head_seq, "the event at the keyring head was replaced")
        self.secrets.set_value(HEAD_REF, f"{last_seq}:{prev}")
        return ChainStatus(True, count, head_lagging=True)

    @staticmethod
    def count(engine: Engine) -> int:
        with Session(engine) as session:
            return session.exec(select(func.count()).select_from(AuditEvent)).one()

    @staticmethod
    def recent(engine: Engine, limit: int = 200, connector: str | None = None) -> list[AuditEvent]:
        with Session(engine) as session:
            query = select(AuditEvent)
            if connector is not None:
                query = query.where(AuditEvent.connector == connector)
            return list(session.exec(query.order_by(col(AuditEvent.seq).desc()).limit(limit)).all())
