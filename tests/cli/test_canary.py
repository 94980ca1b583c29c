"""A canary key planted through the CLI is found nowhere it must not be: not in the database file
(with its -wal and -shm), the audit log, any export, any --json output, the log records, or the
command's stdout and stderr. Only the keyring holds it (the positive control).

The panel and screenshot half of this proof lives with the panel's tests.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

# Shaped like a GitHub classic PAT (ghp_ + 36 or more of [A-Za-z0-9_]; connectors/github.py) so that
# it passes validation; the marker MARK is what we search for. Its last four characters are the
# only part Breaker may show.
MARK = "SANDBOXCANARY"
CANARY = "ghp_" + MARK + "q7Wm2Zr9Lx4Kp8Vt1Nc6Hb3Jd5" + "Tail"
CANARY_2 = "ghp_" + MARK + "Second0Key0With0Padding000" + "Next"


def needles(key: str) -> list[str]:
    # The key, the key without its last four, and the marker: none may appear anywhere.
    return [key, key[:-4], MARK]


def assert_clean(label: str, blob: bytes | str) -> None:
    data = blob if isinstance(blob, bytes) else blob.encode("utf-8", "replace")
    for needle in needles(CANARY) + needles(CANARY_2):
        assert needle.encode() not in data, f"the canary ({needle[:8]}…) leaked into {label}"


def home_files(home: Path) -> dict[str, bytes]:
    return {str(p.relative_to(home)): p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file()}


@pytest.fixture
def log_everything(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def test_the_canary_leaks_nowhere(breaker, cli_home, tmp_path, memory_keyring, log_everything):
    outputs: list[tuple[str, str]] = []

    def run(*argv, stdin=""):
        r = breaker(*argv, stdin=stdin)
        outputs.append((" ".join(argv), r.out + r.err))
        return r

    # Bad attempts first: the error messages must not quote the key either.
    assert run("add", "--name", "canary", "--provider", "slack", stdin=CANARY).code == 2
    assert run("add", "--name", "canary", stdin=CANARY[:10] + " " + CANARY[10:]).code == 2
    assert run("add", "--name", "bad/name", stdin=CANARY).code == 2

    r = run(
        "add",
        "--name",
        "canary",
        "--owner",
        "Priya",
        "--task",
        "open issues",
        "--scope",
        "repo:write",
        stdin=CANARY + "\n",
    )
    assert r.code == 0, r.err
    assert run("add", "--name", "canary-twin", "--provider", "github", stdin=CANARY).code == 0  # the shared key
    assert run("edit", "canary-twin", "--replace-key", stdin=CANARY_2).code == 0
    assert run("edit", "canary", "--owner", "Tom", "--env", "test").code == 0

    # Positive control: the keys are in the keyring, so the searches below look for something real.
    assert CANARY in memory_keyring.store.values() and CANARY_2 in memory_keyring.store.values()

    list_json = run("list", "--json")
    assert list_json.code == 0 and CANARY[-4:] in list_json.out  # the last four are fine to show
    assert run("list").code == 0
    assert run("audit", "--json", "--limit", "100").code == 0
    assert run("audit", "--verify", "--json").code == 0
    assert run("audit").code == 0
    exports = {}
    for fmt in ("json", "csv", "md"):
        assert run("export", "--format", fmt).code == 0
        target = tmp_path / f"export.{fmt}"
        assert run("export", "--format", fmt, "--output", str(target)).code == 0
        exports[fmt] = target.read_bytes()
    assert run("remove", "canary-twin", "--delete-key").code == 0

    for label, text in outputs:
        assert_clean(f"the output of `breaker {label}`", text)
    for name, blob in exports.items():
        assert_clean(f"the {name} export", blob)
    files = home_files(cli_home)
    assert "breaker.db" in files
    for name, blob in files.items():
        assert_clean(f"the home file {name}", blob)
    for record in log_everything.records:
        assert_clean("the log", record.getMessage() + repr(record.args))

    # The audit log as stored, event by event.
    events = json.loads(breaker("audit", "--json", "--limit", "1000").out)["events"]
    assert {e["action"] for e in events} >= {"connector.add", "connector.edit", "connector.remove", "export"}
    assert_clean("the audit log", json.dumps(events))
