"""The provider side of each switch: what is called, and what it means for the job.

Each step returns a :class:`StepOutcome`: the job's next state, the message and manual steps, and
the credential changes that must commit together with it. Steps never write to the store
themselves (except the keyring, at once, for a key a provider has just minted).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.services.inventory import ConnectorView, CredentialView, key_problem
from app.services.secrets import SecretStore
from connectors import registry
from connectors.base import ActionResult, ActionState, Credential as ProviderCredential, Level, Outcome, Provider, Secret

from app.services.switches import states as S
from app.services.switches.calls import Calls, Gate, MissingKey, dead
from app.services.switches.journal import CredOp, DbThread, JobRow, JobUpdate
from app.services.switches.plan import live_credentials, primary_credential, reduced_credential


@dataclass
class StepOutcome:
    state: str  # APPLIED | MANUAL | PENDING | FAILED
    message: str
    manual_steps: list[str] = field(default_factory=list)
    provider_done: bool = False
    attempts: int = 0
    status: int | None = None
    irreversible: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    cred_ops: list[CredOp] = field(default_factory=list)

    def update(self, job: JobRow, *, force: bool = False) -> JobUpdate:
        """The journal entry for this outcome. ``force`` turns a failure into out-of-sync."""
        state = self.state
        forced = None
        if force and state in (S.PENDING, S.FAILED):
            state, forced = S.OUT_OF_SYNC, True
        new = {"state": state, "message": self.message, "attempts": self.attempts, "status": self.status,
               "irreversible": self.irreversible}
        if self.manual_steps and state != S.APPLIED:
            new["manual_steps"] = self.manual_steps
        details = {**self.details, "irreversible": self.irreversible or bool(job.details.get("irreversible"))}
        return JobUpdate(job_id=job.id, connector=job.connector, audit_action=f"switch.{state}", state=state,
                         message=self.message, provider_done=self.provider_done or None, attempts_add=self.attempts,
                         manual_steps=self.manual_steps, details=details, forced=forced, cred_ops=self.cred_ops,
                         audit_new=new, outcome="ok" if state in (S.APPLIED, S.MANUAL) else state)


@dataclass
class StepContext:
    calls: Calls
    db: DbThread
    client: httpx.AsyncClient
    view: ConnectorView
    views: list[ConnectorView]
    job: JobRow
    gate: Gate = None
    probe_first: bool = False  # an earlier attempt may already have changed the provider: look first
    on_retry: Callable[[int, ActionResult], Awaitable[None]] | None = None
    shared: dict[str, asyncio.Future] | None = None  # fingerprint → the revoke already under way (panic)

    @property
    def provider(self) -> Provider:
        return registry.get(self.view.provider)

    async def cred(self, cred: CredentialView) -> ProviderCredential:
        """The provider credential (from the run's preloaded keyring reads, else the keyring)."""
        return await self.calls.credential(self.view, cred, self.views)

    async def probe(self, cred: CredentialView | None = None):
        return await self.calls.probe(self.client, self.view, cred, gate=self.gate, views=self.views)


def from_result(result: ActionResult, provider: Provider, verb: str, attempts: int) -> StepOutcome:
    """An ActionResult read as a job state."""
    if result.state is ActionState.APPLIED:
        return StepOutcome(S.APPLIED, result.message or f"{provider.title} accepted the change", provider_done=True,
                           attempts=attempts, status=result.status, irreversible=result.irreversible,
                           details={k: v for k, v in result.details.items() if _plain(v)})
    steps = list(result.manual_steps) or provider.manual_steps(verb)
    if result.state in (ActionState.MANUAL, ActionState.UNSUPPORTED):
        return StepOutcome(S.MANUAL, result.message or f"{provider.title} has no API for this", steps,
                           attempts=attempts, status=result.status)
    state = S.PENDING if result.retryable else S.FAILED
    return StepOutcome(state, result.message or "the provider call failed", steps, attempts=attempts,
                       status=result.status)


def _plain(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, type(None), list, dict)) and not isinstance(value, Secret)


def combine(outcomes: list[StepOutcome]) -> StepOutcome:
    """Several credentials, one job: the least finished state wins; messages and steps add up."""
    if len(outcomes) == 1:
        return outcomes[0]
    order = [S.FAILED, S.PENDING, S.MANUAL, S.APPLIED]
    state = next(s for s in order if any(o.state == s for o in outcomes))
    steps: list[str] = []
    for o in outcomes:
        steps += [s for s in o.manual_steps if s not in steps]
    details: dict[str, Any] = {}
    for o in outcomes:
        for k, v in o.details.items():
            details[k] = sorted(set(details.get(k, [])) | set(v)) if k == "done" else v
    return StepOutcome(state, "; ".join(o.message for o in outcomes if o.message), steps if state != S.APPLIED else [],
                       provider_done=all(o.provider_done for o in outcomes),
                       attempts=sum(o.attempts for o in outcomes), status=outcomes[-1].status,
                       irreversible=any(o.irreversible for o in outcomes), details=details,
                       cred_ops=[op for o in outcomes for op in o.cred_ops])


