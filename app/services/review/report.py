"""The review's report: Markdown and a self-contained HTML page, from Jinja2 templates
(``templates/``) with autoescaping — never strings glued by hand.

The HTML has its CSS inline and its charts as inline SVG; it holds no script and refers to
nothing outside itself (no link, image, font or stylesheet to fetch), so it prints and opens
offline. Nothing in it comes from the keyring: connectors are named, keys never shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.services.review.figures import extra_line, history, trends
from app.services.review.findings import ANSWER_LABELS, CHECKLIST, Finding, Severity
from app.services.switches.states import label as switch_label
from app.services.switches.states import view_label
from app.services.vocabulary import JobState
from app.store.models import utcnow
from connectors.base import Mode

TEMPLATES = Path(__file__).parent / "templates"


def _md_cell(value: object) -> str:
    """A value for one Markdown table cell: no line breaks, pipes escaped."""
    return " ".join(str(value).split()).replace("|", "\\|")


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["cell"] = _md_cell
    return env


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str


def chart(series: tuple[float, ...], weeks: list[str], width: int = 240, height: int = 64) -> dict:
    """Geometry of a small bar chart (numbers only: the template draws the SVG)."""
    n = max(1, len(series))
    top = max(series, default=0) or 1
    slot = width / n
    bars = []
    for i, value in enumerate(series):
        h = (height - 14) * (value / top)
        bars.append(Bar(i * slot + 2, height - 12 - h, max(1.0, slot - 4), h, weeks[i][-3:] if i < len(weeks) else ""))
    return {"width": width, "height": height, "bars": bars}


def render_report(service, review_id: int, now: datetime | None = None) -> tuple[str, str]:
    """(markdown, html) of review ``review_id``."""
    context = report_context(service, review_id, now)
    env = environment()
    return env.get_template("report.md.j2").render(**context), env.get_template("report.html.j2").render(**context)


def report_context(service, review_id: int, now: datetime | None = None) -> dict:
    from sqlmodel import Session, col, select

    from app.store.models import Review

    now = now or utcnow()
    state = service.state(review_id, now)
    with Session(service.engine) as s:
        review = s.get(Review, review_id)
        previous = s.exec(
            select(Review)
            .where(col(Review.finished_at).is_not(None), Review.id < review_id)
            .order_by(col(Review.id).desc())
        ).first()
        prev_findings = json.loads(previous.findings_json) if previous else {}
        actor = review.actor
    facts = service.facts(now)
    findings = service.findings(now, facts)
    now_keys = {(n, x.rule): x for n, fs in findings.items() for x in fs}
    prev_keys = {(n, d["rule"]): Finding.from_dict(d) for n, fs in prev_findings.items() for d in fs}
    opened = [(n, x) for (n, r), x in sorted(now_keys.items()) if (n, r) not in prev_keys]
    closed = [(n, x) for (n, r), x in sorted(prev_keys.items()) if (n, r) not in now_keys]
    opened.sort(key=lambda p: (-p[1].severity, p[0]))

    connectors = []
    for name, f in sorted(facts.items()):
        v = f.view
        fs = findings[name]
        connectors.append(
            {
                "name": v.name,
                "provider": v.provider,
                "owner": v.owner or "nobody",
                "environment": v.environment,
                "mode": v.mode.value,
                "live": v.live_level.label if v.live_level is not None else "unknown",
                "probe": f"{v.last_outcome} {v.last_probe_at:%Y-%m-%d}" if v.last_probe_at else "never probed",
                "switch": view_label(v.switch_state, v.routed),
                "findings": len(fs),
                "top": fs[0].severity.label if fs else "none",
                "off": v.mode is Mode.DISABLED,
            }
        )
    items = []
    for item in state.items:
        d = item.decision
        items.append(
            {
                "name": item.name,
                "why": item.why,
                # as it stood when decided (a verified disable leaves the item with no finding)
                "severity": (d.severity if d else "") or (item.severity.label if item.severity else "none"),
                "decision": d.describe() if d else "not decided (carried to next week)",
                "reason": d.reason if d else "",
                "switch": d.switch_action if d else None,
                "outcome": switch_label(d.outcome) if d and d.switch_action else "",
                "verified": bool(d and d.outcome == JobState.VERIFIED),
                "answers": [
                    (
                        i,
                        ANSWER_LABELS.get(item.answers.get(i, ("", ""))[0], "not answered"),
                        item.answers.get(i, ("", ""))[1],
                    )
                    for i in CHECKLIST
                ],
            }
        )
    weeks = history(service)
    names = [w["week"] for w in weeks]
    kpis = []
    words = extra_line(weeks[-1]) if weeks else {}
    for t in trends(weeks):
        kpis.append(
            {
                "title": t.kpi.title,
                "value": t.show(),
                "delta": t.delta,
                "good": t.good,
                "words": words.get(t.kpi.key, ""),
                "chart": chart(t.series, names),
                "series": [t.show(v) if v is not None else "–" for v in (w.get(t.kpi.key) for w in weeks)],
            }
        )
    return {
        "title": f"Breaker weekly review {state.iso_week}",
        "week": state.iso_week,
        "started": f"{state.started_at:%Y-%m-%d %H:%M} UTC",
        "finished": f"{state.finished_at:%Y-%m-%d %H:%M} UTC" if state.finished_at else "not finished",
        "actor": actor,
        "progress": state.progress,
        "connectors": connectors,
        "opened": [{"name": n, "severity": x.severity.label, "reason": x.reason} for n, x in opened],
        "closed": [{"name": n, "severity": x.severity.label, "reason": x.reason} for n, x in closed],
        "items": items,
        "switches": [i for i in items if i["switch"]],
        "kpis": kpis,
        "weeks": names,
        "critical": sum(1 for _n, x in opened if x.severity is Severity.CRITICAL),
        "generated": f"{now:%Y-%m-%d %H:%M} UTC",
    }
