"""The ladder — full → draft-only → read-only → disabled, and back — plus rotation, one connector at a time.

Every switch is a journalled job: the ``switch_job`` row and the new mode are committed (with the
``switch.recorded`` audit event) before anything is sent. Then the provider step, then a fresh
probe to verify. Each step is one transaction with its audit event; ``Connector.switch_state``
mirrors the job.

The panel and the CLI use :class:`Switches`; see ``app/services/switches/__init__.py`` for the API.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from app.services.inventory import ConnectorView, NotFound
from app.services.secrets import SecretStore
from app.store.db import session_scope
from app.store.models import Credential
from connectors import registry
from connectors.base import ActionResult, Mode, Secret

from app.services.switches import states as S
from app.services.switches import steps
from app.services.switches.calls import CallPolicy, Calls
from app.services.switches.journal import DbThread, JobRow, JobUpdate, Journal
from app.services.switches.plan import PanicPlan, SwitchPlan, panic_plan, plan_for
from app.services.switches.verify import verify

EventSink = Callable[[S.SwitchEvent], None] | None


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
    except Exception:  # noqa: BLE001 — an optimisation only
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
        low = lambda xs: {x.lower() for x in xs}  # noqa: E731
        return ((not self.providers or provider.lower() in low(self.providers))
                and (not self.owners or owner.lower() in low(self.owners))
                and (not self.tags or bool(low(tags) & low(self.tags)))
                and (not self.names or name in self.names))

    def as_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in (("providers", self.providers), ("owners", self.owners),
                                        ("tags", self.tags), ("names", self.names)) if v}


class Switches:
    """Switch service for one open inventory (``Switches(services)``). Async methods never block the
    loop on the network; store writes run on one writer thread."""

    def __init__(self, services, *, transport: httpx.AsyncBaseTransport | None = None,
                 call_timeout: float | None = None, per_provider: int | None = None, attempts: int = 3,
                 backoff_s: float = 0.5) -> None:
        self.services = services
        probe = services.settings.probe
        self.policy = CallPolicy(timeout_s=call_timeout or probe.timeout_s, attempts=max(1, attempts),
                                 backoff_s=backoff_s)
        self.per_provider = per_provider or probe.per_host
        self.transport = transport
        self.journal = Journal(services)
        self.db = DbThread()

    def prepare(self) -> None:
        """Open what a panic needs before the owner confirms (audit key, TLS context), so that the
        time from confirmation to "all recorded" is spent on recording."""
        from app.services.switches.calls import tls_context

        self.services.secrets.install_key("audit")
        tls_context()
        checkpoint(self.services.engine)

    def calls(self) -> Calls:
        return Calls(self.services, self.transport, self.policy)

    def close(self) -> None:
        self.db.close()

    # -- reading ------------------------------------------------------------------------------------
    def plan(self, name: str, action: str, *, revoke_full: bool = False) -> SwitchPlan:
        """What ``action`` on ``name`` will do: the text of the confirmation."""
        views = self.services.inventory.list()
        view = next((v for v in views if v.name == name), None)
        if view is None:
            raise NotFound(name)
        return plan_for(view, action, views, revoke_full=revoke_full)

    def select(self, selection: Selection | None = None) -> list[ConnectorView]:
        selection = selection or Selection()
        return [v for v in self.services.inventory.list()
                if selection.matches(v.name, v.provider, v.owner, v.tags)
                and not (v.mode is Mode.DISABLED and v.switch_state == S.VERIFIED)]

    def panic_plan(self, selection: Selection | None = None) -> PanicPlan:
        views = self.services.inventory.list()
        chosen = {v.name for v in self.select(selection)}
        return panic_plan([v for v in views if v.name in chosen], views)

    def latest(self, name: str) -> S.JobReport | None:
        job = self.journal.latest(name)
        return job.report() if job else None

    def history(self, name: str, limit: int = 20) -> list[S.JobReport]:
        return [j.report() for j in self.journal.history(name, limit)]

    def unfinished_batches(self) -> list[str]:
        """Interrupted panics (newest first): the panel offers to resume them when it opens."""
        return self.journal.unfinished_batches()

    # -- the ladder -----------------------------------------------------------------------------------
    async def draft_only(self, name: str, **kw) -> S.JobReport:
        return await self.switch(name, "draft-only", **kw)

    async def read_only(self, name: str, **kw) -> S.JobReport:
        return await self.switch(name, "read-only", **kw)

    async def disable(self, name: str, **kw) -> S.JobReport:
        return await self.switch(name, "disable", **kw)

    async def enable(self, name: str, **kw) -> S.JobReport:
        return await self.switch(name, "enable", **kw)

    async def rotate(self, name: str, **kw) -> S.JobReport:
        return await self.switch(name, "rotate", **kw)

    async def switch(self, name: str, action: str, *, force: bool = False, revoke_full: bool = False,
                     on_event: EventSink = None) -> S.JobReport:
        """Run one switch to its end: recorded → provider → verified (or as far as honest).

        ``force``: when the provider call fails, accept the local record anyway (out-of-sync)
        instead of leaving the job pending. Raises :class:`NeedsNewKey` for a rotation the
        provider cannot do by API (use :meth:`rotate_with`).
        """
        plan = self.plan(name, action, revoke_full=revoke_full)
        if action == "rotate" and plan.guided:
            raise NeedsNewKey(plan)
        view = self.services.inventory.get(name)
        probe_first = action == "disable" and view.mode is Mode.DISABLED
        return await self._run(name, action, plan, on_event=on_event, force=force, probe_first=probe_first,
                               step=lambda ctx: self._step(ctx, action, revoke_full))

    async def rotate_with(self, name: str, new_secret: Secret, *, on_event: EventSink = None) -> S.JobReport:
        """Guided rotation: the owner pasted ``new_secret``. It is probed first; only a working key is
        swapped in (stored in the keyring at once); then the old key is revoked, or the steps say how."""
        plan = self.plan(name, "rotate")
        return await self._run(name, "rotate", plan, on_event=on_event,
                               step=lambda ctx: steps.rotate_guided(ctx, new_secret),
                               provider_call="guided: the owner's new key, then " + (plan.provider_call
                                                                                     if plan.calls else "manual revoke"))

    async def confirm(self, name: str, *, on_event: EventSink = None) -> S.JobReport:
        """The owner did the manual steps: the job becomes applied, then a probe verifies it."""
        job = self.journal.latest(name)
        if job is None or job.state not in (S.MANUAL, S.FAILED, S.PENDING, S.OUT_OF_SYNC, S.APPLIED):
            raise SwitchRefused(f"{name} has no switch waiting for manual steps")
        update = JobUpdate(job.id, name, "switch.confirmed", state=S.APPLIED, message=job.result,
                           provider_done=True, audit_new={"state": S.APPLIED, "by": "owner",
                                                          "message": "the owner confirmed the manual steps"})
        await self.db.run(self.journal.write, [update])
        self._emit(on_event, job, S.APPLIED, "the owner confirmed the manual steps", started=time.perf_counter())
        return await self.verify(name, on_event=on_event)

    async def verify(self, name: str, *, on_event: EventSink = None) -> S.JobReport:
        """Probe again and update the latest switch of ``name`` (verified, or why not)."""
        job = self.journal.latest(name)
        if job is None:
            raise SwitchRefused(f"{name} has no switch to verify")
        started = time.perf_counter()
        calls = self.calls()
        async with calls.client() as client:
            await self._verify(calls, client, job, on_event, started)
        return self.journal.job(job.id).report()  # type: ignore[union-attr]

    # -- emergency ------------------------------------------------------------------------------------
    async def panic(self, selection: Selection | None = None, on_event: EventSink = None) -> S.PanicSummary:
        from app.services.switches.panic import Panic

        return await Panic(self).run(selection or Selection(), on_event)

    async def resume(self, batch: str | None = None, on_event: EventSink = None) -> S.PanicSummary | None:
        """Finish an interrupted panic from its journal (the newest when ``batch`` is None).
        None when there is nothing to resume."""
        from app.services.switches.panic import Panic

        return await Panic(self).resume(batch, on_event)

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
                s.add(Credential(connector_id=view.id, keyring_ref=ref, fingerprint=fp.digest, last4=fp.last4,
                                 tier=tier, active=False, kind=kind or (pattern.kind if pattern else "")))
                self.services.audit.record(s, "credential.add", name,
                                           new={"tier": tier, "fingerprint": fp.digest, "last4": fp.last4})
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
            self.services.audit.record(s, "credential.tier", name, old={"tier": old},
                                       new={"tier": "admin", "fingerprint": row.fingerprint, "last4": row.last4})
        return self.services.inventory.get(name)

    # -- internals ------------------------------------------------------------------------------------
    async def _step(self, ctx: steps.StepContext, action: str, revoke_full: bool) -> steps.StepOutcome:
        if action == "disable":
            return await steps.disable(ctx)
        if action in ("draft-only", "read-only"):
            ceiling = S.TARGET_MODE[action].ceiling  # type: ignore[union-attr]
            return await steps.restrict(ctx, ceiling, revoke_full=revoke_full)  # type: ignore[arg-type]
        if action == "enable":
            return await steps.enable(ctx)
        return await steps.rotate_by_api(ctx)

    async def _run(self, name: str, action: str, plan: SwitchPlan, *, step, on_event: EventSink,
                   force: bool = False, probe_first: bool = False, provider_call: str | None = None) -> S.JobReport:
        started = time.perf_counter()
        target = S.TARGET_MODE[action]
        job = await self.db.run(lambda: self.journal.open_job(
            name, action, target.value if target else "", provider_call or plan.provider_call,
            audit_new={"reversible": plan.reversible, "forced_allowed": force}, irreversible=plan.irreversible_call))
        self._emit(on_event, job, S.RECORDED, f"mode {job.target_mode or 'unchanged'} recorded", started=started)
        views = self.services.inventory.list()
        view = next(v for v in views if v.name == name)
        calls = self.calls()
        async with calls.client() as client:
            # The step sees the job as it was before this attempt ("recorded"): only an *earlier*
            # attempt can have reached the provider.
            await self.db.run(self.journal.mark_applying, [job.id])

            async def on_retry(attempt: int, result: ActionResult) -> None:
                update = JobUpdate(job.id, name, "switch.pending", state=S.PENDING,
                                   message=f"attempt {attempt} failed: {result.message}; retrying",
                                   audit_new={"attempt": attempt, "message": result.message, "status": result.status},
                                   outcome="pending")
                await self.db.run(self.journal.write, [update])
                self._emit(on_event, job, S.PENDING, update.message or "", started=started)

            ctx = steps.StepContext(calls=calls, db=self.db, client=client, view=view, views=views, job=job,
                                    probe_first=probe_first, on_retry=on_retry)
            outcome = await step(ctx)
            update = outcome.update(job, force=force)
            await self.db.run(self.journal.write, [update])
            self._emit(on_event, job, update.state or outcome.state, outcome.message, outcome.manual_steps,
                       started=started)
            job = self.journal.job(job.id)  # type: ignore[assignment]
            if job.state in (S.APPLIED, S.MANUAL):
                await self._verify(calls, client, job, on_event, started)
        return self.journal.job(job.id).report()  # type: ignore[union-attr]

    async def _verify(self, calls: Calls, client: httpx.AsyncClient, job: JobRow, on_event: EventSink,
                      started: float) -> None:
        views = await asyncio.to_thread(self.services.inventory.list)
        view = next((v for v in views if v.name == job.connector), None)
        if view is None:
            raise NotFound(job.connector)
        result = await verify(calls, client, view, job, views=views)
        update = result.update(job)

        def write() -> None:
            calls.prober.store(result.results)
            self.journal.write([update])

        await self.db.run(write)
        self._emit(on_event, job, S.VERIFIED if result.ok else S.UNVERIFIED, result.why,
                   tuple(result.manual_steps or ()), started=started)

    @staticmethod
    def _emit(on_event: EventSink, job: JobRow, state: str, message: str, manual_steps=(), *,
              started: float) -> None:
        if on_event is None:
            return
        on_event(S.SwitchEvent(connector=job.connector, provider=job.provider, action=job.action, state=state,
                               message=message, manual_steps=tuple(manual_steps), job_id=job.id, batch=job.batch,
                               elapsed_ms=(time.perf_counter() - started) * 1000))

