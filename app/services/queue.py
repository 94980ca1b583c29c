"""The decision queue: requests above a connector's mode, held for the owner's yes or no (issue 13).

A held request is tied to a SHA-256 of its exact bytes (connector, method, path, query, content
type, body): an SDK's automatic retry of the same call joins the same decision; an edited call is
a new one. It waits at most :data:`HOLD_S` seconds (under the common 60 s client timeouts) and is
then denied. Holds live in the store (``gateway_hold``), so the answer can come from the gateway's
own terminal, the panel or another ``breaker`` process. Every hold, answer, expiry and forwarding
is audited with who answered and when.

:func:`summary` says what the request would do in the owner's words: Gmail's To, Subject and first
lines (decoded from the MIME message), Slack's channel and text, GitHub's repository and action.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from urllib.parse import parse_qs

from sqlmodel import select

from app.services.audit import actor_name
from app.store.db import session_scope
from app.store.models import Connector, GatewayHold
from app.store.snapshot import utcnow
from connectors.base import Level
from connectors.requests import Classification, Request

HOLD_S = 55.0
HELD, APPROVED, DENIED, EXPIRED, FORWARDED = "held", "approved", "denied", "expired", "forwarded"
OPEN = (HELD, APPROVED)


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
    def what(self) -> str:
        """One line in the owner's words."""
        return self.summary.get("what") or self.template

    def seconds_left(self, now: datetime) -> int:
        """Whole seconds until the gateway denies it unanswered (0 once due)."""
        return max(0, int((_aware(self.expires_at) - now).total_seconds()))


class Queue:
    """Holds in the store; used by the gateway (hold, poll, expire) and by whoever answers."""

    def __init__(self, services, hold_s: float = HOLD_S) -> None:
        self.services = services
        self.hold_s = hold_s

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
        """Approve or deny an open hold; None when it is no longer open (answered, expired, unknown)."""
        now = utcnow()
        by = by or actor_name()
        with session_scope(self.services.engine) as s:
            row = s.get(GatewayHold, hold_id)
            if row is None or row.state != HELD:
                return None
            if _aware(row.expires_at) <= now:
                self._expire(s, row, now)
                return None
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

    def states(self, hold_ids: list[int]) -> dict[int, str]:
        if not hold_ids:
            return {}
        with session_scope(self.services.engine) as s:
            rows = s.exec(select(GatewayHold).where(GatewayHold.id.in_(hold_ids))).all()  # type: ignore[union-attr]
            return {r.id: r.state for r in rows}  # type: ignore[misc]

    def expire(self, hold_id: int) -> bool:
        """Deny an unanswered hold whose time is up (audited). False when it was answered meanwhile."""
        with session_scope(self.services.engine) as s:
            row = s.get(GatewayHold, hold_id)
            if row is None or row.state != HELD:
                return False
            self._expire(s, row, utcnow())
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

    def pending(self) -> list[HoldView]:
        """Unanswered holds still in time, oldest first."""
        now = utcnow()
        with session_scope(self.services.engine) as s:
            rows = s.exec(
                select(GatewayHold, Connector)
                .where(GatewayHold.state == HELD, GatewayHold.connector_id == Connector.id)
                .order_by(GatewayHold.id)  # type: ignore[arg-type]
            ).all()
            return [_view(h, c) for h, c in rows if _aware(h.expires_at) > now]

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


# -- what a request would do, in the owner's words -------------------------------------------------

MAX_LINES = 3


def summary(provider: str, request: Request, found: Classification) -> dict:
    """What the request would do. Never a key; at most a few short lines of the content."""
    try:
        if provider == "google":
            return _gmail(request, found)
        if provider == "slack":
            return _slack(request, found)
        if provider == "github":
            return _github(request, found)
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        pass
    return {"what": f"{found.label}: {found.template}"}


def _json(request: Request) -> dict:
    if "json" in request.headers.get("content-type", "") or request.body[:1] == b"{":
        data = json.loads(request.body or b"{}")
        return data if isinstance(data, dict) else {}
    return {}


def _mime(raw: bytes) -> dict:
    msg = message_from_bytes(raw, policy=policy.default)
    part = msg.get_body(preferencelist=("plain",)) if msg.is_multipart() else msg
    text = part.get_content() if part is not None else ""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()][:MAX_LINES]
    return {"to": str(msg.get("To", "")), "subject": str(msg.get("Subject", "")), "first_lines": lines}


def _gmail(request: Request, found: Classification) -> dict:
    raw: bytes | None = None
    if request.path.lower().startswith(("/upload/", "/resumable/upload/")) and b"\n" in request.body:
        body = request.body
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/related"):
            parts = message_from_bytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body, policy=policy.default)
            inner = [p for p in parts.iter_parts() if p.get_content_type() == "message/rfc822"]
            raw = inner[0].get_payload(0).as_bytes() if inner else None
        else:
            raw = body
    else:
        data = _json(request)
        encoded = data.get("raw") or (data.get("message") or {}).get("raw")
        if encoded:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    verb = {"send": "Send an e-mail", "draft": "Save a draft", "admin": "Change mail settings"}.get(
        found.label, found.label
    )
    if raw is None:
        return {"what": f"{verb} ({found.template})"}
    mail = _mime(raw)
    return {**mail, "what": f"{verb} to {mail['to'] or '(no recipient)'}: {mail['subject'] or '(no subject)'}"}


def _slack(request: Request, found: Classification) -> dict:
    data = _json(request)
    if not data and request.body:
        data = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
    method = request.path.rstrip("/").rsplit("/", 1)[-1]
    channel, text = str(data.get("channel", "")), str(data.get("text", ""))
    lines = [line for line in text.splitlines() if line.strip()][:MAX_LINES]
    what = f"Slack {method} in {channel or '(no channel)'}: {lines[0] if lines else '(no text)'}"
    return {"channel": channel, "first_lines": lines, "method": method, "what": what}


VERBS = {"POST": "create in", "PATCH": "change", "PUT": "set", "DELETE": "delete", "GET": "read"}


def _github(request: Request, found: Classification) -> dict:
    segments = [s for s in request.path.split("/") if s]
    repo = "/".join(segments[1:3]) if segments[:1] == ["repos"] and len(segments) >= 3 else ""
    verb = VERBS.get(request.method.upper(), request.method.upper())
    target = "/".join(segments[3:]) if repo else "/".join(segments)
    action = f"{verb} {target or 'the repository'}"
    if request.path.rstrip("/").lower() == "/graphql":
        query = str(_json(request).get("query", ""))
        action = "GraphQL " + " ".join(query.split())[:80]
    what = f"GitHub {found.label}: {action}" + (f" on {repo}" if repo else "")
    return {"repository": repo, "action": action, "what": what}
