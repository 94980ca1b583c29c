"""`breaker demo` and `breaker sandbox`: the sandbox runs while the panel is open, its state survives."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import types
from pathlib import Path

import httpx
import pytest

from app.services.demo import SANDBOX_STATE_FILE, load_sandbox_state


@pytest.fixture
def fake_panel(monkeypatch):
    """Stand in for app.tui.app.run_panel; `calls` records what the panel was given."""
    calls: list[dict] = []
    actions: list = []

    def run_panel(services, *, read_only=False, sandbox=None, settings=None, first_frame=None):
        if callable(services):  # the panel may be handed a factory (it opens the store after painting)
            services = services()
        calls.append({"services": services, "read_only": read_only, "sandbox": sandbox})
        for action in actions:
            action(services, sandbox)

    module = types.ModuleType("app.tui.app")
    module.run_panel = run_panel
    monkeypatch.setitem(sys.modules, "app.tui.app", module)
    monkeypatch.setattr("app.cli.panel.terminal_ok", lambda: True)
    return types.SimpleNamespace(calls=calls, actions=actions)


def test_demo_opens_the_panel_with_a_running_sandbox(breaker, fake_panel, tmp_path):
    home = tmp_path / "demo"
    seen = {}

    def look(services, sandbox):
        seen["names"] = [v.name for v in services.inventory.list()]
        seen["demo"] = services.settings.demo
        seen["answer"] = httpx.get(f"{sandbox.url}/_sandbox/").json()
        view = services.inventory.get("support-replies")
        secret = services.inventory.secret_for("support-replies").reveal()
        # The connector's own base URL reaches the running sandbox.
        seen["auth"] = httpx.post(f"{view.base_url}/auth.test", headers={"Authorization": f"Bearer {secret}"}).json()
        sandbox.state.revoke(secret)  # what a disable switch would do at the provider
        seen["secret"] = secret

    fake_panel.actions.append(look)
    r = breaker("demo", "--home", str(home), home=False)
    assert r.code == 0, r.err
    (call,) = fake_panel.calls
    assert call["read_only"] is False and call["sandbox"] is not None
    assert seen["demo"] and len(seen["names"]) >= 12 and "providers" in seen["answer"]
    assert seen["auth"]["ok"] is True
    assert "Demo home:" in r.err
    # stopped on exit, and the revocation is kept for the next run
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{call['sandbox'].url}/_sandbox/", timeout=1)
    assert load_sandbox_state(home).get(seen["secret"]).revoked


def test_second_run_and_plain_breaker_on_a_demo_home(breaker, fake_panel, tmp_path):
    home = tmp_path / "demo"
    assert breaker("demo", "--home", str(home), home=False).code == 0
    count = len(fake_panel.calls[0]["services"].inventory.list())
    # `breaker --home DEMO` (no command) also brings the sandbox up
    assert breaker("--home", str(home), "--read-only", home=False).code == 0
    second = fake_panel.calls[1]
    assert second["sandbox"] is not None and second["read_only"] is True
    assert len(second["services"].inventory.list()) == count


def test_demo_refuses_db_and_a_real_inventory(breaker, add_github, cli_home, fake_panel):
    r = breaker("demo", "--db", "sqlite:///x.db", home=False)
    assert r.code == 2 and "--db cannot be used" in r.err
    add_github()
    r = breaker("demo")  # --home points at a real (non-demo) inventory
    assert r.code == 1 and "not a demo" in r.err
    assert fake_panel.calls == []


def test_busy_port(breaker, fake_panel, tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        r = breaker("demo", "--home", str(tmp_path / "d"), "--port", str(port), home=False)
    assert r.code == 1
    assert f"port {port}" in r.err and "--port N" in r.err and len(r.err.strip().splitlines()) == 2  # note + error
    assert fake_panel.calls == []


def test_demo_uses_a_sandbox_already_running_for_the_home(breaker, fake_panel, tmp_path):
    from app.services.demo import demo_port, prepare_demo_home
    from connectors.sandbox.server import ThreadedSandbox

    home = tmp_path / "d"
    port = demo_port(prepare_demo_home(home))
    runner = ThreadedSandbox(load_sandbox_state(home), port=port)
    runner.start()
    try:
        r = breaker("demo", "--home", str(home), home=False)
    finally:
        runner.stop()
    assert r.code == 0 and "already running" in r.err
    assert fake_panel.calls[0]["sandbox"] is None


def test_port_out_of_range(breaker, tmp_path):
    r = breaker("demo", "--home", str(tmp_path / "d"), "--port", "80", home=False)
    assert r.code == 2 and "between 1024 and 65535" in r.err


def _python_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREAKER_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"  # never the machine's real keyring
    return env


def test_breaker_sandbox_in_the_foreground_then_ctrl_c(tmp_path):
    """`breaker sandbox --home D` serves the demo; another process uses the CLI on it; Ctrl-C saves state."""
    home = tmp_path / "d"
    env = _python_env(home)
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "sandbox", "--home", str(home)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "Breaker sandbox for the demo home" in line, line + proc.stderr.read()
        url = line.rsplit(" on ", 1)[1].strip()
        listing = subprocess.run(
            [sys.executable, "-m", "app", "--home", str(home), "list", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert listing.returncode == 0, listing.stderr
        names = [c["name"] for c in json.loads(listing.stdout)["connectors"]]
        assert "support-replies" in names
        tokens = httpx.get(f"{url}/_sandbox/tokens").json()["tokens"]
        assert tokens and all("token" not in t for t in tokens)
        # revoke one through the sandbox's own Slack API, as a switch would
        from app.services.context import open_services
        from app.services.demo import demo_settings

        services = open_services(demo_settings(home))
        try:
            secret = services.inventory.secret_for("support-replies").reveal()
        finally:
            services.close()
        assert (
            httpx.post(f"{url}/slack/api/auth.revoke", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
        )
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "state saved" in out and "Traceback" not in err
    assert load_sandbox_state(home).get(secret).revoked
    assert (home / SANDBOX_STATE_FILE).exists()


def test_probing_the_demo_over_loopback_shows_the_intended_drift(breaker, tmp_path):
    """The whole demo story: probe every demo connector through the running sandbox, then the
    JSON listing shows live levels, and drift exactly where the demo means it."""
    import asyncio

    from app.services.context import open_services
    from app.services.demo import DEMO_CONNECTORS, demo_port, demo_settings, prepare_demo_home
    from app.services.probing import Prober
    from connectors.sandbox.server import ThreadedSandbox

    home = tmp_path / "d"
    port = demo_port(prepare_demo_home(home))
    runner = ThreadedSandbox(load_sandbox_state(home), port=port)
    runner.start()
    services = open_services(demo_settings(home))
    try:
        results = asyncio.run(Prober(services).probe())
    finally:
        services.close()
        runner.stop()
    assert [r.connector for r in results if r.failed] == []
    intended = {s.name for s in DEMO_CONNECTORS if s.declare_narrower}
    assert {r.connector for r in results if r.drift} == intended

    doc = json.loads(breaker("--home", str(home), "list", "--json", home=False).out)
    records = {c["name"]: c for c in doc["connectors"]}
    assert {n for n, c in records.items() if c["drift"]} == intended
    assert all(c["last_probe"]["outcome"] == "ok" for c in records.values())
    assert records["org-admin-sync"]["live_level"] == "admin"
    assert any(g["scope"].endswith("gmail.compose") for g in records["inbox-triage"]["live_scopes"])
    md = breaker("--home", str(home), "export", "--format", "md", home=False).out
    assert "- Drift: undeclared live scopes:" in md
