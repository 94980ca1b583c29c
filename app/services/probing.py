"""Probing: ask each provider, right now, what a credential can do.

Many connectors are probed concurrently with a bounded pool (``probe.concurrency``), a limit per
provider endpoint (``probe.per_host``: the provider's host, so a slow GitHub never starves Slack),
a per-request timeout and an overall deadline per probe. ``Retry-After`` is honoured up to
``probe.max_retry_wait_s``, waiting *outside* the pool so a throttled provider delays nobody else.
Results are handed to ``on_result`` as they arrive and written in batches by one writer, so the
database never becomes the bottleneck of a probe-all. (In `breaker probe`, whose store is opened by
the probe-all itself, results are completed and written once the pool is quiet: see
:meth:`BusiestFirst.quiet`.)

Probing itself imports no part of the store stack (SQLAlchemy, SQLModel, pydantic: about half a
second of CPU): `breaker probe` starts its requests while the store is still being opened on a
thread (app.services.context.OpeningServices), and the methods that read or write the store
import it where they run, on the worker threads.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from app.services import binding, pinned
from app.services.credentials import provider_credential
from app.services.drift import drift_findings, is_implied
from app.services.netutil import gated, tls_context
from app.services.views import ConnectorView, level_after_probe
from app.services.vocabulary import JobState
from connectors import registry
from connectors.base import Credential as ProviderCredential
from connectors.base import Grant, Level, Outcome, ProbeReport
from connectors.http import ACCEPT_IDENTITY, cap_body, scrub, secrets_of
from connectors.masking import may_hold
from connectors.textsafe import plain

MAX_RATE_LIMIT_RETRIES = 2
KEY_SLICE = 16  # keys read before the probes that need them are let go (see Prober._read_keys)
WRITE_GATHER_S = 0.5  # results gather this long before a batch is written (see Prober._writer)


@dataclass(frozen=True)
class ProbeResult:
    connector: str
    report: ProbeReport
    drift: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return self.report.outcome is not Outcome.OK

    @property
    def finding(self) -> bool:
        """Exit code 1 material for the CLI: drift, or a probe that did not come back ok."""
        return self.failed or bool(self.drift)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def keep_deep_findings(report: ProbeReport, found: list[Grant], at: datetime) -> None:
    """Add to an ordinary probe's report what the latest deep probe found and this probe cannot see,
    so that the live level and drift are computed from it."""
    have = {g.scope for g in report.grants}
    when = at.strftime("%Y-%m-%d")
    report.grants += [
        Grant(g.scope, g.level, note=f"found by the deep probe of {when}") for g in found if g.scope not in have
    ]


@dataclass(frozen=True)
class ProbeRecord:
    """One stored probe, for the history on the connector screen."""

    at: datetime
    outcome: str
    status: int | None
    latency_ms: float
    live_level: Level | None
    identity: str
    error: str
    deep: bool
    scopes: tuple[Grant, ...]


def endpoint_key(provider_name: str, base_url: str | None) -> str:
    """What the per-host limit counts against: the provider's host (plus the sandbox prefix)."""
    url = base_url or registry.get(provider_name).base_url
    parts = urlsplit(url)
    return f"{provider_name}@{parts.netloc}"


