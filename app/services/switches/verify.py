"""Verified means a fresh probe says so: the live level at or under the new ceiling, or a dead key.

For a disable every live key of the connector must be dead; for draft-only/read-only every live
key must be at or under the ceiling (a full key left alive beside the reduced one holds the power
the switch was meant to remove); for a rotation the new key must work and the old one must not;
for a re-enable the key must work again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from app.services.inventory import ConnectorView
from app.services.probing import ProbeResult
from app.services.switches.calls import Calls, Gate, dead
from app.services.switches.journal import CredOp, JobRow, JobUpdate
from app.services.switches.plan import live_credentials
from app.services.switches.states import verdict as prove
from app.services.vocabulary import JobState, SwitchAction
from connectors import registry
from connectors.base import Mode, Outcome, Verb


@dataclass
class VerifyOutcome:
    ok: bool
    why: str
    results: list[ProbeResult] = field(default_factory=list)  # probes to store (the connector's active key)
    cred_ops: list[CredOp] = field(default_factory=list)
    state: JobState | None = None  # a new job state when the probe changes what the owner must do
    manual_steps: list[str] | None = None
    outcome: str = ""

    def update(self, job: JobRow) -> JobUpdate:
        new = {"probe": self.outcome, "why": self.why}
        if self.ok:
            return JobUpdate(
                job.id,
                job.connector,
                "switch.verified",
                state=JobState.VERIFIED,
                verified=True,
                details={"verify": self.why},
                cred_ops=self.cred_ops,
                audit_new=new,
            )
        return JobUpdate(
            job.id,
            job.connector,
            "switch.unverified",
            state=self.state,
            details={"verify": self.why},
            manual_steps=self.manual_steps,
            cred_ops=self.cred_ops,
            audit_new=new,
            outcome="unverified",
        )


def target_of(job: JobRow) -> Mode:
    return job.action.target_mode or Mode.FULL


async def verify(
    calls: Calls,
    client: httpx.AsyncClient,
    view: ConnectorView,
    job: JobRow,
    *,
    gate: Gate = None,
    views: list[ConnectorView] | None = None,
) -> VerifyOutcome:
    target = target_of(job)
    report = await calls.probe(client, view, gate=gate, views=views)
    verdict = prove(target, report)
    out = VerifyOutcome(verdict.ok, verdict.why, [calls.probe_result(view, report)], outcome=report.outcome.value)
    active = view.credential
    if job.action is SwitchAction.DISABLE and out.ok:
        for cred in live_credentials(view):
            if active is not None and cred.keyring_ref == active.keyring_ref:
                continue
            if dead(await calls.probe(client, view, cred, gate=gate, views=views)) is not True:
                out.ok, out.why = False, f"the {cred.tier} key …{cred.last4} still works"
    elif job.action.reduces and out.ok:
        await _check_other_keys(calls, client, view, job, target, out, gate=gate, views=views)
    elif job.action is SwitchAction.ROTATE and out.ok and not _rotated(view, job):
        # A working key proves nothing about a rotation: the connector must hold a different key.
        out.ok = False
        out.why = "the connector still holds its old key: nothing was rotated (the old key still works)"
        out.manual_steps = registry.get(view.provider).manual_steps(Verb.ROTATE)
    elif job.action is SwitchAction.ROTATE and out.ok:
        old_refs = set(job.details.get("old_refs") or [])
        for cred in view.credentials:
            if cred.keyring_ref not in old_refs or cred.revoked_at is not None:
                continue
            gone = dead(await calls.probe(client, view, cred, gate=gate, views=views))
            if gone is True:
                out.cred_ops.append(CredOp("revoked", cred.keyring_ref))
            else:
                out.ok = False
                out.why = f"the new key works, but the old key …{cred.last4} " + (
                    "still works: revoke it (see the steps)" if gone is False else "could not be checked"
                )
                out.state = JobState.MANUAL if gone is False else None
                out.manual_steps = registry.get(view.provider).manual_steps(Verb.REVOKE) if gone is False else None
        if out.ok:
            out.why = f"{out.why}; the old key no longer works"
    elif job.action is SwitchAction.ENABLE and not out.ok and report.outcome in (Outcome.INVALID, Outcome.REVOKED):
        provider = registry.get(view.provider)
        out.state = JobState.MANUAL
        out.why = f"the key no longer works at {provider.title} (revoked for good): register a new one"
        out.manual_steps = [
            *provider.manual_steps(Verb.REENABLE)[:-1],
            f"Give it to Breaker with `breaker rotate {view.name}` (it probes it before swapping).",
        ]
    if (
        not out.ok
        and out.manual_steps is None
        and not job.manual_steps
        and report.outcome is Outcome.OK
        and job.action is not SwitchAction.ENABLE
    ):
        # The provider took the change but the key still holds power: say what to do by hand.
        out.manual_steps = registry.get(view.provider).manual_steps(job.action.verb)
    return out


FULL_KEY_LIVE = "full key still live — revoke it to verify"


async def _check_other_keys(
    calls: Calls,
    client: httpx.AsyncClient,
    view: ConnectorView,
    job: JobRow,
    target: Mode,
    out: VerifyOutcome,
    *,
    gate: Gate,
    views: list[ConnectorView] | None,
) -> None:
    """The handed-out key is within the ceiling; every other live key of the connector must be too.

    A dead one is marked revoked (so a later ordinary probe can reconcile the switch); one that
    still holds power above the ceiling keeps the switch "applied" with the way out in the steps.
    """
    active = view.credential
    for cred in live_credentials(view):
        if active is not None and cred.keyring_ref == active.keyring_ref:
            continue
        report = await calls.probe(client, view, cred, gate=gate, views=views)
        if dead(report) is True:
            out.cred_ops.append(CredOp("revoked", cred.keyring_ref))
            continue
        verdict = prove(target, report)
        if verdict.ok:
            continue
        provider = registry.get(view.provider)
        out.ok = False
        out.why = f"{FULL_KEY_LIVE}: the {cred.tier} key …{cred.last4} — {verdict.why}"
        out.manual_steps = [
            *provider.manual_steps(Verb.REVOKE),
            f"Or let Breaker revoke it: `breaker {job.action} {view.name} --revoke-full`.",
        ]
        return


def reconcile(services, results: list[ProbeResult]) -> list[str]:
    """After an ordinary probe (``breaker probe``, probe-all): a switch waiting for proof — applied or
    manual, not yet verified — becomes verified when the fresh probe shows the new ceiling.

    Synchronous, one transaction; meant to be called by the probing service right after it stores
    results. Returns the connectors whose switch became verified. Rotations, and disables or
    reductions of a connector with several live keys, need more than the active key's probe and are
    left to ``Switches.verify``.
    """
    from app.services.switches.journal import Journal

    journal = Journal(services)
    updates: list[JobUpdate] = []
    for result in results:
        job = journal.latest(result.connector)
        if job is None or job.state not in (JobState.APPLIED, JobState.MANUAL) or job.action is SwitchAction.ROTATE:
            continue
        verdict = prove(target_of(job), result.report)
        several = (job.action is SwitchAction.DISABLE or job.action.reduces) and len(
            _live_refs(services, job.connector)
        ) > 1
        if verdict.ok and not several:  # the other keys need their own probes: Switches.verify does them
            updates.append(
                JobUpdate(
                    job.id,
                    job.connector,
                    "switch.verified",
                    state=JobState.VERIFIED,
                    verified=True,
                    details={"verify": f"{verdict.why} (by a later probe)"},
                    audit_new={"probe": result.report.outcome.value, "why": verdict.why},
                )
            )
    journal.write(updates)
    return [u.connector for u in updates]


def _live_refs(services, name: str) -> list[str]:
    view = services.inventory.get(name)
    return [c.keyring_ref for c in live_credentials(view)]


def _rotated(view: ConnectorView, job: JobRow) -> bool:
    """The connector hands out the rotation's new key, and it is not one of the old keys."""
    active = view.credential
    new_ref = job.details.get("new_ref")
    if active is None or not new_ref or active.keyring_ref != new_ref:
        return False
    old_refs = set(job.details.get("old_refs") or [])
    old_prints = {c.fingerprint for c in view.credentials if c.keyring_ref in old_refs}
    return active.fingerprint not in old_prints
