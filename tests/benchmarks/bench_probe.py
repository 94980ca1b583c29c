"""`breaker probe --all` of a big demo-like inventory, as a whole process, against the network ideal.

    python tests/benchmarks/bench_probe.py [--connectors 1000] [--concurrency 64] [--latency-ms 100]
                                           [--runs 5] [--home DIR]

What is timed: `breaker --home DIR probe --all --json` run as a user runs it, from spawning the
process to its exit: interpreter start, imports, reading config.toml, opening the store, reading
every key from the demo home's file keyring (demo-keyring.json, the keyring `breaker demo` uses),
probing, writing every result and audit event, printing the JSON.

The inventory: a demo home (`breaker demo`'s sixteen connectors over all eleven providers, an
admin key, a shared key, drift on purpose), each connector cloned until there are ``--connectors``,
every clone with a fresh sandbox key of the same kind and the same declared scopes. Providers
whose ordinary probe sends several requests (Slack, Google, Microsoft, …) keep them. The sandbox
is `breaker --home DIR sandbox` in its own process (the providers' stand-in); every provider
request waits ``--latency-ms`` there. The home's config.toml sets ``[probe] concurrency``; the
per-provider limit stays at its default (8).

The ideal is what the network alone forces on the code as it must run: a probe holds one of
``concurrency`` slots and one of its provider's ``per_host`` slots for its r requests in a row
(r read from a warm-up run's own JSON), so no schedule beats

    latency × max( ceil(Σ r / concurrency),  max over providers ceil(Σ r of the provider / per_host),  max r )

The script also replays the requests the sandbox logged through bare ``httpx`` clients with the
same limits, on the transport Breaker's clients use (``app.services.pinned.transport``, aiohttp):
the HTTP stack's own floor on this machine, for comparison (not the ideal).
Target: the median run ≤ 1.3 × the ideal. Not a pytest test: pytest never collects this file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import ROOT, breaker, breaker_env, compile_like_an_install, machine_load, spread, start_sandbox, verdict

sys.path.insert(0, str(ROOT))

from app.services.context import open_services
from app.services.demo import demo_port, load_sandbox_state, prepare_demo_home
from app.settings import CONFIG_FILE
from connectors.base import Secret


def seed(home: Path, connectors: int) -> None:
    """A demo home with ``connectors`` connectors: the demo's own, then clones of them with fresh keys."""
    settings = prepare_demo_home(home)
    port = demo_port(settings)
    state = load_sandbox_state(home)
    sandbox = start_sandbox(home, port)
    try:
        admin = httpx.Client(base_url=f"http://127.0.0.1:{port}/_sandbox", timeout=10)
        services = open_services(settings)  # the demo home's file keyring
        originals = services.inventory.list()
        specs = []
        for view in originals:
            token = services.secrets.get(view.credential.keyring_ref).reveal()
            record = state.get(token)
            prefix = view.provider  # the demo serves each provider under its own name
            specs.append((view, prefix, record))
        for i in range(connectors - len(originals)):
            view, prefix, record = specs[i % len(specs)]
            minted = admin.post(
                "/tokens",
                json={"provider": prefix, "kind": record.kind, "scopes": record.scopes, "identity": record.identity},
            ).json()["token"]
            data = replace(services.inventory.as_input(view), name=f"{view.name}-{i:05d}")
            services.inventory.add(data, Secret(minted))
        services.close()
    finally:
        sandbox.terminate()  # saves the minted tokens in the home
        sandbox.wait(timeout=30)


def configure(home: Path, concurrency: int, per_host: int) -> None:
    """The home's config.toml with ``[probe] concurrency`` and ``per_host`` (the section kept last)."""
    config = home / CONFIG_FILE
    text = config.read_text().split("\n[probe]\n")[0].rstrip("\n")
    config.write_text(f"{text}\n\n[probe]\nconcurrency = {concurrency}\nper_host = {per_host}\n")


