"""The weekly review (issue 11): findings, the queue, decisions, the report and the weekly figures.

svc = services.review                       # a ReviewService
svc.findings() -> {name: [Finding]}         # every connector, most severe first
svc.queue() -> Queue                        # due items riskiest first, capped; carried; skipped
state = svc.start()                         # resumes the open review, or starts one
svc.answer(state.id, name, "task", "yes", note)
d = svc.check_decision(state, name, "reduce", detail="draft-only")   # validates, writes nothing
# a switch decision: run d.switch_action through app.services.switches.Switches, then:
svc.decide(state.id, d, outcome=report.state)
svc.finish(state.id)                        # figures snapshot, report (md + html), hash audited
svc.report(fmt="html")                      # the latest finished review's report
"""

from app.services.review.findings import (
    ANSWERS,
    CHECKLIST,
    CHECKLIST_QUESTIONS,
    DECISIONS,
    Finding,
    Severity,
)
from app.services.review.service import Decision, ItemState, ReviewError, ReviewService, ReviewState, iso_week

__all__ = [
    "ANSWERS",
    "CHECKLIST",
    "CHECKLIST_QUESTIONS",
    "DECISIONS",
    "Decision",
    "Finding",
    "ItemState",
    "ReviewError",
    "ReviewService",
    "ReviewState",
    "Severity",
    "iso_week",
]
