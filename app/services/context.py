"""Wiring: one :class:`Services` object per open inventory, shared by the CLI and the panel.

The store stack (SQLAlchemy, SQLModel, pydantic: about half a second of CPU to import) is imported
by :func:`open_services`, not by this module: :class:`OpeningServices` lets `breaker probe` read
keys and send its first requests before it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from app.services.keyrings import DemoFileKeyring, system_keyring
from app.services.secrets import SecretStore
from app.settings import Settings

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend
    from sqlalchemy.engine import Engine

    from app.services.audit import AuditLog
    from app.services.inventory import Inventory

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


def secret_store(settings: Settings, install_id: str, keyring: KeyringBackend | None = None) -> SecretStore:
    """The keys of the inventory whose install id is ``install_id`` (the keyring is reached on first use)."""
    return SecretStore(keyring or keyring_for(settings) or partial(system_keyring), install_id)


def open_services(
    settings: Settings, keyring: KeyringBackend | None = None, *, secrets: SecretStore | None = None
) -> Services:
    """Open (and migrate) the store; the keyring is reached only when a secret or install key is needed.
    ``secrets``: the keys of this inventory, already in use (:class:`OpeningServices`)."""
    from app.services.audit import AuditLog
    from app.services.inventory import Inventory
    from app.store.db import open_store
    from app.store.errors import StoreError
    from app.store.migrations import install_id

    engine = open_store(settings.db_url)
    if secrets is None:
        secrets = secret_store(settings, install_id(engine), keyring)
    elif secrets.install_id != install_id(engine):
        engine.dispose()
        raise StoreError("Breaker's database was replaced while it was being opened; run the command again.")
    audit = AuditLog(secrets)
    return Services(
        settings=settings, engine=engine, secrets=secrets, audit=audit, inventory=Inventory(engine, secrets, audit)
    )


class OpeningServices:
    """:class:`Services` whose store is opened by the first thread that needs it.

    ``settings`` and ``secrets`` are there at once: enough to read keys, check where they may go and
    probe. Anything else (``engine``, ``audit``, ``inventory``, ``close`` …) is the opened
    :class:`Services`' own, and the first thread to ask opens the store (imports the store stack,
    migrates if needed) while the others wait for it. `breaker probe` hands this to its prober: the
    requests go out while a worker thread imports SQLAlchemy, and every result and audit event is
    then written exactly as with opened services (tests/cli/test_probe_opening.py)."""

    def __init__(self, settings: Settings, secrets: SecretStore) -> None:
        self.settings = settings
        self.secrets = secrets
        self._lock = threading.Lock()
        self._opened: Services | None = None

    @property
    def is_open(self) -> bool:
        return self._opened is not None

    def opened(self) -> Services:
        """The services, the store opened (by this call, if no thread did before)."""
        if self._opened is None:
            with self._lock:
                if self._opened is None:
                    self._opened = open_services(self.settings, secrets=self.secrets)
        return self._opened

    def __getattr__(self, name: str) -> Any:  # only for what __init__ did not set
        return getattr(self.opened(), name)
