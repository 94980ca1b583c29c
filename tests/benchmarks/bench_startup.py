"""The panel's first frame with rows against a bare Textual app, and `breaker list --json` against a
bare sqlite3 + json dump, each alternated with its comparison in the same run.

    python tests/benchmarks/bench_startup.py [--sizes 1000,10000] [--list-connectors 10000] [--runs 7]

Panel: `breaker --home DIR` run as a user runs it (argument parsing, settings, importing Textual,
building the app, reading the inventory, painting), in a 120×36 pseudo-terminal, on a home holding
N connectors. Timed from spawning the process to the first painted frame that shows connector
rows (the refresh after the table's first rows went in; a hook the child installs writes the
time to a file and exits). Also printed: its first frame of all, painted before any row.
Bare: a Textual app composing one empty DataTable, timed from spawning to its first painted frame.
The two alternate run by run. Target: the panel's median ≤ 1.5 × the bare app's median, at each size.
The homes hold no audit events: neither the bare app nor the panel's main screen reads them.

Listing: `breaker --home DIR list --json` on a home with 10,000 connectors, against a bare
Python process that reads the same rows with sqlite3 (connectors ordered by name, owners, grants,
active credentials) and dumps them with json, alternated. Target: median ≤ 1.5 × the bare dump.

Homes are seeded with bulk inserts (SQLAlchemy Core executemany), not through the services: the
point is to time reading, not writing. The inventory is mixed like the demo's: eleven providers,
owners, four modes, a third probed, some drift and shared keys, names in no particular id order.
A script, not a pytest test (pytest collects test_*.py only).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import ROOT, breaker, breaker_env, breaker_untuned, compile_like_an_install, machine_load, spread, verdict

sys.path.insert(0, str(ROOT))

PROVIDERS = (
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
    "microsoft",
)
PURPOSES = ("support", "release", "billing", "newsletter", "standup", "crm", "docs")

# Installed in the panel's process: note the first painted frame and the first frame with rows.
PANEL_CHILD = textwrap.dedent("""
    import sys, time
    OUT, HOME = sys.argv[1:3]
    import app.tui.screens.main as main_screen
    import app.tui.widgets.connector_table as connector_table

    _mount = main_screen.MainScreen.on_mount
    _add_chunk = connector_table.ConnectorTable._add_chunk
    _seen = {}

    def on_mount(self):
        _mount(self)
        self.call_after_refresh(lambda: _seen.setdefault("first", time.time()))

    def _add(self, *args):
        _add_chunk(self, *args)
        if "rows" not in _seen and self.row_count:
            def painted():
                _seen["rows"] = time.time()
                _seen.setdefault("first", _seen["rows"])  # the rows came in the very first frame
                with open(OUT, "w") as fh:
                    fh.write(f"{_seen['first']!r} {_seen['rows']!r} {self.row_count}")
                self.app.exit()
            self.call_after_refresh(painted)

    main_screen.MainScreen.on_mount = on_mount
    connector_table.ConnectorTable._add_chunk = _add

    from app.cli import main
    sys.argv = ["breaker", "--home", HOME]
    raise SystemExit(main())
""")

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
                    fh.write(f"{now} {now} 0")
                self.exit()
            self.call_after_refresh(painted)

    Bare().run()
""")

# The same rows `breaker list` reads, read and dumped with nothing but sqlite3 and json.
BARE_DUMP = textwrap.dedent("""
    import json, sqlite3, sys
    from collections import defaultdict
    conn = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)

    def rows(sql):
        cursor = conn.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r)) for r in cursor]

    owners = dict(conn.execute("SELECT id, name FROM owner"))
    grants, credentials = defaultdict(list), defaultdict(list)
    for g in rows("SELECT * FROM scope_grant"):
        grants[g["connector_id"]].append(g)
    for c in rows("SELECT * FROM credential WHERE revoked_at IS NULL"):
        credentials[c["connector_id"]].append(c)
    connectors = rows("SELECT * FROM connector ORDER BY name")
    for c in connectors:
        c["owner"] = owners.get(c["owner_id"])
        c["grants"] = grants[c["id"]]
        c["credentials"] = credentials[c["id"]]
    sys.stdout.write(json.dumps({"connectors": connectors}))
""")


