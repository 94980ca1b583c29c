"""The fast read path (app.store.snapshot, standard-library sqlite3) sees exactly what the ORM sees.

`breaker list` and the panel's table read the inventory through it; the switches, the probes and
`Inventory.get` read through SQLModel. If the two ever disagreed, the list would lie.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from app.services.inventory import ConnectorInput
from app.services.views import build_views
from app.store.db import session_scope
from app.store.errors import StoreError, check_sqlite_file
from app.store.models import Connector, Credential, ScopeGrant, utcnow
from app.store.snapshot import SCHEMA_VERSION, open_current, read_inventory_file
from connectors.base import Grant, Level, Secret

ROOT = Path(__file__).resolve().parents[2]
GITHUB_KEY = "ghp_SANDBOX" + "k" * 30 + "WXYZ"
SLACK_KEY = "xoxb-123456789012-1234567890123-SANDBOXabcdefghijklmnop"


def _varied_inventory(services) -> None:
    """Connectors with everything a view carries: owners and none, several declared and observed
    grants, a revoked and a reduced credential, extra settings, tags, a probe, a switch state."""
    inv = services.inventory
    inv.add(
        ConnectorInput(
            name="gh-docs",
            owner="Priya",
            purpose_access="the docs repo",
            purpose_task="open issues",
            purpose_forbidden="push",
            tags="docs, ci",
            declared=(Grant("repo", Level.WRITE), Grant("read:org", Level.READ)),
        ),
        Secret(GITHUB_KEY),
    )
    inv.add(ConnectorInput(name="slack-bot", environment="test"), Secret(SLACK_KEY))
    inv.add(
        ConnectorInput(
            name="manual",
            provider="generic",
            base_url="https://api.example.com/v1",
            extra={"url": "https://api.example.com/v1/me"},
        ),
        Secret("sk-SANDBOX-generic-0001"),
    )
    now = utcnow()
    with session_scope(services.engine) as s:
        gh = s.exec(select(Connector).where(Connector.name == "gh-docs")).one()
        gh.last_probe_at, gh.last_outcome, gh.live_level, gh.switch_state = now, "ok", int(Level.ADMIN), "applied"
        gh.mode = "draft-only"
        s.add(
            ScopeGrant(
                connector_id=gh.id,
                scope="admin:org",
                level=int(Level.ADMIN),
                source="observed",
                first_seen=now - timedelta(days=3),
                last_seen=now,
            )
        )
        s.add(ScopeGrant(connector_id=gh.id, scope="repo", level=int(Level.WRITE), source="observed"))
        old = s.exec(select(Credential).where(Credential.connector_id == gh.id)).one()
        old.active, old.rotated_at = False, now - timedelta(days=200)
        s.add(
            Credential(
                connector_id=gh.id,
                keyring_ref="cred:reduced",
                fingerprint="abcdefabcdef",
                last4="9999",
                tier="reduced",
                kind="fine-grained",
                expires_at=now + timedelta(days=30),
            )
        )
        s.add(
            Credential(
                connector_id=gh.id, keyring_ref="cred:gone", fingerprint="000000000000", last4="0000", revoked_at=now
            )
        )


def test_every_view_from_the_fast_path_equals_the_orm_view(services):
    _varied_inventory(services)
    fast = build_views(read_inventory_file(services.settings.db_path))
    assert [v.name for v in fast] == ["gh-docs", "manual", "slack-bot"]
    for view in fast:
        assert view == services.inventory.get(view.name)  # get() reads ORM rows
    gh = fast[0]
    assert gh.drift and gh.observed[0] == Grant("admin:org", Level.ADMIN)
    assert [c.fingerprint for c in gh.credentials] == ["abcdefabcdef", gh.credentials[1].fingerprint]
    assert all(c.created_at.tzinfo is not None for v in fast for c in v.credentials)


def test_views_built_without_their_init_equal_views_built_with_it(services):
    """connector_view fills each frozen view's fields at once instead of through its generated
    __init__ (a third of the cost): every field must be there, and equal to what __init__ makes."""
    from dataclasses import fields, replace

    _varied_inventory(services)
    for view in build_views(read_inventory_file(services.settings.db_path)):
        parts = [view, *view.credentials, *view.declared, *view.observed]
        for part in parts:
            assert set(vars(part)) == {f.name for f in fields(part)}
            assert replace(part) == part  # replace() builds through __init__


def test_the_first_screenful_is_the_first_views_of_the_whole_read(services):
    _varied_inventory(services)
    whole = build_views(read_inventory_file(services.settings.db_path))
    for first in (0, 1, 2, 10):
        assert build_views(read_inventory_file(services.settings.db_path, first=first)) == whole[:first]


def test_a_path_with_spaces_hashes_and_percent_signs_is_read_and_never_created(services, tmp_path):
    import shutil

    services.inventory.add(ConnectorInput(name="gh-docs"), Secret(GITHUB_KEY))
    db = services.settings.db_path
    services.close()
    odd = tmp_path / "my #1 inventory 100%?" / "breaker.db"
    odd.parent.mkdir()
    shutil.copy(db, odd)
    assert [c.name for c in read_inventory_file(odd).connectors] == ["gh-docs"]
    gone = tmp_path / "gone.db"
    assert open_current(gone) is None and not gone.exists()


def test_absent_older_or_newer_databases_are_left_to_the_full_store(tmp_path, services):
    assert open_current(tmp_path / "nothing.db") is None
    db = services.settings.db_path
    services.close()
    for version in (str(SCHEMA_VERSION - 1), str(SCHEMA_VERSION + 1)):
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE breaker_meta SET value = ? WHERE key = 'schema_version'", (version,))
        assert open_current(db) is None  # the full store migrates or refuses it, with its own message


def test_a_file_that_is_not_sqlite_raises_the_stores_message(tmp_path):
    bad = tmp_path / "breaker.db"
    bad.write_bytes(b"PK\x03\x04 a zip, not a database")
    with pytest.raises(StoreError, match="not a SQLite database"):
        open_current(bad)
    assert bad.read_bytes().startswith(b"PK")


def test_breaker_list_loads_no_store_stack_no_keyring_and_no_http(services, home):
    services.inventory.add(ConnectorInput(name="gh-docs"), Secret(GITHUB_KEY))
    services.close()
    code = (
        "import json, sys\n"
        "from app.cli import main\n"
        f"code = main(['--home', {str(home)!r}, 'list', '--json'])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel', 'keyring', 'httpx'))\n"
        "print(json.dumps({'code': code, 'heavy': heavy}), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report == {"code": 0, "heavy": []}
    assert [c["name"] for c in json.loads(proc.stdout)["connectors"]] == ["gh-docs"]
    assert GITHUB_KEY not in proc.stdout + proc.stderr


def test_listing_records_from_the_columns_equal_the_records_of_the_views(services):
    """`breaker list --json` of the whole inventory builds its records straight from the listed
    columns (export.listing_records), not through views: they must be the views' records, byte for
    byte once dumped — shared keys, several credentials, a verified switch, and text that holds
    escape sequences and bidi overrides (stored text in the records, shown text in shared_with)."""
    from app.services.export import connector_record, dumps, list_document, listing_document, listing_records
    from app.services.export import shared_keys as holders_of
    from app.store.snapshot import read_listing_file

    _varied_inventory(services)
    inv = services.inventory
    inv.add(ConnectorInput(name="gh-twin", provider="github", owner="Ops"), Secret(GITHUB_KEY))  # a shared key
    inv.add(ConnectorInput(name="evil", provider="generic", tags="a,\x1b[2J, b"), Secret("sk-SANDBOX-evil-0002"))
    with session_scope(services.engine) as s:
        evil = s.exec(select(Connector).where(Connector.name == "evil")).one()
        evil.name, evil.purpose_access, evil.client = "evil\u202etxt.exe", "the\x1b]0;pwned\x07 API", "bot\x85"
        evil.base_url = "https://user:pass@api.example.com/\u200bv1"
        evil.mode, evil.switch_state, evil.last_outcome = "disabled", "verified", "revoked"
        evil.last_probe_at = utcnow() - timedelta(hours=2)
        twin = s.exec(select(Connector).where(Connector.name == "gh-twin")).one()
        twin.mode, twin.switch_state, twin.last_outcome, twin.live_level = "disabled", "applied", "ok", int(Level.READ)
        twin.last_probe_at = utcnow()
        s.add(ScopeGrant(connector_id=twin.id, scope="bad\u202escope", level=int(Level.SEND), source="observed"))
    path = services.settings.db_path
    views = build_views(read_inventory_file(path))
    now, holders = utcnow(), holders_of(views)
    expected = [connector_record(v, holders, 30, now) for v in views]
    listed = listing_records(read_listing_file(path), 30, now)
    assert listed == expected
    assert dumps(listing_document(read_listing_file(path), 30), pretty=False) == dumps(
        list_document(views, 30), pretty=False
    )
    twin = next(r for r in listed if r["name"] == "gh-twin")
    assert twin["key"]["shared_with"] == ["gh-docs"] and twin["drift"] and twin["key_still_live"]
    evil = next(r for r in listed if r["name"].startswith("evil"))
    assert evil["off"] and evil["base_url"] == "https://api.example.com/\u200bv1" and evil["tags"][1] == "\x1b[2J"


def test_checking_a_database_this_process_has_open_keeps_its_locks(tmp_path):
    """A plain open()/close() of the file dropped this process's POSIX locks (SQLite's too): the next
    process to close the database then deleted the WAL under this one, which read a forked copy."""
    db = tmp_path / "breaker.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
    try:
        assert check_sqlite_file(db)
        other = f"import sqlite3; c = sqlite3.connect({str(db)!r}); c.execute('SELECT x FROM t').fetchall(); c.close()"
        subprocess.run([sys.executable, "-c", other], check=True, timeout=60)
        assert (tmp_path / "breaker.db-wal").exists()  # the other process knew it was not alone
        conn.execute("INSERT INTO t VALUES (2)")
        conn.commit()
        seen = f"import sqlite3; print(sqlite3.connect({str(db)!r}).execute('SELECT count(*) FROM t').fetchone()[0])"
        out = subprocess.run([sys.executable, "-c", seen], check=True, capture_output=True, text=True, timeout=60)
        assert out.stdout.strip() == "2"  # one database, not two copies
    finally:
        conn.close()
