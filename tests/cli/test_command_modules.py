"""Every command group listed exists, registers exactly the commands listed for it, and every
command module on disk is listed.

The loader used to skip a listed name whose module was missing, so a typo hid a whole command
group without a word. Now a missing module fails here and at start-up. A command line that names a
command imports only that command's module, found through the same table, so the table must be true.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import COMMAND_MODULES
from app.cli.parser import build_parser, command_modules, parse

CLI = Path(__file__).resolve().parents[2] / "app" / "cli"


def test_each_listed_command_module_exists_and_registers():
    modules = command_modules()
    assert [m.__name__ for m in modules] == [f"app.cli.{name}" for name in COMMAND_MODULES]
    assert all(callable(getattr(m, "register", None)) for m in modules)


@pytest.mark.parametrize("name", list(COMMAND_MODULES))
def test_each_module_registers_exactly_the_commands_listed_for_it(name):
    (module,) = command_modules([name])
    subparsers = argparse.ArgumentParser().add_subparsers()
    module.register(subparsers)
    assert list(subparsers.choices) == list(COMMAND_MODULES[name])
    assert all(type(c) is str for c in subparsers.choices)  # argparse shows choices with repr()


def test_each_command_module_on_disk_is_listed():
    on_disk = {p.stem for p in CLI.glob("*_cmds.py")}
    assert on_disk == set(COMMAND_MODULES)


def test_a_missing_module_is_an_error_not_a_silent_skip(monkeypatch):
    import app.cli

    monkeypatch.setattr(app.cli, "COMMAND_MODULES", {**COMMAND_MODULES, "reveiw_cmds": ("review",)})
    try:
        command_modules()
    except ModuleNotFoundError as exc:
        assert exc.name == "app.cli.reveiw_cmds"
    else:
        raise AssertionError("a listed module that does not exist was skipped")


def test_one_command_parses_as_it_does_with_the_whole_parser():
    argv = ["--home", "/tmp/h", "list", "--json", "--read-only"]
    one, whole = parse(argv), build_parser().parse_args(argv)
    assert vars(one) == vars(whole)


def test_naming_a_command_imports_only_its_module():
    code = (
        "import sys; from app.cli.parser import parse; parse(['--home', '/tmp/h', 'list', '--json']); "
        "print(sorted(m for m in sys.modules if m.startswith('app.cli.') and m.endswith('_cmds')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=CLI.parents[1])
    assert out.stdout.strip() == "['app.cli.inventory_cmds']"


def test_an_unknown_command_lists_the_commands_by_name():
    from app.cli.parser import UsageError

    with pytest.raises(UsageError) as exc:
        parse(["zzz"])
    assert "'draft-only'" in str(exc.value) and "SwitchAction" not in str(exc.value)


def test_a_mistyped_command_still_gets_did_you_mean():
    from app.cli.parser import UsageError

    with pytest.raises(UsageError, match="did you mean `list`"):
        parse(["lst"])
