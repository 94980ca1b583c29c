"""Helpers for driving `breaker` in-process: app.cli.main([...]) with a chosen stdin."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass

import pytest

from app.cli import main


class FakeStdin(io.StringIO):
    """stdin for a test: a pipe by default, or a terminal (``tty=True``) for the interactive paths."""

    def __init__(self, text: str = "", tty: bool = False) -> None:
        super().__init__(text)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli_home(tmp_path):
    home = tmp_path / "cli-home"
    home.mkdir()  # a --home that does not exist is refused (tests/cli/test_cli_typos.py)
    return home


@pytest.fixture
def breaker(monkeypatch, capsys, cli_home):
    """``breaker("list", "--json", stdin="…")`` → Result(code, out, err), run against ``cli_home``."""

    def run(*argv: str, stdin: str = "", tty: bool = False, home: bool = True) -> Result:
        monkeypatch.setattr(sys, "stdin", FakeStdin(stdin, tty))
        args = (["--home", str(cli_home)] if home else []) + list(argv)
        code = main(args)
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


# A sandbox-looking GitHub classic PAT: ghp_ + at least 36 of [A-Za-z0-9_] (connectors/github.py).
GITHUB_KEY = "ghp_SANDBOX" + "a1B2c3D4e5" * 3 + "XYZW9"


@pytest.fixture
def add_github(breaker):
    def add(name: str = "gh-bot", key: str = GITHUB_KEY, *extra: str) -> Result:
        return breaker(
            "add",
            "--name",
            name,
            "--provider",
            "github",
            "--owner",
            "Priya",
            "--access",
            "the docs repo",
            "--task",
            "open issues",
            "--forbidden",
            "push code",
            "--scope",
            "repo:write",
            *extra,
            stdin=key + "\n",
        )

    return add
