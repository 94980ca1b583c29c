"""The demo home's file keyring: one parse per change of the file, not one per key read."""

from __future__ import annotations

import json

import keyring.errors
import pytest

from app.services import keyrings
from app.services.keyrings import DemoFileKeyring


def test_reading_many_keys_parses_the_file_once(tmp_path, monkeypatch):
    ring = DemoFileKeyring(tmp_path)
    for i in range(50):
        ring.set_password("breaker", f"id:cred:{i}", f"SANDBOX-{i}")
    parses = []
    real_loads = json.loads
    monkeypatch.setattr(keyrings.json, "loads", lambda text: parses.append(1) or real_loads(text))
    reader = DemoFileKeyring(tmp_path)  # another process, as the CLI would be
    assert [reader.get_password("breaker", f"id:cred:{i}") for i in range(50)] == [f"SANDBOX-{i}" for i in range(50)]
    assert len(parses) == 1


def test_a_write_by_another_process_is_seen(tmp_path):
    reader, writer = DemoFileKeyring(tmp_path), DemoFileKeyring(tmp_path)
    writer.set_password("breaker", "id:cred:a", "SANDBOX-a")
    assert reader.get_password("breaker", "id:cred:a") == "SANDBOX-a"
    writer.set_password("breaker", "id:cred:a", "SANDBOX-b")  # same size, new file
    assert reader.get_password("breaker", "id:cred:a") == "SANDBOX-b"
    writer.delete_password("breaker", "id:cred:a")
    assert reader.get_password("breaker", "id:cred:a") is None
    (tmp_path / keyrings.DEMO_KEYRING_FILE).unlink()
    assert reader.get_password("breaker", "id:cred:a") is None


def test_a_failed_write_leaves_the_entries_as_they_were(tmp_path):
    ring = DemoFileKeyring(tmp_path)
    ring.set_password("breaker", "id:cred:a", "SANDBOX-a")
    with pytest.raises(keyring.errors.PasswordSetError):
        ring.set_password("breaker", "id:cred:b", "sk-real-looking-key")
    with pytest.raises(keyring.errors.PasswordDeleteError):
        ring.delete_password("breaker", "id:cred:missing")
    assert ring.get_password("breaker", "id:cred:b") is None
    assert json.loads((tmp_path / keyrings.DEMO_KEYRING_FILE).read_text()) == {"breaker\x1fid:cred:a": "SANDBOX-a"}


def test_an_unreadable_file_is_a_keyring_error(tmp_path):
    (tmp_path / keyrings.DEMO_KEYRING_FILE).write_text("{not json")
    with pytest.raises(keyring.errors.KeyringError):
        DemoFileKeyring(tmp_path).get_password("breaker", "id:cred:a")
