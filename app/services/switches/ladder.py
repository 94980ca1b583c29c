"""The ladder — full → draft-only → read-only → disabled, and back — plus rotation, one connector at a time.

Every switch is a journalled job: the ``switch_job`` row and the new mode are committed (with the
``switch.recorded`` audit event) before anything is sent; the job turns ``applying`` together with
its ``switch.calling`` audit event right before the provider is called. Then the provider step,
then a fresh probe to verify. Each step is one transaction with its audit event;
``Connector.switch_state`` mirrors the job. A single switch cut off midway (crash, kill) is shown
as interrupted by :meth:`Switches.latest`; :meth:`Switches.verify` — or ``rotate`` again, for a
rotation — finishes it without repeating what already happened.

Nothing here blocks the event loop: store reads go to a worker thread, writes to the one writer
thread (:class:`DbThread`).

The panel and the CLI use :class:`Switches`; see ``app/services/switches/__init__.py`` for the API.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace

import httpx

from app.services import binding
from app.services.inventory import ConnectorView, NotFound
from app.services.secrets import SecretStore
from app.services.switches import at_gateway, steps
from app.services.switches.calls import CallPolicy, Calls
from app.services.switches.events import EventSink, emit
from app.services.switches.handoff import Handoffs, KeyHandoff
from app.services.switches.journal import DbThread, JobRow, JobUpdate, Journal, PanicTarget
from app.services.switches.plan import PanicPlan, SwitchPlan, panic_plan, plan_for
from app.services.switches.states import JobReport, PanicSummary
from app.services.switches.verify import verify
from app.services.vocabulary import JobState, SwitchAction
from app.store.db import session_scope
from app.store.models import Credential, utcnow
from connectors import registry
from connectors.base import ActionResult, Mode, Secret

# Single-switch jobs running in this process right now: a job in "applying" that is not here was
# cut off (a crash, a kill) and is offered to finish. (Another process's running switch cannot be
# told apart from an interrupted one; switches of one connector from two processes at once are
# not supported.)
_RUNNING: set[int] = set()


def checkpoint(engine) -> None:
    """Fold SQLite's write-ahead log into the database now, so that the panic's own commits do not
    pay for an automatic checkpoint (and its fsync). Best effort: another reader may hold it back."""
    if engine.url.get_backend_name() != "sqlite":
        return
    try:
        raw = engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            raw.close()
    except Exception:
        pass


class NeedsNewKey(Exception):
    """This provider cannot rotate by API: the owner creates the key and Breaker takes it (``rotate_with``)."""

    def __init__(self, plan: SwitchPlan) -> None:
        super().__init__(f"{plan.provider_title} cannot rotate keys by API: create the new key by hand and paste it")
        self.plan = plan


class SwitchRefused(Exception):
    """The switch cannot start (e.g. nothing to confirm). One line for the owner."""


@dataclass(frozen=True)
class Selection:
    """Which connectors a panic covers: every one when empty. Within a field any value matches;
    across fields all must match (``--provider github --tag prod``: GitHub connectors tagged prod)."""

    providers: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.providers or self.owners or self.tags or self.names)

    def matches(self, name: str, provider: str, owner: str, tags: tuple[str, ...]) -> bool:
        """The one selection rule (applied by :meth:`Switches.targets`). A connector already
        disabled — even verified long ago — is covered too: its key may have been re-activated out
        of band, so a panic probes it first and calls its provider again only if the key works."""
        low = lambda xs: {x.lower() for x in xs}  # noqa: E731
        return (
            (not self.providers or provider.lower() in low(self.providers))
            and (not self.owners or owner.lower() in low(self.owners))
            and (not self.tags or bool(low(tags) & low(self.tags)))
            and (not self.names or name in self.names)
        )

    def as_dict(self) -> dict[str, list[str]]:
        return {
            k: list(v)
            for k, v in (
                ("providers", self.providers),
                ("owners", self.owners),
                ("tags", self.tags),
                ("names", self.names),
            )
            if v
        }

    def describe(self) -> str:
        """The selection as the command line spells it, for messages."""
        return (
            " ".join(
                f"--{flag} {value}"
                for flag, values in (
                    ("provider", self.providers),
                    ("owner", self.owners),
                    ("tag", self.tags),
                    ("name", self.names),
                )
                for value in values
            )
            or "(everything)"
        )


class Switches:
    """Switch service for one open inventory (``Switches(services)``). Async methods never block the
    loop: store reads run on a worker thread, store writes on one writer thread."""

    def __init__(
        self,
        services,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        call_timeout: float | None = None,
        per_provider: int | None = None,
        attempts: int = 3,
        backoff_s: float = 0.5,
    ) -> None:
        self.services = services
        probe = services.settings.probe
        self.policy = CallPolicy(
            timeout_s=call_timeout or probe.timeout_s, attempts=max(1, attempts), backoff_s=backoff_s
        )
        self.per_provider = per_provider or probe.per_host
        self.transport = transport
        self.journal = Journal(services)
        self.db = DbThread()
        self.handoffs = Handoffs(services)  # new keys made by a provider, to hand on by hand once

    def prepare(self, selection: Selection | None = None) -> None:
        """Open what a panic needs before the owner confirms — the audit key and the TLS context —
        so that the time from confirmation to the first provider call is spent disabling. No
        connector key is read here: keys are read only once the owner has confirmed (by
        :meth:`panic`), and forgotten when it ends."""
        from app.services.audit import KEYRING_UNAVAILABLE
        from app.services.netutil import tls_context

        try:
            self.services.secrets.install_key("audit")
        except KEYRING_UNAVAILABLE:
            pass  # the local part needs no key: the panic records, lists the calls it cannot make (panic.py)
        tls_context()
        checkpoint(self.services.engine)

    def calls(self) -> Calls:
        return Calls(self.services, self.transport, self.policy)

    def close(self) -> None:
        self.db.close()

    # -- reading ------------------------------------------------------------------------------------
    def plan(self, name: str, action: SwitchAction | str, *, revoke_full: bool = False) -> SwitchPlan:
        """What ``action`` on ``name`` will do: the text of the confirmation."""
        return self._plan(name, action, revoke_full)[0]

    def _plan(
        self, name: str, action: SwitchAction | str, revoke_full: bool
    ) -> tuple[SwitchPlan, ConnectorView, list[ConnectorView]]:
        action = _action(action)
        views = self.services.inventory.list()
        view = next((v for v in views if v.name == name), None)
        if view is None:
            raise NotFound(name, [v.name for v in views])
        found = plan_for(view, action, views, revoke_full=revoke_full)
        return at_gateway.plan(self.services, found, view, views), view, views

    def targets(self, selection: Selection | None = None) -> list[PanicTarget]:
        """The connectors a panic with ``selection`` covers, from one light query (the one place the
        selection rule is applied: the plan the owner reads and the panic itself use it)."""
        selection = selection or Selection()
        return self.journal.panic_targets(lambda t, owner, tags: selection.matches(t.name, t.provider, owner, tags))

    def select(
        self, selection: Selection | None = None, views: list[ConnectorView] | None = None
    ) -> list[ConnectorView]:
        names = {t.name for t in self.targets(selection)}
        views = views if views is not None else self.services.inventory.list()
        return [v for v in views if v.name in names]

    def panic_plan(self, selection: Selection | None = None) -> PanicPlan:
        views = self.services.inventory.list()
        plan = panic_plan(self.select(selection, views), views)
        if selection is None or selection.empty:  # every connector: the MCP servers a scan recorded too
            from app.services import mcp_switch

            plan = replace(plan, mcp_servers=tuple(s.where for s in mcp_switch.known_on(self.services)))
        return plan

    def latest(self, name: str) -> JobReport | None:
        """The latest switch of ``name``; a single switch cut off midway says so (``interrupted``)."""
        job = self.journal.latest(name)
        return _report(job) if job else None

    def history(self, name: str, limit: int = 20) -> list[JobReport]:
        return [_report(j) for j in self.journal.history(name, limit)]

    def unfinished_batches(self) -> list[str]:
        """Interrupted panics (newest first): the panel offers to resume them when it opens."""
        return self.journal.unfinished_batches()

    # -- the ladder -----------------------------------------------------------------------------------
    async def draft_only(self, name: str, **kw) -> JobReport:
        return await self.switch(name, SwitchAction.DRAFT_ONLY, **kw)

    async def read_only(self, name: str, **kw) -> JobReport:
        return await self.switch(name, SwitchAction.READ_ONLY, **kw)

    async def disable(self, name: str, **kw) -> JobReport:
        return await self.switch(name, SwitchAction.DISABLE, **kw)

    async def enable(self, name: str, **kw) -> JobReport:
        return await self.switch(name, SwitchAction.ENABLE, **kw)

    async def rotate(self, name: str, **kw) -> JobReport:
        return await self.switch(name, SwitchAction.ROTATE, **kw)

    async def switch(
        self,
        name: str,
        action: SwitchAction | str,
        *,
        force: bool = False,
        revoke_full: bool = False,
        on_event: EventSink = None,
    ) -> JobReport:
        """Run one switch to its end: recorded → provider → verified (or as far as honest).

        ``force``: when the provider call fails, accept the local record anyway (out-of-sync)
        instead of leaving the job pending. Raises :class:`NeedsNewKey` for a rotation the
        provider cannot do by API (use :meth:`rotate_with`). A ``rotate`` while an earlier rotation
        of ``name`` is interrupted finishes that one (with the key it stored) instead of minting
        another.
        """
        action = _action(action)
        if action is SwitchAction.ROTATE:
            job = await asyncio.to_thread(self.journal.latest, name)
            if job is not None and _interrupted(job) and job.action is SwitchAction.ROTATE:
                before = await asyncio.to_thread(self.services.inventory.get, name)
                report = await self._finish(job, on_event)
                await asyncio.to_thread(self.handoffs.offer_if_rotated, name, before)
                return report
        plan, view, views = await asyncio.to_thread(self._plan, name, action, revoke_full)
        if action is SwitchAction.ROTATE and plan.guided:
            raise NeedsNewKey(plan)
        probe_first = action is SwitchAction.DISABLE and view.mode is Mode.DISABLED
        report = await self._run(
            name,
            action,
            plan,
            on_event=on_event,
            force=force,
            probe_first=probe_first,
            step=lambda ctx: self._step(ctx, action, revoke_full),
            details={"revoke_full": True} if revoke_full else None,
        )
        if action is SwitchAction.ROTATE:  # the provider made the new key: the owner may hand it on
            await asyncio.to_thread(self.handoffs.offer_if_rotated, name, view)
        return report

    def new_key_handoff(self, name: str) -> KeyHandoff | None:
        """After a rotation by API, the new key to hand on by hand (a client Breaker does not
        launch), once: see :mod:`app.services.switches.handoff`. None when there is nothing to hand
        on (no rotation, a guided one — the owner made that key — or already taken)."""
        return self.handoffs.take(name)

    async def rotate_with(self, name: str, new_secret: Secret, *, on_event: EventSink = None) -> JobReport:
        """Guided rotation: the owner pasted ``new_secret``. It is probed first; only a working key is
        kept (keyring, then its row, at once) and swapped in; then the old key is revoked, or the
        steps say how."""
        plan = await asyncio.to_thread(self.plan, name, SwitchAction.ROTATE)
        return await self._run(
            name,
            SwitchAction.ROTATE,
            plan,
            on_event=on_event,
            step=lambda ctx: steps.rotate_guided(ctx, new_secret),
            provider_call="guided: the owner's new key, then "
            + (plan.provider_call if plan.calls else "manual revoke"),
        )

    async def confirm(self, name: str, *, on_event: EventSink = None) -> JobReport:
        """The owner did the manual steps: the job becomes applied, then a probe verifies it."""
        job = await asyncio.to_thread(self.journal.latest, name)
        if job is None or job.state not in (
            JobState.MANUAL,
            JobState.FAILED,
            JobState.PENDING,
            JobState.OUT_OF_SYNC,
            JobState.APPLIED,
        ):
            raise SwitchRefused(f"{name} has no switch waiting for manual steps")
        update = JobUpdate(
            job.id,
            name,
            "switch.confirmed",
            state=JobState.APPLIED,
            message=job.result,
            provider_done=True,
            audit_new={"state": JobState.APPLIED, "by": "owner", "message": "the owner confirmed the manual steps"},
        )
        await self.db.run(self.journal.write, [update])
        emit(on_event, job, JobState.APPLIED, "the owner confirmed the manual steps", time.perf_counter())
        return await self.verify(name, on_event=on_event)

    async def verify(self, name: str, *, on_event: EventSink = None) -> JobReport:
        """Probe again and update the latest switch of ``name`` (verified, or why not). A single
        switch that was cut off midway is finished first (probe before anything is sent again)."""
        job = await asyncio.to_thread(self.journal.latest, name)
        if job is None:
            raise SwitchRefused(f"{name} has no switch to verify")
        if _interrupted(job):
            return await self._finish(job, on_event)
        started = time.perf_counter()
        calls = self.calls()
        async with calls.client() as client:
            await self._verify(calls, client, job, on_event, started)
        return _report(await asyncio.to_thread(self.journal.job, job.id))  # type: ignore[arg-type]

    # -- emergency ------------------------------------------------------------------------------------
    async def panic(self, selection: Selection | None = None, on_event: EventSink = None) -> PanicSummary:
        from app.services.switches.panic import Panic

        selection = selection or Selection()
        summary = await Panic(self).run(selection, on_event)
        if not summary.total:
            summary.batch = ""  # nothing was journalled: no batch to name (or resume)
        if selection.empty:
            # After the keys (revoking at the provider comes first): the MCP servers a scan recorded
            # are turned off in their clients' config files.
            from app.services import mcp_switch

            summary.mcp_off, summary.mcp_failed = await asyncio.to_thread(mcp_switch.disable_all, self.services)
        return summary

    async def resume(self, batch: str | None = None, on_event: EventSink = None) -> PanicSummary | None:
        """Finish an interrupted panic from its journal (the newest when ``batch`` is None).
        None when there is nothing to resume."""
        from app.services.switches.panic import Panic

        return await Panic(self).resume(batch, on_event)

    async def check_old_key(self, name: str, keyring_ref: str) -> tuple[bool | None, str]:
        """Probe one key of ``name`` that a rotation replaced (the still-live checklist's "I did it").
        Dead: it is marked revoked (audited ``credential.dead``) and leaves the checklist. Returns
        (dead? — None when the probe could not tell, why)."""
        from app.services.switches.calls import dead

        views = await asyncio.to_thread(self.services.inventory.list)
        view = next((v for v in views if v.name == name), None)
        cred = next((c for c in view.credentials if c.keyring_ref == keyring_ref), None) if view else None
        if view is None or cred is None:
            return None, "that key is no longer in the inventory"
        calls = self.calls()
        try:
            async with calls.client() as client:
                report = await calls.probe(client, view, cred, views=views)
        finally:
            calls.forget()
        gone = dead(report)
        if gone is not True:
            why = "still works at the provider" if gone is False else f"the probe could not tell ({report.outcome})"
            return gone, f"the old key …{cred.last4} {why}"

        def mark() -> None:
            from sqlmodel import select

            with session_scope(self.services.engine) as s:
                row = s.exec(select(Credential).where(Credential.keyring_ref == keyring_ref)).one()
                row.revoked_at, row.active = utcnow(), False
                s.add(row)
                self.services.audit.record(
                    s,
                    "credential.dead",
                    name,
                    new={"fingerprint": row.fingerprint, "last4": row.last4, "probe": report.outcome.value},
                )

        await self.db.run(mark)
        return True, f"the old key …{cred.last4} no longer works"

    # -- credentials the switches use ------------------------------------------------------------------
    def add_credential(self, name: str, secret: Secret, *, tier: str, kind: str = "") -> ConnectorView:
        """Register a second credential on a connector: ``reduced`` (a narrower key made by the owner,
        which draft-only/read-only switch to) or ``admin`` (an organisation admin key kept beside the
        connector's own key, used only for provider calls). Never handed out by ``breaker exec``."""
        if tier not in ("reduced", "admin"):
            raise ValueError("tier must be 'reduced' or 'admin'")
        view = self.services.inventory.get(name)
        from app.services.inventory import ValidationError, key_problem

        problem = key_problem(secret)
        if problem:
            raise ValidationError({"key": problem})
        secrets = self.services.secrets
        fp = secrets.fingerprint(secret)
        ref = SecretStore.new_credential_ref()
        secrets.put(ref, secret)
        pattern = registry.get(view.provider).recognise(secret.reveal())
        try:
            with session_scope(self.services.engine) as s:
                s.add(
                    Credential(
                        connector_id=view.id,
                        keyring_ref=ref,
                        fingerprint=fp.digest,
                        last4=fp.last4,
                        tier=tier,
                        active=False,
                        kind=kind or (pattern.kind if pattern else ""),
                        binding=binding.seal_for_view(secrets, view, ref),  # where it may be sent
                    )
                )
                self.services.audit.record(
                    s, "credential.add", name, new={"tier": tier, "fingerprint": fp.digest, "last4": fp.last4}
                )
        except BaseException:
            secrets.delete(ref)
            raise
        return self.services.inventory.get(name)

    def mark_admin_connector(self, name: str) -> ConnectorView:
        """Make ``name`` an organisation admin connector: its key (an admin key the owner added like
        any other) becomes tier ``admin``, used for the provider calls of every connector of the same
        provider and base URL (Anthropic and OpenAI admin keys, a SendGrid API-keys key …)."""
        from sqlmodel import select

        view = self.services.inventory.get(name)
        cred = view.credential
        if cred is None:
            raise SwitchRefused(f"{name} has no key to mark as the admin key")
        with session_scope(self.services.engine) as s:
            row = s.exec(select(Credential).where(Credential.keyring_ref == cred.keyring_ref)).one()
            old = row.tier
            row.tier, row.active = "admin", True
            s.add(row)
            self.services.audit.record(
                s,
                "credential.tier",
                name,
                old={"tier": old},
                new={"tier": "admin", "fingerprint": row.fingerprint, "last4": row.last4},
            )
        return self.services.inventory.get(name)

    # -- internals ------------------------------------------------------------------------------------
    async def _step(self, ctx: steps.StepContext, action: SwitchAction, revoke_full: bool) -> steps.StepOutcome:
        if action is SwitchAction.DISABLE:
            return await steps.disable(ctx)
        if action.reduces:
            ceiling = action.ceiling  # type: ignore[union-attr]
            return await steps.restrict(ctx, ceiling, revoke_full=revoke_full)  # type: ignore[arg-type]
        if action is SwitchAction.ENABLE:
            return await steps.enable(ctx)
        return await steps.rotate_by_api(ctx)

    async def _run(
        self,
        name: str,
        action: SwitchAction | str,
        plan: SwitchPlan,
        *,
        step,
        on_event: EventSink,
        force: bool = False,
        probe_first: bool = False,
        provider_call: str | None = None,
        details: dict | None = None,
    ) -> JobReport:
        started = time.perf_counter()
        target = _action(action).target_mode
        job = await self.db.run(
            lambda: self.journal.open_job(
                name,
                action,
                target.value if target else "",
                provider_call or plan.provider_call,
                audit_new={"reversible": plan.reversible, "forced_allowed": force},
                irreversible=plan.irreversible_call,
                details=details,
            )
        )
        emit(on_event, job, JobState.RECORDED, f"mode {job.target_mode or 'unchanged'} recorded", started)
        return await self._carry(job, step, on_event=on_event, started=started, force=force, probe_first=probe_first)

    async def _finish(self, job: JobRow, on_event: EventSink) -> JobReport:
        """Carry an interrupted single switch to its end: the step again, looking before sending
        (probe first), and a rotation from the key it already stored."""
        started = time.perf_counter()
        await self.db.run(
            self.journal.audit_event,
            "switch.resume",
            job.connector,
            {"job": job.id, "action": job.action, "state": job.state},
        )
        emit(on_event, job, JobState.APPLYING, "finishing an interrupted switch", started)
        if job.action is SwitchAction.ROTATE:
            step = steps.finish_rotation
        else:
            revoke_full = bool(job.details.get("revoke_full"))
            step = lambda ctx: self._step(ctx, job.action, revoke_full)  # noqa: E731
        return await self._carry(job, step, on_event=on_event, started=started, probe_first=True)

    async def _carry(
        self, job: JobRow, step, *, on_event: EventSink, started: float, force: bool = False, probe_first: bool = False
    ) -> JobReport:
        """From a recorded (or interrupted) job: provider step, its result, then verification."""
        name = job.connector
        _RUNNING.add(job.id)
        try:
            if await self._at_gateway(job, on_event, started):
                return _report(await asyncio.to_thread(self.journal.job, job.id))  # type: ignore[arg-type]
            views = await asyncio.to_thread(self.services.inventory.list)
            view = next((v for v in views if v.name == name), None)
            if view is None:
                raise NotFound(name)
            calls = self.calls()
            async with calls.client() as client:
                # The step sees the job as it was before this attempt: only an *earlier* attempt
                # can have reached the provider. switch.calling commits with "applying".
                await self.db.run(self.journal.mark_applying, [job.id])

                async def on_retry(attempt: int, result: ActionResult) -> None:
                    update = JobUpdate(
                        job.id,
                        name,
                        "switch.pending",
                        state=JobState.PENDING,
                        message=f"attempt {attempt} failed: {result.message}; retrying",
                        audit_new={"attempt": attempt, "message": result.message, "status": result.status},
                        outcome="pending",
                    )
                    await self.db.run(self.journal.write, [update])
                    emit(on_event, job, JobState.PENDING, update.message or "", started)

                async def on_late(limit: float) -> None:
                    message = (
                        f"no answer within {limit:g} s; a rotation is never cut off (the provider may have "
                        "made the new key already), so Breaker keeps waiting for its answer"
                    )
                    update = JobUpdate(
                        job.id,
                        name,
                        "switch.pending",
                        state=JobState.PENDING,
                        message=message,
                        audit_new={"message": message, "limit_s": limit},
                        outcome="pending",
                    )
                    await self.db.run(self.journal.write, [update])
                    emit(on_event, job, JobState.PENDING, message, started)

                ctx = steps.StepContext(
                    calls=calls,
                    db=self.db,
                    client=client,
                    view=view,
                    views=views,
                    job=job,
                    probe_first=probe_first,
                    on_retry=on_retry,
                    on_late=on_late,
                )
                outcome = await step(ctx)
                update = outcome.update(job, force=force)
                await self.db.run(self.journal.write, [update])
                emit(on_event, job, update.state or outcome.state, outcome.message, started, outcome.manual_steps)
                current = await asyncio.to_thread(self.journal.job, job.id)
                if current is not None and current.state in (JobState.APPLIED, JobState.MANUAL):
                    await self._verify(calls, client, current, on_event, started, gateway=False)
            return _report(await asyncio.to_thread(self.journal.job, job.id))  # type: ignore[arg-type]
        finally:
            _RUNNING.discard(job.id)

    async def _at_gateway(self, job: JobRow, on_event: EventSink, started: float) -> bool:
        """A routed connector's disable or reduction: verified at the gateway, no provider call
        (:mod:`app.services.switches.at_gateway`). False when it is not routed, or the gateway
        check failed (then the provider step runs as for any connector)."""
        jobs = await asyncio.to_thread(at_gateway.routed, self.services, [job])
        if not jobs:
            return False
        result = (await at_gateway.verify(self.services, jobs)).get(job.id)
        if result is None or not result.ok:
            emit(on_event, job, job.state, result.why if result else "no gateway check ran", started)
            return False
        await self.db.run(self.journal.write, [at_gateway.update(job, result)])
        emit(on_event, job, JobState.VERIFIED, result.why, started, at=at_gateway.AT_GATEWAY)
        return True

    async def _verify(
        self,
        calls: Calls,
        client: httpx.AsyncClient,
        job: JobRow,
        on_event: EventSink,
        started: float,
        *,
        gateway: bool = True,
    ) -> None:
        if gateway and await self._at_gateway(job, on_event, started):
            return
        views = await asyncio.to_thread(self.services.inventory.list)
        view = next((v for v in views if v.name == job.connector), None)
        if view is None:
            raise NotFound(job.connector)
        result = await verify(calls, client, view, job, views=views)
        update = result.update(job)

        def write() -> None:
            # reconcile=False: this verification is recorded once, by the journal update below
            calls.prober.store(result.results, reconcile=False)
            self.journal.write([update])

        await self.db.run(write)
        emit(
            on_event,
            job,
            JobState.VERIFIED if result.ok else JobState.UNVERIFIED,
            result.why,
            started,
            result.manual_steps or (),
        )


def _action(action: SwitchAction | str) -> SwitchAction:
    try:
        return SwitchAction(action)
    except ValueError:
        raise ValueError(f"unknown switch {action!r}; use one of: {', '.join(SwitchAction)}") from None


def _interrupted(job: JobRow) -> bool:
    """A single switch cut off midway (not running in this process): still ``recorded`` or
    ``applying``; a rotation whose new key is stored but was never handed out; or a rotation
    applied at the provider whose verification never ran (killed while verifying)."""
    if job.batch or job.id in _RUNNING:
        return False
    if job.state in (JobState.RECORDED, JobState.APPLYING):
        return True
    if job.action is not SwitchAction.ROTATE or not job.details.get("new_ref"):
        return False
    if not job.details.get("swapped"):
        return job.state in (JobState.PENDING, JobState.FAILED)
    return job.state is JobState.APPLIED and job.verified_at is None and not job.details.get("verify")


def _report(job: JobRow) -> JobReport:
    report = job.report()
    if not _interrupted(job):
        return report
    name = job.connector
    if job.action is SwitchAction.ROTATE and job.details.get("swapped"):
        how = (
            f"interrupted while the new key was being verified: `breaker rotate {name}` (or `breaker verify "
            f"{name}`) finishes it — no new key is asked for"
        )
    elif job.action is SwitchAction.ROTATE and job.details.get("new_ref"):
        how = (
            f"interrupted after the new key was stored (not handed out yet): `breaker rotate {name}` "
            "finishes it — probes the new key, swaps it in, retires the old one"
        )
    elif job.action is SwitchAction.ROTATE:
        how = (
            f"interrupted before the provider's answer was recorded: `breaker rotate {name}` checks the old key "
            "and says what is left to do"
        )
    else:
        how = (
            f"interrupted before the provider's answer was recorded: verifying it (the panel, or "
            f"`breaker {job.action} {name}` again) probes first and finishes it"
        )
    return replace(report, interrupted=True, message=f"{how}" + (f" (last: {job.result})" if job.result else ""))
