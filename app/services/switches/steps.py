"""The provider side of each switch: what is called, and what it means for the job.

Each step returns a :class:`StepOutcome`: the job's next state, the message and manual steps, and
the credential changes that must commit together with it. Steps never write to the store
themselves, with one exception: a key a provider has just minted (or the owner has pasted) goes
into the keyring at once and its credential row (inactive) commits through the journal right
after, so that neither a crash nor a failure later in the step can lose it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import httpx

from app.services import binding
from app.services.inventory import ConnectorView, CredentialView, key_problem
from app.services.secrets import SecretStore
from app.services.switches.calls import Calls, Gate, MissingKey, dead, provider_credential
from app.services.switches.journal import CredOp, DbThread, JobRow, JobUpdate, Journal
from app.services.switches.plan import live_credentials, primary_credential, reduced_credential
from app.services.vocabulary import JobState
from connectors import registry
from connectors.base import ActionResult, ActionState, Level, Outcome, Provider, Secret, Verb
from connectors.base import Credential as ProviderCredential


@dataclass
class StepOutcome:
    state: JobState  # APPLIED | MANUAL | PENDING | FAILED
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
        if force and state in (JobState.PENDING, JobState.FAILED):
            state, forced = JobState.OUT_OF_SYNC, True
        new = {
            "state": state,
            "message": self.message,
            "attempts": self.attempts,
            "status": self.status,
            "irreversible": self.irreversible,
        }
        if self.manual_steps and state != JobState.APPLIED:
            new["manual_steps"] = self.manual_steps
        details = {**self.details, "irreversible": self.irreversible or bool(job.details.get("irreversible"))}
        return JobUpdate(
            job_id=job.id,
            connector=job.connector,
            audit_action=f"switch.{state}",
            state=state,
            message=self.message,
            provider_done=self.provider_done or None,
            attempts_add=self.attempts,
            manual_steps=self.manual_steps,
            details=details,
            forced=forced,
            cred_ops=self.cred_ops,
            audit_new=new,
            outcome="ok" if state in (JobState.APPLIED, JobState.MANUAL) else state,
        )


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
    on_late: Callable[[float], Awaitable[None]] | None = None  # a rotation outlives its limit (shown pending)

    @property
    def provider(self) -> Provider:
        return registry.get(self.view.provider)

    async def cred(self, cred: CredentialView) -> ProviderCredential:
        """The provider credential (from the run's preloaded keyring reads, else the keyring)."""
        return await self.calls.credential(self.view, cred, self.views)

    async def probe(self, cred: CredentialView | None = None):
        return await self.calls.probe(self.client, self.view, cred, gate=self.gate, views=self.views)


def from_result(result: ActionResult, provider: Provider, verb: Verb, attempts: int) -> StepOutcome:
    """An ActionResult read as a job state."""
    if result.state is ActionState.APPLIED:
        return StepOutcome(
            JobState.APPLIED,
            result.message or f"{provider.title} accepted the change",
            provider_done=True,
            attempts=attempts,
            status=result.status,
            irreversible=result.irreversible,
            details={k: v for k, v in result.details.items() if _plain(v)},
        )
    steps = list(result.manual_steps) or provider.manual_steps(verb)
    if result.state in (ActionState.MANUAL, ActionState.UNSUPPORTED):
        return StepOutcome(
            JobState.MANUAL,
            result.message or f"{provider.title} has no API for this",
            steps,
            attempts=attempts,
            status=result.status,
        )
    state = JobState.PENDING if result.retryable else JobState.FAILED
    return StepOutcome(
        state, result.message or "the provider call failed", steps, attempts=attempts, status=result.status
    )


def _plain(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, type(None), list, dict)) and not isinstance(value, Secret)


