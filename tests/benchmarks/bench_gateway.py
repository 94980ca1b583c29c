"""The gateway's cost on loopback: added latency, the first streamed event, switch → first refusal.

    python tests/benchmarks/bench_gateway.py [--requests 2000] [--runs 3] [--concurrency 100] [--latency-ms 1000]
        [--method interleaved|sequential] [--processes] [--cases 1,many,saturation]

What runs, each in its own process as in use: the loopback sandbox (``python -m connectors.sandbox``)
and ``breaker --home DIR gateway`` on a fresh home with two routed connectors. The clients are httpx
in this process.

Figures:

- added latency: ``GET /v1/models`` through the gateway to the sandbox, minus the same call made
  directly (the ideal), p50 and p99; ``--runs`` direct/gateway pairs each, reported as min / median
  / max; the verdict reads the median. Goal: p50 < 1 ms and p99 < 5 ms added. How a pair is
  measured (``--method``):

  * ``sequential`` (session 7's): all the direct requests, then all the gateway's, each side with
    its own clients, warm-up and staggered start. Whatever else the machine did during one side's
    10 s and not the other's lands in the difference.
  * ``interleaved`` (the default since session 8): one continuous load, the clients' requests
    going direct and through the gateway in segments, ABBA (direct / gateway / direct, the next
    pair gateway / direct / gateway), so a drift or a load spike falls on both sides; only
    requests during whose whole life no request of another segment was in flight are kept; with
    a latency, clients start at random moments within it and wait a random think time (10 ms on
    average at 100 clients) between requests, so no segment runs on a kinder arrangement of the
    clients than another (see interleaved(); figures old against new in docs/benchmarks.md,
    "Session 8, gateway benchmark method").

  Three cases, each labelled in the output:

  * 1 client (sequential), the sandbox answering at once: no queue anywhere, so what is added is
    the gateway's own time in the request's path. Judged.
  * ``--concurrency`` clients, the sandbox answering after ``--latency-ms`` (injected at the
    sandbox, as bench_probe does): agents waiting on a provider, as in use, their starts spread
    over the latency (a provider that always takes the same time would otherwise keep 100 clients
    sending in lock-step bursts of 100). Judged at many clients.
    The default, 1,000 ms (a short answer from a model, the gateway's main traffic), keeps what
    100 clients ask (100 requests/s) within what this benchmark's own client and the sandbox can
    make on a 2-core machine; at 100 ms they would ask 1,000 requests/s, and the direct run alone
    reached 250–300/s there (load 4.5), so that figure was the machine's queue again. The output
    says how close the direct run came to the rate the clients could ask; under 90 % the verdict
    says the figure is the machine's.
  * ``--concurrency`` clients, the sandbox answering at once: a saturation figure, shown and never
    judged. Each client sends its next request the moment the last one returns, so the client,
    the sandbox and the gateway (three Python processes on the machine's cores) are always busy and
    a request waits behind the others: the added latency is about clients × the gateway's CPU per
    request, whatever the gateway does, and says how much work it does, not how long an agent waits.

  Beside each: the gateway process's own CPU time per request (user + system, from /proc), the
  figure that moves least with the machine's load, and how busy it was (CPU seconds per second);
  the upstream connections the gateway opened (its sockets to the sandbox, read from /proc); and
  how much CPU the machine's other processes used during each side (/proc/stat less the client's,
  the sandbox's and the gateway's): a pair whose sides differ there was not measured alike.
  ``--processes`` adds each process's CPU, wake-ups, preemptions and page faults per request.
- first streamed event: time to the first ``data:`` line of a streamed chat completion
  (``"stream": true``, the sandbox's ``text/event-stream`` answer, its events 10 ms apart) through
  the gateway, minus the same directly: the delay the gateway adds to the first streamed event.
- switch → first refusal: a client sends reads back to back; the mode is written to the store as a
  switch records it (the first step of `breaker disable`, before any provider call); the time from
  that commit to the first 403 the client receives. Goal: < 100 ms. Also: the time for an open
  stream to be ended.
A script, not a pytest test (pytest never collects it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer")


def breaker(home: Path, *args: str, env: dict) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "app", "--home", str(home), *args], capture_output=True, text=True, env=env, cwd=ROOT
    )
    if done.returncode != 0:
        raise SystemExit(f"breaker {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


WARM = 20  # requests each latencies() run makes before it measures (one client; 2 per client with more)


@dataclass(frozen=True)
class Case:
    """One added-latency figure: how many clients, how long the sandbox takes to answer, and why it
    is (or is not) what the goal is judged on."""

    label: str
    clients: int
    latency_ms: float
    why: str
    judged: bool = True


def set_latency(sandbox: str, latency_ms: float) -> None:
    """Every sandbox answer waits ``latency_ms`` (the sandbox's fault table; 0: none)."""
    if latency_ms > 0:
        httpx.post(sandbox + "/_sandbox/faults", json={"provider": "*", "latency_ms": latency_ms}).raise_for_status()
    else:
        httpx.delete(sandbox + "/_sandbox/faults").raise_for_status()


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def spread(values: list[float], digits: int = 2) -> str:
    return " / ".join(f"{v:.{digits}f}" for v in (min(values), statistics.median(values), max(values)))


async def timed(client: httpx.AsyncClient, url: str, headers: dict) -> float:
    start = time.perf_counter()
    r = await client.get(url, headers=headers)
    elapsed = time.perf_counter() - start
    if r.status_code != 200:
        raise SystemExit(f"{url}: HTTP {r.status_code} {r.text[:200]}")
    return elapsed


def warm_requests(concurrency: int) -> int:
    """How many requests latencies() makes before it measures (counted in the CPU per request)."""
    return WARM if concurrency == 1 else 2 * concurrency


CLIENT_POOL = 10  # connections per client pool in latencies()


async def latencies(
    url: str, headers: dict, total: int, concurrency: int, stagger_s: float = 0.0
) -> tuple[list[float], float]:
    """Per-request latencies of ``total`` requests from ``concurrency`` clients, and the wall time
    they took together. ``stagger_s``: client i starts i × stagger_s / concurrency later, so clients
    waiting on a provider that always takes the same time do not send in lock-step bursts (agents
    are independent of each other). The clients share pools of CLIENT_POOL connections: httpcore's pool looks
    at every connection it holds on each request and each release (encode/httpcore#1035), so one
    pool of 100 made this process, not the gateway or the sandbox, what 100 clients waited for."""
    size = min(concurrency, CLIENT_POOL)
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    clients = [httpx.AsyncClient(limits=limits, timeout=30) for _ in range(-(-concurrency // size))]
    found: list[float] = []

    async def worker(n: int, client: httpx.AsyncClient, delay: float = 0.0) -> None:
        if delay:
            await asyncio.sleep(delay)
        for _ in range(n):
            found.append(await timed(client, url, headers))

    try:
        # warm every connection (client → gateway → sandbox) and the processes, then measure
        warm = warm_requests(concurrency) // concurrency
        await asyncio.gather(*(worker(warm, clients[i % len(clients)]) for i in range(concurrency)))
        found.clear()
        share = total // concurrency
        started = time.perf_counter()
        await asyncio.gather(
            *(worker(share, clients[i % len(clients)], i * stagger_s / concurrency) for i in range(concurrency))
        )
        wall = time.perf_counter() - started
    finally:
        for client in clients:
            await client.aclose()
    return found, wall


DIRECT, GATEWAY = "direct", "via gateway"
THINK = 2.0  # interleaved(): a client waits 0 to THINK × latency / clients before its next request


@dataclass(frozen=True)
class ProcStat:
    """A process's counters from /proc: CPU seconds (user + system), minor page faults, voluntary and
    involuntary context switches (wake-ups after waiting; preemptions)."""

    cpu: float
    minflt: int
    woke: int
    preempted: int

    def __sub__(self, other: ProcStat) -> ProcStat:
        return ProcStat(
            self.cpu - other.cpu, self.minflt - other.minflt, self.woke - other.woke, self.preempted - other.preempted
        )


def proc_stat(pid: int) -> ProcStat | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    switches = dict(
        line.split(":\t") for line in status.splitlines() if line.startswith(("voluntary_", "nonvoluntary_"))
    )
    return ProcStat(
        (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"),
        int(fields[7]),
        int(switches["voluntary_ctxt_switches"]),
        int(switches["nonvoluntary_ctxt_switches"]),
    )


def machine_cpu() -> tuple[float, float]:
    """CPU seconds all processes on the machine have used so far (/proc/stat: all but idle and
    iowait), to tell how much of a run's CPU was someone else's; and the hypervisor's steal so far
    (time this machine's CPUs wanted to run and the host ran something else)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields[:7]) - fields[3] - fields[4]) / tick, fields[7] / tick


Reading = tuple[float, float, float, float]


def meter(pids: list[int]) -> Reading:
    """(now, the machine's CPU seconds, the CPU seconds of ``pids``, steal seconds) — two readings
    tell how much of a CPU the machine's other processes used between them (others())."""
    ours = sum(stat.cpu for pid in pids if (stat := proc_stat(pid)))
    machine, steal = machine_cpu()
    return time.perf_counter(), machine, ours, steal


def others(readings: list[tuple[Reading, Reading]], field: int = 1) -> float:
    """The other processes' CPU over (start, end) reading pairs, in CPUs (1.0: one core busy);
    ``field=3``: the hypervisor's steal instead."""
    if field == 3:
        used = sum(b[3] - a[3] for a, b in readings)
    else:
        used = sum(max(0.0, (b[1] - a[1]) - (b[2] - a[2])) for a, b in readings)
    wall = sum(b[0] - a[0] for a, b in readings)
    return used / wall if wall > 0 else 0.0


def upstream_sockets(pid: int, port: int) -> set[int]:
    """The socket inodes process ``pid`` holds connected to 127.0.0.1:``port`` (the gateway's
    connections to the sandbox): a new inode between two reads is a connection opened."""
    try:
        held = {
            int(target[8:-1])
            for fd in os.listdir(f"/proc/{pid}/fd")
            if (target := os.readlink(f"/proc/{pid}/fd/{fd}")).startswith("socket:[")
        }
        table = Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return set()
    found = set()
    for line in table:
        cols = line.split()
        if cols[2] == f"0100007F:{port:04X}" and int(cols[9]) in held:
            found.add(int(cols[9]))
    return found


class SocketWatch:
    """Counts the connections the gateway opens to the sandbox while it runs: upstream_sockets()
    read every 0.5 s in a thread (under aiohttp's 5 s keep-alive, so none opens and closes unseen)."""

    def __init__(self, pid: int, port: int) -> None:
        self.pid, self.port = pid, port
        self.first = upstream_sockets(pid, port)
        self.seen = set(self.first)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.wait(0.5):
            self.seen |= upstream_sockets(self.pid, self.port)

    def opened(self) -> int:
        self._done.set()
        self._thread.join()
        self.seen |= upstream_sockets(self.pid, self.port)
        return len(self.seen - self.first)


@dataclass
class Interleaved:
    """One interleaved run: the kept latencies of each side, each side's request rate in its kept
    windows, how many requests each side made in all (warm-up and edges included), and how long the
    gateway carried traffic."""

    kept: dict[str, list[float]]
    rates: dict[str, float]
    made: dict[str, int]
    gateway_s: float
    others: dict[str, float]  # the other processes' CPU during each side's segments, in CPUs
    steal: float  # the hypervisor's steal over the run, in CPUs


async def interleaved(
    urls: dict[str, tuple[str, dict]],
    total: int,
    concurrency: int,
    latency_s: float,
    first: str,
    read_meter: Callable[[], Reading],
    seed: int = 0,
) -> Interleaved:
    """``concurrency`` clients under one continuous load, their requests going direct and through the
    gateway in segments, in the order first / other / first (ABBA: the other side in the middle,
    twice as long, so a drift in time falls on both sides alike), about ``total`` kept requests
    each side. Each client sends its next request when the last returns, to the side of the
    segment then running.

    With a latency, each client starts at a random moment within it and waits a random 0 to
    THINK × latency_s / concurrency before each next request (10 ms on average at 100 clients and
    1,000 ms: the clients ask 1 % less): agents are independent of each other. Without it (the
    sequential method's evenly spaced starts, a provider that always takes the same time) the
    clients keep their starting phases, so a run measures one arrangement of 100 clients; the
    first switch between the sides (new connections, ~1 ms more per request through the gateway)
    shuffles it, and the segment before the first switch ran on the even comb: 0.5–1 ms faster than
    every later one, on both sides — so a run that began direct read 1.2–1.9 ms added and one that
    began through the gateway 0.2–0.5 ms (docs/benchmarks.md, "Session 8, gateway benchmark
    method"). Random starts and think times make every segment alike.

    Kept: a request during whose whole life no request of another segment was in flight (it starts
    after the last of the previous segment returned, and returns before the next segment's first
    starts) — so each side is measured under its own full load only, never at the ramps where the
    gateway carries half its traffic (at a switch to the gateway it has forwarded requests and no
    answers yet; at a switch away, answers and no new requests). A closed loop of C clients loses
    about C requests at each edge of a segment, so each segment asks for 2 × C more than it keeps."""
    other = GATEWAY if first == DIRECT else DIRECT
    edge = 2 * concurrency
    half = -(-total // 2)
    # segment 0: the ramp (each client's first request, starts spread): never kept
    plan = [(first, concurrency), (first, half + edge), (other, total + edge), (first, half + edge)]
    size = min(concurrency, CLIENT_POOL)
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    pools = {
        side: [httpx.AsyncClient(limits=limits, timeout=30) for _ in range(-(-concurrency // size))]
        for side in (DIRECT, GATEWAY)
    }
    samples: list[tuple[int, float, float]] = []
    segment, used, stopped = 0, 0, 0.0
    readings: list[Reading] = []  # meter() as each segment starts, and at the end

    def take() -> int | None:
        nonlocal segment, used, stopped
        if not readings:
            readings.append(read_meter())
        while segment < len(plan) and used >= plan[segment][1]:
            segment, used = segment + 1, 0
            readings.append(read_meter())
        if segment == len(plan):
            stopped = stopped or time.perf_counter()
            return None
        used += 1
        return segment

    async def once(side: str, i: int) -> tuple[float, float]:
        url, headers = urls[side]
        client = pools[side][i % len(pools[side])]
        start = time.perf_counter()
        r = await client.get(url, headers=headers)
        end = time.perf_counter()
        if r.status_code != 200:
            raise SystemExit(f"{url}: HTTP {r.status_code} {r.text[:200]}")
        return start, end

    async def warm(i: int, n: int) -> None:
        for _ in range(n):
            for side in (first, other):
                await once(side, i)

    rng = random.Random(seed)
    think = THINK * latency_s / concurrency

    async def worker(i: int, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        while (k := take()) is not None:
            samples.append((k, *await once(plan[k][0], i)))
            if think:
                await asyncio.sleep(rng.uniform(0, think))

    try:
        per_client = warm_requests(concurrency) // concurrency
        await asyncio.gather(*(warm(i, per_client) for i in range(concurrency)))
        await asyncio.gather(*(worker(i, rng.uniform(0, latency_s)) for i in range(concurrency)))
    finally:
        for side in pools.values():
            for client in side:
                await client.aclose()
    n = len(plan)
    starts = [[s for k, s, _ in samples if k == j] for j in range(n)]
    ends = [[e for k, _, e in samples if k == j] for j in range(n)]
    kept: dict[str, list[float]] = {DIRECT: [], GATEWAY: []}
    by_segment: list[list[float]] = [[] for _ in range(n)]
    windows = {DIRECT: 0.0, GATEWAY: 0.0}
    counted = {DIRECT: 0, GATEWAY: 0}
    for j in range(1, n):
        side = plan[j][0]
        lo = max(starts[0]) if j == 1 else max(max(e) for e in ends[:j])
        hi = min(starts[j + 1]) if j + 1 < n else stopped
        for k, s, e in samples:
            if k == j and s >= lo and e <= hi:
                by_segment[j].append(e - s)
        kept[side] += by_segment[j]
        counted[side] += sum(lo <= s <= hi for s in starts[j])
        windows[side] += hi - lo
    gateway = next(j for j in range(1, n) if plan[j][0] == GATEWAY)
    made = {
        side: warm_requests(concurrency) + sum(len(starts[j]) for j in range(n) if plan[j][0] == side)
        for side in (DIRECT, GATEWAY)
    }
    return Interleaved(
        kept,
        {side: counted[side] / windows[side] if windows[side] > 0 else 0.0 for side in windows},
        made,
        max(ends[gateway]) - min(starts[gateway]),
        {
            side: others([(readings[j], readings[j + 1]) for j in range(n) if plan[j][0] == side])
            for side in (DIRECT, GATEWAY)
        },
        others([(readings[0], readings[-1])], field=3),
    )


async def first_event(url: str, headers: dict, runs: int = 50) -> list[float]:
    found = []
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(runs + 3):
            start = time.perf_counter()
            async with client.stream("POST", url, json=CHAT, headers=headers) as r:
                async for line in r.aiter_lines():
                    if line.startswith("data:"):
                        found.append(time.perf_counter() - start)
                        break
        return found[3:]


async def switch_to_refusal(db: Path, url: str, headers: dict, name: str) -> float:
    """Reads back to back; the mode written as the switch journal writes it; the first 403's delay."""
    switched: list[float] = []
    refused: list[float] = []

    async def flip() -> None:
        await asyncio.sleep(0.3)
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("UPDATE connector SET mode = 'disabled' WHERE name = ?", (name,))
        switched.append(time.perf_counter())  # after the commit
        conn.close()

    async def reader(client: httpx.AsyncClient) -> None:
        while not refused:
            r = await client.get(url, headers=headers)
            if r.status_code == 403:
                refused.append(time.perf_counter())

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(flip(), *(reader(client) for _ in range(4)))
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("UPDATE connector SET mode = 'full' WHERE name = ?", (name,))
    conn.close()
    return refused[0] - switched[0]


async def stream_end(db: Path, url: str, headers: dict, name: str) -> tuple[float, bool]:
    """The time from the switch to the stream's end, and whether the gateway ended it (its error
    event) rather than the stream finishing first."""
    ended_by_gateway = False
    async with httpx.AsyncClient(timeout=30) as client:
        async with client.stream("POST", url, json=CHAT, headers=headers) as r:
            switched = 0.0
            async for line in r.aiter_lines():
                ended_by_gateway = ended_by_gateway or "breaker_gateway_refused" in line
                if line.startswith("data:") and not switched:
                    conn = sqlite3.connect(db, isolation_level=None)
                    conn.execute("UPDATE connector SET mode = 'disabled' WHERE name = ?", (name,))
                    conn.close()
                    switched = time.perf_counter()
        ended = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("UPDATE connector SET mode = 'full' WHERE name = ?", (name,))
    conn.close()
    return ended - switched, ended_by_gateway


@dataclass
class Run:
    """One direct/gateway pair of a case: the latencies each side kept, each side's rate, the
    gateway's CPU per request and busy share, and the processes' counters over the pair."""

    direct: list[float]
    through: list[float]
    rates: tuple[float, float]
    cpu_us: float | None
    busy: float | None
    procs: dict[str, ProcStat]
    requests: dict[str, int]  # per side, everything made (warm-up and edges included)
    opened: int  # upstream connections the gateway opened during the pair
    others: dict[str, float]  # CPU the machine's other processes used during each side, in CPUs
    steal: float  # the hypervisor's steal during the pair, in CPUs


def run_sequential(rig: Rig, case: Case, total: int, _: int) -> Run:
    """Session 7's method: all the direct requests, then all the gateway's, each with its own
    clients, warm-up and staggered start."""
    stagger = case.latency_ms / 1000
    before = {name: proc_stat(pid) for name, pid in rig.pids.items()}
    pids = list(rig.pids.values())
    began, sockets = meter(pids), SocketWatch(rig.gw_pid, rig.sb_port)  # both sides read /proc alike
    d, d_wall = asyncio.run(latencies(*rig.direct, total, case.clients, stagger))
    between = meter(pids)
    gw_before, started = proc_stat(rig.gw_pid), time.perf_counter()
    g, wall = asyncio.run(latencies(*rig.through, total, case.clients, stagger))
    ended = meter(pids)
    gw_after, elapsed = proc_stat(rig.gw_pid), time.perf_counter() - started
    opened = sockets.opened()
    after = {name: proc_stat(pid) for name, pid in rig.pids.items()}
    made = len(g) + warm_requests(case.clients)
    cpu = busy = None
    if gw_before and gw_after:
        cpu = (gw_after - gw_before).cpu / made * 1e6
        busy = (gw_after - gw_before).cpu / elapsed * 100
    return Run(
        d,
        g,
        (len(d) / (d_wall - stagger), len(g) / (wall - stagger)),
        cpu,
        busy,
        {name: after[name] - before[name] for name in rig.pids if before[name] and after[name]},
        {DIRECT: len(d) + warm_requests(case.clients), GATEWAY: made},
        opened,
        {DIRECT: others([(began, between)]), GATEWAY: others([(between, ended)])},
        others([(began, ended)], field=3),
    )


def run_interleaved(rig: Rig, case: Case, total: int, index: int) -> Run:
    """This session's method (see interleaved()): runs alternate which side goes first."""
    first = DIRECT if index % 2 == 0 else GATEWAY
    before = {name: proc_stat(pid) for name, pid in rig.pids.items()}
    sockets = SocketWatch(rig.gw_pid, rig.sb_port)
    found = asyncio.run(
        interleaved(
            {DIRECT: rig.direct, GATEWAY: rig.through},
            total,
            case.clients,
            case.latency_ms / 1000,
            first,
            lambda: meter(list(rig.pids.values())),
            seed=index,
        )
    )
    opened = sockets.opened()
    after = {name: proc_stat(pid) for name, pid in rig.pids.items()}
    procs = {name: after[name] - before[name] for name in rig.pids if before[name] and after[name]}
    cpu = busy = None
    if "gateway" in procs:
        cpu = procs["gateway"].cpu / found.made[GATEWAY] * 1e6
        busy = procs["gateway"].cpu / found.gateway_s * 100
    return Run(
        found.kept[DIRECT],
        found.kept[GATEWAY],
        (found.rates[DIRECT], found.rates[GATEWAY]),
        cpu,
        busy,
        procs,
        found.made,
        opened,
        found.others,
        found.steal,
    )


METHODS = {"interleaved": run_interleaved, "sequential": run_sequential}


@dataclass
class Rig:
    """The sandbox and the gateway, running, and what a client needs to call each."""

    sandbox: str
    gateway: str
    key: str
    token_models: str
    token_stream: str
    db: Path
    sb_port: int
    procs: list[subprocess.Popen]

    @property
    def sb_pid(self) -> int:
        return self.procs[0].pid

    @property
    def gw_pid(self) -> int:
        return self.procs[1].pid

    @property
    def pids(self) -> dict[str, int]:
        return {"client": os.getpid(), "sandbox": self.sb_pid, "gateway": self.gw_pid}

    @property
    def direct(self) -> tuple[str, dict]:
        return self.sandbox + "/openai/v1/models", {"Authorization": f"Bearer {self.key}"}

    @property
    def through(self) -> tuple[str, dict]:
        return self.gateway + "/bench-openai/v1/models", {"Authorization": f"Bearer {self.token_models}"}


SETUP = """
from pathlib import Path
from app.services.context import open_services
from app.services.gateway import Gateway
from app.services.views import ConnectorInput
from app.settings import load_settings
from connectors.base import Secret
home, base, key = {home!r}, {base!r}, {key!r}
Path(home).mkdir(parents=True, exist_ok=True)
(Path(home) / "config.toml").write_text("[demo]\\nenabled = true\\n")
svc = open_services(load_settings(home=home))
gw = Gateway(svc)
for name in ("bench-openai", "bench-stream"):
    svc.inventory.add(ConnectorInput(name=name, provider="openai", base_url=base), Secret(key))
    gw.route(name)
    print(gw.issue(name, "bench").token)
svc.close()
"""


def start(procs: list[subprocess.Popen]) -> Rig:
    """The sandbox, a fresh home with two routed connectors (the keyring the demo kind: a file in
    the home, so the gateway process reads it), and ``breaker --home DIR gateway``; each process is
    appended to ``procs`` as it starts (the caller ends them)."""
    home = Path(tempfile.mkdtemp(prefix="bench-gateway-")) / "home"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sb_port, gw_port = free_port(), free_port()
    procs.append(
        subprocess.Popen(
            [sys.executable, "-m", "connectors.sandbox", "--port", str(sb_port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    )
    sandbox = f"http://127.0.0.1:{sb_port}"
    wait_http(sandbox + "/_sandbox/")
    key = httpx.post(sandbox + "/_sandbox/tokens", json={"provider": "openai", "kind": "project"}).json()["token"]
    setup = SETUP.format(home=str(home), base=sandbox + "/openai", key=key)
    done = subprocess.run([sys.executable, "-c", setup], capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    token_models, token_stream = done.stdout.split()
    procs.append(
        subprocess.Popen(
            [sys.executable, "-m", "app", "--home", str(home), "gateway", "--port", str(gw_port)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    gateway = f"http://127.0.0.1:{gw_port}"
    wait_http(gateway + "/")
    return Rig(sandbox, gateway, key, token_models, token_stream, home / "breaker.db", sb_port, procs)


def stop(procs: list[subprocess.Popen]) -> None:
    """End the rig's processes: all asked at once, each given 5 s before it is killed."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def per_request(stat: ProcStat, n: int) -> str:
    return (
        f"{stat.cpu / n * 1e6:.0f} µs CPU, {stat.woke / n:.2f} wake-ups, {stat.preempted / n:.2f} preempted,"
        f" {stat.minflt / n:.2f} page faults"
    )


def measure_case(rig: Rig, case: Case, args, verdicts: list, unjudged: list) -> None:
    set_latency(rig.sandbox, case.latency_ms)
    print(f"  {case.label} ({case.why}):")
    measure = METHODS[args.method]
    added50, added99, cpu, busy, kept_up = [], [], [], [], []
    for index in range(args.runs):
        run = measure(rig, case, args.requests, index)
        d, g = run.direct, run.through
        added50.append((pct(g, 0.5) - pct(d, 0.5)) * 1000)
        added99.append((pct(g, 0.99) - pct(d, 0.99)) * 1000)
        asked = None
        if case.latency_ms > 0:  # each client waits the latency (and, interleaved, its think time)
            wait_s = case.latency_ms / 1000 * (1 + (THINK / 2 / case.clients if args.method == "interleaved" else 0))
            asked = case.clients / wait_s
        if asked:  # the direct side's rate against the most the clients could ask
            kept_up.append(run.rates[0] / asked)
        if run.cpu_us is not None:
            cpu.append(run.cpu_us)
            busy.append(run.busy)
        print(
            f"    direct p50 {pct(d, 0.5) * 1000:.2f} ms p99 {pct(d, 0.99) * 1000:.2f} ms;"
            f" via gateway p50 {pct(g, 0.5) * 1000:.2f} ms p99 {pct(g, 0.99) * 1000:.2f} ms"
            f" ({len(d)} / {len(g)} requests kept);"
            f" added p50 {added50[-1]:.2f} ms, p99 {added99[-1]:.2f} ms;"
            f" {run.rates[0]:.0f} / {run.rates[1]:.0f} requests/s direct / via gateway"
            + (f" (at most {asked:.0f}/s)" if asked else "")
            + (f"; gateway CPU {run.cpu_us:.0f} µs/request, busy {run.busy:.0f}% of a CPU" if run.cpu_us else "")
            + f"; {run.opened} upstream connections opened; other processes"
            f" {run.others[DIRECT]:.0%} / {run.others[GATEWAY]:.0%} of a CPU during direct / via gateway"
            + (f", the hypervisor's steal {run.steal:.0%}" if run.steal >= 0.005 else "")
        )
        if args.processes:
            every = sum(run.requests.values())
            for name, stat in run.procs.items():
                n = run.requests[GATEWAY] if name == "gateway" else every
                print(f"      {name}: per request {per_request(stat, n)}")
    summary = f"added p50 {spread(added50)} ms, p99 {spread(added99)} ms" + (
        f"; gateway CPU {spread(cpu, 0)} µs/request, busy {spread(busy, 0)}% of a CPU" if cpu else ""
    )
    print(f"    over {args.runs} runs (min / median / max): {summary}")
    where = f"{case.label} (median run)"
    if kept_up:
        share = statistics.median(kept_up)
        where += f"; the direct side made {share:.0%} of the requests/s the clients could ask" + (
            "" if share >= 0.9 else ": under 90 %, the machine's cores set the queue, so this figure is theirs"
        )
    if case.judged:
        verdicts.append((f"added p50 < 1 ms, {where}", statistics.median(added50) < 1.0))
        verdicts.append((f"added p99 < 5 ms, {where}", statistics.median(added99) < 5.0))
    else:
        unjudged.append(
            f"shown, not judged: {case.label}: added p50 {statistics.median(added50):.2f} ms, p99 "
            f"{statistics.median(added99):.2f} ms (median run). The goal at {args.concurrency} clients is judged "
            f"with the sandbox answering after {args.latency_ms:g} ms: {case.why}."
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests kept per side, per run")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3, help="direct/gateway pairs per case")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=1000.0,
        help="the provider's answer time injected at the sandbox for the judged many-client case (default 1000)",
    )
    parser.add_argument(
        "--method",
        choices=sorted(METHODS),
        default="interleaved",
        help="interleaved (default): direct and gateway segments in one load, ABBA, random phases; sequential: "
        "session 7's (all direct, then all via the gateway), kept to compare",
    )
    parser.add_argument(
        "--processes", action="store_true", help="also print each process's CPU, wake-ups and page faults per request"
    )
    parser.add_argument(
        "--cases", default="1,many,saturation", help="which added-latency cases to run (default: all three)"
    )
    args = parser.parse_args()
    if args.latency_ms <= 0:
        parser.error("--latency-ms must be above 0 (the figure with the sandbox answering at once is always shown)")
    procs: list[subprocess.Popen] = []
    try:
        rig = start(procs)
        print(
            f"gateway bench ({args.method}): {args.requests} requests per figure, {args.runs} runs, loopback, "
            f"{os.cpu_count()} CPUs, load average {load_average()}"
        )
        verdicts: list[tuple[str, bool]] = []
        unjudged: list[str] = []
        many, wait_ms = args.concurrency, args.latency_ms
        cases = {
            "1": Case(
                "1 client, the sandbox answering at once", 1, 0.0, "no queue: the gateway's own time in the path"
            ),
            "many": Case(
                f"{many} clients, the sandbox answering after {wait_ms:g} ms",
                many,
                wait_ms,
                "agents waiting on a provider, as in use: each on its own schedule (starts spread over the latency)",
            ),
            "saturation": Case(
                f"{many} clients, the sandbox answering at once (saturation)",
                many,
                0.0,
                f"a closed loop keeps the client, the sandbox and the gateway busy on {os.cpu_count()} CPUs: "
                "added ≈ clients × the gateway's CPU per request; it measures work, not an agent's wait",
                judged=False,
            ),
        }
        for name in args.cases.split(","):
            measure_case(rig, cases[name], args, verdicts, unjudged)
        set_latency(rig.sandbox, 0.0)
        stream_direct = asyncio.run(
            first_event(rig.sandbox + "/openai/v1/chat/completions", {"Authorization": f"Bearer {rig.key}"})
        )
        stream_url = rig.gateway + "/bench-stream/v1/chat/completions"
        stream_headers = {"Authorization": f"Bearer {rig.token_stream}"}
        stream_gw = asyncio.run(first_event(stream_url, stream_headers))
        added_first = (statistics.median(stream_gw) - statistics.median(stream_direct)) * 1000
        print(
            f"  first streamed event: direct {statistics.median(stream_direct) * 1000:.2f} ms, via gateway "
            f"{statistics.median(stream_gw) * 1000:.2f} ms (median of {len(stream_gw)}): added {added_first:.2f} ms"
        )
        refusals = [asyncio.run(switch_to_refusal(rig.db, *rig.through, "bench-openai")) * 1000 for _ in range(5)]
        print(
            f"  switch → first refusal: median {statistics.median(refusals):.1f} ms, max {max(refusals):.1f} ms "
            f"(5 runs: {', '.join(f'{r:.1f}' for r in refusals)})"
        )
        verdicts.append(("switch → first refusal < 100 ms", max(refusals) < 100))
        ends = [asyncio.run(stream_end(rig.db, stream_url, stream_headers, "bench-stream")) for _ in range(3)]
        print(
            "  switch → open stream ended: "
            + ", ".join(f"{e * 1000:.1f} ms" + ("" if by else " (finished first)") for e, by in ends)
        )
        for what, ok in verdicts:
            print(f"  {'met' if ok else 'NOT met'}: {what}")
        for line in unjudged:
            print(f"  {line}")
        print(f"  load average at the end: {load_average()}")
    finally:
        stop(procs)


if __name__ == "__main__":
    main()
