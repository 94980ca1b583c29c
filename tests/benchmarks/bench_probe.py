"""Probe-all throughput against the loopback sandbox with injected latency.

    python tests/benchmarks/bench_probe.py [--connectors 1000] [--concurrency 64] [--latency-ms 100]

The sandbox runs in its own process (as a real provider would be elsewhere), every provider
request waits ``--latency-ms`` there, and Breaker probes every connector with its real probing
service, real provider modules, real keyring lookups (in memory) and real result storage.

Ideal for the same settings: ceil(N / concurrency) × latency — the time if the pool were always
full and nothing but the injected latency cost anything. The script also replays the very requests
the sandbox logged through bare ``httpx.AsyncClient``s with the same limits: that is the HTTP stack
alone (httpx, h11, asyncio on this machine), the floor Breaker's own work sits on. The benchmark uses providers whose
ordinary probe is one request (checked in a warm-up), so the formula holds as the issue states it.
Not a pytest test: pytest never collects this file.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.services.context import open_services  # noqa: E402
from app.services.inventory import ConnectorInput  # noqa: E402
from app.services.keyrings import MemoryKeyring  # noqa: E402
from app.services.probing import Prober  # noqa: E402
from app.settings import load_settings  # noqa: E402
from connectors.base import Outcome, Secret  # noqa: E402


def start_sandbox() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "connectors.sandbox", "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    line = proc.stdout.readline()
    url = line.split(" on ", 1)[1].split()[0]
    return proc, url


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def replay(url: str, logged: list[dict], concurrency: int, per_host: int) -> float:
    """Seconds to send ``logged`` (method, provider prefix, masked path) again through one bare
    httpx client per provider, with the probe-all's limits; answers are read and dropped."""
    pool = asyncio.Semaphore(concurrency)
    clients = {
        p: httpx.AsyncClient(base_url=f"{url}/{p}", limits=httpx.Limits(max_connections=per_host))
        for p in {r["prefix"] for r in logged}
    }
    hosts = {p: asyncio.Semaphore(per_host) for p in clients}

    async def one(r: dict) -> None:
        async with hosts[r["prefix"]], pool:
            response = await clients[r["prefix"]].request(r["method"], r["path"])
            await response.aread()

    started = time.perf_counter()
    await asyncio.gather(*(one(r) for r in logged))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(c.aclose() for c in clients.values()))
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connectors", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--per-host", type=int, default=8, help="requests in flight per provider (the default setting)")
    ap.add_argument("--latency-ms", type=float, default=100.0)
    args = ap.parse_args()

    proc, url = start_sandbox()
    home = Path(tempfile.mkdtemp(prefix="bench-probe-"))
    try:
        admin = httpx.Client(base_url=url, timeout=10)
        settings = load_settings(home=home)
        settings = replace(
            settings,
            probe=replace(settings.probe, concurrency=args.concurrency, per_host=args.per_host, timeout_s=10.0),
        )
        svc = open_services(settings, keyring=MemoryKeyring())

        from connectors.sandbox.dispatch import route_modules

        # Warm-up without latency: one connector per provider, keep those whose probe is one request.
        single: list[str] = []
        for prefix in sorted(route_modules()):
            token = admin.post("/_sandbox/tokens", json={"provider": prefix}).json()["token"]
            name = f"warm-{prefix}"
            svc.inventory.add(
                ConnectorInput(name=name, provider=prefix, base_url=f"{url}/{prefix}"), Secret(token), kind=""
            )
            [res] = asyncio.run(Prober(svc).probe([name]))
            if res.report.outcome is Outcome.OK and res.report.requests == 1:
                single.append(prefix)
            svc.inventory.remove(name, delete_key=True)
        if not single:
            raise SystemExit("no provider with a one-request probe is available in the sandbox")

        t_seed = time.perf_counter()
        for i in range(args.connectors):
            prefix = single[i % len(single)]
            token = admin.post("/_sandbox/tokens", json={"provider": prefix}).json()["token"]
            svc.inventory.add(
                ConnectorInput(name=f"c{i:05d}", provider=prefix, base_url=f"{url}/{prefix}"), Secret(token)
            )
        seed_s = time.perf_counter() - t_seed
        admin.post("/_sandbox/faults", json={"provider": "*", "latency_ms": args.latency_ms})
        admin.delete("/_sandbox/requests")

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        sandbox_started = process_cpu(proc.pid)
        started, cpu_started = time.perf_counter(), time.process_time()
        if os.environ.get("BENCH_NOSTORE"):
            Prober.store = lambda self, batch: None
        if os.environ.get("BENCH_PROFILE"):
            import cProfile

            prof = cProfile.Profile()
            results = prof.runcall(asyncio.run, Prober(svc).probe())
            prof.dump_stats(os.environ["BENCH_PROFILE"])
        else:
            results = asyncio.run(Prober(svc).probe())
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

        sandbox_cpu = process_cpu(proc.pid) - sandbox_started
        logged = admin.get("/_sandbox/requests").json()["requests"]
        replay_started, replay_cpu_started = process_cpu(proc.pid), time.process_time()
        floor = asyncio.run(replay(url, logged, args.concurrency, args.per_host))
        replay_sandbox_cpu = process_cpu(proc.pid) - replay_started
        replay_cpu = time.process_time() - replay_cpu_started
        ok = sum(r.report.outcome is Outcome.OK for r in results)
        ideal = math.ceil(args.connectors / args.concurrency) * args.latency_ms / 1000
        print(f"providers (one-request probes): {', '.join(single)}")
        print(f"seeded {args.connectors} connectors in {seed_s:.1f} s (not timed below)")
        print(
            f"probe-all: {len(results)} connectors, {ok} ok, concurrency {args.concurrency}, "
            f"per-host {args.per_host}, latency {args.latency_ms:.0f} ms"
        )
        print(f"elapsed {elapsed:.3f} s   ideal {ideal:.3f} s   ratio {elapsed / ideal:.2f}x   (target <= 1.30x)")
        print(
            f"HTTP stack alone: the same {len(logged)} requests through bare httpx clients: {floor:.3f} s "
            f"({floor / ideal:.2f}x ideal); Breaker's own work on top: {elapsed - floor:+.3f} s"
        )
        print(
            f"the sandbox's own CPU (the providers' stand-in, one asyncio thread): {sandbox_cpu:.2f} s for the "
            f"probe-all, {replay_sandbox_cpu:.2f} s for the replay"
        )
        print(
            f"CPU of this process {cpu:.3f} s ({cpu / len(results) * 1000:.2f} ms per probe, all threads); "
            f"the replay's {replay_cpu:.3f} s ({replay_cpu / max(len(logged), 1) * 1000:.2f} ms per request)"
        )
        print(
            f"throughput {len(results) / elapsed:.0f} probes/s   peak RSS {rss_after / 1024:.0f} MiB "
            f"(before probe-all {rss_before / 1024:.0f} MiB)"
        )
        svc.close()
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
