"""A switch of a connector routed through the gateway: enforced and verified there (issue 13, "States").

Its agents hold Breaker tokens, never the key, and the gateway reads the mode for every request:
recording the mode is the switch, and requests of each level above the new ceiling refused at the
gateway are its proof (:mod:`app.services.gateway_check`). No provider is called, so it works the
same for providers with an API for switches and without one, and never waits on one. The key at
the provider is left as it is — it never leaves Breaker while the connector is routed; the message
says how to revoke it there too.

Disable and the reductions (draft-only, read-only) go this way; re-enable and rotate still go to
the provider (a working key, a new key, can only be proven there).
"""

from __future__ import annotations

from dataclasses import replace

from app.services import gateway_check
from app.services.gateway import Gateway
from app.services.gateway_check import GatewayCheck
from app.services.switches.journal import JobRow, JobUpdate
from app.services.switches.plan import SwitchPlan, shared_with
from app.services.switches.states import AT_GATEWAY
from app.services.views import ConnectorView
from app.services.vocabulary import JobState, SwitchAction
from connectors.base import Mode


def applies(job: JobRow) -> bool:
    return (job.action is SwitchAction.DISABLE or job.action.reduces) and bool(job.target_mode)


def routed(services, jobs: list[JobRow]) -> list[JobRow]:
    """The jobs a gateway check settles: disables and reductions of routed connectors."""
    candidates = [j for j in jobs if applies(j)]
    if not candidates:
        return []
    names = Gateway(services).routed_names()
    return [j for j in candidates if j.connector in names]


async def verify(services, jobs: list[JobRow]) -> dict[int, GatewayCheck]:
    """Check each routed job's connector at the gateway: job id → the check."""
    found = {j.connector: j for j in jobs}
    results = await gateway_check.check(
        services, {j.connector: (j.provider, Mode(j.target_mode)) for j in found.values()}
    )
    return {found[name].id: result for name, result in results.items()}


def message(job: JobRow) -> str:
    return (
        f"enforced at Breaker's gateway (every request of {job.connector} passes it); the key itself is "
        f"unchanged at the provider — to revoke it there too: `breaker route {job.connector} --off`, then "
        f"`breaker {job.action} {job.connector}`"
    )


def update(job: JobRow, result: GatewayCheck) -> JobUpdate:
    """The journal entry of a switch verified at the gateway."""
    return JobUpdate(
        job.id,
        job.connector,
        "switch.verified",
        state=JobState.VERIFIED,
        message=message(job),
        verified=True,
        details={"verify": result.why, "at": AT_GATEWAY, "gateway": result.as_dict()},
        audit_new={"at": AT_GATEWAY, "why": result.why, "levels": [c.as_dict() for c in result.levels]},
    )


def plan(services, found: SwitchPlan, view: ConnectorView, views: list[ConnectorView]) -> SwitchPlan:
    """The confirmation of a routed connector's disable or reduction: what happens at the gateway,
    and that nothing is sent to the provider."""
    if found.to_mode is None or not (found.action is SwitchAction.DISABLE or found.action.reduces):
        return found
    routed_names = Gateway(services).routed_names()
    if found.connector not in routed_names:
        return found
    ceiling = found.to_mode.ceiling
    what = "every request" if ceiling is None else f"every request above {ceiling.label}"
    client = view.client or "the assistant or automation using it"
    # The key is not revoked, so nothing stops for a connector sharing it — and one handed out as its
    # key keeps the key's whole power: say so rather than list it as stopping (plan._stops does for a revoke).
    keyed = [name for name in shared_with(view, views) if name not in routed_names]
    shared = (
        (
            f"the same key is also recorded for {', '.join(keyed)}, handed out as its key: it keeps working there "
            f"(switch {'it' if len(keyed) == 1 else 'them'} too, or revoke the key at {found.provider_title})",
        )
        if keyed
        else ()
    )
    local = tuple(x for x in found.local if not x.startswith("hand out the reduced"))
    return replace(
        found,
        local=(
            *local,
            f"Breaker's gateway refuses {what} of {found.connector} from the next one (open streams end)",
            "verified at the gateway: one request of each level above the ceiling is sent there and must be refused",
            f"the key at {found.provider_title} is not changed"
            + (
                f" (it is still handed out as itself to {', '.join(keyed)})"
                if keyed
                else " (it never leaves Breaker while routed)"
            ),
        ),
        calls=(),
        manual_steps=(),
        # The plan's warnings are all about the provider's side (no API to reduce or revoke this
        # kind of key, an admin key missing for a call): none is made here, and the switch is
        # verified at the gateway, so "stays 'applied — not verified'" would be untrue.
        warnings=shared,
        stops_working=(f"{client}, through the gateway: {what} refused from the next one (open streams end)",),
        reversible=True,
        undo=f"`breaker enable {found.connector}` (or a higher mode): the gateway lets those requests through again",
        uses_reduced=False,
        irreversible_call=False,
    )
