"""Secrets live only in the keyring, under the service name ``breaker``.

The store keeps a reference and a fingerprint: a short HMAC-SHA256 of the key under a
per-install key (itself in the keyring) plus the key's last four characters. Enough to tell
that two connectors share a key, or that a leaked key is one of ours, without keeping anything
that could be reversed. Keyring usernames are namespaced by the database's install id, so a
demo or test home never reads or overwrites the owner's real entries.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as _random
import threading
from collections.abc import Callable
from dataclasses import dataclass

import keyring.errors
from keyring.backend import KeyringBackend

from app.services.keyrings import NO_KEYRING_HELP, NO_KEYRING_READ, NoKeyringError
from connectors.base import Secret
from connectors.masking import mask, mask_known

SERVICE = "breaker"
# Keyring writes are serialised in-process: some backends (the demo file keyring) read, modify and
# write, and the panel's probe writer and a switch can write at the same moment.
_WRITE_LOCK = threading.Lock()
_INSTALL_KEY_LOCK = threading.Lock()
FINGERPRINT_HEX = 12


class SecretStoreError(Exception):
    """The keyring refused or failed. The message never contains the secret."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail  # the backend's own words, masked (for "the keyring … could not be read (detail)")


def _backend_says(exc: BaseException, *values: str) -> str:
    """A keyring backend's own words, one line, short, with every form of every key masked (the value
    being stored, and any key this process has held): some backends quote what they were given."""
    text = mask_known(mask(" ".join(str(exc).split()), values))[
        :300
    ]  # masked before cut: a cut key still leaks its head
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass(frozen=True)
class Fingerprint:
    digest: str  # 12 hex characters
    last4: str

    def __str__(self) -> str:
        return f"{self.digest}…{self.last4}" if self.last4 else self.digest


class SecretStore:
    def __init__(self, backend: KeyringBackend | Callable[[], KeyringBackend], install_id: str) -> None:
        # A factory is resolved on first use: `breaker list` must work without touching the keyring.
        self._backend = backend if isinstance(backend, KeyringBackend) else None
        self._factory = None if isinstance(backend, KeyringBackend) else backend
        self.install_id = install_id
        self._install_keys: dict[str, bytes] = {}

    @property
    def backend(self) -> KeyringBackend:
        if self._backend is None:
            assert self._factory is not None
            self._backend = self._factory()  # may raise NoKeyringError, with the fix in its message
        return self._backend

    # -- low level -------------------------------------------------------------------
    def _username(self, ref: str) -> str:
        return f"{self.install_id}:{ref}"

    def _get(self, ref: str) -> str | None:
        try:
            return self.backend.get_password(SERVICE, self._username(ref))
        except (keyring.errors.NoKeyringError, NoKeyringError):
            raise NoKeyringError(NO_KEYRING_READ) from None
        except SecretStoreError:
            raise
        except Exception as exc:  # any backend, any error: its text is never shown unmasked
            says = _backend_says(exc)
            raise SecretStoreError(
                f"the keyring could not be read ({says}); is it locked? `breaker doctor` checks it", says
            ) from None

    def _set(self, ref: str, value: str) -> None:
        try:
            with _WRITE_LOCK:
                self.backend.set_password(SERVICE, self._username(ref), value)
        except keyring.errors.NoKeyringError:
            raise NoKeyringError(NO_KEYRING_HELP) from None
        except (NoKeyringError, SecretStoreError):
            raise
        except keyring.errors.PasswordSetError as exc:
            raise SecretStoreError(f"the keyring refused the key: {_backend_says(exc, value)}") from None
        except Exception as exc:
            raise SecretStoreError(
                f"the keyring could not store the key ({_backend_says(exc, value)}); is it locked? "
                "`breaker doctor` checks it"
            ) from None

    # -- connector credentials ------------------------------------------------------------
    @staticmethod
    def credential_ref(credential_uid: str) -> str:
        return f"cred:{credential_uid}"

    @staticmethod
    def new_credential_ref() -> str:
        return SecretStore.credential_ref(_random.token_hex(8))

    def put(self, ref: str, secret: Secret) -> None:
        self._set(ref, secret.reveal())

    def get(self, ref: str) -> Secret | None:
        value = self._get(ref)
        return Secret(value) if value is not None else None

    def delete(self, ref: str) -> bool:
        try:
            with _WRITE_LOCK:
                self.backend.delete_password(SERVICE, self._username(ref))
            return True
        except keyring.errors.PasswordDeleteError:
            return False
        except (NoKeyringError, SecretStoreError):
            raise
        except Exception as exc:
            raise SecretStoreError(f"the keyring could not delete the key ({_backend_says(exc)})") from None

    # -- per-install keys -------------------------------------------------------------------
    def has_install_key(self, name: str) -> bool:
        """Whether the keyring holds the install key ``name`` (without making one)."""
        return name in self._install_keys or self._get(f"install:{name}") is not None

    def install_key(self, name: str) -> bytes:
        """A random 32-byte key made once per install and kept in the keyring (fingerprints, audit)."""
        if name not in self._install_keys:
            with _INSTALL_KEY_LOCK:  # two threads on first use must not each invent a key
                ref = f"install:{name}"
                value = self._get(ref)
                if value is None:
                    self._set(ref, _random.token_hex(32))
                    value = self._get(ref)  # use what the keyring kept, should another process have raced us
                    if value is None:
                        raise SecretStoreError("the keyring did not keep Breaker's install key; is it read-only?")
                self._install_keys[name] = bytes.fromhex(value)
        return self._install_keys[name]

    def get_value(self, ref: str) -> str | None:
        """A non-secret value kept beside the install keys (the audit chain head)."""
        return self._get(ref)

    def set_value(self, ref: str, value: str) -> None:
        self._set(ref, value)

    def fingerprint(self, secret: Secret) -> Fingerprint:
        digest = hmac.new(self.install_key("fingerprint"), secret.reveal().encode(), hashlib.sha256).hexdigest()
        return Fingerprint(digest[:FINGERPRINT_HEX], secret.last4)
