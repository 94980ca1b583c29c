"""`breaker probe` sends its requests before it opens the store (issue 8): importing the store stack
(SQLAlchemy, SQLModel, pydantic) is about half a second of CPU, so it runs on a worker thread while
the first answers are on the wire (app.services.context.OpeningServices). Every result and audit
event is still written, in the same audit chain."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import app.services.context as context
from app.store.errors import StoreError
from tests.cli.test_cli_probe import _add


def test_the_first_requests_go_out_before_the_store_is_opened_and_all_is_written(
    breaker, sandbox, cli_home, monkeypatch
):
    tokens = [_add(breaker, sandbox, f"gh-{i}", ["read:org"], "read:org:read") for i in range(3)]
    real = context.open_services
    reached_before_open: list[int] = []

    def open_services(*args, **kwargs):
        reached_before_open.append(len(sandbox.requests))  # what the provider had seen by then
        return real(*args, **kwargs)

    monkeypatch.setattr(context, "open_services", open_services)
    r = breaker("probe", "--all", "--json")
    assert r.code == 0, r.err
    assert len(reached_before_open) == 1 and reached_before_open[0] >= 1, reached_before_open
    assert [x["outcome"] for x in json.loads(r.out)["results"]] == ["ok"] * 3
    monkeypatch.setattr(context, "open_services", real)

    with sqlite3.connect(cli_home / "breaker.db") as conn:
        stored = conn.execute(
            "SELECT c.name, p.outcome FROM probe p JOIN connector c ON c.id = p.connector_id ORDER BY c.name"
        ).fetchall()
        last = conn.execute("SELECT name, last_outcome FROM connector ORDER BY name").fetchall()
    assert stored == [(f"gh-{i}", "ok") for i in range(3)]
    assert last == stored
    events = json.loads(breaker("audit", "--json", "--limit", "50").out)["events"]
    assert sorted(e["connector"] for e in events if e["action"] == "probe") == [f"gh-{i}" for i in range(3)]
    verified = breaker("audit", "--verify")
    assert verified.code == 0, verified.out + verified.err
    assert not any(t in r.out + r.err for t in tokens)


def test_a_store_that_cannot_be_opened_after_the_requests_is_one_line(breaker, sandbox, monkeypatch):
    _add(breaker, sandbox, "gh-bot", ["read:org"], "read:org:read")

    def open_services(*args, **kwargs):
        raise StoreError("Breaker's database is locked by another program")

    monkeypatch.setattr(context, "open_services", open_services)
    r = breaker("probe", "--all", "--json")
    assert r.code == 1
    assert r.err.strip().splitlines() == ["breaker: Breaker's database is locked by another program"]


def test_probing_imports_no_part_of_the_store_stack():
    """What `breaker probe` loads before its first request: the store stack comes later, on a thread."""
    code = (
        "import sys, app.cli.probe_cmds, app.services.probing, app.services.binding, app.services.context, "
        "app.services.views, app.store.snapshot; "
        "print(sorted(m for m in ('sqlalchemy', 'sqlmodel', 'pydantic', 'app.store.models') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_warming_the_http_stack_never_fails_the_command(monkeypatch, caplog):
    """The thread that loads the TLS store and the transport's modules early only saves time: if it
    fails, the first client does the same work (and meets the real problem, if any)."""
    from app.cli import probe_cmds
    from app.services import netutil

    def broken() -> None:
        raise OSError("no CA bundle")

    monkeypatch.setattr(netutil, "tls_context", broken)
    caplog.set_level("DEBUG", logger=probe_cmds.__name__)
    probe_cmds._warm_network()  # does not raise
    assert [r.getMessage() for r in caplog.records] == ["warming the HTTP stack failed"]
