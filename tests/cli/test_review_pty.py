"""`breaker review` on a real terminal: a pseudo-terminal drives the walk of the demo inventory as the
owner would type it, and the purpose sentence is edited from it (the edit is in the audit log)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.services.demo import prepare_demo_home

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREAKER_")}
    env.update(PYTHONPATH=str(ROOT), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring", TERM="dumb")
    return env


class Terminal:
    def __init__(self, *argv: str) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", *argv], stdin=slave, stdout=slave, stderr=slave, env=_env(), cwd=ROOT
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while text not in self.seen:
            left = end - time.monotonic()
            assert left > 0, f"waited for {text!r}; the terminal shows:\n{self.seen[-2000:]}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk:
                    assert text in self.seen, f"ended before {text!r}:\n{self.seen[-2000:]}"
                self.seen += chunk.decode("utf-8", "replace").replace("\r\n", "\n")
        self.seen_upto = self.seen.rindex(text) + len(text)

    def send(self, line: str) -> None:
        self.seen = self.seen[self.seen_upto :]  # the next expect looks past what was answered
        os.write(self.master, (line + "\n").encode())

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=60)
        finally:
            os.close(self.master)


def test_the_walk_on_a_real_terminal_edits_the_purpose(tmp_path):
    home = tmp_path / "demo"
    prepare_demo_home(home)
    term = Terminal("--home", str(home), "review")
    term.expect("Starting the weekly review")
    for _ in range(8):
        term.expect("[y/n/?] ")
        term.send("")
    term.expect("[p] edit the purpose")
    term.send("p")
    term.expect("may use (what it reaches)")
    term.send("")
    term.expect("to (its task)")
    term.send("answer support tickets only")
    term.expect("but may not")
    term.send("")
    term.expect("purpose now: This connector may use")
    assert "to answer support tickets only" in term.seen
    term.expect("[p] edit the purpose")
    term.send("q")
    term.expect("Left the review")
    assert term.close() == 0
    assert "Traceback" not in term.seen
    audit = subprocess.run(
        [sys.executable, "-m", "app", "--home", str(home), "audit", "--json", "--limit", "20"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=120,
    )
    events = json.loads(audit.stdout)["events"]
    [edit] = [e for e in events if e["action"] == "connector.edit"]
    assert edit["new"]["purpose_task"] == "answer support tickets only"
    assert edit["old"]["purpose_task"] != edit["new"]["purpose_task"]
