"""Emergency disable: every selected connector, at once, and nobody waits for a slow provider.

Order (issue 4):

1. journal every job in ONE transaction (a batch id, state ``journalled``);
2. record every connector disabled locally in ONE transaction (``breaker exec`` refuses them all);
3. call the providers concurrently — bounded per provider endpoint, each call with its own
   timeout and a bounded retry — so one slow or failing provider delays only its own connectors;
4. verify each connector by a fresh probe as soon as its provider step is done.

Per-connector events go to ``on_event`` as they happen; results are committed by one writer in
small batches (one transaction each, audit events included) as they arrive.

**Without a keyring** (locked, or absent in a new SSH session) steps 1 and 2 still run — they need
no key; their audit events wait unsealed until the keyring is back (app.services.audit) — and steps
3 and 4 are not attempted: every job stays ``recorded`` (``breaker exec`` refuses the connector), its
provider call is listed as not made with the provider's manual steps (``PanicSummary.not_called``),
and ``breaker panic --resume`` after unlocking makes the calls and verifies (docs/audit.md).

A panic killed at any point resumes from its journal (:meth:`Panic.resume`): connectors still
``journalled`` are recorded; a job whose provider call succeeded (``provider_done``, committed right
after the call returned) is never called again; for any other job Breaker probes first, and a
permanent call is sent again only when the probe shows the key still works. No audit event is
lost: each is committed in the same transaction as the step it describes.

Test hook: :func:`install_crash_point` ("point:n") makes this process SIGKILL itself the n-th time
it reaches ``point``: ``journal`` (batch journalled), ``recorded`` (all recorded), ``call`` (a
provider call returned, before its result is committed), ``applied`` (a provider result
committed), ``verified`` (a verification committed). Only code can install it — the kill test
runs ``breaker`` through a ``python -c`` wrapper that calls it before ``app.cli.main`` — so no
environment variable or configuration can make a real panic kill itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

import httpx

from app.services.audit import KEYRING_UNAVAILABLE, keyring_problem
from app.services.probing import ProbeResult, endpoint_key
from app.services.switches import at_gateway, steps, unrecorded
from app.services.switches.events import emit
from app.services.switches.journal import JobRow, JobUpdate, PanicTarget, new_batch_id
from app.services.switches.plan import dependants, is_admin_connector
from app.services.switches.states import PanicSummary, SwitchEvent
from app.services.switches.verify import verify
from app.services.tuning import no_cyclic_gc
from app.services.vocabulary import JobState, SwitchAction
from app.store.models import utcnow
from connectors import registry
from connectors.base import ActionResult, Mode, Verb

_crash_point = ""  # set only by install_crash_point (tests)


def install_crash_point(spec: str) -> None:
    """Test only: SIGKILL this process at ``spec`` ("point:n"); "" removes it."""
    global _crash_point
    _crash_point = spec or ""


class CrashHook:
    """Deterministic kill points for the kill test (see the module docstring)."""

    def __init__(self, spec: str | None = None) -> None:
        spec = _crash_point if spec is None else spec
        point, _, count = spec.partition(":")
        self.point = point.strip()
        try:
            self.at = int(count) if count else 1
        except ValueError:
            self.at = 1
        self.seen = 0

    def hit(self, point: str, times: int = 1) -> None:
        if not self.point or point != self.point:
            return
        self.seen += times
        if self.seen >= self.at:
            os.kill(os.getpid(), signal.SIGKILL)


class _Writer:
    """Commits job updates and probe results as they arrive: one transaction per batch, one thread.

    Not ``Prober._writer``: that one only stores probe results (on any thread); this one commits
    journal updates with their audit events on the switch's single writer thread, stores the
    verification probes beside them, and fires the kill points right after each commit.
    """

    def __init__(self, switches, calls, crash: CrashHook, *, offline: str = "") -> None:
        self.switches, self.calls, self.crash = switches, calls, crash
        self.queue: asyncio.Queue = asyncio.Queue()
        # A write that fails (a full disk) loses nothing here: the updates it held are kept, by job,
        # until a later write of the same job gets through; the provider calls go on meanwhile.
        self.lost: dict[int, JobUpdate] = {}
        self.problem = ""
        # ``offline``: the panic's journal itself could not be written (why), so its jobs exist only
        # in memory and nothing is written at all; every update is kept for the summary.
        self.offline = offline
        self.task = asyncio.create_task(self._run())

    def put(self, updates: list[JobUpdate], probes: list[ProbeResult] | None = None, point: str = "") -> None:
        self.queue.put_nowait((updates, probes or [], point))

    async def close(self) -> None:
        self.queue.put_nowait(None)
        await self.task

    async def _run(self) -> None:
        done = False
        while not done:
            items = [await self.queue.get()]
            while not self.queue.empty():
                items.append(self.queue.get_nowait())
            if None in items:
                done = True
                items = [i for i in items if i is not None]
            if not items:
                continue
            updates = [u for i in items for u in i[0]]
            probes = [p for i in items for p in i[1]]
            if self.offline:
                self.problem = self.offline
                self.lost.update((u.job_id, u) for u in updates)
                continue

            def write(probes: list = probes, updates: list = updates) -> None:
                if probes:
                    # reconcile=False: the verifications are recorded once, by the journal updates
                    self.calls.prober.store(probes, reconcile=False)
                self.switches.journal.write(updates)

            try:
                await self.switches.db.run(write)
            except Exception as exc:  # a full disk must not stop the emergency: keep calling, say so at the end
                self.problem = not_written(exc)
                self.lost.update((u.job_id, u) for u in updates)
                continue
            for u in updates:
                self.lost.pop(u.job_id, None)
            for _, _, point in items:
                if point:
                    self.crash.hit(point)


def _call_text(provider: str, kind: str = "") -> str:
    """What the panic will really do at ``provider`` for a key of ``kind``: the provider's call for that
    kind of key, or manual steps where it has none (an Anthropic admin key: no Admin API call)."""
    found = registry.get(provider)
    call = found.switch_call(Verb.REVOKE, kind)
    if not found.has_api(Verb.REVOKE, kind):
        what = f" for this kind of key ({kind})" if kind and Verb.REVOKE in found.switch_calls else ""
        return f"manual steps: {found.title} has no API to switch this key off{what}"
    return call.request if call is not None else f"{found.title}'s revoke API, or manual steps"


def _calls_text(targets) -> dict[str, str]:
    """Each target's call text, by connector name (computed once per provider and kind of key)."""
    texts: dict[tuple[str, str], str] = {}
    out = {}
    for t in targets:
        key = (t.provider, t.kind)
        if key not in texts:
            texts[key] = _call_text(*key)
        out[t.name] = texts[key]
    return out


