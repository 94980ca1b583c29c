"""Reading a key and asking a question, for commands run by a person or by a script.

A key is read from stdin when stdin is not a terminal (``pass show x | breaker add …``), else
from a hidden prompt. It is never taken from an argument: arguments end up in shell history and
in ``ps`` output for every user on the machine.
"""

from __future__ import annotations

import getpass

from app.cli.context import CliContext
from app.cli.parser import UsageError
from connectors.base import Secret


def read_key(ctx: CliContext, prompt: str = "Key (input hidden): ") -> Secret:
    try:
        if ctx.stdin_is_terminal():
            value = getpass.getpass(prompt, stream=ctx.stderr)
        else:
            value = ctx.stdin.read()
    except UnicodeDecodeError:  # bytes that are not UTF-8 text: say so, never quote them
        raise UsageError("key: it is not UTF-8 text; paste the key as the provider shows it") from None
    # Drop the one line break `echo` or a file adds; anything else (inner or leading spaces)
    # stays, so validation can say the key is malformed rather than silently "fixing" it.
    if value.endswith("\n"):
        value = value[:-1]
    if value.endswith("\r"):
        value = value[:-1]
    return Secret(value)


def ask_yes_no(ctx: CliContext, question: str, *, default: bool | None = None) -> bool:
    """Ask on the terminal; Enter takes ``default`` (None: ask again). Not for scripts."""
    choices = {True: "[Y/n]", False: "[y/N]", None: "[y/n]"}[default]
    while True:
        ctx.stderr.write(f"{question} {choices} ")
        ctx.stderr.flush()
        line = ctx.stdin.readline()
        if not line:  # EOF: no answer is not a yes
            raise UsageError("no answer given; nothing was changed")
        answer = line.strip().lower()
        if not answer and default is not None:
            return default
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False
