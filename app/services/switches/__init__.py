"""Switches: lower a connector's power (draft-only, read-only, disable), restore it (enable),
replace its key (rotate), or disable everything at once (panic). Every state shown is one a probe can prove (see ``states.verdict``).

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

``action`` is a :class:`SwitchAction` (its value — ``draft-only``, ``read-only``, ``disable``,
``enable``, ``rotate`` — is accepted too); states are :class:`JobState` (both in
``app.services.vocabulary``). ``on_event`` receives :class:`SwitchEvent` objects (connector, state,
message, manual_steps …) on the event loop as steps happen; ``label(state)`` is the text to show for
a stored ``Connector.switch_state``.
"""

from __future__ import annotations

from app.services.switches.ladder import NeedsNewKey, Selection, Switches, SwitchRefused
from app.services.switches.plan import PanicPlan, PlannedCall, SwitchPlan, panic_plan, plan_for
from app.services.switches.states import JobReport, PanicSummary, SwitchEvent, label
from app.services.switches.verify import reconcile
from app.services.vocabulary import JobState, SwitchAction

__all__ = [
    "JobReport",
    "JobState",
    "NeedsNewKey",
    "PanicPlan",
    "PanicSummary",
    "PlannedCall",
    "Selection",
    "SwitchAction",
    "SwitchEvent",
    "SwitchPlan",
    "SwitchRefused",
    "Switches",
    "label",
    "panic_plan",
    "plan_for",
    "reconcile",
]