def combine(outcomes: list[StepOutcome]) -> StepOutcome:
    """Several credentials, one job: the least finished state wins; messages and steps add up."""
    if len(outcomes) == 1:
        return outcomes[0]
    order = [JobState.FAILED, JobState.PENDING, JobState.MANUAL, JobState.APPLIED]
    state = next(s for s in order if any(o.state == s for o in outcomes))
    steps: list[str] = []
    for o in outcomes:
        steps += [s for s in o.manual_steps if s not in steps]
    details: dict[str, Any] = {}
    for o in outcomes:
        for k, v in o.details.items():
            details[k] = sorted(set(details.get(k, [])) | set(v)) if k == "done" else v
    return StepOutcome(
        state,
        "; ".join(o.message for o in outcomes if o.message),
        steps if state != JobState.APPLIED else [],
        provider_done=all(o.provider_done for o in outcomes),
        attempts=sum(o.attempts for o in outcomes),
        status=outcomes[-1].status,
        irreversible=any(o.irreversible for o in outcomes),
        details=details,
        cred_ops=[op for o in outcomes for op in o.cred_ops],
    )


def _missing(ctx: StepContext, verb: Verb, exc: Exception) -> StepOutcome:
    return StepOutcome(JobState.FAILED, str(exc), ctx.provider.manual_steps(verb))


# -- disable ----------------------------------------------------------------------------------------


async def disable(ctx: StepContext) -> StepOutcome:
    """Revoke every live key of the connector (the handed-out one first)."""
    creds = live_credentials(ctx.view)
    if not creds:
        return StepOutcome(
            JobState.APPLIED, "no key is stored for this connector: nothing to revoke", provider_done=True
        )
    done = set(ctx.job.details.get("done", []))
    outcomes = []
    for cred in creds:
        if cred.keyring_ref in done:
            continue
        outcomes.append(await _revoke_one(ctx, cred))
    if not outcomes:
        return StepOutcome(JobState.APPLIED, "every key was already revoked", provider_done=True)
    return combine(outcomes)


async def _revoke_one(ctx: StepContext, cred: CredentialView, *, mark_revoked: bool = False) -> StepOutcome:
    provider = ctx.provider
    repeatable = provider.reversible(cred.kind or "")  # setting a status is idempotent; deleting a key is not
    try:
        pc = await ctx.cred(cred)
    except MissingKey as exc:
        return _missing(ctx, Verb.REVOKE, exc)
    done_detail = {"done": [cred.keyring_ref]}
    ops = [CredOp("revoked", cred.keyring_ref)] if mark_revoked else []

    if ctx.probe_first:
        verdict = dead(await ctx.probe(cred))
        if verdict is True:
            return StepOutcome(
                JobState.APPLIED,
                f"the key …{cred.last4} already no longer works; not sent again",
                provider_done=True,
                details=done_detail,
                cred_ops=ops,
            )
        if verdict is None and not repeatable and ctx.job.state in (JobState.APPLYING, JobState.PENDING):
            return StepOutcome(
                JobState.PENDING,
                f"an earlier call may have reached {provider.title} and the probe cannot "
                "tell; not sent again — run the resume again when the provider answers",
                provider.manual_steps(Verb.REVOKE),
            )

    async def send() -> ActionResult:
        return await provider.revoke(ctx.client, pc)

    async def already_done() -> bool | None:
        return dead(await ctx.probe(cred))

    if ctx.shared is not None and cred.fingerprint in ctx.shared:
        result: ActionResult = await asyncio.shield(ctx.shared[cred.fingerprint])
        attempts = 0
        if result.state is ActionState.APPLIED:
            result = ActionResult(
                Verb.REVOKE,
                ActionState.APPLIED,
                "the same key was revoked through another connector",
                status=result.status,
                irreversible=result.irreversible,
            )
    else:
        future: asyncio.Future | None = None
        if ctx.shared is not None:  # a panic: connectors sharing this key wait for this one call
            future = asyncio.get_running_loop().create_future()
            ctx.shared[cred.fingerprint] = future
        result, attempts = ActionResult(Verb.REVOKE, ActionState.FAILED, "cancelled"), 0
        try:
            result, attempts = await ctx.calls.call(
                Verb.REVOKE,
                send,
                gate=ctx.gate,
                repeatable=repeatable,
                already_done=already_done,
                on_retry=ctx.on_retry,
                requests=provider.requests_for(Verb.REVOKE, cred.kind or ""),
            )
        finally:
            if future is not None and not future.done():
                future.set_result(result)
    outcome = from_result(result, provider, Verb.REVOKE, attempts)
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
        swap = StepOutcome(JobState.APPLIED, message, provider_done=True, cred_ops=ops)
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
        return StepOutcome(JobState.FAILED, "no key is stored for this connector", provider.manual_steps(Verb.RESTRICT))
    if not provider.has_api(Verb.RESTRICT, active.kind or ""):
        return StepOutcome(
            JobState.MANUAL,
            f"{provider.title} has no API to reduce this key; do it by hand or register a reduced credential",
            provider.manual_steps(Verb.RESTRICT),
        )
    try:
        pc = await ctx.cred(active)
    except MissingKey as exc:
        return _missing(ctx, Verb.RESTRICT, exc)

    async def send() -> ActionResult:
        return await provider.restrict(ctx.client, pc, ceiling)

    result, attempts = await ctx.calls.call(
        Verb.RESTRICT,
        send,
        gate=ctx.gate,
        repeatable=True,
        on_retry=ctx.on_retry,
        requests=provider.requests_for(Verb.RESTRICT, active.kind or ""),
    )
    return from_result(result, provider, Verb.RESTRICT, attempts)


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
        return StepOutcome(
            JobState.MANUAL, "no key is stored for this connector", provider.manual_steps(Verb.REENABLE), cred_ops=ops
        )
    if not provider.has_api(Verb.REENABLE, target.kind or "") or not provider.reversible(target.kind or ""):
        notes.append(f"nothing to re-enable at {provider.title}; the probe checks that the key works")
        return StepOutcome(JobState.APPLIED, "; ".join(notes), provider_done=True, cred_ops=ops)
    try:
        pc = await ctx.cred(target)
    except MissingKey as exc:
        return _missing(ctx, Verb.REENABLE, exc)

    async def send() -> ActionResult:
        return await provider.reenable(ctx.client, pc)

    result, attempts = await ctx.calls.call(
        Verb.REENABLE,
        send,
        gate=ctx.gate,
        repeatable=True,
        on_retry=ctx.on_retry,
        requests=provider.requests_for(Verb.REENABLE, target.kind or ""),
    )
    outcome = from_result(result, provider, Verb.REENABLE, attempts)
    outcome.message = "; ".join([*notes, outcome.message])
    outcome.cred_ops = ops + outcome.cred_ops
    return outcome


