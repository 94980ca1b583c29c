"""``breaker exec``: the child gets the key; the parent's environment and the audit log do not."""

from __future__ import annotations

import os
import sys

import pytest

from app.services import exec as exec_service
from app.services.switches import Switches
from connectors.base import Mode
from tests.switches.conftest import audit_actions

PRINT_ENV = [sys.executable, "-c", "import os, sys; sys.stdout.write(os.environ.get(sys.argv[1], '<unset>'))"]


def test_the_child_gets_the_key_and_nobody_else_does(world, services, tmp_path):
    record = world.add("bot", "github", "classic", env_var="GH_BOT_TOKEN")
    before = dict(os.environ)
    out = tmp_path / "child.txt"
    with out.open("w") as fh:
        code = exec_service.run(services, "bot", [*PRINT_ENV, "GH_BOT_TOKEN"], stdout=fh)
    assert code == 0
    assert out.read_text() == record.token  # the child saw the key
    assert dict(os.environ) == before and "GH_BOT_TOKEN" not in os.environ  # the parent did not change
    events = services.audit.recent(services.engine, 50, "bot")
    use = next(e for e in events if e.action == "exec")
    assert "GH_BOT_TOKEN" in use.new_json and "python" in use.new_json
    for e in events:
        assert record.token not in e.new_json and record.token not in e.old_json
    assert services.audit.verify(services.engine).ok


def test_the_provider_variable_is_the_default(world, services, tmp_path):
    record = world.add("bot", "slack", "bot")
    out = tmp_path / "child.txt"
    with out.open("w") as fh:
        exec_service.run(services, "bot", [*PRINT_ENV, "SLACK_BOT_TOKEN"], stdout=fh)
    assert out.read_text() == record.token


def test_exit_code_is_the_childs(world, services):
    world.add("bot", "github", "classic")
    assert exec_service.run(services, "bot", [sys.executable, "-c", "raise SystemExit(7)"]) == 7
    assert (
        exec_service.run(
            services, "bot", [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"]
        )
        == 128 + 15
    )


async def test_refused_while_disabled_and_audited(world, services, sandbox):
    world.add("bot", "github", "classic")
    sw = Switches(services)
    try:
        await sw.disable("bot")
    finally:
        sw.close()
    assert services.inventory.get("bot").mode is Mode.DISABLED
    with pytest.raises(exec_service.ExecRefused, match="disabled"):
        exec_service.run(services, "bot", ["true"])
    assert audit_actions(services, "bot")[-1] == "exec.refused"


async def test_a_reduced_mode_not_yet_verified_warns(world, services):
    world.add("pay", "stripe", "restricted_test")
    sw = Switches(services)
    try:
        await sw.read_only("pay")  # Stripe: manual steps, not verified
    finally:
        sw.close()
    warnings = []
    assert exec_service.run(services, "pay", ["true"], warn=warnings.append) == 0
    assert warnings and "not verified" in warnings[0]


def test_cli_exec(world, services, sandbox, tmp_path):
    """Through the real command line, in a subprocess: exit code, refusal message, stdout of the child."""
    record = world.add("bot", "github", "classic")
    # The CLI in a subprocess cannot see this test's in-memory keyring; give it a demo home instead.
    from tests.switches.test_kill import demo_home, run_cli

    demo = demo_home(tmp_path / "demo")
    from app.services.context import open_services
    from app.services.inventory import ConnectorInput
    from app.settings import load_settings
    from connectors.base import Secret

    svc = open_services(load_settings(home=demo))
    try:
        svc.inventory.add(
            ConnectorInput(name="bot", provider="github", base_url=sandbox.base_url("github")), Secret(record.token)
        )
    finally:
        svc.close()
    done = run_cli(demo, "exec", "bot", "--", *PRINT_ENV, "GITHUB_TOKEN")
    assert done.returncode == 0 and done.stdout == record.token
    assert run_cli(demo, "exec", "bot", "--", sys.executable, "-c", "raise SystemExit(3)").returncode == 3
    usage = run_cli(demo, "exec", "bot")
    assert usage.returncode == 2

    disabled = run_cli(demo, "disable", "bot", "--yes")
    assert disabled.returncode == 0, disabled.stdout + disabled.stderr
    refused = run_cli(demo, "exec", "bot", "--", *PRINT_ENV, "GITHUB_TOKEN")
    assert refused.returncode == 1
    assert "refused" in refused.stderr and "bot is disabled" in refused.stderr
    assert record.token not in refused.stdout + refused.stderr


def test_a_command_that_cannot_start_is_not_logged_as_a_key_handed_out(world, services, tmp_path):
    world.add("bot", "github", "classic")
    with pytest.raises(FileNotFoundError):
        exec_service.run(services, "bot", ["breaker-no-such-command-xyz"])
    script = tmp_path / "not-executable.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    with pytest.raises(PermissionError):
        exec_service.run(services, "bot", [str(script)])
    assert exec_service.run(services, "bot", ["true"]) == 0

    events = [e for e in reversed(services.audit.recent(services.engine, 50, "bot")) if e.action.startswith("exec")]
    assert [(e.action, e.outcome) for e in events] == [
        ("exec", "not-found"),
        ("exec", "not-executable"),
        ("exec", "ok"),
    ]
    assert services.audit.verify(services.engine).ok
