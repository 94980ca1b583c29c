"""The decision queue: requests above a connector's mode, held for the owner's yes or no (issue 13).

A held request is tied to a SHA-256 of its exact bytes (connector, method, path, query, content
type, body): an SDK's automatic retry of the same call joins the same decision; an edited call is
a new one. It waits at most :data:`HOLD_S` seconds (under the common 60 s client timeouts) and is
then denied. Holds live in the store (``gateway_hold``), so the answer can come from the gateway's
own terminal, the panel or another ``breaker`` process. Every hold, answer, expiry and forwarding
is audited with who answered and when.

:func:`summary` says what the request would do in the owner's words (:mod:`app.services.hold_summary`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import select

from app.services import hold_summary
from app.services.audit import actor_name
from app.store.db import session_scope
from app.store.models import Connector, GatewayHold
from app.store.snapshot import utcnow
from connectors.base import Level
from connectors.requests import Classification, Request

HOLD_S = 55.0
HELD, APPROVED, DENIED, EXPIRED, FORWARDED = "held", "approved", "denied", "expired", "forwarded"
LOST = "lost"  # the gateway holding it stopped (killed, crashed, closed) before it was answered or sent
OPEN = (HELD, APPROVED)
LOST_WHY = "the gateway stopped; nothing was sent and the agent got no answer"
# An approved hold is sent first and recorded as sent after: a gateway stopped in between may have sent it.
LOST_AFTER_YES = (
    "the gateway stopped after your yes, before it recorded the provider's answer: it may have sent it "
    "(check at the provider); it will not be sent again"
)
STOPPED = "gateway stopped"  # answered_by of a hold lost before anyone answered it


def holder_id(pid: int | None = None) -> str:
    """``pid:start`` of a gateway process (start: its start time in clock ticks after boot, from
    /proc where there is one), so a PID the system reuses for another process is not taken for it."""
    pid = os.getpid() if pid is None else pid
    stat = _proc_stat(pid)
    return f"{pid}:{stat[1] if stat else ''}"


def holder_alive(holder: str) -> bool:
    """Whether the gateway process that holds a request still runs ('' — not recorded: assumed so).
    The gateway listens on loopback and writes the local store, so its process is on this machine."""
    pid_text, _, start = holder.partition(":")
    if not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there: not asked, assumed running
        return True
    try:
        os.kill(pid, 0)  # signal 0: only whether the process exists (kill(2))
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        pass  # it exists (another user's), or this system cannot say: not called dead
    stat = _proc_stat(pid)
    if stat is None:
        return True
    state, started = stat
    return state not in ("Z", "X") and (not start or start == started)  # a zombie has stopped


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time) of a process from /proc/PID/stat (proc(5): fields 3 and 22), None without /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # after the command name, which may hold spaces
    return (fields[0], fields[19]) if len(fields) > 19 else None


def request_hash(connector_id: int, request: Request) -> str:
    """SHA-256 over the bytes that decide what the request does (headers such as a retry count are not)."""
    h = hashlib.sha256()
    for part in (
        str(connector_id),
        request.method.upper(),
        request.path,
        request.query,
        request.headers.get("content-type", ""),
    ):
        h.update(part.encode("utf-8", "surrogateescape") + b"\0")
    h.update(request.body)
    return h.hexdigest()


@dataclass(frozen=True)
class HoldView:
    id: int
    connector: str
    purpose: str  # the connector's one-sentence rule, shown beside the request
    level: Level
    template: str
    summary: dict
    state: str
    created_at: datetime
    expires_at: datetime
    answered_by: str = ""

    @property
    def lost(self) -> bool:
        """The gateway that held it stopped: it can no longer be approved (the agent got no answer)."""
        return self.state == LOST

    @property
    def why_lost(self) -> str:
        return LOST_WHY if self.answered_by in ("", STOPPED) else LOST_AFTER_YES

    @property
    def what(self) -> str:
        """One line in the owner's words."""
        return self.summary.get("what") or self.template

    def seconds_left(self, now: datetime) -> int:
        """Whole seconds until the gateway denies it unanswered (0 once due)."""
        return max(0, int((_aware(self.expires_at) - now).total_seconds()))