class Panic:
    def __init__(self, switches) -> None:
        self.sw = switches
        self.services = switches.services
        self.crash = CrashHook()

    # -- a new panic --------------------------------------------------------------------------------
    async def run(self, selection, on_event: Callable[[SwitchEvent], None] | None) -> PanicSummary:
        started = time.perf_counter()
        journal = self.sw.journal
        targets = await self.sw.db.run(self.sw.targets, selection)
        batch = new_batch_id()
        summary = PanicSummary(batch=batch, total=len(targets))
        if not targets:
            return summary
        calls_text = _calls_text(targets)
        # Connectors an earlier panic covered but could not record (app.services.switches.unrecorded).
        noted = set(await asyncio.to_thread(unrecorded.names, self.services)) & {t.name for t in targets}
        try:
            # Steps 1 and 2 must take milliseconds: no garbage-collection pass in the middle of them
            # (what that buys: app.services.tuning).
            with no_cyclic_gc():
                _, superseded = await self.sw.db.run(
                    journal.journal_batch, batch, targets, selection.as_dict(), calls_text
                )
                summary.superseded = superseded
                self.crash.hit("journal")
                await self.sw.db.run(journal.record_batch, batch)
                summary.recorded_ms = (time.perf_counter() - started) * 1000
        except Exception as exc:
            if not is_write_error(exc):
                raise
            # A full disk before anything was recorded: the emergency still does what it can.
            await self._unrecorded(batch, targets, calls_text, exc, on_event, started, summary, noted)
            return summary
        if noted:  # the journal covers them now
            await asyncio.to_thread(unrecorded.forget, self.services, noted)
        self.crash.hit("recorded")
        jobs = await self.sw.db.run(journal.batch_jobs, batch)
        for job in jobs:
            emit(on_event, job, JobState.RECORDED, "recorded disabled locally", started)
        problem = await asyncio.to_thread(keyring_unreadable, self.services)
        if problem:
            await self._not_called(
                batch, await self._at_gateway_no_key(jobs, on_event, started), on_event, started, summary, problem
            )
            return summary
        # A connector that was already disabled (even verified long ago) may have had its key revoked
        # by an earlier switch, or re-activated out of band since: look before calling its provider.
        already = {t.name for t in targets if t.mode == Mode.DISABLED} | noted
        await self._drive(batch, jobs, on_event, started, summary, probe_first=already)
        return summary

    async def _unrecorded(
        self,
        batch: str,
        targets: list[PanicTarget],
        calls_text: dict[str, str],
        exc: Exception,
        on_event,
        started: float,
        summary: PanicSummary,
        noted: set[str],
    ) -> None:
        """Steps 1 or 2 could not be written (a full disk): nothing says these connectors are disabled
        in Breaker, yet the provider calls are the part that matters — so they are made (keys read,
        revoked, verified by probe) with the jobs held in memory, a note of the panic is left outside
        the database where a file can still be written, and the summary says plainly what is not
        recorded. ``breaker panic --resume`` (or a re-run) later records them, probing each key before
        any call so that nothing is revoked twice."""
        problem = not_written(exc)
        summary.write_problem, summary.recorded = problem, False
        summary.not_recorded = sorted(t.name for t in targets)
        summary.recorded_ms = (time.perf_counter() - started) * 1000
        jobs: list[JobRow] = []
        with contextlib.suppress(Exception):  # step 1 may have got in (then only step 2 failed)
            jobs = [
                j for j in await self.sw.db.run(self.sw.journal.batch_jobs, batch) if j.state != JobState.SUPERSEDED
            ]
        offline = "" if jobs else problem
        if not jobs:
            jobs = [_in_memory_job(i, batch, t, calls_text) for i, t in enumerate(targets, 1)]
        summary.note = await asyncio.to_thread(unrecorded.leave, self.services, batch, _note(jobs))
        keyring = await asyncio.to_thread(keyring_unreadable, self.services)
        if keyring:  # no key and no database: list every call as not made, with the provider's steps
            summary.keyring_problem = keyring
            summary.verified_ms = summary.applied_ms = (time.perf_counter() - started) * 1000
            fill(summary, [_not_called_job(j, keyring) for j in jobs])
            return
        already = {t.name for t in targets if t.mode == Mode.DISABLED} | noted
        await self._drive(batch, jobs, on_event, started, summary, probe_first=already, offline=offline)
        with contextlib.suppress(Exception):
            note = await asyncio.to_thread(
                unrecorded.leave, self.services, batch, {r.connector: _note_entry(r) for r in summary.reports}
            )
            summary.note = note or summary.note

    async def _not_called(
        self, batch: str, jobs: list[JobRow], on_event, started: float, summary: PanicSummary, problem: str
    ) -> None:
        """The keyring cannot be read: every job stays recorded, and its provider call is listed as not
        made (with the provider's own steps), in the journal and the audit log, for ``--resume``."""
        message = (
            "recorded disabled; provider NOT called: the keyring could not be read — unlock it and run "
            "`breaker panic --resume`, or do the steps by hand"
        )
        todo = [j for j in jobs if needs_provider(j)]
        updates = [
            JobUpdate(
                job.id,
                job.connector,
                "switch.not-called",
                message=message,
                manual_steps=list(registry.get(job.provider).manual_steps(Verb.REVOKE)),
                details={"not_called": problem},
                audit_new={"call": job.provider_call, "why": "the keyring could not be read"},
                outcome="pending",
            )
            for job in todo
        ]
        await self.sw.db.run(self.sw.journal.write, updates)
        for job in todo:
            emit(on_event, job, JobState.RECORDED, message, started)
        summary.keyring_problem = problem
        summary.verified_ms = summary.applied_ms = (time.perf_counter() - started) * 1000
        final = await self.sw.db.run(self.sw.journal.batch_jobs, batch)
        fill(summary, [j for j in final if j.state != JobState.SUPERSEDED])
        await self.sw.db.run(
            self.sw.journal.audit_event,
            "panic.end",
            "",
            {
                "batch": batch,
                "total": summary.total,
                "verified": len(summary.verified),
                "not_called": len(summary.not_called),
                "why": "the keyring could not be read",
                "resumed": summary.resumed,
            },
            "incomplete",
        )

    # -- resuming ------------------------------------------------------------------------------------
    async def resume(self, batch: str | None, on_event: Callable[[SwitchEvent], None] | None) -> PanicSummary | None:
        journal = self.sw.journal
        if batch is None:
            open_batches = await self.sw.db.run(journal.unfinished_batches)
            if not open_batches:
                return await self._resume_noted(on_event)
            batch = open_batches[0]
        started = time.perf_counter()
        await self.sw.db.run(journal.audit_event, "panic.resume", "", {"batch": batch})
        await self.sw.db.run(journal.record_batch, batch)  # connectors journalled but not yet recorded
        jobs = [j for j in await self.sw.db.run(journal.batch_jobs, batch) if j.state != JobState.SUPERSEDED]
        # A note left when this batch's connectors could not be recorded is settled: they are now.
        await asyncio.to_thread(unrecorded.forget, self.services, {j.connector for j in jobs})
        summary = PanicSummary(batch=batch, total=len(jobs), resumed=True)
        summary.recorded_ms = (time.perf_counter() - started) * 1000
        # failed jobs are tried again too: the owner may have fixed the cause (an admin key, a key id)
        todo = [j for j in jobs if j.state not in (JobState.VERIFIED, JobState.OUT_OF_SYNC, JobState.SUPERSEDED)]
        problem = await asyncio.to_thread(keyring_unreadable, self.services)
        if problem:
            await self._not_called(
                batch, await self._at_gateway_no_key(todo, on_event, started), on_event, started, summary, problem
            )
            return summary
        await self._drive(batch, todo, on_event, started, summary, probe_first={j.connector for j in todo})
        return summary

    async def _resume_noted(self, on_event) -> PanicSummary | None:
        """No journal to resume, but a panic that could not be recorded left a note: a panic of the
        connectors it names, each key probed before any call (a key already revoked is not revoked
        again), and this time journalled and recorded."""
        from app.services.switches.ladder import Selection

        noted = await asyncio.to_thread(unrecorded.names, self.services)
        if not noted:
            return None
        summary = await self.run(Selection(names=tuple(sorted(noted))), on_event)
        summary.resumed = True
        if summary.recorded:  # connectors removed since are no longer anyone's to finish
            gone = set(noted) - {r.connector for r in summary.reports}
            await asyncio.to_thread(unrecorded.forget, self.services, gone)
        return summary

    # -- steps 3 and 4 --------------------------------------------------------------------------------
    async def _drive(
        self,
        batch: str,
        jobs: list[JobRow],
        on_event,
        started: float,
        summary: PanicSummary,
        *,
        probe_first: set[str],
        offline: str = "",
    ) -> None:
        """``offline``: the jobs are held in memory only (their journal could not be written, why):
        nothing is written, the gateway (whose switch is the recorded mode) is not asked."""
        sw, journal = self.sw, self.sw.journal
        views = await asyncio.to_thread(self.services.inventory.list)
        by_name = {v.name: v for v in views}
        jobs = [j for j in jobs if j.connector in by_name]
        in_memory = list(jobs)
        if not offline:
            jobs = await self._at_gateway(jobs, on_event, started)
        to_call = [j for j in jobs if needs_provider(j)]
        try:
            if not offline:
                await sw.db.run(journal.mark_applying, [j.id for j in to_call])  # the calls may go out from now on
        except Exception as exc:  # a full disk: the calls go out anyway (a resume probes before calling)
            summary.write_problem = not_written(exc)
            summary.not_recorded = sorted({*summary.not_recorded, *(j.connector for j in to_call)})

        gates: dict[str, asyncio.Semaphore] = {}

        def gate_for(view) -> asyncio.Semaphore:
            key = endpoint_key(view.provider, view.base_url or None)
            return gates.setdefault(key, asyncio.Semaphore(sw.per_provider))

        # Organisation admin connectors are revoked last: the others' calls need their key.
        admin_names = {v.name for v in views if is_admin_connector(v) and dependants(v, views)}
        waiting: dict[str, int] = defaultdict(int)
        for job in to_call:
            if job.connector not in admin_names:
                waiting[job.provider] += 1
        released = {p: asyncio.Event() for p in {j.provider for j in jobs}}
        for provider, event in released.items():
            if not waiting[provider]:
                event.set()

        def step_finished(job: JobRow) -> None:
            if job.connector in admin_names:
                return
            waiting[job.provider] -= 1
            if waiting[job.provider] <= 0:
                released[job.provider].set()

        # The keys are read now — the owner has confirmed — in one thread hop, and forgotten at the end.
        calls = sw.calls()
        await asyncio.to_thread(calls.preload, views, [by_name[j.connector] for j in jobs])
        shared: dict[str, asyncio.Future] = {}
        # One HTTP client per provider endpoint: its pool is as small as its gate, so a busy provider's
        # queue never slows the pool bookkeeping of the others (and real providers are separate hosts).
        clients: dict[str, httpx.AsyncClient] = {}

        def client_for(view) -> httpx.AsyncClient:
            key = endpoint_key(view.provider, view.base_url or None)
            if key not in clients:
                clients[key] = calls.client(connections=sw.per_provider)
            return clients[key]

        async with contextlib.AsyncExitStack() as stack:
            stack.callback(calls.forget)
            stack.push_async_callback(_close_all, clients)
            writer = _Writer(sw, calls, self.crash, offline=offline)
            applied_at: list[float] = []

            async def one(job: JobRow) -> None:
                view = by_name[job.connector]
                gate = gate_for(view)
                client = client_for(view)
                state = job.state
                try:
                    if needs_provider(job):
                        try:
                            if job.connector in admin_names:
                                await released[job.provider].wait()
                            outcome = await steps.disable(
                                steps.StepContext(
                                    calls=calls,
                                    db=sw.db,
                                    client=client,
                                    view=view,
                                    views=views,
                                    job=job,
                                    gate=gate,
                                    probe_first=job.connector in probe_first,
                                    shared=shared,
                                    on_retry=self._on_retry(writer, job, on_event, started),
                                )
                            )
                        finally:
                            step_finished(job)
                        self.crash.hit("call")
                        update = outcome.update(job)
                        writer.put([update], point="applied")
                        state = update.state or outcome.state
                        emit(on_event, job, state, outcome.message, started, outcome.manual_steps)
                        applied_at.append(time.perf_counter())
                    if state in (JobState.APPLIED, JobState.MANUAL):
                        current = replace(job, state=state)
                        result = await verify(calls, client, view, current, gate=gate, views=views)
                        writer.put([result.update(current)], result.results, point="verified")
                        emit(
                            on_event,
                            job,
                            JobState.VERIFIED if result.ok else JobState.UNVERIFIED,
                            result.why,
                            started,
                            result.manual_steps or (),
                        )
                except Exception as exc:  # a bug for one connector must not lose the others
                    message = f"internal error ({type(exc).__name__}); run the resume, or disable it by hand"
                    writer.put(
                        [
                            JobUpdate(
                                job.id,
                                job.connector,
                                "switch.failed",
                                state=JobState.FAILED,
                                message=message,
                                audit_new={"message": message},
                                outcome="failed",
                            )
                        ]
                    )
                    emit(on_event, job, JobState.FAILED, message, started)

            try:
                await asyncio.gather(*(one(j) for j in jobs))
            finally:
                await writer.close()
        summary.applied_ms = ((max(applied_at) if applied_at else time.perf_counter()) - started) * 1000
        summary.verified_ms = (time.perf_counter() - started) * 1000
        final = in_memory if offline else await sw.db.run(journal.batch_jobs, batch)
        if writer.lost:  # tell what happened, not what the database last heard
            summary.write_problem = writer.problem
            summary.not_recorded = sorted({*summary.not_recorded, *(u.connector for u in writer.lost.values())})
            final = [_as_sent(j, writer.lost.get(j.id)) for j in final]
        fill(summary, [j for j in final if j.state != JobState.SUPERSEDED])
        if offline:
            return
        try:
            await self._end(batch, summary)
        except Exception as exc:
            summary.write_problem = summary.write_problem or not_written(exc)

    async def _end(self, batch: str, summary: PanicSummary) -> None:
        sw, journal = self.sw, self.sw.journal
        await sw.db.run(
            journal.audit_event,
            "panic.end",
            "",
            {
                "batch": batch,
                "total": summary.total,
                "verified": len(summary.verified),
                "unverified": len(summary.unverified),
                "waiting": len(summary.waiting),
                "failed": len(summary.failed),
                "resumed": summary.resumed,
                "verified_ms": round(summary.verified_ms),
            },
            "ok" if summary.ok else "incomplete",
        )

    async def _at_gateway_no_key(self, jobs: list[JobRow], on_event, started: float) -> list[JobRow]:
        """Without a keyring: connectors routed through the gateway need no key to be verified there;
        any failure of that check leaves them to the not-called list (nothing is lost)."""
        try:
            return await self._at_gateway(jobs, on_event, started)
        except Exception:
            return jobs

    async def _at_gateway(self, jobs: list[JobRow], on_event, started: float) -> list[JobRow]:
        """Connectors routed through the gateway: verified there (every request refused), in one
        step before any provider call; they need none (:mod:`app.services.switches.at_gateway`).
        Returns the jobs still owed a provider step."""
        routed = await asyncio.to_thread(at_gateway.routed, self.services, [j for j in jobs if needs_provider(j)])
        if not routed:
            return jobs
        checked = await at_gateway.verify(self.services, routed)
        done = {j.id: j for j in routed if checked.get(j.id) is not None and checked[j.id].ok}
        await self.sw.db.run(self.sw.journal.write, [at_gateway.update(j, checked[j.id]) for j in done.values()])
        for job in done.values():
            emit(on_event, job, JobState.VERIFIED, checked[job.id].why, started, at=at_gateway.AT_GATEWAY)
        return [j for j in jobs if j.id not in done]

    def _on_retry(self, writer: _Writer, job: JobRow, on_event, started: float):
        async def on_retry(attempt: int, result: ActionResult) -> None:
            message = f"attempt {attempt} failed: {result.message}; retrying"
            writer.put(
                [
                    JobUpdate(
                        job.id,
                        job.connector,
                        "switch.pending",
                        state=JobState.PENDING,
                        message=message,
                        audit_new={"attempt": attempt, "message": result.message, "status": result.status},
                        outcome="pending",
                    )
                ]
            )
            emit(on_event, job, JobState.PENDING, message, started)

        return on_retry


