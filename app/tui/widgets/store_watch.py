"""Noticing changes made outside the panel — ``breaker disable`` in another terminal, a panic run
over SSH, a ``breaker gateway`` starting — and telling the open screens (:class:`StoreChanged`).

Every :data:`EVERY_S` seconds a thread worker asks :class:`app.services.changes.StoreWatch`, which
costs one ``PRAGMA data_version`` when nothing was committed; the UI thread never waits for it. The
panel's own changes are left out (they already post InventoryChanged, ProbesStored, SwitchesChanged),
and nothing is asked while this panel runs an emergency disable: that screen is the writer then, and
what others changed meanwhile is told once it ends.
"""

from __future__ import annotations

import logging
import threading

from textual import work
from textual.widget import Widget

from app.tui.messages import StoreChanged

EVERY_S = 1.0


class StoreWatcher(Widget):
    """Not shown; lives on the main screen, so it watches whichever screen is on top."""

    def __init__(self) -> None:
        super().__init__(id="store-watch")
        self.watch = None  # app.services.changes.StoreWatch, made by the first thread that needs it
        self.reading = False
        self.looks = 0  # looks finished (tests wait on it)
        self._made = threading.Lock()

    def on_mount(self) -> None:
        self.display = False
        self.set_interval(EVERY_S, self.check)

    def watching(self, services):
        with self._made:
            if self.watch is None:
                from app.services.changes import StoreWatch

                self.watch = StoreWatch(services)
            return self.watch

    def mark(self, services) -> None:
        """From a loading thread, before it reads what it shows: what was committed so far is shown."""
        try:
            self.watching(services).start()
        except Exception:  # the read that follows says what is wrong with the store
            logging.getLogger(__name__).debug("store watch not started", exc_info=True)

    def check(self) -> None:
        app = self.app
        if self.reading or not getattr(app, "services_ready", False) or getattr(app, "panic_running", False):
            return
        # One look at a time, never cancelling the one in flight (see HeldBanner.check).
        self.reading = True
        self.look()

    @work(thread=True, group="store-watch", exit_on_error=False, description="looking for changes made elsewhere")
    def look(self) -> None:
        try:
            outside = self.watching(self.app.services).poll()
        except Exception:  # a busy or damaged store: the next look tries again; reloads say what is wrong
            logging.getLogger(__name__).debug("store watch failed", exc_info=True)
            return
        finally:
            self.looks += 1
            self.reading = False
        if outside:
            self.app.post_message(StoreChanged(outside.names, outside.actions, outside.gateway))

    def on_unmount(self) -> None:
        if self.watch is not None:
            self.watch.close()