class BusiestFirst:
    """A probe-all's pool of ``probe.concurrency`` slots, handed to the busiest endpoint first.

    The network bounds a probe-all by the endpoint with the most requests per slot (bench_probe:
    OpenAI's 375 requests through its 8 slots, 47 rounds, while the 1,438 requests of all need 23
    rounds of the pool's 64). A probe takes its endpoint's slot, then a pool slot; when the pool is
    full (eleven endpoints × 8 slots > 64), a probe of that endpoint waiting for a pool slot holds its
    endpoint's slot idle, and the wall time grows with it. So a freed pool slot goes to the waiting
    probe whose endpoint has the most work left: its probes not yet done × the requests its done
    probes sent on average (1 until one is done). Endpoints with little work wait, which costs
    nothing as long as they finish before the busiest one. Waiting probes hold no pool slot, and a
    probe waiting for its endpoint's slot does not wait here at all.
    (Measured with tests/benchmarks/bench_probe.py's inventory: docs/benchmarks.md.)"""

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._waiting: list[tuple[float, int, asyncio.Future]] = []  # (-work left, arrival, handed a slot)
        self._arrival = itertools.count()
        self._left: Counter[str] = Counter()  # endpoint → probes not yet done
        self._done: Counter[str] = Counter()  # endpoint → probes done
        self._sent: Counter[str] = Counter()  # endpoint → requests its done probes sent
        self._queued = 0  # probes waiting for a slot (cancelled ones are not counted)
        self._in_use = 0
        self._slots = slots
        self._quiet = asyncio.Event()
        self._quiet.set()

    async def quiet(self) -> None:
        """Return once no probe waits for a pool slot and at most half the slots are in use: the
        probe-all is past its busiest part (what is left runs through a few endpoints), so work on
        a thread beside the event loop (opening the store, writing results) no longer holds up the
        answers of the probes that bound the wall time (docs/benchmarks.md, session 7)."""
        await self._quiet.wait()

    def _update_quiet(self) -> None:
        if self._queued == 0 and self._in_use * 2 <= self._slots:
            self._quiet.set()
        else:
            self._quiet.clear()

    def expect(self, endpoint: str) -> None:
        """A probe of ``endpoint`` is on its way (its key is read)."""
        self._left[endpoint] += 1

    def finished(self, endpoint: str, requests: int) -> None:
        self._left[endpoint] -= 1
        self._done[endpoint] += 1
        self._sent[endpoint] += requests

    def work_left(self, endpoint: str) -> float:
        done = self._done[endpoint]
        return self._left[endpoint] * (self._sent[endpoint] / done if done else 1.0)

    def slot(self, endpoint: str) -> _PoolSlot:
        """``async with pool.slot(endpoint):`` holds one pool slot."""
        return _PoolSlot(self, endpoint)

    async def _acquire(self, endpoint: str) -> None:
        if self._free > 0:
            self._free -= 1
            self._in_use += 1
            self._update_quiet()
            return
        handed = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (-self.work_left(endpoint), next(self._arrival), handed))
        self._queued += 1
        self._update_quiet()
        try:
            await handed
        except asyncio.CancelledError:
            if handed.done() and not handed.cancelled():  # handed a slot just as it was cancelled
                self._release()
            else:
                self._queued -= 1
                self._update_quiet()
            raise  # a cancelled waiter stays in the heap, skipped by _release

    def _release(self) -> None:
        while self._waiting:
            handed = heapq.heappop(self._waiting)[2]
            if not handed.done():
                handed.set_result(None)  # the slot passes straight to the waiter
                self._queued -= 1
                self._update_quiet()
                return
        self._free += 1
        self._in_use -= 1
        self._update_quiet()


class _PoolSlot:
    __slots__ = ("endpoint", "pool")

    def __init__(self, pool: BusiestFirst, endpoint: str) -> None:
        self.pool, self.endpoint = pool, endpoint

    async def __aenter__(self) -> None:
        await self.pool._acquire(self.endpoint)

    async def __aexit__(self, *exc: object) -> None:
        self.pool._release()


class NoCookies(httpx.Cookies):
    """No cookie jar for probes. One client serves every connector of a provider endpoint, so a
    session cookie that one key's probe received must never ride along with another key's probe.
    (Skipping the jar also saves httpx building two urllib objects per response.)"""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None

    def __bool__(self) -> bool:
        return False