async def _close_all(clients: dict[str, httpx.AsyncClient]) -> None:
    await asyncio.gather(*(c.aclose() for c in clients.values()), return_exceptions=True)


def not_written(exc: Exception) -> str:
    """One line on a write that failed during an emergency (a full disk, most likely)."""
    from app.store.errors import explain

    return explain(exc, "Breaker's database")


def is_write_error(exc: BaseException) -> bool:
    """A write the database refused (full disk, read-only file, locked too long) — not a bug."""
    import sqlite3

    import sqlalchemy.exc

    from app.store.errors import StoreError

    return isinstance(exc, (StoreError, sqlalchemy.exc.OperationalError, sqlite3.OperationalError))


def _in_memory_job(i: int, batch: str, target: PanicTarget, calls_text: dict[str, str]) -> JobRow:
    """A job of a panic whose journal could not be written (never stored: its id is negative)."""
    return JobRow(
        id=-i,
        batch=batch,
        connector_id=target.connector_id,
        connector=target.name,
        provider=target.provider,
        action=SwitchAction.DISABLE,
        target_mode=Mode.DISABLED,
        state=JobState.JOURNALLED,
        attempts=0,
        provider_call=calls_text.get(target.name, ""),
        provider_done=False,
        result="",
        manual_steps=(),
        forced=False,
        details={"prior_mode": target.mode},
        verified_at=None,
        created_at=utcnow(),
    )


