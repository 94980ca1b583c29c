"""The gateway's cost on loopback: added latency, the first streamed event, switch → first refusal.

    python tests/benchmarks/bench_gateway.py [--requests 2000] [--concurrency 100]

What runs, each in its own process as in use: the loopback sandbox (``python -m connectors.sandbox``)
and ``breaker --home DIR gateway`` on a fresh home with two routed connectors. The clients are httpx
in this process.

Figures:

- added latency: ``GET /v1/models`` through the gateway to the sandbox, minus the same call made
  directly (the ideal, measured in the same run just before), p50 and p99, at 1 client (sequential)
  and at ``--concurrency`` clients; ``--runs`` pairs each, reported as min / median / max; the
  verdict reads the median. Goal: p50 < 1 ms and p99 < 5 ms added. Beside it, the gateway
  process's own CPU time per request (user + system, from /proc): the figure that moves least
  with the machine's load, and what the added latency at many clients mostly comes down to (a
  saturated closed loop waits about clients × CPU per request).
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
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
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


WARM = 20  # requests each latencies() run makes before it measures


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` so far (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spread(values: list[float], digits: int = 2) -> str:
    return " / ".join(f"{v:.{digits}f}" for v in (min(values), statistics.median(values), max(values)))


async def timed(client: httpx.AsyncClient, url: str, headers: dict) -> float:
    start = time.perf_counter()
    r = await client.get(url, headers=headers)
    elapsed = time.perf_counter() - start
    if r.status_code != 200:
        raise SystemExit(f"{url}: HTTP {r.status_code} {r.text[:200]}")
    return elapsed


async def latencies(url: str, headers: dict, total: int, concurrency: int) -> list[float]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        for _ in range(WARM):  # warm the connections and both processes
            await timed(client, url, headers)
        found: list[float] = []

        async def worker(n: int) -> None:
            for _ in range(n):
                found.append(await timed(client, url, headers))

        share = total // concurrency
        await asyncio.gather(*(worker(share) for _ in range(concurrency)))
    return found


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3, help="direct/gateway pairs per concurrency")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    home = work / "home"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sb_port, gw_port = free_port(), free_port()
    procs = []
    try:
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
        # a fresh home: the keyring is the demo kind (a file in the home), so the gateway process reads it
        setup = f"""
import sys
from app.services.context import open_services
from app.services.gateway import Gateway
from app.services.views import ConnectorInput
from app.settings import load_settings
from connectors.base import Secret
home = {str(home)!r}
settings = load_settings(home=home)
from pathlib import Path
Path(home).mkdir(parents=True, exist_ok=True)
(Path(home) / "config.toml").write_text("[demo]\\nenabled = true\\n")
settings = load_settings(home=home)
svc = open_services(settings)
svc.inventory.add(ConnectorInput(name="bench-openai", provider="openai", base_url={sandbox + "/openai"!r}), Secret({key!r}))
svc.inventory.add(ConnectorInput(name="bench-stream", provider="openai", base_url={sandbox + "/openai"!r}), Secret({key!r}))
gw = Gateway(svc)
for name in ("bench-openai", "bench-stream"):
    gw.route(name)
    print(gw.issue(name, "bench").token)
svc.close()
"""
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
        db = home / "breaker.db"
        direct = (sandbox + "/openai/v1/models", {"Authorization": f"Bearer {key}"})
        through = (gateway + "/bench-openai/v1/models", {"Authorization": f"Bearer {token_models}"})
        gw_pid = procs[-1].pid
        print(
            f"gateway bench: {args.requests} requests per figure, {args.runs} runs, loopback, "
            f"{os.cpu_count()} CPUs, load average {load_average()}"
        )
        verdicts = []
        for concurrency in (1, args.concurrency):
            added50, added99, cpu = [], [], []
            for _ in range(args.runs):
                d = asyncio.run(latencies(*direct, args.requests, concurrency))
                before = cpu_seconds(gw_pid)
                g = asyncio.run(latencies(*through, args.requests, concurrency))
                after = cpu_seconds(gw_pid)
                added50.append((pct(g, 0.5) - pct(d, 0.5)) * 1000)
                added99.append((pct(g, 0.99) - pct(d, 0.99)) * 1000)
                if before is not None and after is not None:
                    cpu.append((after - before) / (len(g) + WARM) * 1e6)
                print(
                    f"  {concurrency:>3} client(s): direct p50 {pct(d, 0.5) * 1000:.2f} ms p99 {pct(d, 0.99) * 1000:.2f} ms;"
                    f" via gateway p50 {pct(g, 0.5) * 1000:.2f} ms p99 {pct(g, 0.99) * 1000:.2f} ms;"
                    f" added p50 {added50[-1]:.2f} ms, p99 {added99[-1]:.2f} ms"
                    + (f"; gateway CPU {cpu[-1]:.0f} µs/request" if cpu else "")
                )
            print(
                f"  {concurrency:>3} client(s) over {args.runs} runs (min / median / max): added p50 {spread(added50)} ms,"
                f" p99 {spread(added99)} ms" + (f"; gateway CPU {spread(cpu, 0)} µs/request" if cpu else "")
            )
            verdicts.append((f"added p50 < 1 ms at {concurrency} (median run)", statistics.median(added50) < 1.0))
            verdicts.append((f"added p99 < 5 ms at {concurrency} (median run)", statistics.median(added99) < 5.0))
        stream_direct = asyncio.run(
            first_event(sandbox + "/openai/v1/chat/completions", {"Authorization": f"Bearer {key}"})
        )
        stream_gw = asyncio.run(
            first_event(gateway + "/bench-stream/v1/chat/completions", {"Authorization": f"Bearer {token_stream}"})
        )
        added_first = (statistics.median(stream_gw) - statistics.median(stream_direct)) * 1000
        print(
            f"  first streamed event: direct {statistics.median(stream_direct) * 1000:.2f} ms, via gateway "
            f"{statistics.median(stream_gw) * 1000:.2f} ms (median of {len(stream_gw)}): added {added_first:.2f} ms"
        )
        refusals = [asyncio.run(switch_to_refusal(db, *through, "bench-openai")) * 1000 for _ in range(5)]
        print(
            f"  switch → first refusal: median {statistics.median(refusals):.1f} ms, max {max(refusals):.1f} ms "
            f"(5 runs: {', '.join(f'{r:.1f}' for r in refusals)})"
        )
        verdicts.append(("switch → first refusal < 100 ms", max(refusals) < 100))
        ends = [
            asyncio.run(
                stream_end(
                    db,
                    gateway + "/bench-stream/v1/chat/completions",
                    {"Authorization": f"Bearer {token_stream}"},
                    "bench-stream",
                )
            )
            for _ in range(3)
        ]
        print(
            "  switch → open stream ended: "
            + ", ".join(f"{e * 1000:.1f} ms" + ("" if by else " (finished first)") for e, by in ends)
        )
        for what, ok in verdicts:
            print(f"  {'met' if ok else 'NOT met'}: {what}")
        print(f"  load average at the end: {load_average()}")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