def _missing(ctx: StepContext, verb: str, exc: Exception) -> StepOutcome:
    return StepOutcome(S.FAILED, str(exc), ctx.provider.manual_steps(verb))


# -- disable ----------------------------------------------------------------------------------------


async def disable(ctx: StepContext) -> StepOutcome:
    """Revoke every live key of the connector (the handed-out one first)."""
    creds = live_credentials(ctx.view)
    if not creds:
        return StepOutcome(S.APPLIED, "no key is stored for this connector: nothing to revoke", provider_done=True)
    done = set(ctx.job.details.get("done", []))
    outcomes = []
    for cred in creds:
        if cred.keyring_ref in done:
            continue
        outcomes.append(await _revoke_one(ctx, cred))
    if not outcomes:
        return StepOutcome(S.APPLIED, "every key was already revoked", provider_done=True)
    return combine(outcomes)


async def _revoke_one(ctx: StepContext, cred: CredentialView, *, mark_revoked: bool = False) -> StepOutcome:
    provider = ctx.provider
    repeatable = provider.revoke_reversible  # setting a status is idempotent; deleting a key is not
    try:
        pc = await ctx.cred(cred)
    except MissingKey as exc:
        return _missing(ctx, "revoke", exc)
    done_detail = {"done": [cred.keyring_ref]}
    ops = [CredOp("revoked", cred.keyring_ref)] if mark_revoked else []

    if ctx.probe_first:
        verdict = dead(await ctx.probe(cred))
        if verdict is True:
            return StepOutcome(S.APPLIED, f"the key …{cred.last4} already no longer works; not sent again",
                               provider_done=True, details=done_detail, cred_ops=ops)
        if verdict is None and not repeatable and ctx.job.state in (S.APPLYING, S.PENDING):
            return StepOutcome(S.PENDING, f"an earlier call may have reached {provider.title} and the probe cannot "
                               "tell; not sent again — run the resume again when the provider answers",
                               provider.manual_steps("revoke"))

    async def send() -> ActionResult:
        return await provider.revoke(ctx.client, pc)

    async def already_done() -> bool | None:
        return dead(await ctx.probe(cred))

    if ctx.shared is not None and cred.fingerprint in ctx.shared:
        result: ActionResult = await asyncio.shield(ctx.shared[cred.fingerprint])
        attempts = 0
        if result.state is ActionState.APPLIED:
            result = ActionResult("revoke", ActionState.APPLIED, "the same key was revoked through another connector",
                                  status=result.status, irreversible=result.irreversible)
    else:
        future: asyncio.Future | None = None
        if ctx.shared is not None:  # a panic: connectors sharing this key wait for this one call
            future = asyncio.get_running_loop().create_future()
            ctx.shared[cred.fingerprint] = future
        result, attempts = ActionResult("revoke", ActionState.FAILED, "cancelled"), 0
        try:
            result, attempts = await ctx.calls.call("revoke", send, gate=ctx.gate, repeatable=repeatable,
                                                    already_done=already_done, on_retry=ctx.on_retry)
        finally:
            if future is not None and not future.done():
                future.set_result(result)
    outcome = from_result(result, provider, "revoke", attempts)
    if outcome.provider_done:
        outcome.details.update(done_detail)
        outcome.cred_ops += ops
    return outcome


# -- draft-only / read-only -------------------------------------------------------------------------


async def restrict(ctx: StepContext, ceiling: Level, *, revoke_full: bool = False) -> StepOutcome:
    view, provider = ctx.view, ctx.provider
    active = view.credential
    reduced = reduced_credential(view)
    if reduced is not None:
        ops: list[CredOp] = []
        if active is None or active.keyring_ref != reduced.keyring_ref:
            if active is not None:
                ops.append(CredOp("deactivate", active.keyring_ref))
            ops.append(CredOp("activate", reduced.keyring_ref))
            message = f"the connector now hands out its reduced credential (…{reduced.last4})"
        else:
            message = f"the connector already hands out its reduced credential (…{reduced.last4})"
        swap = StepOutcome(S.APPLIED, message, provider_done=True, cred_ops=ops)
        full = primary_credential(view)
        if not revoke_full or full is None or full.keyring_ref == reduced.keyring_ref:
            if full is not None:
                swap.message += f"; the full key (…{full.last4}) still works at {provider.title} until revoked"
            return swap
        revoked = await _revoke_one(ctx, full, mark_revoked=True)
        revoked.message = f"{message}; full key: {revoked.message}"
        revoked.cred_ops = ops + revoked.cred_ops  # the swap commits whatever the revoke did
        return revoked
    if active is None:
        return StepOutcome(S.FAILED, "no key is stored for this connector", provider.manual_steps("restrict"))
    if not provider.can_restrict:
        return StepOutcome(S.MANUAL, f"{provider.title} has no API to reduce this key; do it by hand or register "
                           "a reduced credential", provider.manual_steps("restrict"))
    try:
        pc = await ctx.cred(active)
    except MissingKey as exc:
        return _missing(ctx, "restrict", exc)

    async def send() -> ActionResult:
        return await provider.restrict(ctx.client, pc, ceiling)

    result, attempts = await ctx.calls.call("restrict", send, gate=ctx.gate, repeatable=True, on_retry=ctx.on_retry)
    return from_result(result, provider, "restrict", attempts)


