"""Where a request's time goes inside the gateway process: its two legs, timed in the process.

    python tests/benchmarks/gateway_legs.py [--requests 2000]

A diagnostic, not a benchmark with a goal (bench_gateway.py is that; nothing here changes it). The
same rig as bench_gateway (the sandbox, a fresh home, ``breaker gateway``), except that the gateway
runs under this file's ``--serve`` mode, which wraps four methods of uvicorn and aiohttp before
starting ``breaker gateway`` as usual:

- leg 1: from uvicorn's ``data_received`` (the agent's request read) to aiohttp's write of the
  request upstream (``StreamWriter._write``); with the thread CPU time over the same span and the
  Python memory blocks still allocated at its end (``sys.getallocatedblocks``);
- the ASGI task's start (uvicorn's ``run_asgi``), as a share of leg 1: parsing and the loop turn;
- leg 2: from aiohttp's ``data_received`` (the provider's answer read) to the agent's answer handed
  to the socket (``app.gateway.server._OneWrite`` writing head and body together).

Requests at 1 client (the sandbox answering at once) and at 100 clients (1,000 ms, starts spread,
as bench_gateway's judged case), medians and 90th percentiles per leg. A leg is timed only when no
other request's leg began inside it (each timestamp is the last one seen), which at 100 clients
and 1,000 ms is almost always. The time outside the legs — the two loopback hops' wake-ups and the
kernel's delivery — is not in here: bench_gateway's added latency less these legs is roughly that.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))


def serve(out: str) -> None:
    """In the gateway process: wrap the four methods, then run ``breaker gateway`` (argv as given)."""
    import runpy

    from aiohttp import client_proto, http_writer
    from uvicorn.protocols.http import httptools_impl

    from app.gateway import server

    clock, cpu = time.perf_counter_ns, time.thread_time_ns
    found: dict[str, list[int]] = {"leg1": [], "leg1 cpu": [], "leg1 to task": [], "leg1 blocks": [], "leg2": []}
    now: dict[str, int | None] = {"agent": None, "agent cpu": 0, "blocks": 0, "task": None, "provider": None}

    def wrap(cls, name, before=None, after=None):
        original = getattr(cls, name)

        def wrapped(self, *args):
            if before:
                before(self)
            result = original(self, *args)
            if after:
                after(self)
            return result

        setattr(cls, name, wrapped)

    def agent_read(_):
        now.update(agent=clock(), task=None, blocks=sys.getallocatedblocks())
        now["agent cpu"] = cpu()

    def upstream_written(_):
        start = now["agent"]
        if start is not None:
            found["leg1"].append(clock() - start)
            found["leg1 cpu"].append(cpu() - now["agent cpu"])
            found["leg1 blocks"].append(sys.getallocatedblocks() - now["blocks"])
            if now["task"] is not None:
                found["leg1 to task"].append(now["task"] - start)
            now["agent"] = None

    def answer_written(one_write):
        start = now["provider"]
        if start is not None and one_write._head is None:
            found["leg2"].append(clock() - start)
            now["provider"] = None

    wrap(httptools_impl.HttpToolsProtocol, "data_received", before=agent_read)
    wrap(http_writer.StreamWriter, "_write", after=upstream_written)
    wrap(client_proto.ResponseHandler, "data_received", before=lambda _: now.update(provider=clock()))
    wrap(server._OneWrite, "write", after=answer_written)
    run_asgi = httptools_impl.RequestResponseCycle.run_asgi

    async def started(self, app):
        if now["agent"] is not None and now["task"] is None:
            now["task"] = clock()
        return await run_asgi(self, app)

    httptools_impl.RequestResponseCycle.run_asgi = started

    def report(*_):
        with open(out, "a") as f:
            for name, values in found.items():
                if values:
                    values.sort()
                    scale = 1 if name.endswith("blocks") else 1000
                    f.write(
                        f"{name}\t{len(values)}\t{values[len(values) // 2] / scale:.1f}\t"
                        f"{values[len(values) * 9 // 10] / scale:.1f}\n"
                    )
                values.clear()
            f.write("--\n")

    signal.signal(signal.SIGUSR1, report)
    sys.argv = ["app", *sys.argv[sys.argv.index("--") + 1 :]]
    runpy.run_module("app", run_name="__main__")


def main() -> None:
    import bench_gateway as bg
    import httpx

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="gateway-legs-")) / "legs.tsv"
    home = Path(tempfile.mkdtemp(prefix="gateway-legs-")) / "home"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs: list[subprocess.Popen] = []
    try:
        sb_port, gw_port = bg.free_port(), bg.free_port()
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "connectors.sandbox", "--port", str(sb_port)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
            )
        )
        sandbox = f"http://127.0.0.1:{sb_port}"
        bg.wait_http(sandbox + "/_sandbox/")
        key = httpx.post(sandbox + "/_sandbox/tokens", json={"provider": "openai", "kind": "project"}).json()["token"]
        setup = bg.SETUP.format(home=str(home), base=sandbox + "/openai", key=key)
        done = subprocess.run([sys.executable, "-c", setup], capture_output=True, text=True, env=env, cwd=ROOT)
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        token = done.stdout.split()[0]
        gateway_args = ["--home", str(home), "gateway", "--port", str(gw_port)]
        gateway = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(out), "--", *gateway_args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(gateway)
        url = f"http://127.0.0.1:{gw_port}"
        bg.wait_http(url + "/")
        url, headers = url + "/bench-openai/v1/models", {"Authorization": f"Bearer {token}"}
        print(f"gateway legs: {args.requests} requests per case, load average {bg.load_average()}")
        for label, clients, latency_ms in (("1 client, at once", 1, 0.0), ("100 clients at 1,000 ms", 100, 1000.0)):
            bg.set_latency(sandbox, latency_ms)
            stagger = latency_ms / 1000
            asyncio.run(bg.latencies(url, headers, args.requests, clients, stagger_s=stagger))
            os.kill(gateway.pid, signal.SIGUSR1)
            time.sleep(0.5)
            rows = out.read_text().split("--\n")[-2].splitlines()
            print(f"  {label}:")
            for row in rows:
                name, n, p50, p90 = row.split("\t")
                unit = "" if name.endswith("blocks") else " µs"
                print(f"    {name}: median {p50}{unit}, p90 {p90}{unit} ({n} requests)")
        print(f"  load average at the end: {bg.load_average()}")
    finally:
        bg.stop(procs)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        serve(sys.argv[2])
    else:
        main()
