"""The panel noticing changes made outside it (another terminal's ``breaker disable``), at 1,000
connectors: what it costs the event loop while the owner scrolls the table.

    python tests/benchmarks/bench_outside.py [--connectors 1000] [--seconds 10] [--rounds 2]

Each case opens the panel (App.run_test, 120×36) on the same home and scrolls the table — a down
key every 20 ms, back to the top at the end — for ``--seconds``, while a task measures how late a
10 ms sleep wakes (the wait a key press would see). Cases, alternated round by round:

- ``off``: the panel's look for outside changes disabled (the panel before it had one);
- ``idle``: looking every second, nothing changes (one PRAGMA data_version a second);
- ``busy``: another Services on the same store (another terminal) edits one connector's owner
  every second, so the panel re-reads all rows every second.

Printed per case: loop lag p50 / p99 / max, keys handled, looks and re-reads made.
A script, not a pytest test (pytest collects test_*.py only).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import ROOT, machine_load

sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def one_case(home: Path, case: str, seconds: float) -> dict:

    from app.services.context import open_services
    from app.settings import load_settings
    from app.tui.app import make_app
    from app.tui.screens.main import MainScreen
    from app.tui.widgets.gateway_line import GatewayLine
    from app.tui.widgets.store_watch import StoreWatcher

    keyring = KEYRING
    services = open_services(load_settings(home=home, env={}), keyring=keyring)
    other = open_services(load_settings(home=home, env={}), keyring=keyring)
    saved = StoreWatcher.check, GatewayLine._tick
    if case == "off":
        StoreWatcher.check = lambda self: None
        GatewayLine._tick = lambda self: None
    reloads = 0
    real_reload = MainScreen.reload

    def counting(self, *args, **kwargs):
        nonlocal reloads
        reloads += 1
        return real_reload(self, *args, **kwargs)

    MainScreen.reload = counting
    stop = threading.Event()

    def edit_every_second() -> None:
        names = [v.name for v in other.inventory.list()]
        i = 0
        while not stop.wait(1.0):
            view = other.inventory.get(names[i % len(names)])
            other.inventory.edit(view.name, dataclasses.replace(other.inventory.as_input(view), owner=f"moved{i}"))
            i += 1

    lags: list[float] = []
    keys = 0
    try:
        app = make_app(services)
        async with app.run_test(size=(120, 36)) as pilot:
            for _ in range(500):
                if app.main_screen.loaded and app.main_screen.table.complete and app.services_ready:
                    break
                await pilot.pause(0.02)
            await pilot.pause(1.5)  # the first look (and the gateway line's) done
            reloads = 0
            looks0 = app.main_screen.watcher.looks
            editor = threading.Thread(target=edit_every_second, daemon=True)
            if case == "busy":
                editor.start()

            async def watch_the_loop() -> None:
                while True:
                    before = time.perf_counter()
                    await asyncio.sleep(0.01)
                    lags.append(time.perf_counter() - before - 0.01)

            watcher = asyncio.create_task(watch_the_loop())
            table = app.main_screen.table
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                if table.cursor_row >= table.row_count - 1:
                    await pilot.press("home")
                else:
                    await pilot.press("down")
                keys += 1
                await asyncio.sleep(0.02)
            watcher.cancel()
            stop.set()
            looks = app.main_screen.watcher.looks - looks0
    finally:
        StoreWatcher.check, GatewayLine._tick = saved
        MainScreen.reload = real_reload
        stop.set()
        services.close()
        other.close()
    return {"lags": lags, "keys": keys, "looks": looks, "reloads": reloads}


def seed(home: Path, count: int) -> None:
    from app.services.context import open_services
    from app.settings import load_settings
    from tests.tui.seed import many

    services = open_services(load_settings(home=home, env={}), keyring=KEYRING)
    try:
        many(services, count)
    finally:
        services.close()


KEYRING = None


def main() -> int:
    global KEYRING
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connectors", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from app.services.keyrings import MemoryKeyring

    KEYRING = MemoryKeyring()
    with tempfile.TemporaryDirectory(prefix="breaker-bench-outside-") as tmp:
        home = Path(tmp) / "home"
        started = time.perf_counter()
        seed(home, args.connectors)
        print(f"seeded {args.connectors} connectors in {time.perf_counter() - started:.1f} s")
        print(f"machine at the start: {machine_load()}")
        results: dict[str, list[dict]] = {"off": [], "idle": [], "busy": []}
        for _ in range(args.rounds):
            for case in results:
                results[case].append(asyncio.run(one_case(home, case, args.seconds)))
        print(f"machine at the end: {machine_load()}")
        print(
            f"\nscrolling {args.connectors} connectors for {args.seconds:.0f} s per run, {args.rounds} run(s) per case:"
        )
        for case, runs in results.items():
            lags = [lag * 1000 for r in runs for lag in r["lags"]]
            print(
                f"  {case:5}: loop lag p50 {statistics.median(lags):5.1f} ms, p99 {percentile(lags, 0.99):6.1f} ms, "
                f"max {max(lags):6.1f} ms; keys {sum(r['keys'] for r in runs)}, "
                f"looks {sum(r['looks'] for r in runs)}, re-reads {sum(r['reloads'] for r in runs)}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
