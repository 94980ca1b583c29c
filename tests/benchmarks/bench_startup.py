"""Start-up of the panel against a bare Textual app, and `breaker list --json` on a big inventory.

    python tests/benchmarks/bench_startup.py [--connectors 1000] [--events 100000]
                                             [--list-connectors 10000] [--runs 7]

A script, not a pytest test (pytest collects test_*.py only).

Panel: time from process start to the first painted frame, measured two ways on a home holding
N connectors and M audit events:
  - `breaker --home DIR`: the real command line as it is (argument parsing, settings, opening and
    migrating the store, importing Textual, building the app, painting);
  - `run_panel(factory, settings=...)`: the panel entry point handed a services factory, which it
    calls in its loading worker after the first frame (what the CLI does once it passes one).
Bare: the same for a minimal Textual app showing an empty DataTable. All run in a pseudo-terminal
(120×36), alternated in the same run, several times; the medians are compared. "First painted
frame" = the first refresh after the main screen mounted (``call_after_refresh``); the script
also reports the first frame showing rows and the frame with all N rows (the panel paints first,
then reads the inventory in a thread and fills the table a screenful at a time). A hook the
child installs writes the times to a file; the clock starts just before the parent spawns it.

Listing: wall time of `breaker --home DIR list --json` on a home with 10,000 connectors.

Homes are seeded with bulk inserts (SQLAlchemy core executemany), not through the services: the
point is to time reading, not writing. Targets: panel ≤ 1.5 × bare; listing < 1 s.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import hmac
import json
import os
import pty
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

# Installed in the panel's process: note the first painted frame and the frame with the rows.
HOOK = """
import sys, time
import app.tui.screens.main as main_screen
import app.tui.widgets.connector_table as connector_table

_mount = main_screen.MainScreen.on_mount
_add_chunk = connector_table.ConnectorTable._add_chunk
_seen = {}

def on_mount(self):
    _mount(self)
    self.call_after_refresh(lambda: _seen.setdefault("first", time.time()))

def _report(table):
    with open(OUT, "w") as fh:
        fh.write(f"{_seen['first']!r} {_seen['rows']!r} {_seen['all']!r} {table.row_count}")
    table.app.exit()

def _add(self, generation, pending, size, *args):
    _add_chunk(self, generation, pending, size, *args)
    if "rows" not in _seen:
        self.call_after_refresh(lambda: _seen.setdefault("rows", time.time()))
    if self.complete and "all" not in _seen:
        def done():
            _seen["all"] = time.time()
            _report(self)
        self.call_after_refresh(done)

main_screen.MainScreen.on_mount = on_mount
connector_table.ConnectorTable._add_chunk = _add
"""

# The real command line: `breaker --home DIR`.
PANEL_CLI_CHILD = (
    "OUT, HOME = __import__('sys').argv[1:3]\n"
    + HOOK
    + textwrap.dedent("""
    from app.cli import main
    sys.argv = ["breaker", "--home", HOME]
    raise SystemExit(main())
""")
)

# The panel entry point given a services factory: what the CLI does once it hands the panel
# `lambda: open_services(settings)` instead of opened services.
PANEL_FACTORY_CHILD = (
    "OUT, HOME = __import__('sys').argv[1:3]\n"
    + HOOK
    + textwrap.dedent("""
    from app.settings import load_settings
    from app.tui.app import run_panel

    settings = load_settings(home=HOME)

    def open_them():
        from app.services.context import open_services
        return open_services(settings)

    run_panel(open_them, settings=settings)
""")
)

BARE_CHILD = textwrap.dedent("""
    import sys, time
    out = sys.argv[1]
    from textual.app import App
    from textual.widgets import DataTable

    class Bare(App):
        def compose(self):
            yield DataTable()

        def on_mount(self):
            def painted():
                with open(out, "w") as fh:
                    now = repr(time.time())
                    fh.write(f"{now} {now} {now} 0")
                self.exit()
            self.call_after_refresh(painted)

    Bare().run()
