"""The review queue: what is due, riskiest first, capped. Pure functions over findings and the
latest decision of each connector.

Risk is the connector's level (live when probed, else declared; 0 when disabled and nothing says
its key still works) doubled when its key is shared and doubled again when it never expires —
issue 11's "level × whether the key is shared or never expires". Ties go to the more severe
findings, then the name.

An item is due when it was never decided, when it changed since its last decision, or when it
has a finding of medium severity or more — unless it is snoozed (until the snooze ends) or a
"keep" holds: a keep lasts while the connector is unchanged, 4 weeks for a high-risk item and 12
otherwise (settings ``keep_lapse_high_weeks`` / ``keep_lapse_weeks``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.services.review.findings import Facts, Finding, Severity, top_severity
from app.services.views import ConnectorView
from app.settings import ReviewSettings
from connectors.base import Mode


@dataclass(frozen=True)
class LastDecision:
    decision: str
    at: datetime
    until: datetime | None
    digest: str
    severity: str
    reason: str = ""


@dataclass(frozen=True)
class QueueItem:
    name: str
    risk: int
    severity: Severity | None
    why: str  # why it is due, in words


@dataclass(frozen=True)
class Queue:
    items: tuple[QueueItem, ...]  # at most the cap, riskiest first
    carried: tuple[QueueItem, ...]  # due, but beyond the cap: next week
    skipped: dict[str, str]  # not due, and why (snoozed until …, kept until …)

    @property
    def due(self) -> int:
        return len(self.items) + len(self.carried)


def digest(view: ConnectorView) -> str:
    """What a "keep" was about: a keep holds while this stays the same."""
    cred = view.credential
    state = {
        "mode": view.mode.value,
        "env": view.environment,
        "owner": view.owner,
        "purpose": view.purpose,
        "live": int(view.live_level) if view.live_level is not None else None,
        "outcome": view.last_outcome,
        "declared": sorted([g.scope, int(g.level)] for g in view.declared),
        "observed": sorted([g.scope, int(g.level)] for g in view.observed),
        "key": cred.fingerprint if cred else "",
        "expires": cred.expires_at.isoformat() if cred and cred.expires_at else "",
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]


def risk(facts: Facts, findings: list[Finding]) -> int:
    view = facts.view
    if view.live_level is not None and view.last_outcome == "ok":
        level = int(view.live_level)
    elif view.mode is Mode.DISABLED:
        level = 0
    else:
        level = int(view.declared_level or 0)
    cred = view.credential
    shared = 2 if facts.shared_with else 1
    never_expires = 2 if cred is not None and cred.expires_at is None and view.mode is not Mode.DISABLED else 1
    return level * shared * never_expires


def keep_until(at: datetime, severity: Severity | None, settings: ReviewSettings) -> datetime:
    high = severity is not None and severity >= Severity.HIGH
    weeks = settings.keep_lapse_high_weeks if high else settings.keep_lapse_weeks
    return at + timedelta(weeks=weeks)


def due_reason(facts: Facts, findings: list[Finding], last: LastDecision | None, now: datetime) -> tuple[bool, str]:
    """(due, why) for one connector."""
    current = digest(facts.view)
    top = top_severity(findings)
    if last is not None and last.decision == "snooze" and last.until is not None and now < last.until:
        return False, f"snoozed until {last.until:%Y-%m-%d}"
    if last is not None and last.decision == "keep" and last.until is not None:
        if current == last.digest and now < last.until:
            return False, f"kept, unchanged, until {last.until:%Y-%m-%d}"
        if current == last.digest:
            return True, f"the keep of {last.at:%Y-%m-%d} lapsed"
    if last is None:
        return True, "never reviewed"
    if current != last.digest:
        return True, f"changed since it was last decided ({last.at:%Y-%m-%d})"
    if top is not None and top >= Severity.MEDIUM:
        return True, f"{top.label} finding"
    return False, f"unchanged since {last.decision} on {last.at:%Y-%m-%d}, nothing risky"


def build_queue(
    facts: dict[str, Facts],
    findings: dict[str, list[Finding]],
    last: dict[str, LastDecision],
    now: datetime,
    cap: int,
) -> Queue:
    due: list[QueueItem] = []
    skipped: dict[str, str] = {}
    for name, f in facts.items():
        is_due, why = due_reason(f, findings[name], last.get(name), now)
        if is_due:
            due.append(QueueItem(name, risk(f, findings[name]), top_severity(findings[name]), why))
        else:
            skipped[name] = why
    due.sort(key=lambda i: (-i.risk, -(i.severity if i.severity is not None else -1), i.name))
    return Queue(tuple(due[:cap]), tuple(due[cap:]), skipped)