# -- seeding ------------------------------------------------------------------------------------
def seed_home(home: Path, connectors: int) -> None:
    """A home with ``connectors`` mixed connectors (owners, declared and observed grants, one
    credential each, a third probed, some drift, a few shared keys)."""
    from app.services.context import open_services
    from app.services.keyrings import MemoryKeyring
    from app.settings import load_settings
    from app.store.models import Connector, Credential, Owner, ScopeGrant

    home.mkdir(parents=True, exist_ok=True)
    services = open_services(load_settings(home=home, env={}), keyring=MemoryKeyring())
    now = datetime.now(UTC)
    modes = ["full"] * 7 + ["draft-only", "read-only", "disabled"]
    owners = [Owner(id=i + 1, name=f"owner {i}", created_at=now).model_dump() for i in range(40)]
    rows, creds, grants = [], [], []
    for i in range(connectors):
        probed = i % 3 == 0
        provider = PROVIDERS[i % len(PROVIDERS)]
        rows.append(
            Connector(
                id=i + 1,
                name=f"{PURPOSES[i % len(PURPOSES)]}-{provider}-{(i * 7919) % 100_000:05d}",
                provider=provider,
                owner_id=(i % 40) + 1 if i % 13 else None,
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
    with services.engine.begin() as conn:
        for table, data in ((Owner, owners), (Connector, rows), (Credential, creds), (ScopeGrant, grants)):
            for start in range(0, len(data), 20000):
                conn.execute(table.__table__.insert(), data[start : start + 20000])
    services.close()


# -- timing ---------------------------------------------------------------------------------------
def time_in_pty(argv: list[str], timeout: float = 60.0) -> tuple[float, float, str]:
    """Seconds from spawning ``argv`` in a 120×36 pseudo-terminal to its first painted frame and
    to its first frame with rows, as the child wrote them to its marker file ("{marker}")."""
    marker = Path(tempfile.mkstemp(prefix="bench-paint-")[1])
    marker.unlink()
    argv = [a if a != "{marker}" else str(marker) for a in argv]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    env = {**breaker_env(), "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "36"}
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
    first, rows_at, rows = marker.read_text().split()
    marker.unlink()
    return float(first) - started, float(rows_at) - started, rows


def panel_against_bare(home: Path, runs: int) -> tuple[list[float], list[float], list[float], str]:
    """(bare first frames, panel first frames, panel first frames with rows, rows shown), alternated."""
    bare_argv = [sys.executable, "-c", BARE_CHILD, "{marker}"]
    panel_argv = [sys.executable, "-c", PANEL_CHILD, "{marker}", str(home)]
    time_in_pty(bare_argv)  # warm the page cache; not counted
    time_in_pty(panel_argv)
    bare, first, with_rows, shown = [], [], [], "0"
    for _ in range(runs):
        bare.append(time_in_pty(bare_argv)[0])
        f, r, shown = time_in_pty(panel_argv)
        first.append(f)
        with_rows.append(r)
    return bare, first, with_rows, shown


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=breaker_env(), cwd=ROOT)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{argv[:4]} exited {done.returncode}: {done.stderr.decode()[-300:]}")
    return elapsed


def listing_against_bare(home: Path, runs: int, untuned: bool) -> tuple[list[float], list[float], list[float], int]:
    """(breaker list --json seconds, bare dump seconds, untuned listing seconds, connectors listed), alternated."""
    import json

    listing = breaker("--home", str(home), "list", "--json")
    bare = [sys.executable, "-c", BARE_DUMP, str(home / "breaker.db")]
    out = subprocess.run(listing, capture_output=True, env=breaker_env(), cwd=ROOT, check=True).stdout
    count = len(json.loads(out)["connectors"])
    timed(bare)
    ours, theirs, plain = [], [], []
    for _ in range(runs):
        ours.append(timed(listing))
        theirs.append(timed(bare))
        if untuned:
            plain.append(timed(breaker_untuned(*listing[3:])))
    return ours, theirs, plain, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="inventory sizes for the panel, comma-separated")
    parser.add_argument("--list-connectors", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--compare-untuned", action="store_true", help="listing: also alternate runs without app.services.tuning"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]

    compile_like_an_install()
    all_ok = True
    with tempfile.TemporaryDirectory(prefix="breaker-bench-") as tmp:
        homes = {n: Path(tmp) / f"home-{n}" for n in {*sizes, args.list_connectors}}
        started = time.perf_counter()
        for n, home in homes.items():
            seed_home(home, n)
        print(
            f"seeded homes of {', '.join(str(n) for n in sorted(homes))} connectors in {time.perf_counter() - started:.1f} s"
        )
        print(f"machine at the start: {machine_load()}")

        for n in sizes:
            bare, first, with_rows, shown = panel_against_bare(homes[n], args.runs)
            print(f"\npanel, {n} connectors, 120x36 pty, runs alternated:")
            print(f"  bare Textual app, first frame:            {spread(bare)}")
            print(f"  `breaker --home DIR`, first frame:        {spread(first)}")
            print(f"  `breaker --home DIR`, first frame with rows ({shown} rows in it): {spread(with_rows)}")
            line, ok = verdict(
                f"panel first frame with rows, {n} connectors",
                statistics.median(with_rows),
                statistics.median(bare),
                1.5,
                against="the bare app's first frame",
            )
            print(line)
            all_ok &= ok

        ours, theirs, plain, count = listing_against_bare(homes[args.list_connectors], args.runs, args.compare_untuned)
        print(f"\nlisting {count} connectors, runs alternated:")
        print(f"  `breaker --home DIR list --json`:          {spread(ours)}")
        if plain:
            print(f"  the same without app.services.tuning:      {spread(plain)}")
        print(f"  bare python: sqlite3 + json dump, same rows: {spread(theirs)}")
        line, ok = verdict(
            f"list --json, {count} connectors",
            statistics.median(ours),
            statistics.median(theirs),
            1.5,
            against="the bare dump",
        )
        print(line)
        all_ok &= ok
        print(f"\nmachine at the end: {machine_load()}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
