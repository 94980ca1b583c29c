"""The switch, panic and exec commands, in process: confirmation, exit codes, JSON, refusals."""

from __future__ import annotations

import io
import json
import sys

import pytest

from app.cli import main
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
    code, out, _ = cli("panic", "--yes", "--provider", "slack")
    assert code == 0 and "Nothing to disable" in out
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
