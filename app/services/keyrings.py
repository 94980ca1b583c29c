"""Keyring backends Breaker brings itself, and the check that a usable one exists.

- :class:`MemoryKeyring`: for tests; lives and dies with the process.
- :class:`DemoFileKeyring`: for a demo home only. It keeps SANDBOX keys in a 0600 file inside
  the demo home so that the CLI works on the demo too, and it refuses any provider key that does
  not carry the word SANDBOX: a real key never lands in a plaintext file.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path

import keyring
import keyring.errors
from keyring.backend import KeyringBackend

DEMO_KEYRING_FILE = "demo-keyring.json"


class NoKeyringError(Exception):
    """No usable OS keyring. The message explains how to set one up; nothing was stored."""


NO_KEYRING_HELP = (
    "No usable OS keyring was found, so Breaker will not store the key (it never falls back to a "
    "plaintext file). On a desktop, unlock your login keyring (GNOME Keyring, KWallet, macOS "
    "Keychain, Windows Credential Locker). On a headless Linux server, start a Secret Service in a "
    "session of its own (`apt install gnome-keyring dbus`, then the README's `dbus-run-session` recipe), "
    "or use Breaker's encrypted-file keyring (PYTHON_KEYRING_BACKEND=app.services.filekeyring.EncryptedFileKeyring). "
    "`breaker doctor` checks the keyring and says what to do. Then run the command again."
)


# For a read (a probe, a switch, the audit chain's key): nothing is being stored, so no word about storing.
NO_KEYRING_READ = (
    "No usable OS keyring was found in this session, so Breaker cannot read the keys it keeps there "
    "(in a new SSH session, unlock it first — e.g. `gnome-keyring-daemon --unlock` — or use the desktop "
    "session). `breaker doctor` says what to set up."
)


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]
    # Never chosen by keyring's auto-discovery: on a machine with no OS keyring, importing this
    # module must not make a vanishing in-memory store look like a real one. Used only when set explicitly.
    viable = False

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.store[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError("not found") from None


class DemoFileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]
    viable = False  # only ever used for a demo home, by explicit choice (see app.services.context)

    def __init__(self, home: Path) -> None:
        super().__init__()
        self.path = Path(home) / DEMO_KEYRING_FILE
        # The file as last read or written, with the stat it had then. Reading a key costs one
        # stat, not the whole file: a probe-all of 5,000 connectors re-read and re-parsed it per key
        # (9.7 s of 25.6 s). Another process's write replaces the file (os.replace: a new inode and
        # mtime), so a changed stat means read it again.
        self._cache: tuple[tuple[int, int, int, int], dict[str, str]] | None = None

    @staticmethod
    def _stamp(st: os.stat_result) -> tuple[int, int, int, int]:
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def _read(self) -> dict[str, str]:
        """The entries (do not change the dict returned: it is the cache's)."""
        try:
            with open(self.path, "rb") as fh:
                stamp = self._stamp(os.fstat(fh.fileno()))
                cached = self._cache
                if cached is not None and cached[0] == stamp:
                    return cached[1]
                data = json.loads(fh.read())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            raise keyring.errors.KeyringError(f"the demo keyring {self.path} is unreadable") from None
        self._cache = (stamp, data)
        return data

    def _write(self, data: dict[str, str]) -> None:
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w") as fh:
            # One write of json.dumps (the C encoder) — json.dump streams through the pure-Python
            # encoder in thousands of small writes: 18 ms per write of 1,000 keys, and the audit head
            # is written here after every commit (a probe-all's writer: 40–80 of them).
            fh.write(json.dumps(data))
        os.replace(tmp, self.path)
        self._cache = (self._stamp(os.stat(self.path)), data)  # under the lock: nobody else wrote since

    @staticmethod
    def _key(service: str, username: str) -> str:
        return f"{service}\x1f{username}"

    def get_password(self, service: str, username: str) -> str | None:
        return self._read().get(self._key(service, username))

    @contextmanager
    def _locked(self):
        """Read-modify-write under an exclusive file lock: the panel and a CLI command may both write."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_suffix(".lock"), os.O_CREAT | os.O_WRONLY, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def set_password(self, service: str, username: str, password: str) -> None:
        # Breaker's own install keys are random bytes made for this demo home; provider keys must be sandbox ones.
        if ":cred:" in username and "SANDBOX" not in password:
            raise keyring.errors.PasswordSetError(
                "the demo keyring only holds sandbox keys (with SANDBOX in them); add real keys to your own "
                "inventory (run breaker without --home), where they go to the OS keyring"
            )
        with self._locked():
            data = dict(self._read())
            data[self._key(service, username)] = password
            self._write(data)

    def delete_password(self, service: str, username: str) -> None:
        with self._locked():
            data = dict(self._read())
            if data.pop(self._key(service, username), None) is None:
                raise keyring.errors.PasswordDeleteError("not found")
            self._write(data)


def system_keyring() -> KeyringBackend:
    """keyring's configured backend, or :class:`NoKeyringError` when none is usable."""
    backend = keyring.get_keyring()
    if not backend_usable(backend):
        raise NoKeyringError(NO_KEYRING_HELP)
    return backend


def backend_usable(backend: KeyringBackend) -> bool:
    from keyring.backends import fail

    if isinstance(backend, fail.Keyring):
        return False
    module = type(backend).__module__
    if module.startswith("keyring.backends.null") or module.startswith("keyrings.alt.file"):
        # null discards; keyrings.alt plaintext files are exactly the silent fallback we refuse
        return False
    chained = getattr(backend, "backends", None)
    if chained is not None:  # ChainerBackend: usable only if one of its members is
        return any(backend_usable(b) for b in chained)
    return True
