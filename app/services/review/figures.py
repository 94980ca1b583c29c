"""The weekly figures: one snapshot per ISO week, computed from the store when a review ends (or
when asked), kept in ``review_week`` and compared with the week before (▲/▼).

- ``shared_keys``: active connectors whose key is also on another connector;
- ``lp_coverage``: active connectors whose live level is within their mode *and* whose checklist
  is complete (every item answered yes or no in their latest answers), over all active;
- ``stale_permissions``: levels held (distinct levels among a connector's live scopes) unused for
  ``unused_days``, over all levels held. Every level of a connector unused that long is stale (use
  from the provider's last-used date, ``breaker exec``, the gateway). Where the gateway carries every
  use (``Facts.levels_known``) each level counts by itself: stale when no forwarded request needed it
  (a request at a level uses the power below it too). A connector used, but not through the gateway
  alone, used at least its lowest level; its other levels, and every level of a connector whose use
  is unknown, are counted apart (``unknown``);
- ``drift_to_decision``: for decisions taken this week on drift, the time from the drift's first
  sighting to the decision (median and slowest, hours), and the oldest drift still open (hours);
- ``reviewed_vs_due``: this week's reviews — items due (queued and carried), decided, and decided
  with a "don't know" answer (counted apart from the cleanly reviewed ones);
- ``reduction_rate``: reduce, rotate and disable decisions this week over all decisions this week.

"Active" means not disabled. Nothing is typed in: every figure is counted from stored rows.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from app.services.review.findings import CHECKLIST
from app.store.db import session_scope
from app.store.models import Review, ReviewAnswer, ReviewWeek, utcnow
from app.store.snapshot import parse_time
from connectors.base import Mode

REDUCING = ("reduce", "rotate", "disable")


@dataclass(frozen=True)
class Kpi:
    key: str
    title: str
    better: str  # "up" or "down": which way is good
    unit: str = ""  # "%" or "h"


KPIS: tuple[Kpi, ...] = (
    Kpi("shared_keys", "shared keys", "down"),
    Kpi("lp_coverage_pct", "least-privilege coverage", "up", "%"),
    Kpi("stale_permissions_pct", "stale permissions", "down", "%"),
    Kpi("drift_median_h", "drift to decision (median)", "down", "h"),
    Kpi("reviewed_pct", "reviewed of due", "up", "%"),
    Kpi("reduction_rate_pct", "reduction rate", "up", "%"),
)


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def compute(review_service, week: str, now: datetime | None = None) -> dict:
    """Every figure of ``week`` as of ``now`` (see the module docstring)."""
    now = now or utcnow()
    svc = review_service
    views = svc.services.inventory.list()
    facts = svc.facts(now, views)
    active = [v for v in views if v.mode is not Mode.DISABLED]
    by_id = {v.id: v for v in views}

    shared = sum(1 for v in active if facts[v.name].shared_with)

    with Session(svc.engine) as s:
        answers = s.exec(select(ReviewAnswer).order_by(col(ReviewAnswer.review_id), col(ReviewAnswer.id))).all()
        answers = [a.model_copy() for a in answers]
        reviews = [r.model_copy() for r in s.exec(select(Review).where(Review.iso_week == week)).all()]
    latest: dict[int, dict[str, str]] = {}
    for a in answers:
        if a.item != "decision" and a.connector_id is not None:
            latest.setdefault(a.connector_id, {})[a.item] = a.answer
    complete = {cid for cid, items in latest.items() if all(items.get(i) in ("yes", "no") for i in CHECKLIST)}
    within = [v for v in active if v.last_outcome == "ok" and (v.live_level is None or v.mode.allows(v.live_level))]
    covered = sum(1 for v in within if v.id in complete)

    held = stale = unknown = 0
    window = svc.settings.unused_days
    for v in active:
        if v.last_outcome != "ok":
            continue
        f = facts[v.name]
        levels = f.held_levels()
        held += len(levels)
        since = f.unused_since
        if since is not None and (now - since[0]).days >= window:
            stale += len(levels)  # the connector itself is unused: every level it holds
        elif f.levels_known(window):
            top = f.used_level(window)
            stale += sum(1 for lv in levels if top is None or lv > top)
        elif f.last_used is not None and levels:
            unknown += len(levels) - 1  # used, but not known at which level: the lowest one at least
        else:
            unknown += len(levels)
    week_ids = {r.id for r in reviews}
    decisions = [a for a in answers if a.item == "decision" and a.at is not None and _week(parse_time(a.at)) == week]
    durations = sorted(
        (parse_time(a.at) - parse_time(a.drift_since)).total_seconds() / 3600
        for a in decisions
        if a.drift_since is not None
    )
    decided_after: dict[int, datetime] = {}
    for a in answers:
        if a.item == "decision" and a.at is not None and a.connector_id is not None:
            decided_after[a.connector_id] = max(decided_after.get(a.connector_id, parse_time(a.at)), parse_time(a.at))
    open_ages = [
        (now - f.drift_since).total_seconds() / 3600
        for f in facts.values()
        if f.drift_since is not None and not (f.view.id in decided_after and decided_after[f.view.id] >= f.drift_since)
    ]

    due = sum(len(json.loads(r.queue_json or "[]")) + r.carried for r in reviews)
    decided_items = {(a.review_id, a.connector_id) for a in answers if a.item == "decision" and a.review_id in week_ids}
    with_dont_know = {
        (a.review_id, a.connector_id) for a in answers if a.review_id in week_ids and a.answer == "dont_know"
    }
    reviewed_dk = len(decided_items & with_dont_know)
    reviewed_clean = len(decided_items) - reviewed_dk

    reducing = sum(1 for a in decisions if a.answer in REDUCING)
    return {
        "week": week,
        "computed_at": now.isoformat(),
        "active": len(active),
        "shared_keys": shared,
        "lp_covered": covered,
        "lp_coverage_pct": _pct(covered, len(active)),
        "levels_held": held,
        "levels_stale": stale,
        "levels_use_unknown": unknown,
        "stale_permissions_pct": _pct(stale, held),
        "drift_decisions": len(durations),
        "drift_median_h": round(statistics.median(durations), 1) if durations else None,
        "drift_slowest_h": round(max(durations), 1) if durations else None,
        "drift_open": len(open_ages),
        "drift_oldest_open_h": round(max(open_ages), 1) if open_ages else None,
        "due": due,
        "reviewed": reviewed_clean,
        "reviewed_dont_know": reviewed_dk,
        "reviewed_pct": _pct(reviewed_clean + reviewed_dk, due),
        "decisions": len(decisions),
        "reducing_decisions": reducing,
        "reduction_rate_pct": _pct(reducing, len(decisions)),
        "connectors_reviewed": sorted(by_id[cid].name for _r, cid in decided_items if cid in by_id),
    }


def _week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def snapshot_week(review_service, week: str, now: datetime | None = None) -> dict:
    """Compute ``week``'s figures and keep them (replacing an earlier snapshot of the same week)."""
    figures = compute(review_service, week, now)
    with session_scope(review_service.engine) as s:
        row = s.get(ReviewWeek, week) or ReviewWeek(iso_week=week)
        row.computed_at = now or utcnow()
        row.figures_json = json.dumps(figures, sort_keys=True)
        s.add(row)
    return figures


