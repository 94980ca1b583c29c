"""Switches: lower a connector's power (draft-only, read-only, disable), restore it (enable),
replace its key (rotate), or disable everything at once (panic). Issue 4; DESIGN.md "Honest state".

Service API (used by the CLI and the panel)::

    sw = Switches(services)                                  # one per open inventory; sw.close() at the end
    sw.plan(name, action, revoke_full=False) -> SwitchPlan   # the confirmation: .text(), .as_dict(), .guided
    await sw.switch(name, action, force=False, revoke_full=False, on_event=cb) -> JobReport
    await sw.draft_only(name) / read_only / disable / enable / rotate          # the same, by name
    await sw.rotate_with(name, Secret(pasted)) -> JobReport  # guided rotation (plan.guided is True)
    await sw.confirm(name) -> JobReport                       # the owner did the manual steps
    await sw.verify(name) -> JobReport                        # probe again, update the latest switch
    sw.latest(name) -> JobReport | None;  sw.history(name) -> [JobReport]
    sw.panic_plan(Selection(...)) -> PanicPlan                # the panic confirmation: .text(), .count
    await sw.panic(Selection(...), on_event=cb) -> PanicSummary
    sw.unfinished_batches() -> [batch];  await sw.resume(batch=None, on_event=cb) -> PanicSummary | None
    sw.add_credential(name, Secret, tier="reduced"|"admin");  sw.mark_admin_connector(name)
    reconcile(services, probe_results) -> [name]              # a later probe proves a waiting switch

``action`` is one of ``draft-only``, ``read-only``, ``disable``, ``enable``, ``rotate``. ``on_event``
receives :class:`SwitchEvent` objects (connector, state, message, manual_steps …) on the event loop
as steps happen; ``label(state)`` is the text to show for a stored ``Connector.switch_state``.
"""

from __future__ import annotations

from app.services.switches.ladder import NeedsNewKey, Selection, Switches, SwitchRefused
from app.services.switches.plan import PanicPlan, PlannedCall, SwitchPlan, panic_plan, plan_for
from app.services.switches.states import (
    ACTIONS,
    APPLIED,
    FAILED,
    JOURNALLED,
    MANUAL,
    OUT_OF_SYNC,
    PENDING,
    RECORDED,
    SUPERSEDED,
    UNVERIFIED,
    VERIFIED,
    JobReport,
    PanicSummary,
    SwitchEvent,
    label,
)
from app.services.switches.verify import reconcile

__all__ = [
    "ACTIONS",
    "APPLIED",
    "FAILED",
    "JOURNALLED",
    "MANUAL",
    "OUT_OF_SYNC",
    "PENDING",
    "RECORDED",
    "SUPERSEDED",
    "UNVERIFIED",
    "VERIFIED",
    "JobReport",
    "NeedsNewKey",
    "PanicPlan",
    "PanicSummary",
    "PlannedCall",
    "Selection",
    "SwitchEvent",
    "SwitchPlan",
    "SwitchRefused",
    "Switches",
    "label",
    "panic",
    "panic_plan",
    "plan",
    "plan_for",
    "reconcile",
    "resume",
]


def plan(services, name: str, action: str, *, revoke_full: bool = False) -> SwitchPlan:
    """What ``action`` on ``name`` will do (no side effects)."""
    return Switches(services).plan(name, action, revoke_full=revoke_full)


async def panic(services, selection: Selection | None = None, on_event=None, **options) -> PanicSummary:
    """Emergency disable of every selected connector (all when ``selection`` is None)."""
    sw = Switches(services, **options)
    try:
        return await sw.panic(selection, on_event)
    finally:
        sw.close()


async def resume(services, batch: str | None = None, on_event=None, **options) -> PanicSummary | None:
    """Finish an interrupted panic from its journal; None when there is nothing to resume."""
    sw = Switches(services, **options)
    try:
        return await sw.resume(batch, on_event)
    finally:
        sw.close()
