"""The weekly review as a service: findings of the whole inventory, the queue, a review that can be
left and resumed, checklist answers, decisions, and the end of the review (figures and report).

The panel (``w``) and ``breaker review`` use this and nothing else; a decision that is a switch is
run by them through :class:`app.services.switches.Switches` — the same plan, confirmation and
honest states as everywhere — and then recorded here with the state the switch reached.
Every change is audited (``review.start``, ``review.answer``, ``review.decide``, ``review.finish``).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session, col, select

from app.services.inventory import NotFound, ValidationError
from app.services.review.findings import (
    ANSWERS,
    CHECKLIST,
    DECISIONS,
    Facts,
    Finding,
    Severity,
    findings_for,
    recommendation,
    top_severity,
)
from app.services.review.queue import LastDecision, Queue, build_queue, digest, keep_until
from app.services.views import ConnectorView
from app.services.vocabulary import JobState, SwitchAction
from app.store.db import session_scope
from app.store.models import Review, ReviewAnswer, utcnow
from app.store.snapshot import parse_time
from connectors.base import Level

REDUCE_TARGETS = ("draft-only", "read-only")
DISCOVERED_TAG = "discovered"  # app.services.discovery_store.DISCOVERED: set on keys `breaker scan` imported
UNREVIEWED_TAG = "unreviewed"  # app.services.discovery_store.UNREVIEWED: dropped by the first review decision
DECISION_LABELS = {
    "keep": "keep",
    "reduce": "reduce",
    "rotate": "rotate the key",
    "disable": "disable",
    "reassign": "reassign the owner",
    "snooze": "snooze",
}


def iso_week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class Decision:
    connector: str
    decision: str
    reason: str = ""
    detail: str = ""
    until: datetime | None = None
    outcome: str = ""
    at: datetime | None = None
    severity: str = ""
    drift_since: datetime | None = None  # the drift it answers, first seen (taken before any switch runs)

    @property
    def switch_action(self) -> SwitchAction | None:
        """The switch this decision runs; None for the others."""
        if self.decision == "reduce":
            return SwitchAction(self.detail or "draft-only")
        return {"rotate": SwitchAction.ROTATE, "disable": SwitchAction.DISABLE}.get(self.decision)

    def describe(self) -> str:
        text = DECISION_LABELS.get(self.decision, self.decision)
        if self.decision == "reduce":
            text += f" to {self.detail}"
        elif self.decision == "reassign":
            text += f" to {self.detail}"
        elif self.decision in ("snooze", "keep") and self.until:
            text += f" until {self.until:%Y-%m-%d}"
        return text

    def as_dict(self) -> dict:
        return {
            "connector": self.connector,
            "decision": self.decision,
            "reason": self.reason,
            "detail": self.detail,
            "until": self.until.isoformat() if self.until else None,
            "outcome": self.outcome,
            "at": self.at.isoformat() if self.at else None,
        }


@dataclass
class ItemState:
    """One queue item of a review, as the screen and the terminal walk show it."""

    name: str
    view: ConnectorView | None  # None: removed since the review started
    findings: list[Finding]
    answers: dict[str, tuple[str, str]] = field(default_factory=dict)  # item → (answer, note)
    decision: Decision | None = None
    changes: list[str] = field(default_factory=list)
    last_use: str = ""
    risk: int = 0
    why: str = ""
    drift_since: datetime | None = None

    @property
    def severity(self) -> Severity | None:
        return top_severity(self.findings)

    @property
    def high_risk(self) -> bool:
        return self.severity is not None and self.severity >= Severity.HIGH

    @property
    def recommended(self) -> tuple[str, str]:
        return recommendation(self.findings)

    @property
    def checklist_done(self) -> bool:
        return all(self.answers.get(i, ("", ""))[0] in ANSWERS for i in CHECKLIST)

    @property
    def dont_know(self) -> bool:
        return any(a == "dont_know" for a, _ in self.answers.values())


@dataclass
class ReviewState:
    id: int
    started_at: datetime
    finished_at: datetime | None
    iso_week: str
    items: list[ItemState]
    carried: int

    @property
    def decided(self) -> int:
        return sum(1 for i in self.items if i.decision is not None)

    @property
    def progress(self) -> str:
        text = f"{self.decided} of {len(self.items)} decided"
        if self.carried:
            text += f" · {self.carried} carried to next week"
        return text

    def item(self, name: str) -> ItemState:
        for i in self.items:
            if i.name == name:
                return i
        raise NotFound(name)


class ReviewError(Exception):
    """A review action cannot be done; one line for the owner."""


class ReviewService:
    def __init__(self, services) -> None:
        self.services = services

    @property
    def settings(self):
        return self.services.settings.review

    @property
    def engine(self):
        return self.services.engine

    # -- facts and findings --------------------------------------------------------------------
    def facts(self, now: datetime | None = None, views: list[ConnectorView] | None = None) -> dict[str, Facts]:
        now = now or utcnow()
        views = self.services.inventory.list() if views is None else views
        holders: dict[str, list[str]] = defaultdict(list)
        for v in views:
            for fp in {c.fingerprint for c in v.credentials}:
                holders[fp].append(v.name)
        with Session(self.engine) as s:
            # Probes of the connectors whose provider reports a last-used date (their times tell
            # Breaker's own probes apart from other uses; see provider_use).
            probes: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
            for cid, at, used in s.execute(
                text(
                    "SELECT connector_id, at, provider_last_used_at FROM probe WHERE connector_id IN "
                    "(SELECT DISTINCT connector_id FROM probe WHERE provider_last_used_at IS NOT NULL) ORDER BY at"
                )
            ).all():
                probes[cid].append((parse_time(at), parse_time(used)))
            # `breaker exec` runs: the last one, and the last that handed out the key itself (the audit
            # body is canonical JSON, so a run through the gateway reads "via":"gateway").
            exec_used: dict[str, datetime] = {}
            key_handed: dict[str, datetime] = {}
            for name, last, handed in s.execute(
                text(
                    'SELECT connector, MAX(at), MAX(CASE WHEN new_json LIKE \'%"via":"gateway"%\' THEN NULL '
                    "ELSE at END) FROM audit_event WHERE action = 'exec' AND outcome = 'ok' GROUP BY connector"
                )
            ).all():
                if last:
                    exec_used[name] = parse_time(last)
                if handed:
                    key_handed[name] = parse_time(handed)
            # Requests the gateway forwarded (allowed, or held and then approved): uses of the key.
            level_used: dict[int, dict[Level, datetime]] = defaultdict(dict)
            gateway_used: dict[int, datetime] = {}
            for cid, level, at in s.execute(
                text(
                    "SELECT connector_id, level, MAX(at) FROM gateway_use WHERE decision IN ('allow', 'ask') "
                    "GROUP BY connector_id, level"
                )
            ).all():
                when = parse_time(at)
                gateway_used[cid] = max(gateway_used.get(cid, when), when)
                if level is not None:
                    level_used[cid][Level(level)] = when
            routed = {
                cid: parse_time(at)
                for cid, at in s.execute(text("SELECT connector_id, created_at FROM gateway_route")).all()
            }
            found_in: dict[int, list[str]] = defaultdict(list)
            for cid, client, file in s.execute(
                text(
                    "SELECT connector_id, client, file FROM found_place WHERE connector_id IS NOT NULL "
                    "AND state != 'vanished' ORDER BY first_seen, id"
                )
            ).all():
                found_in[cid].append(f"{_client_title(client)}: {_tilde(file)}")
            drift_since = {}
            for cid, scope, first in s.execute(
                text("SELECT connector_id, scope, first_seen FROM scope_grant WHERE source = 'observed'")
            ).all():
                drift_since.setdefault(cid, []).append((scope, parse_time(first)))
            answers = s.exec(
                select(
                    ReviewAnswer.connector_id, ReviewAnswer.review_id, ReviewAnswer.item, ReviewAnswer.answer
                ).order_by(col(ReviewAnswer.review_id).desc())
            ).all()
        streaks: dict[int, dict[str, int]] = defaultdict(dict)
        broken: set[tuple[int, str]] = set()
        reviewed: set[int] = set()
        for cid, _rid, item, answer in answers:
            if cid is None:
                continue
            if item == "decision":
                reviewed.add(cid)
                continue
            if (cid, item) in broken:
                continue
            if answer == "dont_know":
                streaks[cid][item] = streaks[cid].get(item, 0) + 1
            else:
                broken.add((cid, item))
        out = {}
        for v in views:
            declared = {g.scope for g in v.declared}
            undeclared = [first for scope, first in drift_since.get(v.id, []) if scope not in declared and first]
            shared = sorted({n for c in v.credentials for n in holders[c.fingerprint] if n != v.name})
            provider_used, quiet = provider_use(probes.get(v.id, []))
            breaker = [d for d in (exec_used.get(v.name), gateway_used.get(v.id)) if d is not None]
            out[v.name] = Facts(
                view=v,
                now=now,
                shared_with=tuple(shared),
                provider_last_used=provider_used,
                provider_quiet_since=quiet,
                breaker_last_used=max(breaker) if breaker else None,
                dont_know=streaks.get(v.id, {}),
                reviewed=v.id in reviewed,
                drift_since=min(undeclared) if undeclared and v.last_outcome == "ok" else None,
                routed_since=routed.get(v.id),
                level_last_used=dict(level_used.get(v.id, {})),
                key_handed_out=key_handed.get(v.name),
                found_in=tuple(dict.fromkeys(found_in.get(v.id, []))),
                discovered=DISCOVERED_TAG in v.tags,
            )
        return out

    def findings(self, now: datetime | None = None, facts: dict[str, Facts] | None = None) -> dict[str, list[Finding]]:
        facts = self.facts(now) if facts is None else facts
        return {name: findings_for(f, self.settings) for name, f in facts.items()}

    def last_decisions(self) -> dict[str, LastDecision]:
        with Session(self.engine) as s:
            rows = s.execute(
                text(
                    "SELECT c.name, a.answer, a.at, a.until, a.digest, a.severity, a.note FROM review_answer a "
                    "JOIN connector c ON c.id = a.connector_id WHERE a.item = 'decision' ORDER BY a.at, a.id"
                )
            ).all()
        last = {}
        for name, decision, at, until, dig, severity, note in rows:
            last[name] = LastDecision(decision, parse_time(at), parse_time(until), dig, severity, note)
        return last

    def queue(self, now: datetime | None = None) -> Queue:
        now = now or utcnow()
        facts = self.facts(now)
        findings = self.findings(now, facts)
        return build_queue(facts, findings, self.last_decisions(), now, self.settings.queue_cap)

    def nothing_due(self, now: datetime | None = None) -> bool:
        """No open review and an empty queue: nothing to review now."""
        if self.open_review_id() is not None:
            return False
        now = now or utcnow()
        facts = self.facts(now)
        queue = build_queue(facts, self.findings(now, facts), self.last_decisions(), now, self.settings.queue_cap)
        return queue.due == 0

    def banner(self, now: datetime | None = None) -> str:
        """The main screen's one line about the review, or "" when there is nothing to say: an open
        review to resume; a review due (none finished for 7 days) only when something is in its
        queue; and, between reviews, keys about to expire."""
        now = now or utcnow()
        parts = []
        open_id = self.open_review_id()
        facts = self.facts(now)
        findings = self.findings(now, facts)
        if open_id is not None:
            parts.append(f"A weekly review is open ({self.state(open_id, now).progress}): press w to resume it.")
        else:
            last = self.last_finished_at()
            if last is None or now - last >= timedelta(days=7):
                queue = build_queue(facts, findings, self.last_decisions(), now, self.settings.queue_cap)
                if queue.due:
                    worst = sum(1 for i in queue.items + queue.carried if i.severity == Severity.CRITICAL)
                    parts.append(
                        f"Weekly review due: {queue.due} connector{'s' if queue.due != 1 else ''} to look at"
                        + (f", {worst} critical" if worst else "")
                        + " — press w."
                    )
        warn = sorted(self.settings.expiry_warn_days)
        soon = warn[1] if len(warn) > 1 else warn[0]  # the middle reminder (7 days by default)
        expiring = sorted(
            name
            for name, fs in findings.items()
            if any(
                x.rule == "expiring"
                and facts[name].view.credential is not None
                and facts[name].view.credential.expires_at is not None
                and facts[name].view.credential.expires_at - now <= timedelta(days=soon)
                for x in fs
            )
        )
        if expiring:
            shown = ", ".join(expiring[:3]) + (f" and {len(expiring) - 3} more" if len(expiring) > 3 else "")
            parts.append(f"Key{'s' if len(expiring) > 1 else ''} expiring within {soon} days: {shown}.")
        return " ".join(parts)

    # -- reviews ---------------------------------------------------------------------------------
    def last_finished_at(self) -> datetime | None:
        with Session(self.engine) as s:
            row = s.exec(
                select(Review.finished_at)
                .where(col(Review.finished_at).is_not(None))
                .order_by(col(Review.finished_at).desc())
            ).first()
        return row

    def open_review_id(self) -> int | None:
        with Session(self.engine) as s:
            return s.exec(
                select(Review.id).where(col(Review.finished_at).is_(None)).order_by(col(Review.id).desc())
            ).first()

    def latest_finished_id(self) -> int | None:
        with Session(self.engine) as s:
            return s.exec(
                select(Review.id).where(col(Review.finished_at).is_not(None)).order_by(col(Review.id).desc())
            ).first()

    def start(self, now: datetime | None = None) -> ReviewState:
        """Resume the open review, or start one on this week's queue (frozen until it ends)."""
        existing = self.open_review_id()
        if existing is not None:
            return self.state(existing)
        now = now or utcnow()
        facts = self.facts(now)
        findings = self.findings(now, facts)
        queue = build_queue(facts, findings, self.last_decisions(), now, self.settings.queue_cap)
        items = [{"name": i.name, "risk": i.risk, "why": i.why} for i in queue.items]
        with session_scope(self.engine) as s:
            review = Review(
                started_at=now,
                actor=self.services.audit.actor,
                iso_week=iso_week(now),
                queue_json=json.dumps(items),
                findings_json=json.dumps({n: [x.as_dict() for x in fs] for n, fs in findings.items() if fs}),
                carried=len(queue.carried),
            )
            s.add(review)
            s.flush()
            self.services.audit.record(
                s,
                "review.start",
                new={
                    "review": review.id,
                    "week": review.iso_week,
                    "queue": [i.name for i in queue.items],
                    "carried": [i.name for i in queue.carried],
                },
            )
            review_id = review.id
        return self.state(review_id)

    def _review(self, s: Session, review_id: int) -> Review:
        review = s.get(Review, review_id)
        if review is None:
            raise ReviewError(f"there is no review number {review_id}")
        return review

    def state(self, review_id: int, now: datetime | None = None) -> ReviewState:
        now = now or utcnow()
        with Session(self.engine) as s:
            review = self._review(s, review_id)
            answers = s.exec(select(ReviewAnswer).where(ReviewAnswer.review_id == review_id)).all()
            review_data = (review.id, parse_time(review.started_at), parse_time(review.finished_at), review.iso_week)
            queue = json.loads(review.queue_json or "[]")
            carried = review.carried
            answers = [a.model_copy() for a in answers]
        views = {v.name: v for v in self.services.inventory.list()}
        by_id = {v.id: v.name for v in views.values()}
        facts = self.facts(now, list(views.values()))
        findings = self.findings(now, facts)
        since = self.last_finished_at() or (review_data[1] - timedelta(days=7))
        items = []
        for entry in queue:
            name = entry["name"]
            view = views.get(name)
            f = facts.get(name)
            last = f.last_used if f else None
            quiet = f.unused_since if f and last is None else None
            item = ItemState(
                name=name,
                view=view,
                findings=findings.get(name, []),
                risk=entry.get("risk", 0),
                why=entry.get("why", ""),
                drift_since=f.drift_since if f else None,
                changes=self.changes(name, since) if view else ["removed from the inventory since the review started"],
                last_use=(
                    f"{last[0]:%Y-%m-%d} ({(now - last[0]).days} days ago, according to {last[1]})"
                    if last
                    else f"none seen since {quiet[0]:%Y-%m-%d} ({(now - quiet[0]).days} days, according to {quiet[1]})"
                    if quiet
                    else "unknown: neither the provider nor Breaker has recorded a use"
                ),
            )
            items.append(item)
        by_name = {i.name: i for i in items}
        for a in answers:
            name = by_id.get(a.connector_id)
            if name not in by_name:
                continue
            if a.item == "decision":
                by_name[name].decision = Decision(
                    name,
                    a.answer,
                    a.note,
                    a.detail,
                    parse_time(a.until),
                    a.outcome,
                    parse_time(a.at),
                    a.severity,
                    parse_time(a.drift_since),
                )
            else:
                by_name[name].answers[a.item] = (a.answer, a.note)
        return ReviewState(review_data[0], review_data[1], review_data[2], review_data[3], items, carried)

    def changes(self, name: str, since: datetime) -> list[str]:
        """What happened to ``name`` since ``since``, from the audit log, in a few words each."""
        with Session(self.engine) as s:
            rows = s.execute(
                text(
                    "SELECT at, action, old_json, new_json, outcome FROM audit_event "
                    "WHERE connector = :n AND at > :t ORDER BY seq"
                ),
                {"n": name, "t": _sql_time(since)},
            ).all()
        out: list[str] = []
        for at, action, old_json, new_json, outcome in rows:
            when = parse_time(at)
            old, new = json.loads(old_json or "null") or {}, json.loads(new_json or "null") or {}
            if action == "probe":
                if old.get("outcome") != new.get("outcome") or old.get("live_level") != new.get("live_level"):
                    out.append(
                        f"{when:%Y-%m-%d}: probe {old.get('outcome') or 'none'} → {new.get('outcome')}"
                        + (f", live level {new.get('live_level')}" if new.get("live_level") else "")
                    )
            elif action == "connector.edit":
                out.append(f"{when:%Y-%m-%d}: edited ({', '.join(sorted(new)) or 'no field'})")
            elif action == "connector.add":
                out.append(f"{when:%Y-%m-%d}: added to the inventory")
            elif action.startswith("switch.") and action not in ("switch.calling",):
                out.append(f"{when:%Y-%m-%d}: {action.removeprefix('switch.')} {new.get('action', '')}".rstrip())
            elif action == "exec":
                continue  # uses are shown as "last use"
            elif not action.startswith("review."):
                out.append(f"{when:%Y-%m-%d}: {action} ({outcome})")
        return out[-8:] or ["nothing changed since the last review"]

    # -- answers and decisions ------------------------------------------------------------------
    def _connector_id(self, s: Session, name: str) -> int:
        cid = s.execute(text("SELECT id FROM connector WHERE name = :n"), {"n": name}).first()
        if cid is None:
            raise NotFound(name)
        return cid[0]

    def _open(self, s: Session, review_id: int) -> Review:
        review = self._review(s, review_id)
        if review.finished_at is not None:
            raise ReviewError("this review is finished; start a new one to change anything")
        return review

    def answer(self, review_id: int, name: str, item: str, answer: str, note: str = "") -> None:
        if item not in CHECKLIST:
            raise ValidationError({"item": f"unknown checklist item {item!r}; one of {', '.join(CHECKLIST)}"})
        if answer not in ANSWERS:
            raise ValidationError({"answer": "yes, no or dont_know"})
        note = note.strip()[:500]
        with session_scope(self.engine) as s:
            self._open(s, review_id)
            cid = self._connector_id(s, name)
            row = s.exec(
                select(ReviewAnswer).where(
                    ReviewAnswer.review_id == review_id, ReviewAnswer.connector_id == cid, ReviewAnswer.item == item
                )
            ).first()
            old = {"answer": row.answer, "note": row.note} if row else None
            if row is None:
                row = ReviewAnswer(review_id=review_id, connector_id=cid, item=item)
            row.answer, row.note, row.at = answer, note, utcnow()
            s.add(row)
            self.services.audit.record(
                s,
                "review.answer",
                name,
                old=old,
                new={"review": review_id, "item": item, "answer": answer, "note": note},
            )

    def check_decision(
        self,
        state: ReviewState,
        name: str,
        decision: str,
        *,
        reason: str = "",
        detail: str = "",
        until: datetime | None = None,
        now: datetime | None = None,
    ) -> Decision:
        """The decision, validated (raises ValidationError with the field to fix); nothing is written."""
        now = now or utcnow()
        item = state.item(name)
        reason, detail = reason.strip(), detail.strip()
        errors: dict[str, str] = {}
        if decision not in DECISIONS:
            errors["decision"] = f"one of {', '.join(DECISIONS)}"
        elif decision == "keep" and item.high_risk and not reason:
            errors["reason"] = f"{name} is high risk ({item.severity.label}): say why you keep it"
        elif decision == "reduce":
            detail = detail or item.recommended[1] or "draft-only"
            if detail not in REDUCE_TARGETS:
                errors["detail"] = "reduce to draft-only or read-only"
        elif decision == "reassign" and not detail:
            errors["detail"] = "name the new owner"
        elif decision == "snooze":
            if not reason:
                errors["reason"] = "say why it can wait"
            if until is None:
                errors["until"] = "give the date the snooze ends (YYYY-MM-DD)"
            elif until <= now:
                errors["until"] = "the snooze must end in the future"
            elif until > now + timedelta(days=self.settings.snooze_max_days):
                errors["until"] = f"a snooze lasts at most {self.settings.snooze_max_days} days"
        if item.view is None:
            errors["decision"] = f"{name} was removed from the inventory"
        if errors:
            raise ValidationError(errors)
        if decision == "keep":
            until = keep_until(now, item.severity, self.settings)
        elif decision != "snooze":
            until = None
        return Decision(
            name,
            decision,
            reason[:500],
            detail[:80],
            until,
            "",
            now,
            item.severity.label if item.severity else "",
            item.drift_since,
        )

    def decide(self, review_id: int, decision: Decision, *, outcome: str = "") -> Decision:
        """Record a checked decision (a switch decision after its switch ran: ``outcome`` is the state
        it reached). A reassign changes the owner here, through the inventory (audited there too)."""
        state = self.state(review_id)
        item = state.item(decision.connector)
        if decision.decision == "reassign" and item.view is not None:
            inv = self.services.inventory
            from dataclasses import replace

            inv.edit(item.view.name, replace(inv.as_input(item.view), owner=decision.detail))
            item.view = inv.get(item.view.name)
        with session_scope(self.engine) as s:
            self._open(s, review_id)
            cid = self._connector_id(s, decision.connector)
            row = s.exec(
                select(ReviewAnswer).where(
                    ReviewAnswer.review_id == review_id,
                    ReviewAnswer.connector_id == cid,
                    ReviewAnswer.item == "decision",
                )
            ).first()
            old = {"decision": row.answer, "reason": row.note} if row else None
            if row is None:
                row = ReviewAnswer(review_id=review_id, connector_id=cid, item="decision")
            row.answer, row.note, row.detail = decision.decision, decision.reason, decision.detail
            row.until, row.outcome, row.at = decision.until, outcome, decision.at or utcnow()
            row.severity = decision.severity
            row.digest = digest(item.view) if item.view else ""
            row.drift_since = decision.drift_since
            s.add(row)
            self.services.audit.record(
                s,
                "review.decide",
                decision.connector,
                old=old,
                new={"review": review_id, **decision.as_dict(), "outcome": outcome},
                outcome="ok"
                if decision.switch_action is None or outcome == JobState.VERIFIED
                else (outcome or "not-run"),
            )
        if item.view is not None and UNREVIEWED_TAG in item.view.tags:
            # `breaker scan` tagged it "unreviewed"; now it is (an inventory edit, audited there).
            from dataclasses import replace

            inv = self.services.inventory
            current = inv.get(item.view.name)
            tags = ", ".join(t for t in current.tags if t != UNREVIEWED_TAG)
            try:
                inv.edit(current.name, replace(inv.as_input(current), tags=tags))
            except ValidationError:
                pass  # the decision stands; the tag stays until its record is fixed
        return Decision(**{**decision.__dict__, "outcome": outcome})

    def edit_purpose(self, review_id: int, name: str, access: str, task: str, forbidden: str) -> ConnectorView:
        """Change the purpose sentence from the review (audited by the inventory as an edit)."""
        from dataclasses import replace

        with Session(self.engine) as s:
            self._open(s, review_id)
        inv = self.services.inventory
        view = inv.get(name)
        return inv.edit(
            name,
            replace(inv.as_input(view), purpose_access=access, purpose_task=task, purpose_forbidden=forbidden),
        )

    def bulk_names(self, state: ReviewState, name: str) -> list[str]:
        """Undecided items that share ``name``'s recommendation (bulk decisions only for those)."""
        wanted = state.item(name).recommended
        if not wanted[0]:
            return []
        return [i.name for i in state.items if i.decision is None and i.view is not None and i.recommended == wanted]

    def decide_bulk(
        self,
        review_id: int,
        name: str,
        decision: str,
        *,
        reason: str = "",
        detail: str = "",
        until: datetime | None = None,
        now: datetime | None = None,
    ) -> list[Decision]:
        """The same decision for every undecided item sharing ``name``'s recommendation. Only decisions
        that are not switches: a switch confirms and runs one connector at a time. Every item is checked
        before any is recorded (a keep of a high-risk one still needs the reason)."""
        state = self.state(review_id, now)
        names = self.bulk_names(state, name)
        if len(names) < 2:
            raise ReviewError(f"no other undecided item shares {name}'s recommendation")
        checked = [
            self.check_decision(state, n, decision, reason=reason, detail=detail, until=until, now=now) for n in names
        ]
        if checked[0].switch_action is not None:
            raise ReviewError("a reduce, rotate or disable runs a switch: decide those one by one, each confirms")
        return [self.decide(review_id, d) for d in checked]

    # -- the end ----------------------------------------------------------------------------------
    def finish(self, review_id: int, now: datetime | None = None):
        """End the review: the week's figures, the report (Markdown and HTML) and its hash in the audit log."""
        from app.services.review.figures import snapshot_week
        from app.services.review.report import render_report

        now = now or utcnow()
        with Session(self.engine) as s:
            self._open(s, review_id)
        with session_scope(self.engine) as s:
            review = self._review(s, review_id)
            review.finished_at = now
            s.add(review)
        snapshot_week(self, iso_week(now), now)
        md, html = render_report(self, review_id, now)
        md_hash, html_hash = sha256(md), sha256(html)
        with session_scope(self.engine) as s:
            review = self._review(s, review_id)
            review.report_md, review.report_html, review.report_sha256 = md, html, md_hash
            s.add(review)
            state = self.state(review_id, now)
            self.services.audit.record(
                s,
                "review.finish",
                new={
                    "review": review_id,
                    "week": review.iso_week,
                    "due": len(state.items) + state.carried,
                    "decided": state.decided,
                    "report_md_sha256": md_hash,
                    "report_html_sha256": html_hash,
                },
            )
        return self.state(review_id, now)

    def report(self, review_id: int | None = None, fmt: str = "md") -> str:
        review_id = review_id or self.latest_finished_id()
        if review_id is None:
            raise ReviewError("no review has been finished yet: run `breaker review` or press w in the panel")
        with Session(self.engine) as s:
            review = self._review(s, review_id)
            if review.finished_at is None:
                raise ReviewError("this review is not finished yet")
            return review.report_html if fmt == "html" else review.report_md