def history(review_service, limit: int = 26) -> list[dict]:
    """The stored weekly figures, oldest first (at most ``limit`` weeks)."""
    with Session(review_service.engine) as s:
        rows = s.exec(select(ReviewWeek).order_by(col(ReviewWeek.iso_week).desc()).limit(limit)).all()
        return [json.loads(r.figures_json) for r in reversed(rows)]


@dataclass(frozen=True)
class Trend:
    kpi: Kpi
    value: float | None
    previous: float | None
    series: tuple[float, ...]  # every stored week's value (missing weeks as 0), oldest first

    @property
    def arrow(self) -> str:
        if self.value is None or self.previous is None or self.value == self.previous:
            return "="
        return "▲" if self.value > self.previous else "▼"

    @property
    def good(self) -> bool | None:
        """True when the change goes the good way, False the bad way, None when unchanged or unknown."""
        if self.arrow == "=":
            return None
        return (self.arrow == "▲") == (self.kpi.better == "up")

    def show(self, value: float | None = None) -> str:
        value = self.value if value is None else value
        if value is None:
            return "–"
        number = f"{value:g}"
        return f"{number}{self.kpi.unit}" if self.kpi.unit != "h" else f"{number} h"

    @property
    def delta(self) -> str:
        if self.value is None:
            return "nothing to count this week"
        if self.arrow == "=":
            if self.previous is not None:
                return "= last week"
            return "first week" if len(self.series) < 2 else "no figure last week"
        diff = round(self.value - self.previous, 1)  # type: ignore[operator]
        unit = self.kpi.unit if self.kpi.unit != "h" else " h"
        return f"{self.arrow} {abs(diff):g}{unit} vs last week"


def trends(weeks: list[dict]) -> list[Trend]:
    """Each KPI's latest value against the week before, and its series over the stored weeks."""
    out = []
    for kpi in KPIS:
        values = [w.get(kpi.key) for w in weeks]
        value = values[-1] if values else None
        previous = values[-2] if len(values) > 1 else None
        out.append(Trend(kpi, value, previous, tuple(float(v or 0) for v in values)))
    return out


def extra_line(week: dict) -> dict[str, str]:
    """The words under each KPI (what the figure counts)."""
    if not week:
        return {}
    return {
        "shared_keys": f"of {week['active']} active connectors",
        "lp_coverage_pct": f"{week['lp_covered']} of {week['active']} within mode with a complete checklist",
        "stale_permissions_pct": f"{week['levels_stale']} of {week['levels_held']} levels held unused "
        f"{'' if not week['levels_use_unknown'] else '(' + str(week['levels_use_unknown']) + ' with use unknown)'}".strip(),
        "drift_median_h": f"slowest {week['drift_slowest_h'] if week['drift_slowest_h'] is not None else '–'} h; "
        f"oldest open {week['drift_oldest_open_h'] if week['drift_oldest_open_h'] is not None else '–'} h "
        f"({week['drift_open']} open)",
        "reviewed_pct": f"{week['reviewed']} reviewed + {week['reviewed_dont_know']} with \u201cdon't know\u201d "
        f"of {week['due']} due",
        "reduction_rate_pct": f"{week['reducing_decisions']} of {week['decisions']} decisions reduce, rotate or disable",
    }
