"""The kill test: ``breaker panic`` is SIGKILLed at several points; ``panic --resume`` finishes it.

The CLI runs in a subprocess against a demo home (file keyring holding SANDBOX keys only) and the
test's sandbox, with latency injected. Kill points come from the panic module's test hook (the
process kills itself with SIGKILL right there) or from the test sending SIGKILL after a delay.
After the resume: every connector is disabled and verified where the provider allows it, every
permanent revocation was sent exactly once (the sandbox's request log) and each one follows a
``switch.calling`` audit event of its provider, the journal and the audit log agree, and
``breaker audit --verify`` passes.

Kill points are installed by a tiny wrapper (``python -c``) that sets the panic module's test hook
before calling ``app.cli.main``: nothing in the environment can make a real ``breaker`` kill itself.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC
from pathlib import Path

import pytest

from app.services.context import open_services
from app.settings import load_settings
from tests.switches.conftest import CASES, World, present_providers

ROOT = Path(__file__).resolve().parents[2]

# provider → (method, path suffix) of its permanent revocation call: each must be sent once per key.
PERMANENT = {
    "github": ("POST", "/credentials/revoke"),
    "gitlab": ("DELETE", "/personal_access_tokens/self"),
    "slack": ("POST", "/auth.revoke"),
    "google": ("POST", "/revoke"),
    "sendgrid": ("DELETE", "/v3/api_keys/[token]"),
    "openai": ("DELETE", "/projects/"),  # project keys (the org admin key is deleted last, once)
}
KILL_PROVIDERS = ["github", "gitlab", "slack", "google", "sendgrid", "anthropic", "openai", "stripe"]


def demo_home(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.toml").write_text("[demo]\nenabled = true\n\n[probe]\ntimeout_s = 5\n")
    return path


def run_cli(
    home: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 90, crash_at: str | None = None
) -> subprocess.CompletedProcess:
    """``breaker --home HOME ARGS`` in a subprocess; ``crash_at`` ("point:n") goes through the
    test-only wrapper that installs the panic's kill point."""
    full_env = {**os.environ, "BREAKER_HOME": str(home)}
    full_env.update(env or {})
    if crash_at is None:
        command = [sys.executable, "-m", "app"]
    else:
        command = [sys.executable, "-c", CRASH_WRAPPER, crash_at]
    return subprocess.run(
        [*command, "--home", str(home), *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


# The test-only entry point: the kill point is set in the process, never read from the environment.
CRASH_WRAPPER = (
    "import importlib, sys; importlib.import_module('app.services.switches.panic')"
    ".install_crash_point(sys.argv.pop(1)); from app.cli import main; raise SystemExit(main(sys.argv[1:]))"
)


def build(home: Path, sandbox) -> tuple[World, dict[str, list[str]]]:
    services = open_services(load_settings(home=home))
    world = World(services, sandbox)
    names: dict[str, list[str]] = {}
    for provider in [p for p in KILL_PROVIDERS if p in present_providers()]:
        for i in range(2):
            name = f"{provider}-{i}"
            world.connector(name, provider)
            names.setdefault(provider, []).append(name)
    return world, names


def permanent_calls(sandbox) -> Counter:
    counts: Counter = Counter()
    for method, path in sandbox.calls():
        prefix = path.split("/")[1]
        want = PERMANENT.get(prefix)
        if (
            want
            and method == want[0]
            and (want[1] in path if want[1].endswith("/") and want[1] != "/revoke" else path.endswith(want[1]))
        ):
            counts[prefix] += 1
    return counts


def _epoch(at) -> float:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def unmatched_calls(sandbox, calling_events, provider_of: dict[str, str]) -> list[tuple[str, str]]:
    """Permanent calls in the sandbox log without an earlier ``switch.calling`` event of a connector
    of the same provider (each event vouches for one call)."""
    events: dict[str, list[float]] = {}
    for e in calling_events:
        events.setdefault(provider_of.get(e.connector, ""), []).append(_epoch(e.at))
    for times in events.values():
        times.sort()
    out = []
    for r in sorted(sandbox.requests, key=lambda r: r.time):
        want = PERMANENT.get(r.prefix)
        if not want or r.method != want[0]:
            continue
        path = r.full_path
        hit = (want[1] in path) if want[1].endswith("/") and want[1] != "/revoke" else path.endswith(want[1])
        if not hit:
            continue
        times = events.get(r.prefix, [])
        earlier = [t for t in times if t <= r.time + 0.001]
        if not earlier:
            out.append((r.method, path))
            continue
        times.remove(earlier[0])
    return out


POINTS = ["journal:1", "recorded:1", "call:2", "applied:3", "verified:4", "delay"]


@pytest.mark.parametrize("point", POINTS)
def test_panic_killed_then_resumed(point, sandbox, tmp_path):
    home = demo_home(tmp_path / "home")
    world, names = build(home, sandbox)
    everyone = [n for group in names.values() for n in group] + [n for n in world.tokens if n.endswith("org-admin")]
    sandbox.faults.set("*", latency_ms=40)

    if point == "delay":
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "--home", str(home), "panic", "--yes", "--json"],
            cwd=ROOT,
            env={**os.environ, "BREAKER_HOME": str(home)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not any(p.endswith(("/credentials/revoke", "/auth.revoke")) for _, p in sandbox.calls()):
            assert time.monotonic() < deadline and proc.poll() is None, "the panic never reached a provider"
            time.sleep(0.005)
        time.sleep(0.02)  # a few calls in flight, some answered, none committed, perhaps
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    else:
        killed = run_cli(home, "panic", "--yes", "--json", crash_at=point)
        assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])

    sandbox.faults.clear()
    resumed = run_cli(home, "panic", "--resume", "--json")
    assert resumed.returncode in (0, 1), resumed.stderr[-2000:]
    summary = json.loads(resumed.stdout)
    assert summary["resumed"] is True

    services = world.services
    views = {v.name: v for v in services.inventory.list()}
    assert all(views[n].mode.value == "disabled" for n in everyone), "every connector disabled locally"
    verified = {r["connector"] for r in summary["verified"]}
    reports = {
        r["connector"]: r for r in summary["verified"] + summary["unverified"] + summary["waiting"] + summary["failed"]
    }
    for provider, group in names.items():
        for name in group:
            if CASES[provider].disable == "verified":
                assert name in verified, (name, reports.get(name))
                assert not world.alive(name)
            else:
                assert name not in verified and reports[name]["manual_steps"], reports.get(name)

    # Every permanent revocation was sent once per key, however the kill fell.
    calls = permanent_calls(sandbox)
    for provider in PERMANENT:
        if provider in names:
            assert calls[provider] == len(names[provider]), (provider, calls, point)

    # Every permanent call has its switch.calling audit event (same provider, committed before it).
    provider_of = {v.name: v.provider for v in views.values()}
    calling = [e for e in services.audit.recent(services.engine, 5000) if e.action == "switch.calling"]
    unmatched = unmatched_calls(sandbox, calling, provider_of)
    assert not unmatched, (point, unmatched)

    # No audit event lost: the journal's every verified job has its audit trail, and the chain holds.
    audit = run_cli(home, "audit", "--verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    events = services.audit.recent(services.engine, 5000)
    by_connector: dict[str, list[str]] = {}
    for e in reversed(events):
        by_connector.setdefault(e.connector, []).append(e.action)
    for name in verified:
        trail = by_connector[name]
        assert "switch.recorded" in trail and "switch.verified" in trail, (name, trail)
    assert any(e.action == "panic.resume" for e in events)
    from app.services.switches import Switches

    sw = Switches(services)
    assert sw.unfinished_batches() == []  # nothing left to resume
    sw.close()
    services.close()


def test_panic_without_a_terminal_needs_yes(sandbox, tmp_path):
    home = demo_home(tmp_path / "home")
    world, _ = build(home, sandbox)
    done = run_cli(home, "panic")
    assert done.returncode == 2 and "--yes" in done.stderr
    assert all(v.mode.value == "full" for v in world.services.inventory.list())
    world.services.close()


def test_the_environment_alone_cannot_make_panic_kill_itself(sandbox, tmp_path):
    """The old BREAKER_TEST_CRASH_AFTER variable is not a kill switch for a real `breaker panic`."""
    home = demo_home(tmp_path / "home")
    world, _ = build(home, sandbox)
    done = run_cli(
        home, "panic", "--yes", "--json", env={"BREAKER_TEST_CRASH_AFTER": "recorded:1", "BREAKER_TESTING": "1"}
    )
    assert done.returncode in (0, 1), (done.returncode, done.stderr[-2000:])
    assert json.loads(done.stdout)["total"] > 0
    world.services.close()
