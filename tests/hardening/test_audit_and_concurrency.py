"""Issue 10, items 7 and 9: the audit chain never heals itself silently, and concurrent writers wait
their turn instead of failing with "database is locked"."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime

from app.services.context import open_services
from app.services.inventory import ConnectorInput
from app.settings import load_settings
from app.store.bulk import insert_many
from app.store.db import session_scope
from app.store.models import Probe
from connectors.base import Secret


def keyring_entry(memory_keyring, suffix: str) -> tuple[str, str]:
    return next(k for k in memory_keyring.store if k[1].endswith(suffix))


def add_three(add_github) -> None:
    for i in range(3):
        assert add_github(f"gh-{i}").code == 0


def test_a_deleted_head_after_truncation_stays_broken_after_a_write(breaker, add_github, cli_home, memory_keyring):
    add_three(add_github)
    with sqlite3.connect(cli_home / "breaker.db") as conn:
        conn.execute("DELETE FROM audit_event WHERE seq > (SELECT MAX(seq) - 3 FROM audit_event)")
    del memory_keyring.store[keyring_entry(memory_keyring, ":install:audit-head")]
    assert breaker("edit", "gh-0", "--owner", "Tom").code == 0  # the write still happens
    for _ in range(2):  # and neither it nor the next one heals the chain
        r = breaker("audit", "--verify")
        assert r.code == 1 and "BROKEN" in r.out and "head" in r.out, r.out + r.err
        assert breaker("edit", "gh-1", "--owner", "Ana").code == 0


def test_a_cut_off_chain_stays_broken_after_a_write(breaker, add_github, cli_home):
    add_three(add_github)
    with sqlite3.connect(cli_home / "breaker.db") as conn:
        conn.execute("DELETE FROM audit_event WHERE seq > (SELECT MAX(seq) - 2 FROM audit_event)")
    assert breaker("edit", "gh-0", "--owner", "Tom").code == 0
    r = breaker("audit", "--verify")
    assert r.code == 1 and "cut off" in r.out, r.out


def test_a_deleted_audit_key_is_loud_and_stays_loud(breaker, add_github, memory_keyring):
    add_three(add_github)
    del memory_keyring.store[keyring_entry(memory_keyring, ":install:audit")]
    r = breaker("audit", "--verify")
    assert r.code == 1 and "audit key" in r.out, r.out
    assert breaker("edit", "gh-0", "--owner", "Tom").code == 0
    r = breaker("audit", "--verify")
    assert r.code == 1 and "audit key" in r.out, r.out


def test_two_writers_adding_50_each_while_probe_batches_are_written_all_succeed(home, memory_keyring):
    """Two shells adding 50 connectors each while probe-all-sized batches are written: none fails."""
    settings = load_settings(home=home)
    first = open_services(settings, keyring=memory_keyring)  # creates the database
    view = first.inventory.add(ConnectorInput(name="probed", provider="github"), Secret("ghp_SANDBOX" + "p" * 36))
    errors: list[BaseException] = []
    stop = threading.Event()

    def adder(prefix: str) -> None:
        services = open_services(settings, keyring=memory_keyring)
        try:
            for i in range(50):
                key = Secret(f"ghp_SANDBOX{prefix.replace('-', '')}{i:04d}" + "k" * 28)
                services.inventory.add(ConnectorInput(name=f"{prefix}-{i}", provider="github"), key)
        except BaseException as exc:
            errors.append(exc)
        finally:
            services.close()

    def prober() -> None:
        services = open_services(settings, keyring=memory_keyring)
        row = dict(
            connector_id=view.id,
            at=datetime.now(UTC),
            outcome="ok",
            status=200,
            identity="bot",
            live_scopes_json="[]",
            live_level=None,
            latency_ms=1.0,
            error="",
            deep=False,
            token_kind="",
            expires_at=None,
        )
        try:
            while not stop.is_set():
                with session_scope(services.engine) as s:  # a probe-all's batch: 1000 probe rows, 300 events
                    insert_many(s, Probe.__table__, [row] * 1000)
                    services.audit.record_many(s, [("probe", "probed", None, {"n": i}, "ok") for i in range(300)])
                time.sleep(0)  # the next batch is ready at once: the harshest contention a probe-all makes
        except BaseException as exc:
            errors.append(exc)
        finally:
            services.close()

    threads = [threading.Thread(target=adder, args=(p,)) for p in ("shell-a", "shell-b")]
    probe_thread = threading.Thread(target=prober)
    probe_thread.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    stop.set()
    probe_thread.join(timeout=60)
    first.close()
    assert not errors, [str(e) for e in errors]
    names = {v.name for v in open_services(settings, keyring=memory_keyring).inventory.list()}
    assert {f"shell-a-{i}" for i in range(50)} <= names and {f"shell-b-{i}" for i in range(50)} <= names