# -- enable -------------------------------------------------------------------------------------------


async def enable(ctx: StepContext) -> StepOutcome:
    view, provider = ctx.view, ctx.provider
    active = view.credential
    primary = primary_credential(view)
    ops: list[CredOp] = []
    notes: list[str] = []
    target = active
    if active is not None and active.tier == "reduced" and primary is not None:
        ops = [CredOp("deactivate", active.keyring_ref), CredOp("activate", primary.keyring_ref)]
        notes.append(f"the connector hands out its full credential (…{primary.last4}) again")
        target = primary
    if target is None:
        return StepOutcome(S.MANUAL, "no key is stored for this connector", provider.manual_steps("reenable"),
                           cred_ops=ops)
    if not provider.revoke_reversible:
        notes.append(f"nothing to re-enable at {provider.title}; the probe checks that the key works")
        return StepOutcome(S.APPLIED, "; ".join(notes), provider_done=True, cred_ops=ops)
    try:
        pc = await ctx.cred(target)
    except MissingKey as exc:
        return _missing(ctx, "reenable", exc)

    async def send() -> ActionResult:
        return await provider.reenable(ctx.client, pc)

    result, attempts = await ctx.calls.call("reenable", send, gate=ctx.gate, repeatable=True, on_retry=ctx.on_retry)
    outcome = from_result(result, provider, "reenable", attempts)
    outcome.message = "; ".join([*notes, outcome.message])
    outcome.cred_ops = ops + outcome.cred_ops
    return outcome


# -- rotate ---------------------------------------------------------------------------------------------


async def _store_new_key(ctx: StepContext, secret: Secret, old: CredentialView) -> CredOp:
    """Put a new key in the keyring at once (on the writer thread) and describe its credential row."""
    services = ctx.calls.services
    ref = SecretStore.new_credential_ref()

    def put() -> tuple[str, str]:
        fp = services.secrets.fingerprint(secret)
        services.secrets.put(ref, secret)
        return fp.digest, fp.last4

    digest, last4 = await ctx.db.run(put)
    pattern = ctx.provider.recognise(secret.reveal())
    return CredOp("add", ref, {"fingerprint": digest, "last4": last4, "tier": old.tier, "active": True,
                               "kind": pattern.kind if pattern else old.kind})


def _swap_ops(new: CredOp, old: CredentialView) -> list[CredOp]:
    return [new, CredOp("deactivate", old.keyring_ref), CredOp("rotated", old.keyring_ref)]


async def rotate_by_api(ctx: StepContext) -> StepOutcome:
    """The provider mints the new key. It is stored the moment it arrives, whatever else happens."""
    provider, old = ctx.provider, ctx.view.credential
    if old is None:
        return StepOutcome(S.FAILED, "no key is stored for this connector", provider.manual_steps("rotate"))
    try:
        pc = await ctx.cred(old)
    except MissingKey as exc:
        return _missing(ctx, "rotate", exc)

    async def send() -> ActionResult:
        return await provider.rotate(ctx.client, pc)

    # never sent twice after an unanswered attempt: a second rotation could kill the first new key
    result, attempts = await ctx.calls.call("rotate", send, gate=ctx.gate, repeatable=False,
                                            already_done=_cannot_tell, on_retry=ctx.on_retry)
    outcome = from_result(result, provider, "rotate", attempts)
    outcome.irreversible = True
    if result.new_secret is None:
        if result.state is ActionState.APPLIED:
            return StepOutcome(S.FAILED, f"{provider.title} reported a rotation but returned no new key; check the "
                               "key at the provider", provider.manual_steps("rotate"), attempts=attempts)
        return outcome
    new_op = await _store_new_key(ctx, result.new_secret, old)
    outcome.cred_ops = _swap_ops(new_op, old)
    outcome.provider_done = True
    outcome.details.update(new_ref=new_op.ref, old_refs=[old.keyring_ref])
    # Two-phase rule: the new key must work; then the old one must die.
    new_report = await ctx.probe(_as_view(new_op, old))
    if new_report.outcome is not Outcome.OK:
        outcome.state = S.FAILED
        outcome.message = (f"{provider.title} returned a new key (stored as …{new_op.fields['last4']}) but it does not "
                           f"answer: {new_report.outcome.value}; check both keys at the provider")
        outcome.manual_steps = provider.manual_steps("rotate")
        return outcome
    old_gone = await _retire_old(ctx, old)
    if old_gone is not None:
        outcome.state, outcome.manual_steps = old_gone.state, old_gone.manual_steps
        outcome.message = f"new key …{new_op.fields['last4']} works; old key: {old_gone.message}"
        outcome.cred_ops += old_gone.cred_ops
    else:
        outcome.state = S.APPLIED
        outcome.message = f"new key …{new_op.fields['last4']} works; the old key no longer does"
        outcome.cred_ops.append(CredOp("revoked", old.keyring_ref))
    return outcome