""")


# -- seeding ------------------------------------------------------------------------------------
def seed_home(home: Path, connectors: int, events: int) -> None:
    """A home with ``connectors`` connectors (owners, declared and observed grants, one credential
    each, a third probed, some drift) and ``events`` hash-chained audit events."""

    from app.services.audit import GENESIS, canonical_json
    from app.services.context import open_services
    from app.services.keyrings import MemoryKeyring
    from app.settings import load_settings
    from app.store.models import AuditEvent, Connector, Credential, Owner, ScopeGrant

    home.mkdir(parents=True, exist_ok=True)
    services = open_services(load_settings(home=home, env={}), keyring=MemoryKeyring())
    now = datetime.now(UTC)
    providers = [
        "github",
        "slack",
        "openai",
        "anthropic",
        "google",
        "stripe",
        "sendgrid",
        "notion",
        "hubspot",
        "gitlab",
    ]
    modes = ["full"] * 7 + ["draft-only", "read-only", "disabled"]
    owners = [Owner(id=i + 1, name=f"owner {i}", created_at=now).model_dump() for i in range(40)]
    rows, creds, grants = [], [], []
    for i in range(connectors):
        probed = i % 3 == 0
        rows.append(
            Connector(
                id=i + 1,
                name=f"connector-{i:05d}",
                provider=providers[i % len(providers)],
                owner_id=(i % 40) + 1,
                purpose_access="the API",
                purpose_task=f"task {i}",
                purpose_forbidden="send anything",
                environment="prod" if i % 4 else "test",
                mode=modes[i % len(modes)],
                env_var="API_KEY",
                client="assistant",
                tags="bench",
                created_at=now,
                updated_at=now,
                last_probe_at=now - timedelta(hours=i % 48) if probed else None,
                last_outcome=("ok" if i % 9 else "invalid") if probed else None,
                live_level=(3 if i % 2 else 4) if probed else None,
            ).model_dump()
        )
        creds.append(
            Credential(
                connector_id=i + 1,
                keyring_ref=f"cred:bench{i:06d}",
                fingerprint=hashlib.sha256(str(i % (connectors - 5)).encode()).hexdigest()[:12],
                last4=f"{i % 10000:04d}",
                created_at=now - timedelta(days=i % 300),
            ).model_dump()
        )
        grants.append(
            ScopeGrant(
                connector_id=i + 1, scope="repo", level=3, source="declared", first_seen=now, last_seen=now
            ).model_dump()
        )
        if probed:
            grants.append(
                ScopeGrant(
                    connector_id=i + 1, scope="repo", level=3, source="observed", first_seen=now, last_seen=now
                ).model_dump()
            )
            if i % 5 == 0:
                grants.append(
                    ScopeGrant(
                        connector_id=i + 1, scope="admin:org", level=5, source="observed", first_seen=now, last_seen=now
                    ).model_dump()
                )
    key = services.secrets.install_key("audit")
    prev, audit = GENESIS, []
    for seq in range(1, events + 1):
        name = f"connector-{seq % max(connectors, 1):05d}"
        ev = AuditEvent(
            seq=seq,
            at=now - timedelta(seconds=events - seq),
            actor="bench",
            connector=name,
            action="probe",
            old_json="null",
            new_json=canonical_json({"outcome": "ok", "n": seq}),
            outcome="ok",
            prev_mac=prev,
            mac="",
        )
        body = {
            "seq": ev.seq,
            "at": ev.at.isoformat(),
            "actor": ev.actor,
            "connector": ev.connector,
            "action": ev.action,
            "old": None,
            "new": {"outcome": "ok", "n": seq},
            "outcome": ev.outcome,
        }
        ev.mac = hmac.new(key, (prev + canonical_json(body)).encode(), hashlib.sha256).hexdigest()
        prev = ev.mac
        audit.append(ev.model_dump())
    with services.engine.begin() as conn:
        for table, data in (
            (Owner, owners),
            (Connector, rows),
            (Credential, creds),
            (ScopeGrant, grants),
            (AuditEvent, audit),
        ):
            for start in range(0, len(data), 20000):
                conn.execute(table.__table__.insert(), data[start : start + 20000])
    services.close()


# -- timing ---------------------------------------------------------------------------------------
def time_in_pty(argv: list[str], timeout: float = 60.0) -> tuple[float, float, float, str]:
    """Seconds from spawning ``argv`` in a 120×36 pseudo-terminal to its first painted frame, to the
    first frame showing rows, and to the frame with every row, as the child wrote them to its
    marker file ("{marker}")."""
    marker = Path(tempfile.mkstemp(prefix="bench-paint-")[1])
    marker.unlink()
    argv = [a if a != "{marker}" else str(marker) for a in argv]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "36", "PYTHONPATH": str(ROOT)}
    env.pop("BREAKER_HOME", None)
    output = bytearray()

    def drain() -> None:  # the child blocks if nobody reads its terminal
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            output.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    started = time.time()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT, start_new_session=True)
    os.close(slave)
    try:
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    if not marker.exists():
        tail = output[-600:].decode(errors="replace")
        raise RuntimeError(f"{' '.join(argv[:3])[:80]}… never painted (exit {proc.returncode}); output tail:\n{tail}")
    first, rows_at, all_at, rows = marker.read_text().split()
    marker.unlink()
    return float(first) - started, float(rows_at) - started, float(all_at) - started, rows


def compile_like_an_install() -> None:
    """Byte-compile Breaker's modules, as `pip install .` does. Textual's are compiled in
    site-packages already; with PYTHONDONTWRITEBYTECODE set (as on some machines) a checkout's
    modules would otherwise be compiled from source on every start, and only the panel would pay."""
    import compileall

    for package in ("app", "connectors"):
        compileall.compile_dir(ROOT / package, quiet=1)


def run_startup(home: Path, runs: int) -> dict[str, tuple[list[float], list[float], list[float], str]]:
    """{variant: (first frame s, first rows s, all rows s, rows)}, variants alternated run by run."""
    variants = {
        "bare Textual app, empty DataTable": [sys.executable, "-c", BARE_CHILD, "{marker}"],
        "panel, `breaker --home DIR` (CLI as it is)": [sys.executable, "-c", PANEL_CLI_CHILD, "{marker}", str(home)],
        "panel, run_panel(services factory)": [sys.executable, "-c", PANEL_FACTORY_CHILD, "{marker}", str(home)],
    }
    compile_like_an_install()
    for argv in variants.values():  # warm the page cache; not counted
        time_in_pty(argv)
    results = {name: ([], [], [], "0") for name in variants}
    for _ in range(runs):
        for name, argv in variants.items():
            first, rows_at, all_at, rows = time_in_pty(argv)
            firsts, rowss, alls, _ = results[name]
            firsts.append(first)
            rowss.append(rows_at)
            alls.append(all_at)
            results[name] = (firsts, rowss, alls, rows)
    return results


def run_listing(home: Path, runs: int) -> tuple[list[float], str]:
    compile_like_an_install()
    argv = [sys.executable, "-m", "app", "--home", str(home), "list", "--json"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("BREAKER_HOME", None)
    probe = subprocess.run(argv, capture_output=True, env=env, cwd=ROOT)
    if probe.returncode not in (0, 1) or not probe.stdout.strip():
        return in_process_listing(home, runs), (
            f"`breaker list --json` unavailable (exit {probe.returncode}: "
            f"{probe.stderr.decode(errors='replace').strip()[-200:]}); timed Inventory.list + JSON in-process"
        )
    data = json.loads(probe.stdout)
    count = len(data) if isinstance(data, list) else len(data.get("connectors", data))
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, env=env, cwd=ROOT, check=False)
        timings.append(time.perf_counter() - started)
    return timings, f"`breaker --home DIR list --json` as a subprocess ({count} connectors in the output)"


def in_process_listing(home: Path, runs: int) -> list[float]:
    from app.services.context import open_services
    from app.services.keyrings import MemoryKeyring
    from app.settings import load_settings

    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        services = open_services(load_settings(home=home, env={}), keyring=MemoryKeyring())
        views = services.inventory.list()
        json.dumps([{"name": v.name, "provider": v.provider, "owner": v.owner, "mode": v.mode.value} for v in views])
        services.close()
        timings.append(time.perf_counter() - started)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connectors", type=int, default=1000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--list-connectors", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="breaker-bench-") as tmp:
        panel_home, list_home = Path(tmp) / "panel", Path(tmp) / "list"
        started = time.perf_counter()
        seed_home(panel_home, args.connectors, args.events)
        seed_home(list_home, args.list_connectors, 0)
        print(
            f"seeded {args.connectors} connectors + {args.events} audit events, and {args.list_connectors} "
            f"connectors, in {time.perf_counter() - started:.1f} s"
        )

        results = run_startup(panel_home, args.runs)
        bare_name = next(iter(results))
        bare = statistics.median(results[bare_name][0])
        print(
            f"\nfirst painted frame, median of {args.runs} runs in a 120x36 pty "
            f"({args.connectors} connectors, {args.events} audit events):"
        )
        verdicts = []
        for name, (first, rows_at, all_at, rows) in results.items():
            f = statistics.median(first)
            line = f"  {name:<44} first frame {f * 1000:5.0f} ms ({f / bare:.2f}x bare)"
            if name != bare_name:
                line += (
                    f"; first rows {statistics.median(rows_at) * 1000:5.0f} ms; all {rows} rows "
                    f"{statistics.median(all_at) * 1000:5.0f} ms"
                )
                verdicts.append(f / bare)
            print(line + "   [first frame runs: " + " ".join(f"{x * 1000:.0f}" for x in first) + "]")
        ratio = verdicts[0]  # the real command line is the verdict; the factory line is for comparison
        print(
            f"  target: `breaker --home DIR` first frame <= 1.5x bare -> {ratio:.2f}x  "
            f"{'OK' if ratio <= 1.5 else 'MISSED'}"
        )

        listing, how = run_listing(list_home, max(3, args.runs // 2))
        m = statistics.median(listing)
        print(f"\nlisting {args.list_connectors} connectors: {how}")
        print(
            f"  median {m * 1000:.0f} ms   runs: "
            + " ".join(f"{x * 1000:.0f}" for x in listing)
            + f"   (target < 1000 ms)  {'OK' if m < 1.0 else 'MISSED'}"
        )
    return 0 if ratio <= 1.5 and m < 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
