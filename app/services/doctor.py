"""`breaker doctor`: is this machine ready to keep keys? One line per check: ok, or what to do.

The same keyring check runs in the panel before the add form opens, so the owner learns that no
keyring is usable before pasting a key, not in a paragraph under Save.
"""

from __future__ import annotations

import os
import secrets as _random
import stat
from dataclasses import dataclass

import keyring.errors

from app.settings import ConfigError, Settings


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # what was found (ok) or what to do (not ok)
    problem: str = ""  # not ok: what was found, in one short sentence (the panel's first line)

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FIX '} {self.name}: {self.detail}"


KEYRING_FIX = (
    "no usable keyring, so Breaker cannot store keys. Desktop: unlock your login keyring. Headless Linux: "
    "see the README's “Headless Linux” recipe (a Secret Service under dbus-run-session), or set "
    "PYTHON_KEYRING_BACKEND"
)


def backend_name(backend) -> str:
    kind = type(backend)
    chained = getattr(backend, "backends", None)
    name = f"{kind.__module__}.{kind.__qualname__}"
    if chained:
        name += " (" + ", ".join(f"{type(b).__module__}.{type(b).__qualname__}" for b in chained) + ")"
    return name


def keyring_check(backend_factory) -> Check:
    """Store, read back and delete a throwaway item: the keyring works end to end, or what to do."""
    from app.services.keyrings import NoKeyringError, backend_usable

    def failed(problem: str) -> Check:
        stop = "" if problem.endswith("?") else "."
        return Check("keyring", False, f"{problem}{stop} {KEYRING_FIX}", problem=problem)

    try:
        backend = backend_factory()
    except NoKeyringError:
        return failed("No keyring could be found on this machine")
    except Exception as exc:  # a backend that fails to load (e.g. no D-Bus session)
        return failed(f"The keyring could not be opened ({type(exc).__name__})")
    name = backend_name(backend)
    if not backend_usable(backend):
        return failed(f"{name} is not a safe place for keys")
    user = f"doctor-check-{_random.token_hex(4)}"
    value = _random.token_hex(16)
    step = "store"
    try:
        backend.set_password("breaker", user, value)
        step = "read back"
        if backend.get_password("breaker", user) != value:
            return failed(f"{name} did not give back what it stored")
        step = "delete"
        backend.delete_password("breaker", user)
        step = "check the delete of"
        if backend.get_password("breaker", user) is not None:
            return failed(f"{name} did not delete a test item")
    except Exception as exc:  # locked, denied, no D-Bus, a passphrase prompt without a terminal
        if isinstance(exc, keyring.errors.KeyringLocked) and type(backend).__module__ == "app.services.filekeyring":
            return failed(str(exc))  # Breaker's own sentence (how to give the passphrase), never a key
        return failed(f"{name} could not {step} a test item ({type(exc).__name__}); is it locked?")
    return Check("keyring", True, f"{name} stores, reads and deletes")


def database_check(settings: Settings) -> Check:
    from app.store.db import open_store
    from app.store.errors import StoreError

    path = settings.db_path
    try:
        engine = open_store(settings.db_url)
        engine.dispose()
    except StoreError as exc:
        return Check("database", False, str(exc))
    except Exception as exc:
        return Check(
            "database", False, f"cannot open {settings.db_url.split('://')[0]} database ({type(exc).__name__})"
        )
    if path is None:
        return Check("database", True, f"{settings.db_url.split('://')[0]} database opens at the current schema")
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        return Check("database", False, f"{path} can be read by other users (mode {mode:o}): run chmod 600 {path}")
    folder = stat.S_IMODE(os.stat(path.parent).st_mode)
    if folder & 0o022:
        return Check("database", False, f"others can write the folder {path.parent}: run chmod 700 {path.parent}")
    return Check("database", True, f"{path} opens, mode {mode:o}")


def config_check(home, db) -> tuple[Check, Settings | None]:
    from app.settings import load_settings

    try:
        settings = load_settings(home=home, db=db)
    except ConfigError as exc:
        return Check("config", False, str(exc)), None
    where = settings.config_path
    return Check("config", True, f"{where}" + ("" if where.exists() else " (not present: defaults)")), settings


def audit_check(services) -> Check:
    status = services.audit.verify(services.engine)
    if status.ok:
        return Check("audit chain", True, status.summary())
    return Check(
        "audit chain",
        False,
        f"{status.summary()} — keep a copy of the database and tell whoever else can write it; "
        "see `breaker audit --verify`",
    )


def seals_check(services) -> Check:
    from app.services import binding

    refused = []
    for view in services.inventory.list():
        for cred in view.credentials:
            if cred.binding and not binding.matches(
                services.secrets, cred.keyring_ref, binding.of_view(view), cred.binding
            ):
                refused.append(view.name)
                break
    if refused:
        names = ", ".join(refused[:5]) + (" …" if len(refused) > 5 else "")
        return Check(
            "key destinations",
            False,
            f"{len(refused)} connector(s) changed outside Breaker ({names}): check each, then "
            "`breaker edit NAME --confirm-destination`",
        )
    return Check("key destinations", True, "every key goes where it was set to go")


def sandbox_check(settings: Settings) -> Check | None:
    """For a demo home: is its sandbox running?"""
    if not settings.demo or settings.home is None:
        return None
    from app.services.demo import demo_port

    port = demo_port(settings)
    if port is None:
        return Check("sandbox", False, f"no sandbox port in {settings.config_path}: run `breaker demo` again")
    import httpx

    try:
        response = httpx.get(f"http://127.0.0.1:{port}/_sandbox/", timeout=1.0)
        running = response.status_code == 200
    except (httpx.HTTPError, ValueError):
        running = False
    if running:
        return Check("sandbox", True, f"answers on 127.0.0.1:{port}")
    return Check(
        "sandbox", False, f"not running on 127.0.0.1:{port}: run `breaker --home {settings.home} demo` to start it"
    )


def run_checks(home, db, keyring_factory=None) -> list[Check]:
    from app.services.context import keyring_for, open_services
    from app.services.keyrings import system_keyring

    config, settings = config_check(home, db)
    checks = [config]
    if settings is None:
        return checks
    demo_backend = keyring_for(settings)
    factory = keyring_factory or ((lambda: demo_backend) if demo_backend is not None else system_keyring)
    keyring_ok = keyring_check(factory)
    checks.append(keyring_ok)
    db_check = database_check(settings)
    checks.append(db_check)
    if db_check.ok and keyring_ok.ok:
        services = open_services(settings)
        try:
            checks.append(audit_check(services))
            checks.append(seals_check(services))
        except Exception as exc:  # the keyring or store failed mid-way: say so, keep the other lines
            checks.append(Check("audit chain", False, f"could not be checked ({type(exc).__name__})"))
        finally:
            services.close()
    sandbox = sandbox_check(settings)
    if sandbox is not None:
        checks.append(sandbox)
    return checks