def run_probe_all(home: Path) -> tuple[float, float, list[dict]]:
    """(wall s, CPU s of the process, results) of one `breaker --home DIR probe --all --json`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        breaker("--home", str(home), "probe", "--all", "--json"),
        capture_output=True,
        env=breaker_env(),
        cwd=ROOT,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"breaker probe --all exited {done.returncode}: {done.stderr.decode()[-400:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(done.stdout)["results"]


def ideal_seconds(results: list[dict], concurrency: int, per_host: int, latency_s: float) -> tuple[float, str]:
    """The network's lower bound for these probes (see the module docstring), and which limit sets it."""
    total = sum(r["requests"] for r in results)
    by_provider: dict[str, int] = defaultdict(int)
    for r in results:
        by_provider[r["provider"]] += r["requests"]
    busiest = max(by_provider, key=by_provider.get)
    bounds = {
        f"{total} requests / concurrency {concurrency}": math.ceil(total / concurrency),
        f"{by_provider[busiest]} {busiest} requests / per-host {per_host}": math.ceil(by_provider[busiest] / per_host),
        "the longest probe": max(r["requests"] for r in results),
    }
    which = max(bounds, key=bounds.get)
    return bounds[which] * latency_s, f"{bounds[which]} rounds ({which})"


async def replay(url: str, logged: list[dict], concurrency: int, per_host: int) -> float:
    """Seconds to send ``logged`` again through one bare httpx client per provider, same limits, on
    the transport Breaker's clients use (``app.services.pinned.transport``)."""
    from app.services import pinned

    pool = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=per_host)
    clients = {
        p: httpx.AsyncClient(base_url=f"{url}/{p}", transport=pinned.transport(limits, verify=True))
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connectors", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency-ms", type=float, default=100.0)
    ap.add_argument("--per-host", type=int, default=8, help="[probe] per_host (8 is Breaker's default)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--home", type=Path, help="seed (or reuse) this demo home and keep it")
    ap.add_argument("--compare-untuned", action="store_true", help="alternate with runs without app.services.tuning")
    args = ap.parse_args()

    compile_like_an_install()
    tmp = None
    home = args.home
    if home is None:
        tmp = Path(tempfile.mkdtemp(prefix="bench-probe-"))
        home = tmp / "demo"
    home = home.resolve()
    if not (home / "breaker.db").exists():
        started = time.perf_counter()
        seed(home, args.connectors)
        print(f"seeded a demo home with {args.connectors} connectors in {time.perf_counter() - started:.1f} s")
    configure(home, args.concurrency, args.per_host)
    port = demo_port(prepare_demo_home(home))
    url = f"http://127.0.0.1:{port}"
    sandbox = start_sandbox(home, port)
    try:
        admin = httpx.Client(base_url=f"{url}/_sandbox", timeout=10)
        admin.delete("/faults")
        _, _, warm = run_probe_all(home)  # warm-up, no latency: the page cache, and each probe's requests
        admin.post("/faults", json={"provider": "*", "latency_ms": args.latency_ms})
        walls, cpus = [], []
        for run in range(args.runs):
            admin.delete("/requests")
            wall, cpu, results = run_probe_all(home)
            walls.append(wall)
            cpus.append(cpu)
            if run == 0:
                logged = admin.get("/requests").json()["requests"]
                outcomes = Counter(r["outcome"] for r in results)
        floor = asyncio.run(replay(url, logged, args.concurrency, args.per_host))
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    ideal, why = ideal_seconds(warm, args.concurrency, args.per_host, args.latency_ms / 1000)
    requests = Counter(r["requests"] for r in warm)
    providers = sorted({r["provider"] for r in warm})
    print(f"machine: {machine_load()} at the end")
    print(
        f"inventory: {len(warm)} connectors over {len(providers)} providers ({', '.join(providers)}); "
        f"requests per probe: " + ", ".join(f"{n} x {k}" for k, n in sorted(requests.items()))
    )
    print(f"outcomes of the first timed run: {dict(outcomes)}")
    print(
        f"`breaker --home DIR probe --all --json`, concurrency {args.concurrency}, per-host {args.per_host}, "
        f"latency {args.latency_ms:.0f} ms"
    )
    print(f"  wall (whole process): {spread(walls)}")
    print(f"  CPU of the process:   {spread(cpus)}")
    print(f"  ideal {ideal * 1000:.0f} ms = {why} x {args.latency_ms:.0f} ms")
    print(
        f"  HTTP stack alone (the first run's {len(logged)} requests replayed through bare httpx clients on Breaker's transport, same limits): "
        f"{floor * 1000:.0f} ms ({floor / ideal:.2f}x the ideal)"
    )
    line, ok = verdict("probe-all, whole process", statistics.median(walls), ideal, 1.3)
    print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
