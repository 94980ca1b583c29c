"""Issue 10, item 6 (last part): a full disk during an emergency disable. Once every connector is
recorded disabled, the database stops taking writes ("database or disk is full"); the provider calls
still go out, the owner is told plainly which results are not recorded, and `breaker panic --resume`
after space is freed records them — without revoking any key a second time."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

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


# -- a disk already full at the panic's first write ------------------------------------------------


@pytest.fixture
def disk_full_from_the_start(services):
    """Every statement that would change Breaker's database fails as SQLite does on a full disk,
    from the very first write of the panic (its journal), once ``state["full"]`` is set: reads still work."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    database = services.engine.url.database  # the CLI opens its own engine on the same file
    state = {"full": False}

    def refuse(conn, cursor, statement, parameters, context, executemany):
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        if state["full"] and conn.engine.url.database == database and verb in ("INSERT", "UPDATE", "DELETE", "REPLACE"):
            raise sqlalchemy.exc.OperationalError(
                statement, parameters, sqlite3.OperationalError("database or disk is full")
            )

    event.listen(Engine, "before_cursor_execute", refuse)
    yield state
    event.remove(Engine, "before_cursor_execute", refuse)


def test_a_disk_full_before_the_journal_still_revokes_and_a_resume_records_without_revoking_again(
    world,
    cli,  # noqa: F811
    services,
    sandbox,
    disk_full_from_the_start,
):
    world.add("gh", "github", "classic")
    world.add("sl", "slack", "bot")
    disk_full_from_the_start["full"] = True
    code, out, err = cli("panic", "--yes")
    assert code == 1, out + err
    # Nothing could be written, but the keys are dead at the providers all the same.
    assert not world.alive("gh") and not world.alive("sl"), out + err
    assert len(revokes(sandbox)) == 2
    assert "NOT RECORDED" in out and "the disk is full" in out
    assert "gh" in out and "sl" in out and "breaker panic --resume" in out
    assert "Traceback" not in out + err and "unexpected error" not in out + err and "database error" not in err
    # Honest: Breaker's own record still says enabled (nothing was written), and the owner is told.
    assert all(v.mode is not Mode.DISABLED for v in services.inventory.list())
    assert "breaker exec" in out
    # Space freed: the resume records them disabled and verified, revoking nothing again.
    disk_full_from_the_start["full"] = False
    code, out, err = cli("panic", "--resume")
    assert code == 0, out + err
    assert "2 of 2 verified" in out and "NOT RECORDED" not in out
    assert len(revokes(sandbox)) == 2
    assert all(v.mode is Mode.DISABLED for v in services.inventory.list())
    code, out, _ = cli("panic", "--resume")
    assert "No interrupted panic" in out
    assert services.audit.verify(services.engine).ok


def test_a_disk_full_before_the_journal_json_and_a_plain_rerun(
    world,
    cli,  # noqa: F811
    services,
    sandbox,
    disk_full_from_the_start,
):
    world.add("gh", "github", "classic")
    disk_full_from_the_start["full"] = True
    code, out, err = cli("panic", "--yes", "--json")
    doc = json.loads(out)
    assert code == 1 and not doc["ok"] and "disk is full" in doc["write_problem"], out + err
    assert doc["not_recorded"] == ["gh"] and [r["connector"] for r in doc["verified"]] == ["gh"]
    assert not world.alive("gh")
    # The note left for the resume names the connector, never its key; only its owner may read it.
    note = Path(doc["note"])
    assert doc["recorded"] is False and note.is_file() and "gh" in note.read_text()
    assert world.tokens["gh"].token not in note.read_text() and note.stat().st_mode & 0o077 == 0
    # A plain re-run once there is space: it looks at the key first and does not revoke it again.
    disk_full_from_the_start["full"] = False
    code, out, err = cli("panic", "--yes")
    assert code == 0, out + err
    assert len(revokes(sandbox)) == 1
    assert services.inventory.get("gh").mode is Mode.DISABLED
    assert not note.exists()  # the journal covers it now


def test_a_note_someone_else_could_write_is_ignored(services, tmp_path):
    from app.services.switches import unrecorded

    path = unrecorded.leave(services, "panic-x", {"gh": {"provider": "github", "state": "journalled"}})
    assert path and set(unrecorded.names(services)) == {"gh"}
    Path(path).chmod(0o666)
    assert unrecorded.names(services) == {}
    Path(path).chmod(0o600)
    unrecorded.forget(services, {"gh"})
    assert not Path(path).exists() and unrecorded.names(services) == {}


def test_a_disk_that_fills_between_the_journal_and_the_record(world, cli, services, sandbox, monkeypatch):  # noqa: F811
    """The jobs got into the journal, then nothing more: the calls go out, the journal's resume
    records them without revoking again, and the note of the panic is settled with it."""
    world.add("gh", "github", "classic")
    for cls, name in (
        (Journal, "record_batch"),
        (Journal, "mark_applying"),
        (Journal, "write"),
        (Journal, "audit_event"),
        (Prober, "store"),
    ):
        monkeypatch.setattr(cls, name, disk_full)
    code, out, err = cli("panic", "--yes", "--json")
    doc = json.loads(out)
    assert code == 1 and doc["recorded"] is False and doc["not_recorded"] == ["gh"], out + err
    assert not world.alive("gh") and len(revokes(sandbox)) == 1
    note = Path(doc["note"])
    assert note.is_file()
    monkeypatch.undo()
    code, out, err = cli("panic", "--resume")
    assert code == 0 and "1 of 1 verified" in out, out + err
    assert len(revokes(sandbox)) == 1 and services.inventory.get("gh").mode is Mode.DISABLED
    assert not note.exists()
    assert "No interrupted panic" in cli("panic", "--resume")[1]