# -- rotate ---------------------------------------------------------------------------------------------


async def _store_new_key(ctx: StepContext, secret: Secret, old: CredentialView) -> CredOp:
    """Keep a new key for good, at once: into the keyring, then its credential row (inactive, so
    ``breaker exec`` still hands out the old key) and ``details.new_ref`` through the journal, with
    a ``switch.key-stored`` audit event. A crash from here on leaves the key findable, and
    ``breaker rotate NAME`` (or verify) finishes the rotation. Returns the row's description."""
    services = ctx.calls.services
    journal = Journal(services)
    ref = SecretStore.new_credential_ref()
    pattern = ctx.provider.recognise(secret.reveal())
    kind = pattern.kind if pattern else old.kind

    def keep() -> CredOp:
        fp = services.secrets.fingerprint(secret)
        services.secrets.put(ref, secret)
        op = CredOp(
            "add",
            ref,
            {
                "fingerprint": fp.digest,
                "last4": fp.last4,
                "tier": old.tier or "primary",
                "active": False,
                "kind": kind,
                "binding": binding.seal_for_view(services.secrets, ctx.view, ref),  # where it may be sent
            },
        )
        journal.write(
            [
                JobUpdate(
                    ctx.job.id,
                    ctx.job.connector,
                    "switch.key-stored",
                    cred_ops=[op],
                    details={"new_ref": ref, "old_refs": [old.keyring_ref] if old.keyring_ref else []},
                    audit_new={
                        "fingerprint": fp.digest,
                        "last4": fp.last4,
                        "tier": op.fields["tier"],
                        "message": "new key stored (inactive until it is checked)",
                    },
                )
            ]
        )
        return op

    return await ctx.db.run(keep)


def _swap_ops(new_ref: str, old: CredentialView | None) -> list[CredOp]:
    """Hand out the new key instead of the old one (both rows exist by now)."""
    ops = [CredOp("activate", new_ref)]
    if old is not None and old.keyring_ref and old.keyring_ref != new_ref:
        ops += [CredOp("deactivate", old.keyring_ref), CredOp("rotated", old.keyring_ref)]
    return ops


