"""What a command gets besides its arguments: settings and services, opened only when needed.

``breaker --help`` or a usage error must not create a database, and ``breaker list`` must not
reach the keyring, so nothing is opened until a command asks for it.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TextIO

from app.cli.parser import UsageError
from app.settings import Settings, load_settings

if TYPE_CHECKING:  # the store stack (SQLModel, SQLAlchemy, keyring) loads only when a command needs it
    from app.services.context import OpeningServices, Services
    from app.services.views import ConnectorView
    from app.store.snapshot import ListingRows


class CliContext:
    def __init__(
        self,
        args: argparse.Namespace,
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        self.args = args
        # Read the streams at call time (not import time) so tests that swap sys.stdin/stdout see them.
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self._settings: Settings | None = None
        self._services: Services | None = None
        self._opening: OpeningServices | None = None

    # -- global options ------------------------------------------------------------------------
    @property
    def home(self) -> str | None:
        return getattr(self.args, "home", None)

    CREATES_HOME = frozenset({"add", "demo", "sandbox"})  # commands that may start a new home

    def check_home(self) -> None:
        """A mistyped ``--home`` must not open a fresh, empty inventory as if it were the owner's."""
        command = getattr(self.args, "command", None)  # `exec` has its own list-valued "command"
        if not self.home or (isinstance(command, str) and command in self.CREATES_HOME):
            return
        from pathlib import Path

        from app.cli.parser import UsageError

        path = Path(self.home).expanduser()
        if not path.exists():
            raise UsageError(
                f"--home {self.home} does not exist, so there is no inventory there. Check the path; "
                f"`breaker --home {self.home} add` starts a new inventory there, `breaker --home {self.home} demo` a demo"
            )
        if not path.is_dir():
            raise UsageError(f"--home {self.home} is a file, not a folder")

    @property
    def db(self) -> str | None:
        return getattr(self.args, "db", None)

    @property
    def read_only(self) -> bool:
        return bool(getattr(self.args, "read_only", False))

    # -- lazily opened ---------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(home=self.home, db=self.db, read_only=self.read_only)
        return self._settings

    def use_settings(self, settings: Settings) -> None:
        """Replace the settings (the demo prepares its own home) before services are opened."""
        self.close()
        self._settings = settings

    @property
    def services(self) -> Services:
        if self._services is None:
            if self._opening is not None:
                self._services = self._opening.opened()
            else:
                from app.services.context import open_services

                self._services = open_services(self.settings)
        return self._services

    def views_and_opening_services(self) -> tuple[list[ConnectorView], Services | OpeningServices]:
        """The whole inventory and services whose store opens on the first thread that needs it
        (:class:`~app.services.context.OpeningServices`): `breaker probe` reads the keys and sends its
        first requests before SQLAlchemy is imported. An existing SQLite file at this schema is read
        with the standard library; anything else goes through the opened services, as
        :meth:`inventory_views` does."""
        from app.services.context import OpeningServices, secret_store
        from app.services.views import build_views
        from app.store.snapshot import read_inventory_and_install_id

        path = self.settings.db_path
        found = None
        if path is not None and self._services is None and self._opening is None:
            found = read_inventory_and_install_id(path)
        if found is None:
            return self.services.inventory.list(), self.services
        rows, install_id = found
        self._opening = OpeningServices(self.settings, secret_store(self.settings, install_id))
        return build_views(rows), self._opening

    def inventory_views(self, text: str = "") -> list[ConnectorView]:
        """The inventory, for commands that only read it. An existing SQLite file at this schema is
        read with the standard library alone (no SQLAlchemy, no keyring: `breaker list` of 10,000
        connectors in a third of a second); anything else — a new, older, newer, damaged or
        non-SQLite database — goes through the services, which create, migrate or refuse it."""
        from app.services.views import build_views, filter_views
        from app.store.snapshot import read_inventory_file

        path = self.settings.db_path
        rows = read_inventory_file(path) if path is not None and self._services is None else None
        if rows is None:
            return self.services.inventory.list(text)
        views = build_views(rows)
        return filter_views(views, text) if text else views

    def listing_rows(self) -> ListingRows | None:
        """The columns `breaker list --json` shows of the whole inventory, read as
        :meth:`inventory_views` reads (the standard library alone), or None when only the services
        can open the database (then list through :meth:`inventory_views`)."""
        from app.store.snapshot import read_listing_file

        path = self.settings.db_path
        return read_listing_file(path) if path is not None and self._services is None else None

    def close(self) -> None:
        if self._services is None and self._opening is not None and self._opening.is_open:
            self._services = self._opening.opened()  # opened by a worker thread: closed here
        self._opening = None
        if self._services is not None:
            unsealed = self._services.audit.unsealed_written
            self._services.close()
            self._services = None
            if unsealed:  # the keyring could not be read: say what that means for the audit log
                self.stderr.write(
                    f"Note: the keyring could not be read, so {unsealed} audit entr{'y was' if unsealed == 1 else 'ies were'} "
                    "kept unsealed; they are sealed into the audit chain by the next change made with the keyring "
                    "open (`breaker audit --verify` counts them).\n"
                )

    # -- guards ------------------------------------------------------------------------------------
    def require_writable(self, command: str) -> None:
        """Refuse a command that changes the inventory under ``--read-only`` (the flag, not the config:
        [ui] read_only is about the panel's keys)."""
        if self.read_only:
            raise UsageError(f"`breaker {command}` changes the inventory; it is refused with --read-only")

    def stdin_is_terminal(self) -> bool:
        isatty = getattr(self.stdin, "isatty", None)
        try:
            return bool(isatty and isatty())
        except (ValueError, OSError):  # a closed or detached stream
            return False
