"""A keyring on every machine: the encrypted-file backend (passphrase once per process or from a file
descriptor; no EOFError without a terminal) and `breaker doctor`."""

from __future__ import annotations

import json
import os
import stat

import keyring
import keyring.errors
import pytest

from app.services import filekeyring
from app.services.filekeyring import EncryptedFileKeyring
from tests.cli.conftest import GITHUB_KEY


@pytest.fixture
def passphrase_fd(monkeypatch):
    def give(text: bytes) -> None:
        read, write = os.pipe()
        os.write(write, text + b"\n")
        os.close(write)
        monkeypatch.setenv(filekeyring.FD_ENV, str(read))
        filekeyring._passphrases.clear()

    yield give
    filekeyring._passphrases.clear()


def test_the_encrypted_file_keeps_keys_encrypted_and_asks_once(tmp_path, passphrase_fd):
    path = tmp_path / "keyring.enc"
    passphrase_fd(b"correct horse")
    backend = EncryptedFileKeyring(path)
    backend.set_password("breaker", "cred:1", GITHUB_KEY)
    backend.set_password("breaker", "cred:2", GITHUB_KEY[::-1])
    assert EncryptedFileKeyring(path).get_password("breaker", "cred:1") == GITHUB_KEY  # same process: not asked again
    raw = path.read_bytes()
    assert GITHUB_KEY.encode() not in raw and b"SANDBOX" not in raw
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    backend.delete_password("breaker", "cred:2")
    assert backend.get_password("breaker", "cred:2") is None
    assert set(json.loads(raw)["entries"]) >= {"breaker\x1fcred:1"}


def test_a_wrong_passphrase_is_refused(tmp_path, passphrase_fd):
    path = tmp_path / "keyring.enc"
    passphrase_fd(b"right")
    EncryptedFileKeyring(path).set_password("breaker", "cred:1", GITHUB_KEY)
    passphrase_fd(b"wrong")
    with pytest.raises(keyring.errors.KeyringLocked, match="wrong passphrase"):
        EncryptedFileKeyring(path).get_password("breaker", "cred:1")


def test_without_a_terminal_or_descriptor_breaker_says_how_to_give_the_passphrase(breaker, tmp_path, monkeypatch):
    monkeypatch.delenv(filekeyring.FD_ENV, raising=False)
    filekeyring._passphrases.clear()
    previous = keyring.get_keyring()
    keyring.set_keyring(EncryptedFileKeyring(tmp_path / "k.enc"))
    try:
        r = breaker("add", "--name", "gh", "--provider", "github", stdin=GITHUB_KEY + "\n")
    finally:
        keyring.set_keyring(previous)
    assert r.code == 1
    assert filekeyring.FD_ENV in r.err and "EOFError" not in r.err and "unexpected" not in r.err
    assert GITHUB_KEY not in r.err


def test_doctor_says_ok_or_what_to_do_for_each_check(breaker, add_github):
    assert add_github("gh").code == 0
    r = breaker("doctor")
    assert r.code == 0, r.out + r.err
    names = [line.split(":")[0].split(None, 1)[1] for line in r.out.splitlines()]
    assert names == ["config", "keyring", "database", "audit chain", "key destinations"]
    assert all(line.startswith("ok") for line in r.out.splitlines())


def test_doctor_names_a_keyring_that_cannot_store(breaker, add_github, memory_keyring, monkeypatch):
    assert add_github("gh").code == 0

    def refuse(*args):
        raise keyring.errors.PasswordSetError("locked")

    monkeypatch.setattr(memory_keyring, "set_password", refuse)
    r = breaker("doctor")
    assert r.code == 1
    line = next(x for x in r.out.splitlines() if x.split(None, 1)[1].startswith("keyring:"))
    assert line.startswith("FIX") and "could not store" in line and "Headless Linux" in line


def test_doctor_flags_a_database_others_can_read(breaker, add_github, cli_home):
    assert add_github("gh").code == 0
    os.chmod(cli_home / "breaker.db", 0o644)
    r = breaker("doctor")
    assert r.code == 1 and "chmod 600" in r.out
