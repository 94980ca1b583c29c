"""Audit entries written while the keyring cannot be read wait unsealed, then join the chain (issue 9)."""

from __future__ import annotations

import json

import keyring.errors
import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from app.services.context import open_services
from app.settings import load_settings
from app.store.db import session_scope
from app.store.models import AuditEvent


@pytest.fixture
def fresh(home, memory_keyring):
    """Services that have not read the keyring yet (nothing cached in memory)."""
    opened = []

    def open_():
        svc = open_services(load_settings(home=home), keyring=memory_keyring)
        opened.append(svc)
        return svc

    yield open_
    for svc in opened:
        svc.close()


def locked(monkeypatch, backend):
    def fail(*_a, **_k):
        raise keyring.errors.KeyringLocked("Failed to unlock the collection!")

    monkeypatch.setattr(backend, "get_password", fail)
    monkeypatch.setattr(backend, "set_password", fail)


def write(svc, *actions: str) -> None:
    with session_scope(svc.engine) as s:
        for action in actions:
            svc.audit.record(s, action, "bot", new={"what": action})


def chain(svc) -> list[AuditEvent]:
    with Session(svc.engine) as s:
        return list(s.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all())


def test_locked_keyring_keeps_entries_waiting_then_the_next_write_seals_them_in_order(fresh, memory_keyring):
    first = fresh()
    write(first, "before")  # the chain exists, with its key and head in the keyring
    with pytest.MonkeyPatch.context() as mp:
        locked(mp, memory_keyring)
        svc = fresh()
        write(svc, "panic.start", "switch.recorded")
        write(svc, "panic.end")
        assert [e.action for e in chain(svc)] == ["before"], "nothing was sealed without the key"
        assert svc.audit.pending(svc.engine) == 3 and svc.audit.unsealed_written == 3
        status = svc.audit.verify(svc.engine)
        assert not status.ok and status.unchecked and status.pending == 3
        assert "NOT CHECKED" in status.summary() and "3 entries" in status.summary()
        assert "BROKEN" not in status.summary() and "store" not in status.summary()
    svc = fresh()
    assert svc.audit.verify(svc.engine).pending == 3  # readable again, not sealed until a write
    write(svc, "after")
    actions = [e.action for e in chain(svc)]
    assert actions == ["before", "panic.start", "switch.recorded", "panic.end", "audit.sealed", "after"]
    sealed = json.loads(chain(svc)[4].new_json)
    assert sealed["entries"] == 3 and sealed["first_seq"] == 2 and "problem" not in sealed
    status = svc.audit.verify(svc.engine)
    assert status.ok and status.pending == 0 and status.events == 6, status


def test_an_entry_changed_while_waiting_is_a_break_found_before_and_after_sealing(fresh, memory_keyring):
    write(fresh(), "before")
    with pytest.MonkeyPatch.context() as mp:
        locked(mp, memory_keyring)
        svc = fresh()
        write(svc, "switch.recorded", "panic.end")
    with svc.engine.begin() as conn:
        conn.execute(text("UPDATE audit_pending SET outcome = 'forged' WHERE id = 1"))
    svc = fresh()
    status = svc.audit.verify(svc.engine)
    assert not status.ok and "waiting to be sealed were changed" in status.reason
    write(svc, "after")
    status = svc.audit.verify(svc.engine)
    assert not status.ok and "before they were sealed" in status.reason, status
    assert [e.outcome for e in chain(svc) if e.action == "audit.sealed"] == ["failed"]
