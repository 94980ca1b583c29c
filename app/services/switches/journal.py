"""The switch journal: ``switch_job`` rows, written before anything is sent, and every change of a
job together with its audit event and the connector's mirrored state, in one transaction.

Everything here is synchronous and runs on one writer thread (see :class:`DbThread`): the audit
chain's head and the keyring file of a demo home are read-modify-write, so two writers at once
could lose an update. Readers (the panel, the CLI) are not affected (SQLite WAL).
"""

from __future__ import annotations

import asyncio
import json
import secrets as _random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, insert, update
from sqlmodel import Session, col, select

from app.services.switches.states import JobReport
from app.services.vocabulary import JobState, SwitchAction
from app.store.db import session_scope
from app.store.models import Connector, Credential, Owner, SwitchJob, utcnow
from connectors.base import Mode

T = TypeVar("T")


class DbThread:
    """One thread for every write of a switch or a panic, so writes never race each other."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="breaker-switch-db")
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def new_batch_id() -> str:
    """Sortable by time, unique enough: ``panic-20260101T120000-1a2b3c``."""
    return f"panic-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{_random.token_hex(3)}"


@dataclass(frozen=True)
class CredOp:
    """A change to a credential row that must commit with the job's state (by keyring reference)."""

    op: str  # activate | deactivate | revoked | rotated | add
    ref: str
    fields: dict[str, Any] = field(default_factory=dict)  # for "add": fingerprint, last4, tier, kind


@dataclass
class JobUpdate:
    """One change of one job, written with its audit event. ``None`` fields are left alone."""

    job_id: int
    connector: str
    audit_action: str  # e.g. "switch.applied"
    state: JobState | None = None
    message: str | None = None
    provider_done: bool | None = None
    attempts_add: int = 0
    manual_steps: list[str] | None = None
    details: dict[str, Any] | None = None  # merged into details_json
    verified: bool = False
    forced: bool | None = None
    cred_ops: list[CredOp] = field(default_factory=list)
    audit_old: Any = None
    audit_new: dict[str, Any] = field(default_factory=dict)
    outcome: str = "ok"


@dataclass(frozen=True)
class JobRow:
    """A plain copy of a ``switch_job`` row (the ORM row never leaves a session)."""

    id: int
    batch: str
    connector_id: int
    connector: str
    provider: str
    action: SwitchAction
    target_mode: str
    state: JobState
    attempts: int
    provider_call: str
    provider_done: bool
    result: str
    manual_steps: tuple[str, ...]
    forced: bool
    details: dict[str, Any]
    verified_at: datetime | None
    created_at: datetime

    def report(self, verify_note: str | None = None) -> JobReport:
        return JobReport(
            connector=self.connector,
            provider=self.provider,
            action=self.action,
            state=self.state,
            message=self.result,
            verify_note=verify_note if verify_note is not None else str(self.details.get("verify", "")),
            manual_steps=self.manual_steps,
            provider_call=self.provider_call,
            job_id=self.id,
            irreversible=bool(self.details.get("irreversible")),
            at=str(self.details.get("at", "")) if self.state == JobState.VERIFIED else "",
        )


def _row(job: SwitchJob, connector: Connector | None) -> JobRow:
    try:
        steps = tuple(json.loads(job.manual_steps_json or "[]"))
    except ValueError:
        steps = ()
    try:
        details = json.loads(job.details_json or "{}")
    except ValueError:
        details = {}
    return JobRow(
        id=job.id or 0,
        batch=job.batch,
        connector_id=job.connector_id,
        connector=connector.name if connector else "",
        provider=connector.provider if connector else "",
        action=SwitchAction(job.action),
        target_mode=job.target_mode,
        state=JobState(job.state),
        attempts=job.attempts,
        provider_call=job.provider_call,
        provider_done=job.provider_done,
        result=job.result,
        manual_steps=steps,
        forced=job.forced,
        details=details,
        verified_at=job.verified_at,
        created_at=job.created_at,
    )


