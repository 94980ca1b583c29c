"""A scan kept: keys become unreviewed connectors in the keyring, rescans update and notice what vanished."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from app.services import discovery, discovery_store
from app.store.models import AuditEvent, FoundPlace, FoundServer
from tests.discovery import homes
from tests.discovery.homes import make_home


def scan_and_record(services, home):
    report = discovery.run_scan(services, [home.project], machine=home.machine)
    return report, discovery_store.record(services, report)


def test_keys_become_unreviewed_connectors_with_their_places(services, tmp_path):
    home = make_home(tmp_path)
    report, summary = scan_and_record(services, home)
    assert len(summary.new_connectors) == 11
    views = {v.name: v for v in services.inventory.list()}
    assert set(views) == set(summary.new_connectors)
    for v in views.values():
        assert "unreviewed" in v.tags and v.credential is not None
    # The GitHub key wired in Claude Desktop and Windsurf is one connector, with both places.
    gh = next(v for v in views.values() if v.credential.last4 == homes.GITHUB[-4:])
    assert gh.provider == "github" and gh.env_var == "GITHUB_PERSONAL_ACCESS_TOKEN"
    assert services.secrets.get(gh.credential.keyring_ref).reveal() == homes.GITHUB
    places = discovery_store.places_of(services, gh.name)
    assert {(p.client, p.server) for p in places} == {("claude-desktop", "github"), ("windsurf", "old-github")}
    # An unrecognised key is kept too, as a generic connector (its probe says what is missing).
    assert any(v.provider == "generic" and v.credential.last4 == homes.LOOSE_SECRET[-4:] for v in views.values())


def test_rescan_updates_never_duplicates_and_notices_vanished(services, tmp_path):
    home = make_home(tmp_path)
    scan_and_record(services, home)
    with Session(services.engine) as s:
        servers_before = len(s.exec(select(FoundServer)).all())
        places_before = len(s.exec(select(FoundPlace)).all())
    _, again = scan_and_record(services, home)
    assert again.new_connectors == [] and again.new_servers == 0 and again.vanished_servers == []
    assert len(again.joined) == 11
    with Session(services.engine) as s:
        assert len(s.exec(select(FoundServer)).all()) == servers_before == 16
        assert len(s.exec(select(FoundPlace)).all()) == places_before
    # Slack leaves Windsurf's file; the .env file goes away entirely.
    wind = json.loads(home.files["windsurf"].read_text())
    del wind["mcpServers"]["slack"]
    home.files["windsurf"].write_text(json.dumps(wind))
    home.files["env"].unlink()
    _, third = scan_and_record(services, home)
    assert [v.split(" (")[0] for v in third.vanished_servers] == ["slack"]
    assert sorted(p.split(" (")[0] for p in third.vanished_places) == [
        "env SLACK_BOT_TOKEN",
        "variable SESSION_SECRET",
        "variable STRIPE_SECRET_KEY",
    ]
    assert len(services.inventory.list()) == 11  # connectors stay: the key may still work somewhere


def test_a_broken_file_does_not_make_its_entries_vanish(services, tmp_path):
    home = make_home(tmp_path)
    scan_and_record(services, home)
    home.files["windsurf"].write_text('{"mcpServers": {')  # half-written by an editor
    _, summary = scan_and_record(services, home)
    assert summary.vanished_servers == [] and summary.vanished_places == []


def test_the_scan_is_audited_without_keys(services, tmp_path):
    home = make_home(tmp_path)
    scan_and_record(services, home)
    with Session(services.engine) as s:
        events = s.exec(select(AuditEvent)).all()
        rows = [*events, *s.exec(select(FoundServer)).all(), *s.exec(select(FoundPlace)).all()]
    assert any(e.action == "scan" for e in events)
    dump = repr([r.model_dump() for r in rows])
    for secret in (homes.CANARY, homes.GITHUB, homes.DB_PASSWORD, homes.QUERY_KEY, homes.STRIPE):
        assert secret not in dump


def test_folders_are_remembered(services, tmp_path):
    assert discovery_store.remember_folders(services, [str(tmp_path)]) == [str(tmp_path.resolve())]
    assert discovery_store.remember_folders(services, [str(tmp_path)]) == []
    assert discovery_store.remembered_folders(services) == [str(tmp_path.resolve())]
    assert discovery_store.forget_folders(services, [str(tmp_path)]) == [str(tmp_path.resolve())]
    assert discovery_store.remembered_folders(services) == []


def test_one_refused_key_does_not_stop_the_others(services, tmp_path, monkeypatch):
    from app.services.secrets import SecretStoreError

    home = make_home(tmp_path)
    real = services.secrets.put

    def put(ref, secret):
        if secret.reveal() == homes.SLACK:
            raise SecretStoreError("the keyring refused the key: locked")
        return real(ref, secret)

    monkeypatch.setattr(services.secrets, "put", put)
    _, summary = scan_and_record(services, home)
    assert len(summary.new_connectors) == 10
    assert len(summary.failed) == 1 and "locked" in summary.failed[0] and homes.SLACK not in summary.failed[0]
