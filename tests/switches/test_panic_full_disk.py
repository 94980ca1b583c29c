"""Issue 10, item 6 (last part): a full disk during an emergency disable. Once every connector is
recorded disabled, the database stops taking writes ("database or disk is full"); the provider calls
still go out, the owner is told plainly which results are not recorded, and `breaker panic --resume`
after space is freed records them — without revoking any key a second time."""

from __future__ import annotations

import json
import sqlite3

import pytest
import sqlalchemy.exc

from app.services.probing import Prober
from app.services.switches.journal import Journal
from connectors.base import Mode
from tests.switches.test_cli import cli  # noqa: F401  (the in-process CLI fixture)


def disk_full(*_args, **_kwargs):
    raise sqlalchemy.exc.OperationalError(
        "UPDATE switch_job SET state=?", {}, sqlite3.OperationalError("database or disk is full")
    )


@pytest.fixture
def full_disk(monkeypatch):
    """From the moment the connectors are recorded disabled, no write of the panic gets through."""
    for cls, name in ((Journal, "mark_applying"), (Journal, "write"), (Journal, "audit_event"), (Prober, "store")):
        monkeypatch.setattr(cls, name, disk_full)
    return monkeypatch


def revokes(sandbox) -> list[str]:
    return [p for _, p in sandbox.calls("github") + sandbox.calls("slack") if "revoke" in p]


def test_a_full_disk_does_not_stop_the_emergency_disable(world, cli, services, sandbox, full_disk):  # noqa: F811
    world.add("gh", "github", "classic")
    world.add("sl", "slack", "bot")
    code, out, err = cli("panic", "--yes")
    assert code == 1, out + err
    # The provider calls ran: both keys are dead at the providers.
    assert not world.alive("gh") and not world.alive("sl")
    assert len(revokes(sandbox)) == 2
    # The owner is told plainly, in the summary, what was not recorded and what to do.
    assert "NOT RECORDED" in out and "the disk is full" in out
    assert "not in Breaker's database: gh, sl" in out and "breaker panic --resume" in out
    assert "Traceback" not in out + err and "unexpected error" not in out + err
    # What the owner reads is what happened at the providers, not the database's last word.
    assert "2 of 2 verified" in out
    assert all(v.mode is Mode.DISABLED for v in services.inventory.list())  # recorded before the disk filled
    # JSON says it too.
    full_disk.undo()
    full_disk.setattr(Journal, "write", disk_full)
    world.add("gh2", "github", "classic")
    code, out, _ = cli("panic", "--yes", "--json", "--provider", "github")
    doc = json.loads(out)
    assert code == 1 and not doc["ok"] and "disk is full" in doc["write_problem"]
    assert set(doc["not_recorded"]) >= {"gh2"}
    # Space freed: the resume records them all, revoking nothing twice.
    full_disk.undo()
    before = len(revokes(sandbox))
    code, out, err = cli("panic", "--resume")
    assert code == 0, out + err
    assert "NOT RECORDED" not in out and "verified" in out
    assert len(revokes(sandbox)) == before
    while True:  # every interrupted batch finishes
        code, out, err = cli("panic", "--resume")
        if "No interrupted panic" in out:
            break
        assert code == 0, out + err
    assert services.audit.verify(services.engine).ok


def test_a_write_that_fails_once_is_not_lost_when_the_next_one_works(world, services, sandbox, monkeypatch):
    """One failed batch of results, then the disk has room again: the later writes carry the jobs on."""
    import asyncio

    from app.services.switches import Switches

    world.add("gh", "github", "classic")
    real = Journal.write
    failed = []

    def once(self, updates):
        updates = list(updates)
        if not failed:
            failed.append(updates)
            disk_full()
        return real(self, updates)

    monkeypatch.setattr(Journal, "write", once)
    sw = Switches(services)
    try:
        summary = asyncio.run(sw.panic())
    finally:
        sw.close()
    assert failed and summary.ok and not summary.write_problem, summary.as_dict()