async def rotate_by_api(ctx: StepContext) -> StepOutcome:
    """The provider mints the new key. It is kept the moment it arrives, whatever else happens."""
    provider, old = ctx.provider, ctx.view.credential
    if old is None:
        return StepOutcome(JobState.FAILED, "no key is stored for this connector", provider.manual_steps(Verb.ROTATE))
    try:
        pc = await ctx.cred(old)
    except MissingKey as exc:
        return _missing(ctx, Verb.ROTATE, exc)
    pc = await _journal_old_key(ctx, old, pc)

    async def send() -> ActionResult:
        return await provider.rotate(ctx.client, pc)

    # Never cut off (mints=True) and never sent twice after an unanswered attempt: the provider may
    # have replaced the old key already, and a second rotation could kill the first new key.
    result, attempts = await ctx.calls.call(
        Verb.ROTATE,
        send,
        gate=ctx.gate,
        repeatable=False,
        already_done=_cannot_tell,
        on_retry=ctx.on_retry,
        requests=provider.requests_for(Verb.ROTATE, old.kind or ""),
        mints=True,
        on_late=ctx.on_late,
    )
    outcome = from_result(result, provider, Verb.ROTATE, attempts)
    outcome.irreversible = True
    if result.new_secret is None:
        if result.state is ActionState.APPLIED:
            return StepOutcome(
                JobState.FAILED,
                f"{provider.title} reported a rotation but returned no new key; check the key at the provider",
                provider.manual_steps(Verb.ROTATE),
                attempts=attempts,
            )
        return outcome
    # Stored whatever the provider's state says (a FAILED answer may carry a key, too).
    new_op = await _store_new_key(ctx, result.new_secret, old)
    if result.state is not ActionState.APPLIED:
        outcome.message = f"{provider.title}: {result.message}"
    finished = await _finish_with_new_key(ctx, old, new_op.ref, new_op.fields["last4"])
    finished.attempts += attempts
    finished.status = finished.status or result.status
    finished.irreversible = True
    if finished.state != JobState.APPLIED and result.state is not ActionState.APPLIED:
        finished.message = f"{outcome.message}; {finished.message}"
    return finished


async def _journal_old_key(ctx: StepContext, old: CredentialView, pc: ProviderCredential) -> ProviderCredential:
    """Before the provider is asked to rotate: what identifies the old key there (id, name, creation
    date, expiry, from a probe) and when the call goes out, committed to the journal. A kill after
    the provider made the new key but before Breaker stored it then still lets Breaker find the new
    key (issue 10 item 8). The old key's expiry is handed to the provider to keep the lifetime."""
    report = await ctx.probe(old)
    identity = ctx.provider.key_identity(report) if report.outcome is Outcome.OK else {}
    sent_at = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    update = JobUpdate(
        ctx.job.id,
        ctx.job.connector,
        "switch.old-key",
        details={"old_key": identity, "rotate_sent_at": sent_at},
        audit_new={"old_key": identity, "rotate_sent_at": sent_at},
    )
    await ctx.db.run(Journal(ctx.calls.services).write, [update])
    if identity.get("expires_at"):
        return replace(pc, extra={**pc.extra, "keep_expires_at": str(identity["expires_at"])})
    return pc