def _not_called_job(job: JobRow, problem: str) -> JobRow:
    return replace(
        job,
        result="NOT recorded and provider NOT called: neither the database nor the keyring could be used",
        manual_steps=tuple(registry.get(job.provider).manual_steps(Verb.REVOKE)),
        details={**job.details, "not_called": problem},
    )


def _note(jobs: list[JobRow]) -> dict[str, dict[str, str]]:
    return {j.connector: {"provider": j.provider, "batch": j.batch, "state": str(j.state)} for j in jobs}


def _note_entry(report) -> dict[str, str]:
    return {"provider": report.provider, "state": str(report.state)}


def _as_sent(job: JobRow, update: JobUpdate | None) -> JobRow:
    """``job`` as the update the database could not take says it went (state and message)."""
    if update is None:
        return job
    return replace(
        job,
        state=update.state or job.state,
        result=update.message or job.result,
        manual_steps=tuple(update.manual_steps or job.manual_steps),
    )


def needs_provider(job: JobRow) -> bool:
    """The provider step is still owed: not done, and not settled by the owner (forced) or a probe."""
    return not job.provider_done and job.state not in (JobState.VERIFIED, JobState.OUT_OF_SYNC, JobState.SUPERSEDED)


def keyring_unreadable(services) -> str:
    """ "" when the keyring can be read now, else why not (one line). Reads it — no cached key counts."""
    try:
        services.secrets.get_value("install:audit")
    except KEYRING_UNAVAILABLE as exc:
        return keyring_problem(exc)
    return ""


def fill(summary: PanicSummary, jobs: list[JobRow]) -> None:
    summary.total = len(jobs)
    summary.verified, summary.unverified, summary.waiting, summary.failed = [], [], [], []
    summary.not_called = []
    for job in jobs:
        report = job.report()
        if job.state in (JobState.JOURNALLED, JobState.RECORDED) and job.details.get("not_called"):
            summary.not_called.append(report)
        elif job.state is JobState.VERIFIED:
            summary.verified.append(report)
        elif job.state is JobState.APPLIED:
            summary.unverified.append(report)
        elif job.state is JobState.MANUAL:
            summary.waiting.append(report)
        else:
            summary.failed.append(report)
