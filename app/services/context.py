"""Wiring: one :class:`Services` object per open inventory, shared by the CLI and the panel."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import partial

from keyring.backend import KeyringBackend
from sqlalchemy.engine import Engine

from app.services.audit import AuditLog
from app.services.inventory import Inventory
from app.services.keyrings import DemoFileKeyring, system_keyring
from app.services.secrets import SecretStore
from app.settings import Settings
from app.store.db import open_store
from app.store.migrations import install_id

_SWITCHES_LOCK = threading.Lock()


@dataclass
class Services:
    settings: Settings
    engine: Engine
    secrets: SecretStore
    audit: AuditLog
    inventory: Inventory
    _switches: object | None = field(default=None, repr=False)

    @property
    def prober(self):
        from app.services.probing import Prober  # httpx is only imported when probing is used

        return Prober(self)

    @property
    def switches(self):
        """One switchboard per open inventory (it owns a writer thread; closed with the services)."""
        if self._switches is None:
            with _SWITCHES_LOCK:  # the panel's workers may ask from two threads at once
                if self._switches is None:
                    from app.services.switches import Switches

                    self._switches = Switches(self)
        return self._switches

    @property
    def review(self):
        """The weekly review (issue 11)."""
        from app.services.review import ReviewService

        return ReviewService(self)

    def close(self) -> None:
        if self._switches is not None:
            self._switches.close()
            self._switches = None
        self.engine.dispose()


def keyring_for(settings: Settings) -> KeyringBackend | None:
    """The demo home's own file keyring, or None for keyring's configured backend."""
    if settings.demo and settings.home is not None:
        return DemoFileKeyring(settings.home)
    return None


def open_services(settings: Settings, keyring: KeyringBackend | None = None) -> Services:
    """Open (and migrate) the store; the keyring is reached only when a secret or install key is needed."""
    engine = open_store(settings.db_url)
    backend = keyring or keyring_for(settings) or partial(system_keyring)
    secrets = SecretStore(backend, install_id(engine))
    audit = AuditLog(secrets)
    return Services(
        settings=settings, engine=engine, secrets=secrets, audit=audit, inventory=Inventory(engine, secrets, audit)
    )
