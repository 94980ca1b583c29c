"""Every command group listed exists, and every command module on disk is listed.

The loader used to skip a listed name whose module was missing, so a typo hid a whole command
group without a word. Now a missing module fails here and at start-up.
"""

from __future__ import annotations

from pathlib import Path

from app.cli import COMMAND_MODULES
from app.cli.parser import command_modules

CLI = Path(__file__).resolve().parents[2] / "app" / "cli"


def test_each_listed_command_module_exists_and_registers():
    modules = command_modules()
    assert [m.__name__ for m in modules] == [f"app.cli.{name}" for name in COMMAND_MODULES]
    assert all(callable(getattr(m, "register", None)) for m in modules)


def test_each_command_module_on_disk_is_listed():
    on_disk = {p.stem for p in CLI.glob("*_cmds.py")}
    assert on_disk == set(COMMAND_MODULES)


def test_a_missing_module_is_an_error_not_a_silent_skip(monkeypatch):
    import app.cli

    monkeypatch.setattr(app.cli, "COMMAND_MODULES", (*COMMAND_MODULES, "reveiw_cmds"))
    try:
        command_modules()
    except ModuleNotFoundError as exc:
        assert exc.name == "app.cli.reveiw_cmds"
    else:
        raise AssertionError("a listed module that does not exist was skipped")