async def _cannot_tell() -> None:
    return None


def _as_view(op: CredOp, old: CredentialView) -> CredentialView:
    from dataclasses import replace

    return replace(old, fingerprint=op.fields["fingerprint"], last4=op.fields["last4"], keyring_ref=op.ref,
                   active=True, revoked_at=None)


async def _retire_old(ctx: StepContext, old: CredentialView) -> StepOutcome | None:
    """Make sure the replaced key is dead: None when it already is; else revoke it, or say how."""
    if dead(await ctx.probe(old)) is True:
        return None
    outcome = await _revoke_one(ctx, old, mark_revoked=True)
    if outcome.state == S.MANUAL:
        outcome.message = "still works; revoke it by hand: " + outcome.message
    return outcome


class GuidedKeyRejected(ValueError):
    """The pasted key cannot replace the old one (malformed, another provider's, or does not work)."""


async def rotate_guided(ctx: StepContext, new_secret: Secret) -> StepOutcome:
    """The owner pasted a new key: probe it, and only then swap it in and retire the old one."""
    provider, old = ctx.provider, ctx.view.credential
    problem = key_problem(new_secret)
    if not problem and provider.key_patterns and provider.recognise(new_secret.reveal()) is None:
        problem = f"this does not look like a {provider.title} key"
    if old is not None and not problem and new_secret == _safe_secret(ctx, old):
        problem = "this is the key the connector already has"
    if problem:
        return StepOutcome(S.FAILED, f"new key refused: {problem}; nothing was changed",
                           provider.manual_steps("rotate"))
    admin = None
    try:
        admin = (await ctx.cred(old)).admin_secret if old is not None else None
    except MissingKey:
        admin = None
    pc_new = ProviderCredential(secret=new_secret, base_url=ctx.view.base_url or None,
                                extra={k: str(v) for k, v in ctx.view.extra.items()}, admin_secret=admin)
    try:
        report = await asyncio.wait_for(provider.probe(ctx.client, pc_new), ctx.calls.policy.timeout_s * 2 + 1)
    except asyncio.TimeoutError:
        report = None
    except Exception:  # noqa: BLE001
        report = None
    if report is None or report.outcome is not Outcome.OK:
        why = report.outcome.value if report is not None else "no answer"
        return StepOutcome(S.FAILED, f"the new key does not work ({why}); the old key stays in place",
                           provider.manual_steps("rotate"), attempts=1)
    template = old or CredentialView("", "", "primary", "", True, None, None, None, None, "")  # type: ignore[arg-type]
    new_op = await _store_new_key(ctx, new_secret, template)
    ops = _swap_ops(new_op, old) if old is not None else [new_op]
    note = f"new key …{new_op.fields['last4']} works" + (f" (as {report.identity})" if report.identity else "")
    details: dict[str, Any] = {"new_ref": new_op.ref, "old_refs": [old.keyring_ref] if old else []}
    if old is None:
        return StepOutcome(S.APPLIED, note, provider_done=True, attempts=1, details=details, cred_ops=ops)
    gone = await _retire_old(ctx, old)
    if gone is None:
        return StepOutcome(S.APPLIED, f"{note}; the old key no longer works", provider_done=True, attempts=1,
                           details=details, cred_ops=[*ops, CredOp("revoked", old.keyring_ref)], irreversible=True)
    gone.message = f"{note}; old key: {gone.message}"
    gone.cred_ops = ops + gone.cred_ops
    gone.details.update(details)
    gone.attempts += 1
    return gone


def _safe_secret(ctx: StepContext, cred: CredentialView) -> Secret | None:
    try:
        return ctx.calls.secret(cred)
    except Exception:  # noqa: BLE001
        return None
