"""Store locking, audit-head robustness and base-URL hygiene."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC

import keyring.errors
import pytest
from sqlmodel import Session, select

from app.services.inventory import ConnectorInput, ValidationError
from app.store.db import open_store, session_scope
from app.store.models import AuditEvent, Owner
from connectors.base import Secret


def test_a_long_read_does_not_hold_the_write_lock(tmp_path):
    url = f"sqlite:///{tmp_path / 'b.db'}"
    reader_engine, writer_engine = open_store(url), open_store(url)
    started, release = threading.Event(), threading.Event()

    def long_read():
        with Session(reader_engine) as s:
            s.exec(select(Owner)).all()  # a read transaction is now open
            started.set()
            release.wait(60)  # released as soon as the write is done

    t = threading.Thread(target=long_read)
    t.start()
    assert started.wait(30)
    begun = time.perf_counter()
    with session_scope(writer_engine) as s:  # an emergency write must not wait for the reader
        s.add(Owner(name="panic"))
    waited = time.perf_counter() - begun
    release.set()
    t.join()
    assert waited < 5.0  # a write that waited for the reader would wait until it is released


def test_two_writers_queue_instead_of_forking_the_audit_chain(services, tmp_path):
    from app.services.audit import AuditLog

    other = open_store(services.settings.db_url)
    audit2 = AuditLog(services.secrets)
    errors = []

    def write(engine, audit, n):
        try:
            for i in range(n):
                with session_scope(engine) as s:
                    audit.record(s, "test.write", f"c{i}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(services.engine, services.audit, 25)),
        threading.Thread(target=write, args=(other, audit2, 25)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    status = services.audit.verify(services.engine)
    assert status.ok and status.events == 50


def test_keyring_failure_after_commit_keeps_the_change_and_the_key(services, memory_keyring, monkeypatch):
    services.inventory.add(ConnectorInput(name="first", provider="generic"), Secret("generic-key-SANDBOX-0"))
    real_set = memory_keyring.set_password

    def flaky(service, username, password):
        if username.endswith("install:audit-head"):
            raise keyring.errors.KeyringError("locked")
        return real_set(service, username, password)

    monkeypatch.setattr(memory_keyring, "set_password", flaky)
    view = services.inventory.add(ConnectorInput(name="bot", provider="generic"), Secret("generic-key-SANDBOX-1"))
    assert services.inventory.secret_for("bot") == Secret("generic-key-SANDBOX-1")
    assert view.name == "bot"
    monkeypatch.setattr(memory_keyring, "set_password", real_set)
    status = services.audit.verify(services.engine)  # the lagging head catches up
    assert status.ok and status.head_lagging


@pytest.mark.parametrize(
    "url", ["https://user:tok@api.example.com", "https://api.example.com/?key=abc", "https://api.example.com/#frag"]
)
def test_base_url_with_a_credential_is_refused(services, url):
    with pytest.raises(ValidationError) as err:
        services.inventory.add(ConnectorInput(name="bot", provider="generic", base_url=url), Secret("k-SANDBOX-123"))
    assert "base_url" in err.value.errors
    with Session(services.engine) as s:
        assert s.exec(select(AuditEvent)).all() == []


def test_the_fast_body_of_record_many_is_the_canonical_json_verify_recomputes():
    """record_many writes each event's body text directly; verify() rebuilds it from the stored
    row with canonical_json. Awkward values (quotes, non-ASCII, line separators, floats, NaN, nested
    lists and None) must give the very same text, or every mac would break."""
    from datetime import datetime

    from app.services.audit import AuditLog, _body_json, canonical_json

    cases = [
        ("probe", "me", "c1", None, {"a": 1, "b": [1.5, "é", None], "z": True}, "ok"),
        ('x"y', "ü\n", "", {"k": "v\u2028"}, [1, 2], "failed"),
        ("a", "b", "c", 1e300, float("nan"), "ok"),
        ("ids", "me", "c2", {"by_id": {10: "a", 9: "b"}, "x": {2: [1, {11: 0, 3: 1}]}}, {1.5: 1, 10.25: 2}, "ok"),
    ]
    for seq, (action, actor, connector, old, new, outcome) in enumerate(cases, start=1):
        row = {
            "seq": seq,
            "at": datetime.now(UTC),
            "actor": actor,
            "connector": connector,
            "action": action,
            "old_json": canonical_json(old),
            "new_json": canonical_json(new),
            "outcome": outcome,
        }
        assert _body_json(row) == canonical_json(AuditLog._body_of(row))
    # canonical_json is idempotent, integer keys included (they become strings, sorted as strings)
    assert (
        canonical_json({10: 1, 9: 2}) == '{"10":1,"9":2}' == canonical_json(json.loads(canonical_json({10: 1, 9: 2})))
    )
