"""The new key of a rotation, handed on by hand: once, on request, then forgotten.

A client Breaker launches (``breaker exec NAME -- …``) gets the new key by itself. A client it does
not launch — a Zapier flow, a ChatGPT action — must be given the new key by the owner. After a
rotation in which the provider made the new key (the owner never saw it), the switch service keeps
an *offer*: the connector and the keyring reference of its new key, never the key. The panel takes
the offer once (:meth:`Handoffs.take`); the key is read from the keyring only when the owner asks
to see or copy it (:meth:`KeyHandoff.reveal`, audited as ``key.shown`` with its fingerprint, never
its value), and :meth:`KeyHandoff.forget` drops it when the dialog closes. A second ``take`` of the
same rotation finds nothing: to see a key again, rotate again. The key itself stays where it always
is, in the keyring, for ``breaker exec``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from app.services.views import ConnectorView
from app.store.db import session_scope
from connectors.base import Secret


class HandoffGone(Exception):
    """The offer was used and forgotten, or its key is no longer in the keyring. One line."""


@dataclass(frozen=True)
class Offer:
    connector: str
    client: str  # what uses the key ("Zapier meeting flow"), or ""
    env_var: str  # what `breaker exec` sets, for the sentence that says when nothing is to do
    keyring_ref: str
    fingerprint: str
    last4: str


class KeyHandoff:
    """One rotation's new key, shown to the owner once. Holds the key only between :meth:`reveal`
    and :meth:`forget`."""

    def __init__(self, services, offer: Offer) -> None:
        self._services = services
        self.offer = offer
        self._secret: Secret | None = None
        self._forgotten = False
        self._lock = threading.Lock()

    @property
    def connector(self) -> str:
        return self.offer.connector

    @property
    def client(self) -> str:
        return self.offer.client

    @property
    def last4(self) -> str:
        return self.offer.last4

    @property
    def held(self) -> bool:
        """The key is in memory (revealed, not yet forgotten)."""
        return self._secret is not None

    def reveal(self) -> Secret:
        """The new key, read from the keyring on the first call (audited ``key.shown``). Blocking:
        call it from a worker thread. Raises :class:`HandoffGone` once forgotten."""
        with self._lock:
            if self._forgotten:
                raise HandoffGone(
                    f"the new key of {self.connector} was shown once and forgotten; "
                    f"`breaker exec {self.connector}` still hands it out, or rotate again for a new one"
                )
            if self._secret is None:
                secret = self._services.secrets.get(self.offer.keyring_ref)
                if secret is None:
                    raise HandoffGone(f"the new key of {self.connector} is no longer in the keyring")
                with session_scope(self._services.engine) as s:
                    self._services.audit.record(
                        s,
                        "key.shown",
                        self.connector,
                        new={
                            "fingerprint": self.offer.fingerprint,
                            "last4": self.offer.last4,
                            "why": "shown once to hand on by hand" + (f" to {self.client}" if self.client else ""),
                        },
                    )
                self._secret = secret
            return self._secret

    def forget(self) -> None:
        """Drop the key from memory; the offer cannot be revealed again."""
        with self._lock:
            self._secret = None
            self._forgotten = True


class Handoffs:
    """The offers of one open inventory, by connector: at most one each (the latest rotation's)."""

    def __init__(self, services) -> None:
        self._services = services
        self._offers: dict[str, Offer] = {}
        self._lock = threading.Lock()

    def offer_if_rotated(self, name: str, before: ConnectorView | None) -> bool:
        """After a rotation by the provider's API: offer the new key if the connector now hands out a
        different key than ``before`` did. Blocking (reads the store). True when an offer was made."""
        after = self._services.inventory.get(name)
        cred = after.credential
        old = before.credential if before is not None else None
        if cred is None or not cred.active or (old is not None and cred.keyring_ref == old.keyring_ref):
            return False
        with self._lock:
            self._offers[name] = Offer(
                name, after.client, after.env_var, cred.keyring_ref, cred.fingerprint, cred.last4
            )
        return True

    def waiting(self, name: str) -> bool:
        return name in self._offers

    def take(self, name: str) -> KeyHandoff | None:
        """The offer for ``name``, once: a second call returns None."""
        with self._lock:
            offer = self._offers.pop(name, None)
        return KeyHandoff(self._services, offer) if offer is not None else None
