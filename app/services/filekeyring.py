"""An encrypted-file keyring for servers with no desktop and no Secret Service.

Select it through keyring's own setting::

    PYTHON_KEYRING_BACKEND=app.services.filekeyring.EncryptedFileKeyring

The file (``BREAKER_KEYRING_FILE``, default ``keyring.enc`` in Breaker's data folder, mode 0600)
holds each entry encrypted with AES-256-GCM under a key derived from a passphrase with scrypt; the
service and user name are bound to each entry as associated data. The passphrase is asked once
per process on the terminal, or read from a file descriptor for scripts and services::

    BREAKER_KEYRING_PASSPHRASE_FD=3 breaker probe --all 3</etc/breaker/passphrase

Without a terminal and without the descriptor it refuses with that instruction (no EOFError). A
wrong passphrase is refused before anything is written.

A program that owns the terminal itself — the panel — cannot let ``getpass`` read it (the prompt
would be hidden under the panel, and the keystrokes go to the panel: the read would wait forever).
It registers an asker with :func:`set_asker` (a masked dialog) which is used instead of the terminal.
"""

from __future__ import annotations

import base64
import fcntl
import getpass
import json
import os
import sys
import threading
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import keyring.errors
from keyring.backend import KeyringBackend

FILE_ENV = "BREAKER_KEYRING_FILE"
FD_ENV = "BREAKER_KEYRING_PASSPHRASE_FD"
_CHECK = b"breaker-keyring-check"
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}
_passphrases: dict[str, bytes] = {}  # per process, per file: asked once
_lock = threading.Lock()

# asker(path, right) -> the passphrase, or None when the owner declined; ``right(p)`` tells whether
# ``p`` opens the file. Called on the thread that needs the key (never the panel's own thread).
Asker = Callable[[Path, Callable[[bytes], bool]], "bytes | None"]
_asker: Asker | None = None
HOW_TO_GIVE = f"or give it on a file descriptor: {FD_ENV}=3 breaker … 3</path/to/passphrase"


def set_asker(asker: Asker | None) -> Asker | None:
    """Ask for the passphrase with ``asker`` instead of the terminal (None: the terminal again).
    Returns the asker it replaces."""
    global _asker
    previous, _asker = _asker, asker
    return previous


def default_path() -> Path:
    import platformdirs

    return platformdirs.user_data_path("breaker", appauthor=False) / "keyring.enc"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def read_passphrase(path: Path, right: Callable[[bytes], bool] | None = None) -> bytes:
    """The passphrase for ``path``: cached, else from BREAKER_KEYRING_PASSPHRASE_FD, else the asker
    (the panel's dialog), else the terminal."""
    key = str(path)
    with _lock:
        if key in _passphrases:
            return _passphrases[key]
        fd_text = os.environ.get(FD_ENV, "").strip()
        if fd_text:
            if not fd_text.isdigit():
                raise keyring.errors.KeyringLocked(f"{FD_ENV} must be a file descriptor number, e.g. 3")
            try:
                with os.fdopen(int(fd_text), "rb", closefd=True) as fh:
                    value = fh.read(4096).rstrip(b"\r\n")
            except OSError as exc:
                raise keyring.errors.KeyringLocked(
                    f"{FD_ENV}={fd_text}: the descriptor cannot be read ({exc.strerror})"
                ) from None
        elif _asker is not None:
            value = _asker(path, right or (lambda _p: True)) or b""
            if not value:
                raise keyring.errors.KeyringLocked(
                    f"the encrypted keyring {path} stays locked: no passphrase was given. It is asked again "
                    f"the next time a key is needed, {HOW_TO_GIVE}"
                )
        elif sys.stdin is not None and sys.stdin.isatty():
            try:
                value = getpass.getpass(f"Passphrase for the Breaker keyring {path}: ").encode()
            except (EOFError, KeyboardInterrupt):
                raise keyring.errors.KeyringLocked("no passphrase given") from None
        else:
            raise keyring.errors.KeyringLocked(
                f"the encrypted keyring {path} needs its passphrase and there is no terminal to ask: "
                f"give it on a file descriptor, e.g. {FD_ENV}=3 breaker … 3</path/to/passphrase"
            )
        if not value:
            raise keyring.errors.KeyringLocked("the passphrase is empty")
        _passphrases[key] = value
        return value


class EncryptedFileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]
    viable = False  # chosen explicitly (PYTHON_KEYRING_BACKEND), never by auto-discovery

    def __init__(self, path: str | Path | None = None) -> None:
        super().__init__()
        env = os.environ.get(FILE_ENV)
        self.path = Path(path or env or default_path()).expanduser()
        self._key: bytes | None = None

    # -- the file ---------------------------------------------------------------------------------
    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            raise keyring.errors.KeyringError(f"the encrypted keyring {self.path} is unreadable") from None
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    @contextmanager
    def _locked(self):
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path.with_suffix(".lock"), os.O_CREAT | os.O_WRONLY, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # -- the key ------------------------------------------------------------------------------------
    def _cipher(self, data: dict):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        if self._key is None:
            if "salt" not in data:
                data.update(version=1, kdf="scrypt", salt=_b64(os.urandom(16)), **_SCRYPT)
            salt = base64.b64decode(data["salt"])

            def derive(passphrase: bytes) -> bytes:
                return Scrypt(salt=salt, length=32, n=int(data["n"]), r=int(data["r"]), p=int(data["p"])).derive(
                    passphrase
                )

            def right(passphrase: bytes) -> bool:
                if "check" not in data:  # a new file: any passphrase (it becomes the file's)
                    return True
                try:
                    self._open(AESGCM(derive(passphrase)), data["check"], b"check")
                except Exception:
                    return False
                return True

            key = derive(read_passphrase(self.path, right))
            aead = AESGCM(key)
            if "check" in data:
                try:
                    self._open(aead, data["check"], b"check")
                except Exception:
                    with _lock:
                        _passphrases.pop(str(self.path), None)
                    raise keyring.errors.KeyringLocked(
                        f"wrong passphrase for the encrypted keyring {self.path}"
                    ) from None
            else:
                data["check"] = self._seal(aead, _CHECK, b"check")
            self._key = key
        return AESGCM(self._key)

    @staticmethod
    def _seal(aead, plain: bytes, aad: bytes) -> str:
        nonce = os.urandom(12)
        return _b64(nonce + aead.encrypt(nonce, plain, aad))

    @staticmethod
    def _open(aead, token: str, aad: bytes) -> bytes:
        raw = base64.b64decode(token)
        return aead.decrypt(raw[:12], raw[12:], aad)

    @staticmethod
    def _name(service: str, username: str) -> str:
        return f"{service}\x1f{username}"

    # -- keyring's interface -----------------------------------------------------------------------
    def get_password(self, service: str, username: str) -> str | None:
        data = self._read()
        token = data.get("entries", {}).get(self._name(service, username))
        if token is None:
            return None
        aead = self._cipher(data)
        try:
            return self._open(aead, token, self._name(service, username).encode()).decode()
        except Exception:
            raise keyring.errors.KeyringError(f"an entry of {self.path} does not decrypt (changed?)") from None

    def set_password(self, service: str, username: str, password: str) -> None:
        with self._locked():
            data = self._read()
            aead = self._cipher(data)
            name = self._name(service, username)
            data.setdefault("entries", {})[name] = self._seal(aead, password.encode(), name.encode())
            self._write(data)

    def delete_password(self, service: str, username: str) -> None:
        with self._locked():
            data = self._read()
            if data.get("entries", {}).pop(self._name(service, username), None) is None:
                raise keyring.errors.PasswordDeleteError("not found")
            self._write(data)
