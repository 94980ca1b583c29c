"""The argument parser: global options, the registry of command modules, one-line usage errors."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterable
from types import ModuleType
from typing import NoReturn

from app import __version__

PROG = "breaker"


class UsageError(Exception):
    """The command line or an answer cannot be used. Exit code 2; the message is one line."""


class CommandFailed(Exception):
    """A command could not do its job for a reason the owner can act on. Exit code 1; one line."""


class BreakerArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``breaker: …``) instead of usage + error."""

    def error(self, message: str) -> NoReturn:
        hint = f" (see `{self.prog} --help`)"
        raise UsageError(f"{suggestion(message) or message}{hint}")


def suggestion(message: str) -> str:
    """For argparse's "invalid choice: 'lst' (choose from 'list', …)": "unknown command 'lst' — did
    you mean `list`?"; "" for any other message, or when nothing is close."""
    import difflib
    import re

    found = re.match(r"argument .*: invalid choice: '([^']*)' \(choose from (.*)\)$", message)
    if not found:
        return ""
    choices = re.findall(r"'([^']*)'", found.group(2)) or [c.strip() for c in found.group(2).split(",")]
    close = difflib.get_close_matches(found.group(1), choices, n=1, cutoff=0.6)
    return (
        f"unknown {'command' if 'COMMAND' in message else 'choice'} {found.group(1)!r} — did you mean `{close[0]}`?"
        if close
        else ""
    )


def add_global_options(parser: argparse.ArgumentParser, *, on_subcommand: bool) -> None:
    """--home, --db, --read-only. On a subcommand their default is SUPPRESS so that a value given
    before the subcommand (``breaker --home D list``) is not reset by the subcommand's parser."""
    default = argparse.SUPPRESS if on_subcommand else None
    taken = set(parser._option_string_actions)  # a command that defines one of these itself keeps its own
    group = parser.add_argument_group("where and how")
    if "--home" not in taken:
        group.add_argument(
            "--home",
            metavar="DIR",
            default=default,
            help="keep the database and config in DIR (also BREAKER_HOME); a demo or test home "
            "never touches your real inventory",
        )
    if "--db" not in taken:
        group.add_argument(
            "--db",
            metavar="URL",
            default=default,
            help="database URL, e.g. sqlite:///path/breaker.db or postgresql://… (also BREAKER_DB)",
        )
    if "--read-only" not in taken:
        group.add_argument(
            "--read-only",
            action="store_true",
            default=argparse.SUPPRESS if on_subcommand else False,
            help="look, do not touch: commands that change the inventory are refused and the "
            "panel hides destructive keys",
        )


def command_modules(names: Iterable[str] | None = None) -> list[ModuleType]:
    """The command modules named in app.cli.COMMAND_MODULES (each must exist), or just ``names``."""
    from app.cli import COMMAND_MODULES

    return [importlib.import_module(f"app.cli.{name}") for name in (COMMAND_MODULES if names is None else names)]


def build_parser(command: str | None = None) -> BreakerArgumentParser:
    """The whole parser; with ``command``, one whose only subcommand is that one (its module alone
    is imported). Help, a typo and "did you mean" always get the whole parser."""
    from app.cli import COMMAND_MODULES

    parser = BreakerArgumentParser(
        prog=PROG,
        description="Breaker: the breaker panel for your AI connectors. Without a command, opens the panel.",
        epilog="Exit codes: 0 fine, 1 findings or failures, 2 usage or invalid input, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"breaker {__version__}")
    add_global_options(parser, on_subcommand=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    owner = [name for name, commands in COMMAND_MODULES.items() if command in commands]
    for module in command_modules(owner or None):
        module.register(subparsers)
    for sub in subparsers.choices.values():
        add_global_options(sub, on_subcommand=True)
    return parser


def parse(argv: list[str] | None) -> argparse.Namespace:
    tokens = sys.argv[1:] if argv is None else list(argv)
    command = _command_of(tokens)
    if command is None:
        # `breaker` (perhaps with --home/--db/--read-only) opens the panel: parse just the global
        # options, so that no command module (and none of the store stack) loads before the
        # panel's first frame.
        parser = BreakerArgumentParser(prog=PROG)
        add_global_options(parser, on_subcommand=False)
        return parser.parse_args(tokens)
    return build_parser(command).parse_args(tokens)


def _command_of(tokens: list[str]) -> str | None:
    """The first token after the global options (``""`` when that is an option such as ``--help``),
    or None when there is nothing but global options (the panel)."""
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in ("--home", "--db") and i + 1 < len(tokens):
            i += 2
        elif token.startswith(("--home=", "--db=")) or token == "--read-only":
            i += 1
        else:
            return "" if token.startswith("-") else token
    return None