class Prober:
    def __init__(self, services, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.services = services
        self.transport = transport

    # -- credentials ----------------------------------------------------------------------
    def credential_for(self, view: ConnectorView) -> ProviderCredential | None:
        """The active key of ``view`` as a provider credential; None when the keyring holds none.

        Probes need no organisation admin key: they only read, with the connector's own key."""
        cred = view.credential
        if cred is not None:
            binding.check(self.services, view, cred)  # raises DestinationChanged: nothing is sent
        secret = self.services.secrets.get(cred.keyring_ref) if cred is not None else None
        return provider_credential(view, secret) if secret is not None else None

    def client(self, connections: int | None = None) -> httpx.AsyncClient:
        probe = self.services.settings.probe
        size = connections or probe.per_host
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        client = httpx.AsyncClient(
            timeout=httpx.Timeout(probe.timeout_s),
            limits=limits,
            transport=self.transport or pinned.transport(limits, tls_context()),  # checked addresses only
            verify=tls_context(),
            follow_redirects=False,
            headers={"user-agent": "breaker/0.1 (+read-only probe)", **ACCEPT_IDENTITY},
            event_hooks={"response": [cap_body]},  # bodies are capped (connectors.http.BODY_LIMIT)
        )
        # httpx offers no switch for its cookie jar; this replaces it (tests/services/test_probing.py
        # holds the behaviour, whatever httpx does inside).
        client._cookies = NoCookies()
        return client

    def credentials(self, views: list[ConnectorView]) -> dict[str, ProviderCredential | str]:
        """Every connector's credential in one pass over the keyring (one thread hop, not one per probe).

        A connector whose key cannot be read maps to the reason, which becomes its probe outcome.
        """
        out: dict[str, ProviderCredential | str] = {}
        for view in views:
            try:
                cred = self.credential_for(view)
            except binding.DestinationChanged as exc:
                out[view.name] = str(exc)
                continue
            except Exception as exc:  # keyring locked or missing: an outcome, not a crash
                out[view.name] = f"keyring could not be read ({type(exc).__name__}); is it locked?"
                continue
            out[view.name] = cred if cred is not None else "no key stored for this connector"
        return out

    def _read_keys(self, views: list[ConnectorView]) -> dict[str, asyncio.Future]:
        """Each connector's credential (or the reason it has none) as a future, filled from one
        thread a slice at a time: the first probes start while later keys are still being read
        (an OS keyring answers in milliseconds per key; 1,000 keys read first would hold every probe)."""
        loop = asyncio.get_running_loop()
        futures = {view.name: loop.create_future() for view in views}

        def deliver(batch: dict[str, ProviderCredential | str]) -> None:
            for name, cred in batch.items():
                if not futures[name].done():
                    futures[name].set_result(cred)

        def hand_over(batch: dict[str, ProviderCredential | str]) -> None:
            try:
                loop.call_soon_threadsafe(deliver, batch)
            except RuntimeError:  # the probe-all was cancelled and its loop closed: nobody waits
                pass

        def read_all() -> None:
            try:
                for start in range(0, len(views), KEY_SLICE):
                    hand_over(self.credentials(views[start : start + KEY_SLICE]))
            finally:  # whatever happened, no probe waits for ever (delivered keys stay as they are)
                hand_over({v.name: "the keyring could not be read" for v in views})

        loop.run_in_executor(None, read_all)
        return futures

    # -- probing ---------------------------------------------------------------------------
    async def probe_report(
        self,
        client: httpx.AsyncClient,
        view: ConnectorView,
        cred: ProviderCredential | str,
        *,
        deep: bool = False,
        pool: asyncio.Semaphore | _PoolSlot | None = None,
        host_sem: asyncio.Semaphore | None = None,
    ) -> ProbeReport:
        """One connector's probe, with retries on Retry-After; never raises for provider trouble."""
        try:
            provider = registry.get(view.provider)
        except KeyError:
            return ProbeReport(Outcome.ERROR, error=f"provider {view.provider!r} is not installed")
        if isinstance(cred, str):
            return ProbeReport(Outcome.ERROR, error=cred)
        settings = self.services.settings.probe
        deadline = settings.timeout_s * (3 + (provider.deep_probe_requests if deep else 0))
        attempt = 0
        sent = 0  # requests of every attempt: a retried probe reports them all
        while True:
            attempt += 1
            # host first, then pool: a probe queued behind its busy provider must not hold a pool slot
            async with gated(host_sem), gated(pool):
                try:
                    async with asyncio.timeout(deadline):  # not wait_for: no extra task per probe
                        report = await provider.probe(client, cred, deep=deep)
                except TimeoutError:
                    report = ProbeReport(Outcome.UNREACHABLE, error=f"no answer within {deadline:.0f} s")
                except Exception as exc:  # a provider bug must not take the whole probe-all down
                    report = ProbeReport(Outcome.ERROR, error=f"provider error: {type(exc).__name__}")
            sent += report.requests
            report.requests = sent
            wait = report.rate_limit.retry_after_s
            if (
                report.outcome is Outcome.RATE_LIMITED
                and wait is not None
                and attempt <= MAX_RATE_LIMIT_RETRIES
                and wait <= settings.max_retry_wait_s
            ):
                await asyncio.sleep(wait)  # outside the pool: others keep going
                continue
            if report.outcome is Outcome.RATE_LIMITED and wait is not None and wait > settings.max_retry_wait_s:
                report.error = report.error or f"rate limited; provider asks to wait {wait:.0f} s"
            return _scrub(report, cred)

    async def probe(
        self,
        names: Iterable[str] | None = None,
        *,
        deep: bool = False,
        on_result: Callable[[ProbeResult], None] | None = None,
        views: list[ConnectorView] | None = None,
    ) -> list[ProbeResult]:
        """Probe the named connectors (all when ``names`` is None); store and audit every result.
        ``views``: the inventory, when the caller has just read it (`breaker probe` has)."""
        views = self.services.inventory.list() if views is None else views
        if names is not None:
            wanted = list(dict.fromkeys(names))
            by_name = {v.name: v for v in views}
            missing = [n for n in wanted if n not in by_name]
            if missing:
                from app.services.inventory import NotFound

                raise NotFound(missing[0], by_name)
            views = [by_name[n] for n in wanted]
        settings = self.services.settings.probe
        creds = self._read_keys(views)
        # What the latest deep probes and the connectors' MCP servers found (two queries and, for the
        # second, its modules: 0.15 s of CPU) is read on a thread once the first report is in, so it
        # never competes with sending the first requests; a probe waits for it only once its report
        # is in. (`breaker probe`'s store opens on that thread, once the pool is quiet: see below.)
        known: asyncio.Future | None = None
        pool = BusiestFirst(settings.concurrency)
        # `breaker probe` opens the store on a thread (OpeningServices): half a second of CPU, then the
        # writes. Beside a busy event loop that thread takes the GIL from the answers of the probes
        # that bound the wall time, so the store is opened, and results written, once the pool is
        # quiet (BusiestFirst.quiet; every result is still written before probe() returns).
        later = pool.quiet if not getattr(self.services, "is_open", True) else None
        # One client (and connection pool) per provider endpoint, sized to the per-host limit:
        # it *is* the per-host limit, and small pools keep httpx's per-request pool bookkeeping cheap.
        clients: dict[str, httpx.AsyncClient] = {}
        host_limits: dict[str, asyncio.Semaphore] = {}
        queue: asyncio.Queue[ProbeResult | None] = asyncio.Queue()
        all_in = asyncio.Event()  # every probe has reported
        writer = asyncio.create_task(self._writer(queue, all_in, later))
        results: list[ProbeResult] = []

        async def one(view: ConnectorView) -> None:
            nonlocal known
            cred = await creds[view.name]
            try:
                key = endpoint_key(view.provider, cred.base_url if not isinstance(cred, str) else None)
            except KeyError:
                key = f"{view.provider}@?"
            if key not in clients:
                clients[key] = self.client(settings.per_host)
                host_limits[key] = asyncio.Semaphore(settings.per_host)
            pool.expect(key)
            report = await self.probe_report(
                clients[key], view, cred, deep=deep, pool=pool.slot(key), host_sem=host_limits[key]
            )
            pool.finished(key, report.requests)
            if known is None:
                known = asyncio.ensure_future(self._after(later, asyncio.to_thread, self._known_grants, views, deep))
            findings, tools = await known
            if view.name in findings and report.outcome is Outcome.OK and not report.deep:
                keep_deep_findings(report, *findings[view.name])
            if view.name in tools and report.outcome is Outcome.OK:
                have = {g.scope for g in report.grants}  # the tools of its MCP servers (app.services.mcp_probe)
                report.grants += [g for g in tools[view.name] if g.scope not in have]
            result = ProbeResult(view.name, report, tuple(self._drift(view, report)))
            results.append(result)
            queue.put_nowait(result)
            if on_result is not None:
                try:
                    on_result(result)
                except Exception:  # a closed screen must not stop the probe-all or lose results
                    logging.getLogger(__name__).exception("probe result callback failed")

        probes = [asyncio.ensure_future(one(v)) for v in views]
        try:
            try:
                await asyncio.gather(*probes)
            except BaseException:  # e.g. the store could not be read: no probe goes on, none is stored
                started = [*probes, *([known] if known is not None else [])]
                for task in started:
                    task.cancel()
                await asyncio.gather(*started, return_exceptions=True)
                raise
            finally:
                all_in.set()
                queue.put_nowait(None)
                await writer
        finally:
            await asyncio.gather(*(c.aclose() for c in clients.values()), return_exceptions=True)
        order = {v.name: i for i, v in enumerate(views)}
        return sorted(results, key=lambda r: order[r.connector])

    def _known_grants(
        self, views: list[ConnectorView], deep: bool
    ) -> tuple[dict[str, tuple[list[Grant], datetime]], dict[str, list[Grant]]]:
        """(:meth:`deep_findings` unless this is a deep probe, :meth:`mcp_tools`), in one thread hop."""
        return ({} if deep else self.deep_findings(views)), self.mcp_tools(views)

    def mcp_tools(self, views: list[ConnectorView]) -> dict[str, list[Grant]]:
        """The tools of the MCP servers wired to each connector, as grants: a provider probe cannot
        see them, so they stand until the server is probed again or turned off. One query."""
        from app.services.mcp_tools import connector_tools

        by_id = {v.id: v.name for v in views}
        return {by_id[i]: g for i, g in connector_tools(self.services, list(by_id)).items() if i in by_id}

    def deep_findings(self, views: list[ConnectorView]) -> dict[str, tuple[list[Grant], datetime]]:
        """What the latest deep probe of each connector found (its scopes and when), for the keys it
        probed: an ordinary probe cannot see these scopes, so they stand until a later deep probe
        disproves them. One query; connectors never deep-probed are left out."""
        by_id = {v.id: v for v in views}
        if not by_id:
            return {}
        engine = self.services.engine  # first: a store still opening imports the store stack (OpeningServices)
        from sqlalchemy import func
        from sqlalchemy import select as sa_select
        from sqlmodel import Session

        from app.store.models import Probe

        probe_t = Probe.__table__
        latest = (
            sa_select(func.max(probe_t.c.id))
            .where(probe_t.c.deep.is_(True), probe_t.c.outcome == Outcome.OK.value)
            .group_by(probe_t.c.connector_id)
        )
        with Session(engine) as s:
            rows = s.execute(
                sa_select(probe_t.c.connector_id, probe_t.c.live_scopes_json, probe_t.c.at).where(
                    probe_t.c.id.in_(latest)
                )
            ).all()
        out: dict[str, tuple[list[Grant], datetime]] = {}
        for connector_id, scopes_json, at in rows:
            view = by_id.get(connector_id)
            if view is None:
                continue
            cred = view.credential
            if cred is not None and cred.created_at is not None and _utc(at) < _utc(cred.created_at):
                continue  # found for an earlier key (rotated since): says nothing about this one
            try:
                grants = [Grant(str(sc), Level(int(lv))) for sc, lv in json.loads(scopes_json or "[]")]
            except (ValueError, TypeError):
                continue
            if grants:
                out[view.name] = (grants, at)
        return out

    async def probe_one(self, name: str, *, deep: bool = False) -> ProbeResult:
        return (await self.probe([name], deep=deep))[0]

    @staticmethod
    def _drift(view: ConnectorView, report: ProbeReport) -> list[str]:
        if report.outcome is not Outcome.OK:
            return []
        return drift_findings(view.mode, view.declared, report.grants, report.live_level)

    @staticmethod
    async def _after(wait: Callable[[], Awaitable[None]] | None, run: Callable[..., Awaitable], *args):
        if wait is not None:
            await wait()
        return await run(*args)

    # -- storing ---------------------------------------------------------------------------
    async def _writer(
        self, queue: asyncio.Queue, all_in: asyncio.Event, later: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """Write results in batches (one transaction each) off the event loop.

        After the first result of a batch it lets the others gather for ``WRITE_GATHER_S``, or until
        the last probe is in: each transaction has a fixed cost (about 4 ms of CPU, the write lock,
        the audit head in the keyring) paid while the probes share the GIL. In bench_probe's
        probe-all of 1,000 at 100 ms, 0.5 s (was 0.1 s) made batches of 170–330 results while most
        endpoints were busy and of 8–40 while only the busiest one was left, instead of 50 and 2–9:
        the writer's CPU 0.19–0.25 s instead of 0.39–0.42 s (thread CPU time, 2 runs each, with the
        expiry updates in one statement). With ``later`` (`breaker probe`, whose store is not open
        yet) a batch waits for it too: there the first batch holds most of the results, written once
        the pool is quiet (writer CPU 0.13 s). A single probe is written as soon as it is in."""
        done = False
        while not done:
            batch = [await queue.get()]
            if batch[0] is not None and not all_in.is_set():
                try:  # gather more, but write at once when the last probe is in
                    async with asyncio.timeout(WRITE_GATHER_S):
                        await all_in.wait()
                except TimeoutError:
                    pass
            if later is not None and batch[0] is not None:
                await later()  # the store opens, and results are written, once the probe-all's rush is over
            while not queue.empty():
                batch.append(queue.get_nowait())
            if None in batch:
                done = True
                batch = [r for r in batch if r is not None]
            if batch:
                await asyncio.to_thread(self.store, batch)

    def store(self, results: list[ProbeResult], *, reconcile: bool = True) -> None:
        """Write a batch of results in one transaction with bulk statements.

        A probe-all writes while probes are still in flight; ORM flushes of thousands of rows would
        compete with the event loop for the GIL, so rows go in as executemany inserts/updates
        (app.store.bulk) and the rows they need are read as plain Core rows on ``__table__``.
        tests/benchmarks/bench_probe.py is the benchmark these two paths answer to (docs/benchmarks.md).
        """
        engine = self.services.engine  # first: a store still opening imports the store stack (OpeningServices)
        from sqlalchemy import bindparam
        from sqlalchemy import select as sa_select

        from app.store.bulk import insert_many, update_many
        from app.store.db import session_scope
        from app.store.models import Connector, Credential, Probe, ScopeGrant, utcnow

        now = utcnow()
        waiting: list[ProbeResult] = []  # connectors whose last switch waits for a probe's proof
        conn_t, grant_t = Connector.__table__, ScopeGrant.__table__
        with session_scope(engine) as s:
            names = [r.connector for r in results]
            # Plain column rows, not ORM objects: this runs beside the probes, and the GIL is shared.
            rows = {
                c.name: c
                for c in s.execute(
                    sa_select(
                        conn_t.c.id, conn_t.c.name, conn_t.c.switch_state, conn_t.c.last_outcome, conn_t.c.live_level
                    ).where(conn_t.c.name.in_(bindparam("names", expanding=True))),
                    {"names": names},
                ).all()
            }
            ids = [c.id for c in rows.values()]
            observed: dict[int, dict[str, int]] = {}  # connector id → scope → grant id
            for g in s.execute(
                sa_select(grant_t.c.id, grant_t.c.connector_id, grant_t.c.scope).where(
                    grant_t.c.connector_id.in_(bindparam("ids", expanding=True)), grant_t.c.source == "observed"
                ),
                {"ids": ids},
            ).all():
                observed.setdefault(g.connector_id, {})[g.scope] = g.id
            probes, updates, new_grants, touched, gone, expiries, events = [], [], [], [], [], [], []
            for result in results:
                row = rows.get(result.connector)
                if row is None:  # removed while the probe was in flight
                    continue
                report, live = result.report, result.report.live_level
                ok = report.outcome is Outcome.OK
                if row.switch_state in (JobState.APPLIED, JobState.MANUAL):
                    waiting.append(result)
                probes.append(
                    dict(
                        connector_id=row.id,
                        at=now,
                        outcome=report.outcome.value,
                        status=report.status,
                        identity=report.identity[:200],
                        live_scopes_json=json.dumps([[g.scope, int(g.level)] for g in report.grants]),
                        live_level=int(live) if live is not None else None,
                        latency_ms=report.latency_ms,
                        error=report.error[:500],
                        deep=report.deep,
                        token_kind=report.token_kind,
                        expires_at=report.expires_at,
                        provider_last_used_at=last_used_of(report),
                    )
                )
                change = {
                    "id": row.id,
                    "last_probe_at": now,
                    "last_outcome": report.outcome.value,
                    "live_level": row.live_level,
                }
                seen = observed.get(row.id, {})
                before = Level(row.live_level) if row.live_level else None
                after = level_after_probe(report.outcome, live, before)
                change["live_level"] = int(after) if after is not None else None
                if ok:
                    # Stored live scopes are the ones the provider granted; implied children stay in the report.
                    live_scopes = {g.scope: g for g in report.grants if not is_implied(g)}
                    gone += [grant_id for sc, grant_id in seen.items() if sc not in live_scopes]
                    for sc, g in live_scopes.items():
                        if sc in seen:
                            touched.append({"id": seen[sc], "last_seen": now, "level": int(g.level)})
                        else:
                            new_grants.append(
                                dict(
                                    connector_id=row.id,
                                    scope=sc,
                                    level=int(g.level),
                                    source="observed",
                                    first_seen=now,
                                    last_seen=now,
                                )
                            )
                    if report.expires_at is not None:
                        expiries.append({"connector_id": row.id, "expires_at": report.expires_at})
                elif report.outcome in (Outcome.INVALID, Outcome.REVOKED):
                    gone += list(seen.values())  # the key no longer works: it holds no scopes either
                updates.append(change)
                old = {
                    "outcome": row.last_outcome,
                    "live_level": Level(row.live_level).label if row.live_level else None,
                }
                new = {
                    "outcome": report.outcome.value,
                    "status": report.status,
                    "live_level": live.label if live is not None and ok else None,
                    "live_scopes": len(report.grants),
                    "latency_ms": report.latency_ms,
                    "deep": report.deep,
                    "drift": list(result.drift),
                    "error": report.error[:200],
                }
                events.append(("probe", row.name, old, new, "ok" if ok else report.outcome.value))
            # One executemany each, straight to the driver on SQLite (app.store.bulk).
            insert_many(s, Probe.__table__, probes)
            update_many(s, conn_t, updates)
            update_many(s, grant_t, touched)
            if gone:
                s.execute(grant_t.delete().where(grant_t.c.id.in_(gone)))
            insert_many(s, grant_t, new_grants)
            update_many(s, Credential.__table__, expiries, key="connector_id", only={"active": True})
            self.services.audit.record_many(s, events)
        if waiting and reconcile:
            # An ordinary probe proves a waiting switch. The switch code's own verification probes
            # pass reconcile=False: they record the verification themselves, once.
            from app.services.switches import reconcile as reconcile_switches  # only when a switch waits

            reconcile_switches(self.services, waiting)

    # -- reading ----------------------------------------------------------------------------
    def history(self, name: str, limit: int = 20) -> list[ProbeRecord]:
        from sqlmodel import Session, col, select

        from app.store.models import Connector, Probe

        with Session(self.services.engine) as s:
            row = s.exec(select(Connector).where(Connector.name == name)).first()
            if row is None:
                return []
            probes = s.exec(
                select(Probe)
                .where(Probe.connector_id == row.id)
                .order_by(col(Probe.at).desc(), col(Probe.id).desc())
                .limit(limit)
            ).all()
        return [
            ProbeRecord(
                p.at,
                p.outcome,
                p.status,
                p.latency_ms,
                Level(p.live_level) if p.live_level else None,
                p.identity,
                p.error,
                p.deep,
                tuple(Grant(sc, Level(lv)) for sc, lv in json.loads(p.live_scopes_json or "[]")),
            )
            for p in probes
        ]


def last_used_of(report: ProbeReport) -> datetime | None:
    """The provider's own last-used date of the key, when the probe saw one (``details["last_used_at"]``:
    ISO text as GitLab sends it, or Unix seconds as OpenAI's key objects do); None otherwise."""
    value = report.details.get("last_used_at")
    if isinstance(value, bool) or value in (None, ""):
        return None
    try:
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, UTC)
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _scrub(report: ProbeReport, cred: ProviderCredential) -> ProbeReport:
    """Belt and braces for providers (third-party ones too) that do not mask their own texts:
    the text fields of a report must never carry a key onward to the database or the screen."""
    keys = secrets_of(cred)
    if keys and may_hold((report.error, report.identity), (k.reveal() for k in keys)):
        report.error, report.identity = scrub(report.error, keys), scrub(report.identity, keys)
    report.error, report.identity = plain(report.error), plain(report.identity)
    return report
