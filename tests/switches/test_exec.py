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
    assert exec_service.run(services, "bot", [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), "
                                                                    "signal.SIGTERM)"]) == 128 + 15


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


def test_cli_exec(world, services, tmp_path):
    """Through the real command line, in a subprocess: exit code, refusal message, stdout of the child."""
    record = world.add("bot", "github", "classic")
    home = services.settings.home
    # The CLI in a subprocess cannot see this test's in-memory keyring; give it a demo home instead.
    from tests.switches.test_kill import demo_home, run_cli

    demo = demo_home(tmp_path / "demo")
    from app.services.context import open_services
    from app.services.inventory import ConnectorInput
    from app.settings import load_settings
    from connectors.base import Secret

    svc = open_services(load_settings(home=demo))
    try:
        svc.inventory.add(ConnectorInput(name="bot", provider="github", base_url="http://127.0.0.1:9/github"),
                          Secret(record.token))
    finally:
        svc.close()
    done = run_cli(demo, "exec", "bot", "--", *PRINT_ENV, "GITHUB_TOKEN")
    assert done.returncode == 0 and done.stdout == record.token
    assert run_cli(demo, "exec", "bot", "--", sys.executable, "-c", "raise SystemExit(3)").returncode == 3
    usage = run_cli(demo, "exec", "bot")
    assert usage.returncode == 2
    assert home is not None
