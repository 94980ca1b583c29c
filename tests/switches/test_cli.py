"""The switch, panic and exec commands, in process: confirmation, exit codes, JSON, refusals."""

from __future__ import annotations

import io
import json
import sys

import pytest
from sqlmodel import Session, select

from app.cli import main
from app.store.models import AuditEvent
from connectors.base import Mode


class Terminal(io.StringIO):
    """Typed answers on a terminal."""

    def isatty(self) -> bool:
        return True


class Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


@pytest.fixture
def cli(services, monkeypatch, capsys):
    home = str(services.settings.home)

    def run(*args: str, stdin: io.StringIO | None = None) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", stdin or Pipe(""))
        code = main(["--home", home, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_a_switch_without_a_terminal_needs_yes(world, cli, services):
    world.add("bot", "github", "classic")
    code, out, err = cli("disable", "bot")
    assert code == 2 and "--yes" in err
    assert "credentials/revoke" in out  # the plan was shown
    assert services.inventory.get("bot").mode is Mode.FULL


def test_disable_with_yes_is_verified_and_exits_0(world, cli, services):
    world.add("bot", "github", "classic")
    code, out, err = cli("disable", "bot", "--yes")
    assert code == 0, err
    assert "bot: verified by probe" in out and "recorded" in err
    assert not world.alive("bot")


def test_the_terminal_confirmation_defaults_to_no(world, cli, services):
    world.add("bot", "github", "classic")
    code, _, err = cli("disable", "bot", stdin=Terminal("\n"))
    assert code == 0 and "Nothing was changed" in err
    assert services.inventory.get("bot").mode is Mode.FULL
    code, _, _ = cli("disable", "bot", stdin=Terminal("y\n"))
    assert code == 0 and services.inventory.get("bot").mode is Mode.DISABLED


def test_json_document(world, cli):
    world.add("bot", "github", "classic")
    code, out, err = cli("read-only", "bot", "--yes", "--json")
    doc = json.loads(out)
    assert doc["schema"] == "breaker.switch/1" and doc["state"] == "manual" and doc["verified"] is False
    assert doc["manual_steps"] and doc["plan"]["action"] == "read-only"
    assert code == 1 and "Switch to read-only" in err  # the plan goes to stderr when stdout is JSON


def test_unverified_exits_1_and_confirm_finishes_it(world, cli, sandbox):
    record = world.add("pay", "stripe", "restricted_test")
    code, out, _ = cli("disable", "pay", "--yes")
    assert code == 1 and "By hand" in out
    sandbox.state.revoke(record.token)
    code, out, _ = cli("confirm", "pay")
    assert code == 0 and "verified" in out
    code, _, err = cli("confirm", "pay")
    assert code == 2 and "no switch waiting" in err


def test_force_marks_out_of_sync(world, cli, sandbox):
    world.add("bot", "github", "classic")
    sandbox.faults.set("github", status=503)
    code, out, _ = cli("disable", "bot", "--yes", "--force", "--json")
    assert code == 1 and json.loads(out)["state"] == "out-of-sync"


def test_guided_rotation_reads_the_key_from_stdin_never_an_argument(world, cli, services):
    old = world.add("bot", "github", "classic")
    new = world.mint("github", "classic")
    code, _, err = cli("rotate", "bot", stdin=Pipe(new.token + "\n"))
    assert code == 2 and "--yes" in err  # a piped key still needs --yes: nobody was asked
    code, out, err = cli("rotate", "bot", "--yes", stdin=Pipe(new.token + "\n"))
    assert code == 0, out + err
    assert services.inventory.secret_for("bot").reveal() == new.token
    assert not world.alive("bot")  # the old key was revoked once the new one worked
    assert new.token not in out + err and old.token not in out + err


def test_guided_rotation_on_a_terminal_uses_a_hidden_prompt(world, cli, services, monkeypatch):
    world.add("bot", "github", "classic")
    new = world.mint("github", "classic")
    monkeypatch.setattr("getpass.getpass", lambda prompt="", stream=None: new.token)
    code, out, err = cli("rotate", "bot", stdin=Terminal("y\n"))
    assert code == 0, out + err
    assert services.inventory.secret_for("bot").reveal() == new.token


def test_api_rotation(world, cli, services):
    old = world.add("repo", "gitlab", "personal")
    code, out, _ = cli("rotate", "repo", "--yes")
    assert code == 0 and "verified" in out
    assert services.inventory.secret_for("repo").reveal() != old.token


def test_unknown_connector_and_read_only_flag(world, cli):
    world.add("bot", "github", "classic")
    assert cli("disable", "nope", "--yes")[0] == 2
    code, _, err = cli("--read-only", "disable", "bot", "--yes")
    assert code == 2 and "read-only" in err


def test_panic_on_a_terminal_needs_the_word(world, cli, services):
    world.add("a", "github", "classic")
    world.add("b", "slack", "bot")
    code, _, err = cli("panic", stdin=Terminal("yes\n"))
    assert code == 0 and "Not confirmed" in err and "Type PANIC" in err
    assert all(v.mode is Mode.FULL for v in services.inventory.list())
    code, out, err = cli("panic", stdin=Terminal("2\n"))  # the number of connectors works too
    assert code == 0, out + err
    assert "2 of 2 verified" in out
    assert all(v.mode is Mode.DISABLED for v in services.inventory.list())


def test_panic_json_selection_and_resume(world, cli, services):
    world.add("a", "github", "classic", owner="Ana")
    world.add("b", "slack", "bot", owner="Bo")
    code, out, _ = cli("panic", "--yes", "--json", "--owner", "Bo")
    doc = json.loads(out)
    assert code == 0 and doc["schema"] == "breaker.panic/1" and doc["total"] == 1
    assert [r["connector"] for r in doc["verified"]] == ["b"]
    code, out, _ = cli("panic", "--resume")
    assert code == 0 and "No interrupted panic" in out
    code, out, _ = cli("panic", "--yes", "--provider", "slack")  # already off: probed again, not re-sent
    assert code == 0 and "1 of 1 verified" in out
    assert cli("panic", "--batch", "x", "--yes")[0] == 2


def test_panic_failures_exit_1_with_manual_steps(world, cli, sandbox):
    world.add("a", "github", "classic")
    sandbox.faults.set("github", status=500)
    code, out, _ = cli("panic", "--yes", "--timeout", "2")
    assert code == 1 and "Failed or pending" in out and "github.com/settings" in out


def test_exec_usage_and_refusal(world, cli):
    world.add("bot", "github", "classic")
    assert cli("exec", "bot")[0] == 2
    cli("disable", "bot", "--yes")
    code, _, err = cli("exec", "bot", "--", "true")
    assert code == 1 and "disabled" in err


def test_panic_with_a_selection_that_matches_nothing_is_a_usage_error(world, cli, services):
    world.add("a", "github", "classic")
    code, out, err = cli("panic", "--yes", "--provider", "githbu")
    assert code == 2 and "no connector matches" in err and "githbu" in err
    assert services.inventory.get("a").mode is Mode.FULL
    code, out, err = cli("panic", "--yes", "--json", "--tag", "nope", "--owner", "Ana")
    assert code == 2 and "no connector matches" in err


def test_rotate_finishes_an_interrupted_rotation(world, cli, services, sandbox, monkeypatch):
    """A rotation killed after GitLab returned the new key: `breaker rotate NAME` finishes it with
    the stored key instead of rotating again."""
    import asyncio

    from app.services.switches import Switches
    from app.services.switches import steps as steps_module

    old = world.add("repo", "gitlab", "personal")

    class Crash(BaseException):
        pass

    async def crash(ctx, cred):
        raise Crash()

    original = steps_module._retire_old
    monkeypatch.setattr(steps_module, "_retire_old", crash)
    sw = Switches(services)
    try:
        with pytest.raises(Crash):
            asyncio.run(sw.rotate("repo"))
    finally:
        sw.close()
    monkeypatch.setattr(steps_module, "_retire_old", original)
    code, out, err = cli("rotate", "repo", "--yes")
    assert code == 0, out + err
    assert "interrupted" in (out + err)
    assert services.inventory.secret_for("repo").reveal() != old.token
    assert sandbox.state.get(services.inventory.secret_for("repo").reveal()).live
    assert len([p for m, p in sandbox.calls("gitlab") if m == "POST" and p.endswith("/rotate")]) == 1


def test_verify_finishes_a_switch_cut_off_while_applying(world, cli, services, sandbox):
    """A disable killed right after its job turned "applying": `breaker verify` looks first and finishes it."""
    from app.services.switches import Switches

    world.add("bot", "github", "classic")
    sw = Switches(services)
    try:
        job = sw.journal.open_job("bot", "disable", "disabled", "POST /credentials/revoke", audit_new={})
        sw.journal.mark_applying([job.id])
        latest = sw.latest("bot")
        assert latest.interrupted and "interrupted" in latest.message
    finally:
        sw.close()
    code, out, err = cli("verify", "bot")
    assert code == 0, out + err
    assert "bot: verified by probe" in out
    assert not world.alive("bot")
    assert len([p for _, p in sandbox.calls("github") if p.endswith("/credentials/revoke")]) == 1
    assert cli("verify", "nope")[0] == 2


def test_admin_key_registers_the_org_admin_key_and_the_next_disable_uses_it(world, cli, services):
    world.add("claude-bot", "anthropic", "api")
    admin = world.add("anthropic-admin", "anthropic", "admin")
    code, out, err = cli("disable", "claude-bot", "--yes")  # no admin key registered: manual steps
    assert code == 1 and world.alive("claude-bot")
    cli("enable", "claude-bot", "--yes")

    code, out, err = cli("admin-key", "anthropic-admin")
    assert code == 0, err
    assert "organisation admin key" in err and "claude-bot" in err
    assert admin.token not in out + err
    assert services.inventory.get("anthropic-admin").credential.tier == "admin"
    with Session(services.engine) as s:
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "credential.tier")).one()
    assert event.connector == "anthropic-admin" and admin.token not in event.new_json

    code, out, err = cli("disable", "claude-bot", "--yes")
    assert code == 0, err
    assert "claude-bot: verified by probe" in out and not world.alive("claude-bot")


def test_admin_key_of_an_unknown_connector_is_a_usage_error(cli):
    code, _, err = cli("admin-key", "nobody")
    assert code == 2 and "no connector named 'nobody'" in err
