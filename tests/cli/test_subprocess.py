"""`python -m app` as the owner runs it: real processes, real exit codes, never a traceback.

The machine's real keyring is never reached: PYTHON_KEYRING_BACKEND selects keyring's "fail"
backend, and the demo home keeps its sandbox keys in its own file keyring.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.services.demo import prepare_demo_home

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("subprocess-demo")
    prepare_demo_home(home)
    return home


def breaker(*argv: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREAKER_")}
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    proc = subprocess.run(
        [sys.executable, "-m", "app", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    return proc


def _one_line(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("breaker: "), proc.stderr
    return lines[0]


def test_listing_a_demo_home(demo_home):
    proc = breaker("--home", str(demo_home), "list")
    assert proc.returncode == 0
    assert "support-replies" in proc.stdout and "ci-pipeline" in proc.stdout
    doc = json.loads(breaker("--home", str(demo_home), "list", "--json").stdout)
    assert doc["schema"] == "breaker.list/1" and len(doc["connectors"]) >= 12


def test_exit_code_0_1_2(demo_home, tmp_path):
    assert breaker("--home", str(demo_home), "audit", "--verify").returncode == 0
    usage = breaker("--home", str(demo_home), "remove", "no-such-connector", "--keep-key")
    assert usage.returncode == 2 and "no connector named" in _one_line(usage)
    assert breaker("--home", str(demo_home), "frobnicate").returncode == 2
    # a tampered audit log: exit 1 (on a copy, so the module's demo home stays intact)
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("config.toml", "breaker.db", "demo-keyring.json", "sandbox-state.json"):
        (copy / name).write_bytes((demo_home / name).read_bytes())
    for suffix in ("-wal", "-shm"):
        src = demo_home / f"breaker.db{suffix}"
        if src.exists():
            (copy / f"breaker.db{suffix}").write_bytes(src.read_bytes())
    with sqlite3.connect(copy / "breaker.db") as conn:
        conn.execute("UPDATE audit_event SET actor = 'mallory' WHERE seq = 3")
    broken = breaker("--home", str(copy), "audit", "--verify")
    assert broken.returncode == 1 and "BROKEN at event 3" in broken.stdout


def test_bad_input_in_a_real_process(demo_home, tmp_path):
    bad_key = breaker(
        "--home", str(demo_home), "add", "--name", "x", "--provider", "github", stdin="ghp_SANDBOX not a key\n"
    )
    assert bad_key.returncode == 2 and "breaker: key:" in bad_key.stderr
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "breaker.db").write_bytes(b"\x00garbage" * 512)
    proc = breaker("--home", str(damaged), "list")
    assert proc.returncode == 1 and "not a SQLite database" in _one_line(proc)


def test_no_keyring_in_a_real_process(tmp_path):
    proc = breaker("--home", str(tmp_path / "h"), "add", "--name", "x", stdin="ghp_SANDBOX" + "k" * 36)
    assert proc.returncode == 1 and "No usable OS keyring" in _one_line(proc)
    with sqlite3.connect(tmp_path / "h" / "breaker.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM connector").fetchone()[0] == 0


def test_the_panel_without_a_terminal(tmp_path):
    (tmp_path / "h").mkdir()
    proc = breaker("--home", str(tmp_path / "h"))
    assert proc.returncode == 2 and "needs a terminal" in _one_line(proc)


def test_help_and_version():
    assert breaker("--help").returncode == 0
    proc = breaker("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("breaker ")