async def _lost_new_key(ctx: StepContext, alive: bool | None) -> StepOutcome:
    """The rotation was cut off before the provider's answer was recorded and the old key no longer
    works: the provider most likely made a new key that Breaker never received. Say exactly which
    one — found by listing the account's keys with another working key of the connector when the
    provider can, else by what was journalled before the call (name, id, time)."""
    provider, job = ctx.provider, ctx.job
    old_key = job.details.get("old_key") or {}
    sent_at = job.details.get("rotate_sent_at") or ""
    found = None
    if old_key and sent_at:
        for cred in live_credentials(ctx.view):
            if cred.keyring_ref in set(job.details.get("old_refs") or []) or cred == ctx.view.credential:
                continue
            try:
                pc = await ctx.cred(cred)
            except Exception:
                continue
            found = await provider.find_replacement(ctx.client, pc, old_key, sent_at)
            if found is not None:
                break
    name = f"“{old_key['name']}”" if old_key.get("name") else "the old one"
    what = f"{provider.title} revoked the old key ({_describe_key(old_key) or 'as journalled'})"
    steps = list(provider.manual_steps(Verb.ROTATE))
    if found:
        keys = "; ".join(_describe_key(k) for k in found)
        message = (
            f"the rotation was cut off after {provider.title} answered: {what} and made the new key {keys}, "
            "which Breaker never received. Revoke that key at the provider (nobody holds it), create a new one "
            "and give it to Breaker"
        )
        steps.insert(1, f"Revoke the key {keys} — made by the cut-off rotation, never stored anywhere.")
        details: dict[str, Any] = {"lost_new_key": found}
    else:
        message = (
            f"the rotation was cut off before {provider.title}'s answer was recorded and the old key "
            + ("no longer works" if alive else "could not be checked")
            + (
                f": {provider.title} most likely made a new key named {name}, created at or after {sent_at} "
                f"(the old one: {_describe_key(old_key)}), which Breaker never received. Revoke it at the "
                "provider, create a new one and give it to Breaker"
                if old_key and sent_at
                else ": if the provider made a new key, Breaker never received it — create one by hand and give it "
                "to Breaker"
            )
        )
        if old_key and sent_at:
            steps.insert(1, f"Revoke the active key named {name} created at or after {sent_at}: nobody holds it.")
        details = {}
    return StepOutcome(JobState.FAILED, message, steps, details=details)


def _describe_key(key: dict[str, Any]) -> str:
    parts = []
    if key.get("name"):
        parts.append(f"named “{key['name']}”")
    if key.get("id") is not None:
        parts.append(f"id {key['id']}")
    if key.get("created_at"):
        parts.append(f"created {key['created_at']}")
    if key.get("expires_at"):
        parts.append(f"expires {key['expires_at']}")
    return ", ".join(parts)


async def _finish_with_new_key(ctx: StepContext, old: CredentialView | None, new_ref: str, last4: str) -> StepOutcome:
    """Two-phase rule, from a stored new key: it must work; only then is it handed out and the old
    one retired. Used right after a rotation and to finish an interrupted one."""
    provider = ctx.provider
    details: dict[str, Any] = {"new_ref": new_ref, "old_refs": [old.keyring_ref] if old else []}
    new_view = _new_credential(ctx, new_ref, old, last4)
    new_report = await ctx.probe(new_view)
    if new_report.outcome is not Outcome.OK:
        return StepOutcome(
            JobState.FAILED,
            f"{provider.title} returned a new key (stored as …{last4}, not handed out) but "
            f"it does not answer: {new_report.outcome.value}; check both keys at the provider, then "
            f"`breaker rotate {ctx.view.name}` tries the stored key again",
            provider.manual_steps(Verb.ROTATE),
            provider_done=True,
            details=details,
        )
    ops = _swap_ops(new_ref, old)
    details["swapped"] = True
    if old is None or old.keyring_ref == new_ref:
        return StepOutcome(
            JobState.APPLIED, f"new key …{last4} works", provider_done=True, details=details, cred_ops=ops
        )
    old_gone = await _retire_old(ctx, old)
    if old_gone is None:
        return StepOutcome(
            JobState.APPLIED,
            f"new key …{last4} works; the old key no longer does",
            provider_done=True,
            details=details,
            cred_ops=[*ops, CredOp("revoked", old.keyring_ref)],
        )
    old_gone.message = f"new key …{last4} works; old key: {old_gone.message}"
    old_gone.cred_ops = ops + old_gone.cred_ops  # the swap commits whatever the revoke did
    old_gone.provider_done = True
    old_gone.details.update(details)
    return old_gone


def _new_credential(ctx: StepContext, ref: str, old: CredentialView | None, last4: str) -> CredentialView:
    """The stored new key as a credential view (from the connector's rows when they have it)."""
    found = next((c for c in ctx.view.credentials if c.keyring_ref == ref), None)
    if found is not None:
        return found
    template = old or CredentialView("", "", "primary", "", True, None, None, None, None, "")  # type: ignore[arg-type]
    seal = binding.seal_for_view(ctx.calls.services.secrets, ctx.view, ref)  # as _store_new_key sealed it
    return replace(template, fingerprint="", last4=last4, keyring_ref=ref, active=False, revoked_at=None, binding=seal)