def _verify_ran(details_json: str | None) -> bool:
    try:
        details = json.loads(details_json or "{}")
    except ValueError:
        return False
    return isinstance(details, dict) and bool(details.get("verify"))


def _handed_out_kinds(s: Session) -> dict[int, str]:
    """connector id → the kind of its handed-out key (else of a key not revoked), in one query."""
    rows = s.exec(
        select(Credential.connector_id, Credential.kind, Credential.active).where(col(Credential.revoked_at).is_(None))
    ).all()
    kinds: dict[int, str] = {}
    for cid, kind, active in rows:
        if active or cid not in kinds:
            kinds[cid] = kind or ""
    return kinds


@dataclass(frozen=True)
class PanicTarget:
    connector_id: int
    name: str
    provider: str
    mode: str
    switch_state: str | None
    kind: str = ""  # the kind of key the connector hands out ("admin key", "service-account key" …)


class Journal:
    def __init__(self, services) -> None:
        self.services = services

    @property
    def engine(self):
        return self.services.engine

    @property
    def audit(self):
        return self.services.audit

    # -- reading ---------------------------------------------------------------------------------
    def job(self, job_id: int) -> JobRow | None:
        with Session(self.engine) as s:
            job = s.get(SwitchJob, job_id)
            return _row(job, s.get(Connector, job.connector_id)) if job else None

    def latest(self, connector: str) -> JobRow | None:
        with Session(self.engine) as s:
            row = s.exec(select(Connector).where(Connector.name == connector)).first()
            if row is None:
                return None
            job = s.exec(
                select(SwitchJob).where(SwitchJob.connector_id == row.id).order_by(col(SwitchJob.id).desc()).limit(1)
            ).first()
            return _row(job, row) if job else None

    def history(self, connector: str, limit: int = 20) -> list[JobRow]:
        with Session(self.engine) as s:
            row = s.exec(select(Connector).where(Connector.name == connector)).first()
            if row is None:
                return []
            jobs = s.exec(
                select(SwitchJob)
                .where(SwitchJob.connector_id == row.id)
                .order_by(col(SwitchJob.id).desc())
                .limit(limit)
            ).all()
            return [_row(j, row) for j in jobs]

    def batch_jobs(self, batch: str) -> list[JobRow]:
        with Session(self.engine) as s:
            jobs = s.exec(select(SwitchJob).where(SwitchJob.batch == batch).order_by(col(SwitchJob.id))).all()
            ids = {j.connector_id for j in jobs}
            conns = {c.id: c for c in s.exec(select(Connector).where(col(Connector.id).in_(ids))).all()}
            return [_row(j, conns.get(j.connector_id)) for j in jobs]

    def unfinished_batches(self) -> list[str]:
        """Panic batches interrupted before the end (newest first), offered for ``--resume``: a job
        still owes its provider step, or it was applied and its verification never ran.

        The database does the filtering (batch jobs that are their connector's latest switch, in a
        state that may be unfinished, never verified), so opening the panel reads a handful of rows,
        not every panic job ever written. A verification that ran but did not confirm the switch
        leaves its note under ``details["verify"]``; only those few candidate rows are parsed.
        """
        latest = select(func.max(SwitchJob.id)).group_by(SwitchJob.connector_id)
        with Session(self.engine) as s:
            rows = s.exec(
                select(SwitchJob.id, SwitchJob.batch, SwitchJob.state, SwitchJob.details_json).where(
                    SwitchJob.batch != "",
                    col(SwitchJob.state).in_([s for s in JobState if s.provider_todo or s.awaits_proof]),
                    col(SwitchJob.verified_at).is_(None),
                    col(SwitchJob.id).in_(latest),
                )
            ).all()
        newest: dict[str, int] = {}
        for job_id, batch, state, details in rows:
            if JobState(state).provider_todo or not _verify_ran(details):
                newest[batch] = max(newest.get(batch, 0), job_id)
        return sorted(newest, key=lambda b: -newest[b])

    def panic_targets(self, select_fn: Callable[[PanicTarget, str, tuple[str, ...]], bool]) -> list[PanicTarget]:
        """The connectors a panic covers, from one light query (no views, no drift: speed matters)."""
        with Session(self.engine) as s:
            owners = {o.id: o.name for o in s.exec(select(Owner)).all()}
            rows = s.exec(
                select(
                    Connector.id,
                    Connector.name,
                    Connector.provider,
                    Connector.mode,
                    Connector.switch_state,
                    Connector.owner_id,
                    Connector.tags,
                ).order_by(col(Connector.name))
            ).all()
            kinds = _handed_out_kinds(s)
        out = []
        for cid, name, provider, mode, state, owner_id, tags in rows:
            target = PanicTarget(cid, name, provider, mode, state, kinds.get(cid, ""))
            tag_tuple = tuple(t.strip() for t in (tags or "").split(",") if t.strip())
            if select_fn(target, owners.get(owner_id, ""), tag_tuple):
                out.append(target)
        return out

    # -- a single switch ---------------------------------------------------------------------------
    def open_job(
        self,
        connector: str,
        action: str,
        target_mode: str,
        provider_call: str,
        *,
        audit_new: dict[str, Any],
        irreversible: bool = False,
        details: dict[str, Any] | None = None,
    ) -> JobRow:
        """Journal one switch and record its mode, in one transaction, before anything is sent."""
        now = utcnow()
        with session_scope(self.engine) as s:
            row = s.exec(select(Connector).where(Connector.name == connector)).one()
            self._supersede(s, [row.id], now)
            job = SwitchJob(
                connector_id=row.id,
                action=action,
                target_mode=target_mode,
                state=JobState.RECORDED,
                provider_call=provider_call[:500],
                details_json=json.dumps({**(details or {}), "irreversible": irreversible}),
                created_at=now,
                updated_at=now,
            )
            s.add(job)
            old_mode = row.mode
            if target_mode:
                row.mode = target_mode
            row.switch_state = JobState.RECORDED
            row.updated_at = now
            s.add(row)
            s.flush()
            self.audit.record(
                s,
                "switch.recorded",
                connector,
                old={"mode": old_mode},
                new={"action": action, "mode": row.mode, "job": job.id, "provider_call": provider_call, **audit_new},
            )
            return _row(job, row)

    def _supersede(self, s: Session, connector_ids: list[int], now: datetime) -> list[str]:
        """Older unfinished jobs of these connectors are replaced by the new one (never resumed later)."""
        if not connector_ids:
            return []
        stale = s.exec(
            select(SwitchJob).where(
                col(SwitchJob.connector_id).in_(connector_ids),
                col(SwitchJob.state).in_([s for s in JobState if s.provider_todo]),
            )
        ).all()
        batches = sorted({j.batch for j in stale if j.batch})
        if stale:
            s.execute(
                update(SwitchJob)
                .where(col(SwitchJob.id).in_([j.id for j in stale]))
                .values(state=JobState.SUPERSEDED, updated_at=now)
            )
        return batches

    # -- a panic --------------------------------------------------------------------------------------
    def journal_batch(
        self, batch: str, targets: list[PanicTarget], selection: dict[str, Any], provider_calls: dict[str, str]
    ) -> tuple[dict[str, int], list[str]]:
        """Step 1: every job of the batch, in one transaction (one bulk insert); ``provider_calls``
        holds each connector's call text (by name: it depends on the kind of key). Returns
        {connector: job id} and the batches it supersedes."""
        now = utcnow()
        with session_scope(self.engine) as s:
            superseded = self._supersede(s, [t.connector_id for t in targets], now)
            rows = [
                {
                    "batch": batch,
                    "connector_id": t.connector_id,
                    "action": SwitchAction.DISABLE,
                    "target_mode": Mode.DISABLED,
                    "state": JobState.JOURNALLED,
                    "attempts": 0,
                    "provider_call": provider_calls.get(t.name, "")[:500],
                    "provider_done": False,
                    "result": "",
                    "manual_steps_json": "[]",
                    "forced": False,
                    "details_json": json.dumps({"prior_mode": t.mode}),
                    "created_at": now,
                    "updated_at": now,
                }
                for t in targets
            ]
            ids = list(
                s.execute(insert(SwitchJob).returning(SwitchJob.id, sort_by_parameter_order=True), rows).scalars()
            )
            self.audit.record(
                s,
                "panic.start",
                new={"batch": batch, "connectors": len(targets), "selection": selection, "supersedes": superseded},
            )
        return {t.name: i for t, i in zip(targets, ids)}, superseded

    def record_batch(self, batch: str) -> list[str]:
        """Step 2: every journalled connector of the batch disabled locally, in one transaction."""
        now = utcnow()
        with session_scope(self.engine) as s:
            rows = s.exec(
                select(SwitchJob.id, SwitchJob.connector_id).where(
                    SwitchJob.batch == batch, SwitchJob.state == JobState.JOURNALLED
                )
            ).all()
            if not rows:
                return []
            job_ids = [r[0] for r in rows]
            cids = [r[1] for r in rows]
            conns = s.exec(
                select(Connector.id, Connector.name, Connector.mode)
                .where(col(Connector.id).in_(cids))
                .order_by(col(Connector.name))
            ).all()
            s.execute(
                update(Connector)
                .where(col(Connector.id).in_(cids))
                .values(mode=Mode.DISABLED, switch_state=JobState.RECORDED, updated_at=now)
            )
            s.execute(
                update(SwitchJob).where(col(SwitchJob.id).in_(job_ids)).values(state=JobState.RECORDED, updated_at=now)
            )
            job_of = dict(zip(cids, job_ids))
            self.audit.record_many(
                s,
                [
                    (
                        "switch.recorded",
                        name,
                        {"mode": mode},
                        {"action": SwitchAction.DISABLE, "mode": Mode.DISABLED, "job": job_of[cid], "batch": batch},
                        "ok",
                    )
                    for cid, name, mode in conns
                ],
            )
            return [name for _, name, _ in conns]

    def mark_applying(self, job_ids: list[int]) -> None:
        """Before the calls go out: a resume then knows a call may have reached the provider.

        Each job's ``switch.calling`` audit event (what is called where — the journalled call text,
        never a secret) commits in this same transaction: a crash after a call went out, before its
        answer was recorded, still leaves a record that it may have been sent.
        """
        if not job_ids:
            return
        now = utcnow()
        with session_scope(self.engine) as s:
            jobs = s.exec(
                select(SwitchJob.id, SwitchJob.connector_id, SwitchJob.action, SwitchJob.provider_call, SwitchJob.batch)
                .where(col(SwitchJob.id).in_(job_ids))
                .order_by(col(SwitchJob.id))
            ).all()
            if not jobs:
                return
            s.execute(
                update(SwitchJob)
                .where(
                    col(SwitchJob.id).in_(job_ids),
                    col(SwitchJob.state).in_([JobState.RECORDED, JobState.PENDING, JobState.FAILED, JobState.MANUAL]),
                )
                .values(state=JobState.APPLYING, updated_at=now)
            )
            cids = sorted({j[1] for j in jobs})
            s.execute(
                update(Connector)
                .where(col(Connector.id).in_(cids))
                .values(switch_state=JobState.APPLYING, updated_at=now)
            )
            names = dict(s.exec(select(Connector.id, Connector.name).where(col(Connector.id).in_(cids))).all())
            self.audit.record_many(
                s,
                [
                    (
                        "switch.calling",
                        names.get(cid, ""),
                        None,
                        {"action": action, "job": jid, "call": call, **({"batch": batch} if batch else {})},
                        "ok",
                    )
                    for jid, cid, action, call, batch in jobs
                ],
            )

    def audit_event(self, action: str, connector: str = "", new: Any = None, outcome: str = "ok") -> None:
        with session_scope(self.engine) as s:
            self.audit.record(s, action, connector, new=new, outcome=outcome)

    # -- writing results ----------------------------------------------------------------------------
    def write(self, updates: Iterable[JobUpdate]) -> None:
        """Every update with its audit event and credential changes, in one transaction."""
        updates = list(updates)
        if not updates:
            return
        now = utcnow()
        with session_scope(self.engine) as s:
            jobs = {
                j.id: j
                for j in s.exec(select(SwitchJob).where(col(SwitchJob.id).in_([u.job_id for u in updates]))).all()
            }
            conns = {
                c.id: c
                for c in s.exec(
                    select(Connector).where(col(Connector.id).in_([j.connector_id for j in jobs.values()]))
                ).all()
            }
            events = []
            for u in updates:
                job = jobs.get(u.job_id)
                if job is None:  # the connector was removed meanwhile
                    continue
                conn = conns.get(job.connector_id)
                self._apply(s, job, conn, u, now)
                events.append(
                    (
                        u.audit_action,
                        u.connector,
                        u.audit_old,
                        {
                            "action": job.action,
                            "job": job.id,
                            **({"batch": job.batch} if job.batch else {}),
                            **u.audit_new,
                        },
                        u.outcome,
                    )
                )
            s.flush()
            self.audit.record_many(s, events)

    def _apply(self, s: Session, job: SwitchJob, conn: Connector | None, u: JobUpdate, now: datetime) -> None:
        if u.state is not None:
            job.state = u.state
        if u.message is not None:
            job.result = u.message[:1000]
        if u.provider_done is not None:
            job.provider_done = u.provider_done
        job.attempts += u.attempts_add
        if u.manual_steps is not None:
            job.manual_steps_json = json.dumps(list(u.manual_steps))
        if u.details:
            try:
                details = json.loads(job.details_json or "{}")
            except ValueError:
                details = {}
            for key, value in u.details.items():
                if key == "done":  # a list that only grows
                    details["done"] = sorted(set(details.get("done", [])) | set(value))
                else:
                    details[key] = value
            job.details_json = json.dumps(details)
        if u.verified:
            job.verified_at = now
        if u.forced is not None:
            job.forced = u.forced
        job.updated_at = now
        s.add(job)
        if conn is not None:
            if u.state is not None:
                conn.switch_state = u.state
            conn.updated_at = now
            s.add(conn)
            self._cred_ops(s, conn, u.cred_ops, now)

    @staticmethod
    def _cred_ops(s: Session, conn: Connector, ops: list[CredOp], now: datetime) -> None:
        if not ops:
            return
        creds = {c.keyring_ref: c for c in s.exec(select(Credential).where(Credential.connector_id == conn.id)).all()}
        for op in ops:
            if op.op == "add":
                if op.ref in creds:
                    continue
                cred = Credential(
                    connector_id=conn.id or 0,
                    keyring_ref=op.ref,
                    created_at=now,
                    active=bool(op.fields.get("active", True)),
                    **{k: v for k, v in op.fields.items() if k in ("fingerprint", "last4", "tier", "kind", "binding")},
                )
                s.add(cred)
                creds[op.ref] = cred
                continue
            cred = creds.get(op.ref)
            if cred is None:
                continue
            if op.op == "activate":
                cred.active = True
            elif op.op == "deactivate":
                cred.active = False
            elif op.op == "revoked":
                cred.active = False
                cred.revoked_at = now
            elif op.op == "rotated":
                cred.rotated_at = now
            s.add(cred)