class Queue:
    """Holds in the store; used by the gateway (hold, poll, expire) and by whoever answers."""

    def __init__(self, services, hold_s: float = HOLD_S, holder: str = "") -> None:
        self.services = services
        self.hold_s = hold_s
        self.holder = holder  # set by the gateway holding requests (holder_id()); "" for who answers

    def hold(self, connector_id: int, digest: str, found: Classification, summary_: dict) -> tuple[int, bool]:
        """The open hold for ``digest`` (joined), or a new one. Returns (id, joined)."""
        now = utcnow()
        with session_scope(self.services.engine) as s:
            existing = s.exec(
                select(GatewayHold).where(
                    GatewayHold.request_hash == digest,
                    GatewayHold.connector_id == connector_id,
                    GatewayHold.state.in_(OPEN),  # type: ignore[union-attr]
                )
            ).first()
            if existing is not None and _aware(existing.expires_at) > now:
                return existing.id, True  # type: ignore[return-value]
            row = GatewayHold(
                connector_id=connector_id,
                request_hash=digest,
                level=int(found.level),
                template=found.template,
                summary_json=json.dumps(summary_),
                created_at=now,
                expires_at=now + timedelta(seconds=self.hold_s),
                holder=self.holder,
            )
            s.add(row)
            s.flush()
            name = s.get(Connector, connector_id).name  # type: ignore[union-attr]
            self.services.audit.record(
                s,
                "gateway.held",
                name,
                new={
                    "hold": row.id,
                    "level": found.level.label,
                    "template": found.template,
                    "what": summary_.get("what", ""),
                },
            )
            return row.id, False  # type: ignore[return-value]

    def answer(self, hold_id: int, approve: bool, by: str | None = None) -> HoldView | None:
        """Approve or deny an open hold; None when it is no longer open (answered, expired, unknown).
        When the gateway that held it has stopped, nothing can be sent: the hold is marked lost and
        its view comes back with ``lost`` set — never reported as approved."""
        now = utcnow()
        by = by or actor_name()
        with session_scope(self.services.engine) as s:
            row = s.get(GatewayHold, hold_id)
            if row is not None and row.state == LOST and _aware(row.expires_at) > now:
                return _view(row, s.get(Connector, row.connector_id))  # found lost already: say so again
            if row is None or row.state != HELD:
                return None
            if _aware(row.expires_at) <= now:
                self._expire(s, row, now)
                return None
            if not holder_alive(row.holder):
                self._lose(s, row, now)
                return _view(row, s.get(Connector, row.connector_id))
            row.state = APPROVED if approve else DENIED
            row.answered_at, row.answered_by = now, by
            s.add(row)
            c = s.get(Connector, row.connector_id)
            self.services.audit.record(
                s,
                "gateway.approved" if approve else "gateway.denied",
                c.name,  # type: ignore[union-attr]
                new={"hold": row.id, "by": by, "at": now, "template": row.template},
            )
            return _view(row, c)

    def states(self, hold_ids: list[int], *, check_holder: bool = False) -> dict[int, str]:
        """The holds' states; with ``check_holder``, an open one whose gateway stopped is marked lost."""
        if not hold_ids:
            return {}
        with session_scope(self.services.engine) as s:
            rows = s.exec(select(GatewayHold).where(GatewayHold.id.in_(hold_ids))).all()  # type: ignore[union-attr]
            if check_holder:
                self._sweep(s, rows)
            return {r.id: r.state for r in rows}  # type: ignore[misc]

    def expire(self, hold_id: int) -> bool:
        """Deny an unanswered hold whose time is up (audited). False when it was answered meanwhile."""
        with session_scope(self.services.engine) as s:
            row = s.get(GatewayHold, hold_id)
            if row is None or row.state != HELD:
                return False
            self._expire(s, row, utcnow())
            return True

    def withdraw(self, hold_id: int, why: str) -> bool:
        """Refuse an approved hold that must not be sent after all (its draft changed after the owner
        saw it): denied, audited ``gateway.withdrawn`` with why. False when it is not approved."""
        with session_scope(self.services.engine) as s:
            row = s.get(GatewayHold, hold_id)
            if row is None or row.state != APPROVED:
                return row is not None and row.state == DENIED
            row.state = DENIED
            s.add(row)
            c = s.get(Connector, row.connector_id)
            self.services.audit.record(
                s, "gateway.withdrawn", c.name, new={"hold": row.id, "why": why, "template": row.template}
            )  # type: ignore[union-attr]
            return True

    def forwarded(self, hold_id: int, status: int) -> None:
        with session_scope(self.services.engine) as s:
            row = s.get(GatewayHold, hold_id)
            if row is None:
                return
            row.state = FORWARDED
            s.add(row)
            c = s.get(Connector, row.connector_id)
            self.services.audit.record(s, "gateway.forwarded", c.name, new={"hold": row.id, "status": status})  # type: ignore[union-attr]

    def pending(self, *, with_lost: bool = False) -> list[HoldView]:
        """Unanswered holds still in time, oldest first. An open hold whose gateway has stopped is
        marked lost first (audited): it is never offered for an answer. ``with_lost``: those lost
        holds are listed too (``lost`` set) until their time would have run out, so a screen can say
        what happened to them."""
        now = utcnow()
        wanted = (HELD, APPROVED, LOST) if with_lost else OPEN
        with session_scope(self.services.engine) as s:
            rows = s.exec(
                select(GatewayHold, Connector)
                .where(GatewayHold.state.in_(wanted), GatewayHold.connector_id == Connector.id)  # type: ignore[union-attr]
                .order_by(GatewayHold.id)  # type: ignore[arg-type]
            ).all()
            rows = [(h, c) for h, c in rows if _aware(h.expires_at) > now]
            self._sweep(s, [h for h, _ in rows])
            return [_view(h, c) for h, c in rows if h.state == HELD or (with_lost and h.state == LOST)]

    def _sweep(self, s, rows: list[GatewayHold]) -> None:
        """Mark lost the open holds whose gateway process has stopped (one check per process)."""
        alive: dict[str, bool] = {}
        now = utcnow()
        for row in rows:
            if row.state in OPEN and row.holder:
                if row.holder not in alive:
                    alive[row.holder] = holder_alive(row.holder)
                if not alive[row.holder]:
                    self._lose(s, row, now)

    def _lose(self, s, row: GatewayHold, now: datetime) -> None:
        was = row.state
        row.state = LOST
        row.answered_at, row.answered_by = now, row.answered_by or STOPPED
        s.add(row)
        c = s.get(Connector, row.connector_id)
        why = LOST_AFTER_YES if was == APPROVED else LOST_WHY
        self.services.audit.record(
            s,
            "gateway.lost",
            c.name,  # type: ignore[union-attr]
            new={"hold": row.id, "was": was, "why": why, "template": row.template},
        )

    def _expire(self, s, row: GatewayHold, now: datetime) -> None:
        row.state = EXPIRED
        row.answered_at, row.answered_by = now, "timeout"
        s.add(row)
        c = s.get(Connector, row.connector_id)
        self.services.audit.record(
            s, "gateway.expired", c.name, new={"hold": row.id, "after_s": self.hold_s, "template": row.template}
        )


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _view(h: GatewayHold, c: Connector) -> HoldView:
    purpose = ""
    if c.purpose_access or c.purpose_task:
        purpose = f"This connector may use {c.purpose_access or '…'} to {c.purpose_task or '…'}"
        purpose += f", but may not {c.purpose_forbidden}." if c.purpose_forbidden else "."
    return HoldView(
        id=h.id,  # type: ignore[arg-type]
        connector=c.name,
        purpose=purpose,
        level=Level(h.level),
        template=h.template,
        summary=json.loads(h.summary_json or "{}"),
        state=h.state,
        created_at=_aware(h.created_at),
        expires_at=_aware(h.expires_at),
        answered_by=h.answered_by,
    )


# -- what a request would do, in the owner's words: app.services.hold_summary ---------------------

summary = hold_summary.summary