async def finish_rotation(ctx: StepContext) -> StepOutcome:
    """Finish a rotation that was interrupted (a crash, a kill, a new key that did not answer yet).

    With a stored new key (``details.new_ref``): probe it, hand it out, retire the old one — the
    provider is not asked to rotate again. Without one, the provider's answer never arrived: the
    old key's probe says what is left to do.
    """
    provider, job = ctx.provider, ctx.job
    new_ref = job.details.get("new_ref")
    old_refs = set(job.details.get("old_refs") or [])
    old = next((c for c in ctx.view.credentials if c.keyring_ref in old_refs), None)
    if new_ref:
        new = next((c for c in ctx.view.credentials if c.keyring_ref == new_ref), None)
        if new is None:
            return StepOutcome(
                JobState.FAILED,
                "the interrupted rotation's new key is no longer in the inventory; "
                f"rotate again with `breaker rotate {ctx.view.name}`",
                provider.manual_steps(Verb.ROTATE),
            )
        outcome = await _finish_with_new_key(ctx, old, new_ref, new.last4)
        outcome.irreversible = True
        outcome.message = f"finished an interrupted rotation: {outcome.message}"
        return outcome
    current = ctx.view.credential
    alive = dead(await ctx.probe(current)) if current is not None else None
    if alive is False:
        return StepOutcome(
            JobState.FAILED,
            "the rotation was interrupted before the provider's answer was recorded; the "
            f"old key still works and nothing was swapped — `breaker rotate {ctx.view.name}` "
            "tries again",
            provider.manual_steps(Verb.ROTATE),
        )
    return await _lost_new_key(ctx, alive)


async def _cannot_tell() -> None:
    return None


async def _retire_old(ctx: StepContext, old: CredentialView) -> StepOutcome | None:
    """Make sure the replaced key is dead: None when it already is; else revoke it, or say how."""
    if dead(await ctx.probe(old)) is True:
        return None
    outcome = await _revoke_one(ctx, old, mark_revoked=True)
    if outcome.state == JobState.MANUAL:
        outcome.message = "still works; revoke it by hand: " + outcome.message
    return outcome


async def rotate_guided(ctx: StepContext, new_secret: Secret) -> StepOutcome:
    """The owner pasted a new key: probe it, and only then swap it in and retire the old one."""
    provider, old = ctx.provider, ctx.view.credential
    problem = key_problem(new_secret)
    if not problem and provider.key_patterns and provider.recognise(new_secret.reveal()) is None:
        problem = f"this does not look like a {provider.title} key"
    if old is not None and not problem and new_secret == _safe_secret(ctx, old):
        problem = "this is the key the connector already has"
    if problem:
        return StepOutcome(
            JobState.FAILED, f"new key refused: {problem}; nothing was changed", provider.manual_steps(Verb.ROTATE)
        )
    admin = None
    try:
        admin = (await ctx.cred(old)).admin_secret if old is not None else None
    except MissingKey:
        admin = None
    pc_new = provider_credential(ctx.view, new_secret, admin)
    try:
        report = await asyncio.wait_for(provider.probe(ctx.client, pc_new), ctx.calls.policy.timeout_s * 2 + 1)
    except TimeoutError:
        report = None
    except Exception:
        report = None
    if report is None or report.outcome is not Outcome.OK:
        why = report.outcome.value if report is not None else "no answer"
        return StepOutcome(
            JobState.FAILED,
            f"the new key does not work ({why}); the old key stays in place",
            provider.manual_steps(Verb.ROTATE),
            attempts=1,
        )
    template = old or CredentialView("", "", "primary", "", True, None, None, None, None, "")  # type: ignore[arg-type]
    new_op = await _store_new_key(ctx, new_secret, template)
    outcome = await _finish_with_new_key(ctx, old, new_op.ref, new_op.fields["last4"])
    if report.identity and outcome.message.startswith("new key"):
        outcome.message = outcome.message.replace(" works", f" works (as {report.identity})", 1)
    outcome.attempts += 1
    outcome.irreversible = outcome.irreversible or (old is not None and outcome.state == JobState.APPLIED)
    return outcome


def _safe_secret(ctx: StepContext, cred: CredentialView) -> Secret | None:
    try:
        return ctx.calls.secret(cred)
    except Exception:
        return None