def _client_title(client: str) -> str:
    from connectors.discovery.clients import BY_ID

    known = BY_ID.get(client)
    return known.title if known else client


def _tilde(file: str) -> str:
    """``file`` with the home folder written ``~`` (shorter, and the same on every screen)."""
    from pathlib import Path

    home = str(Path.home())
    return "~" + file[len(home) :] if home not in ("", "/") and file.startswith(home + "/") else file


# A provider's last-used date this close to one of Breaker's own probes of the key is that probe
# (GitLab, for one, updates last_used_at when the probe's own request authenticates). The window
# covers the probe's duration before it is stored; a use by something else within it is taken for
# Breaker's, the price of not calling Breaker's probes a use.
OWN_PROBE_BEFORE = timedelta(minutes=10)
OWN_PROBE_AFTER = timedelta(minutes=1)


def provider_use(probes: list[tuple[datetime, datetime | None]]) -> tuple[datetime | None, datetime | None]:
    """From one connector's probes (time, provider's last-used date), oldest first: the newest use
    the provider reported that is not one of Breaker's own probes, and — when every reported date
    is Breaker's own — since when the provider has seen nothing else (the oldest such date)."""
    times = [at for at, _ in probes]

    def own(used: datetime) -> bool:
        return any(at - OWN_PROBE_BEFORE <= used <= at + OWN_PROBE_AFTER for at in times)

    reported = [used for _, used in probes if used is not None]
    outside = [used for used in reported if not own(used)]
    if outside:
        return max(outside), None
    return None, (min(reported) if reported else None)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _sql_time(moment: datetime) -> str:
    """A time as stored by SQLModel on SQLite (naive UTC text), for comparisons in plain SQL."""
    from app.store.bulk import sqlite_time

    return sqlite_time(moment)
