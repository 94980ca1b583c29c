"""The main screen: summary strip, filter, connector table.

One method per action (``action_<name>``), each taking an optional connector name so the
connector screen and the command palette reuse them. Probing and the switches are composed in, as
the widgets :class:`app.tui.flows.probe.ProbeFlow` (also the probe-all progress line) and
:class:`app.tui.flows.switch.SwitchFlow`, which reach back only through
:class:`app.tui.flows.base.FlowHost`: ``views``, ``table`` and ``target``.
The weekly review (``w``) is :mod:`app.tui.screens.review`, with its banner above the table
when a review is due (only when something is in its queue) or open.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Static
from textual.worker import get_current_worker

from app.tui.actions import BY_ACTION, CONNECTOR_ACTIONS, PanelAction, unavailable_message
from app.tui.flows.probe import ProbeFlow
from app.tui.flows.switch import SwitchFlow
from app.tui.markup import escape
from app.tui.messages import (
    ConnectorRemoved,
    InventoryChanged,
    InventoryFailed,
    InventoryLoaded,
    ProbesStored,
    RemoveFailed,
    ReviewBanner,
    ServicesOpened,
    StoreChanged,
    SwitchesChanged,
)
from app.tui.screens.base import ReportsWorkerErrors
from app.tui.widgets.connector_table import ConnectorTable
from app.tui.widgets.gateway_line import GatewayLine
from app.tui.widgets.held_banner import HeldBanner
from app.tui.widgets.key_bar import KeyBar
from app.tui.widgets.store_watch import StoreWatcher
from app.tui.widgets.summary import SummaryStrip

if TYPE_CHECKING:
    from app.services.views import ConnectorView


class MainScreen(ReportsWorkerErrors, Screen):
    BINDINGS = [
        *(a.binding() for a in CONNECTOR_ACTIONS),
        Binding("escape", "clear_filter", "clear filter", show=False, id="clear-filter"),
        Binding("q", "app.quit", "quit", show=False, id="quit-main", tooltip="Leave Breaker (ctrl+q anywhere)."),
    ]
    AUTO_FOCUS = "#connectors"
    OPEN_RETRY_S = 5.0  # how often a store that would not open is tried again

    def __init__(self) -> None:
        super().__init__(id="main")
        self.views: list[ConnectorView] = []
        self.loaded = False
        self.generation = 0
        self.keyring_ready = False  # the keyring passed doctor's check in this panel (action_add)
        self.services_seen = False  # the first open of the store was handled (bindings, resume offer)
        self.first_rows_painted = threading.Event()  # the loading thread opens the store after it
        self.open_failed = False  # the store failed to open at least once (told once, then retried)
        self.had_selection = False  # what check_action last saw (see selection_changed)
        self.probing = ProbeFlow(self, id="probe-progress")
        self.switching = SwitchFlow(self)
        self.watcher = StoreWatcher()  # changes made outside the panel (another terminal)

    # -- layout -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        self.breakpoint_classes_now()  # before any child is styled (see the method)
        yield Header()
        yield SummaryStrip(id="summary")
        yield Static("", id="review-banner")
        yield HeldBanner(id="held-banner")
        yield GatewayLine(id="gateway-line")
        yield Input(
            placeholder="/  filter by name, provider, owner, mode, tag or purpose — escape clears",
            id="filter",
            compact=True,
        )
        yield ConnectorTable(id="connectors")
        yield Static("", id="empty")
        yield self.probing
        yield self.switching
        yield self.watcher
        yield KeyBar()

    @property
    def table(self) -> ConnectorTable:
        return self.query_one(ConnectorTable)

    @property
    def filter_input(self) -> Input:
        return self.query_one("#filter", Input)

    @property
    def summary_strip(self) -> SummaryStrip:
        return self.query_one(SummaryStrip)

    @property
    def services(self):
        return self.app.services

    @property
    def selected(self) -> ConnectorView | None:
        return self.table.selected

    def on_mount(self) -> None:
        self.query_one("#review-banner", Static).display = False
        shown_first = self.show_first_screenful()
        if not shown_first:
            self.show_empty("Opening the inventory…")
        app = self.app
        app.theme_changed_signal.subscribe(self, lambda _theme: self.redraw())
        app.inventory_changed_signal.subscribe(self, self.inventory_changed)
        app.probes_stored_signal.subscribe(self, self.probes_stored)
        app.switches_changed_signal.subscribe(self, self.switches_changed)
        app.store_changed_signal.subscribe(self, self.store_changed)
        # paint the first frame (with its rows when they were read here), then read the inventory
        self.call_after_refresh(app.first_frame_painted)
        self.call_after_refresh(self.reload, None, shown_first)

    def breakpoint_classes_now(self) -> None:
        """The breakpoint classes (``-short`` / ``-tall``) before the first layout, as Textual's
        ``Screen._on_resize`` picks them. Textual sets them on the screen's first Resize, which comes
        after the first frame: the new class restyles every widget, which empties the table's render
        caches, and its first screenful was rendered a second time (319 cells at 120×36). Set here,
        that Resize finds nothing to change. bench_startup's panel at 1,000 connectors, callgrind:
        2,132 M instructions to the first frame with rows before, 1,923 M after. Called from
        ``compose``, before the children are mounted, so that each is styled once with the class
        (from ``on_mount`` the new class restyled every widget once more: 1,666 → 1,640 M)."""
        app = self.app
        width, height = app.size
        horizontal = app.HORIZONTAL_BREAKPOINTS if self.HORIZONTAL_BREAKPOINTS is None else self.HORIZONTAL_BREAKPOINTS
        vertical = app.VERTICAL_BREAKPOINTS if self.VERTICAL_BREAKPOINTS is None else self.VERTICAL_BREAKPOINTS
        classes: dict[str, bool] = {}
        for dimension, points in ((width, horizontal or []), (height, vertical or [])):
            reached = max(((at, name) for at, name in points if dimension >= at), default=None)
            classes.update({name: reached is not None and name == reached[1] for _at, name in points})
        self.update_classes(classes, animate=False)

    # -- data -------------------------------------------------------------------------------
    def show_first_screenful(self) -> bool:
        """The first screenful in the very first frame: an existing inventory's first rows, read with
        sqlite3 alone before anything is painted (a few milliseconds: the rows come one frame and
        one thread hop sooner; bench_startup). Never waits: if the file is busy, new, of another
        schema or damaged, False, and the loading thread reads it and says what is wrong."""
        from app.services.views import build_views
        from app.store.snapshot import read_inventory_file

        settings = self.app.settings
        path = settings.db_path if settings is not None else None
        if path is None:
            return False
        try:
            first = read_inventory_file(path, first=ConnectorTable.first_chunk(self.app.size.height), wait=0.0)
        except Exception:
            return False
        if not first or not first.connectors:  # an empty inventory: the welcome waits for the store
            return False
        self.views, self.loaded = build_views(first), True
        self.redraw()
        self.call_after_refresh(self.first_rows_painted.set)
        return True

    def reload(self, select: str | None = None, first_shown: bool = False) -> None:
        """Read the inventory in a thread (four queries whatever its size); the table follows."""
        self.generation += 1
        self.load_inventory(self.app, select, self.generation, first_shown)

    @work(thread=True, exclusive=True, group="inventory-load", exit_on_error=False, description="reading the inventory")
    def load_inventory(self, app, select: str | None, generation: int, first_shown: bool = False) -> None:
        # A thread: the first call also opens the store (and imports SQLModel). Posts only.
        try:
            if not app.services_ready and self.read_before_opening(app, select, generation, first_shown):
                # Open the store once the first rows are painted: importing it holds the GIL for
                # half a second, and the owner's first look matters more. The actions are greyed
                # until then.
                self.first_rows_painted.wait(timeout=2.0)
                self.post_message(ServicesOpened(app.open_services()))
                return
            services = app.open_services()
            self.watcher.mark(services)  # changes committed after this are told (StoreWatcher)
            views = services.inventory.list()
            last_review_at = self.last_review_at(services)
            summary = services.inventory.summary(
                views, key_age_warn_days=services.settings.key_age_warn_days, last_review_at=last_review_at
            )
        except Exception as exc:  # a locked or damaged store: one line, the panel stays up
            self.post_message(InventoryFailed(str(exc) or type(exc).__name__))
            return
        self.post_message(InventoryLoaded(services, views, summary, last_review_at, select, generation))

    def read_before_opening(self, app, select: str | None, generation: int, first_shown: bool = False) -> bool:
        """At start, show the rows before the store stack is even imported: an existing SQLite
        inventory at this schema is read with sqlite3 alone (app.store.snapshot) — a third of a
        second sooner for 1,000 connectors. False when only the full store can read it (a new,
        older or non-SQLite database); a damaged one raises StoreError like the full store would."""
        from app.services.views import build_views, summarize
        from app.store.snapshot import read_inventory_file

        settings = app.settings
        path = settings.db_path if settings is not None else None
        # The first screenful first (the summary strip waits for the whole inventory), then the rest
        # once those rows are painted: for 10,000 connectors the whole read takes most of a second.
        if path is None:
            return False
        if not first_shown:  # show_first_screenful could not read it before the first frame
            first = read_inventory_file(path, first=ConnectorTable.first_chunk(app.size.height))
            if first is None:
                return False
            self.post_message(InventoryLoaded(None, build_views(first), None, None, select, generation))
        self.first_rows_painted.wait(timeout=2.0)
        rows = read_inventory_file(path)
        if rows is None:  # replaced by an older or newer database meanwhile: the full store decides
            return False
        views = build_views(rows)
        summary = summarize(views, settings.key_age_warn_days, None)
        self.post_message(InventoryLoaded(None, views, summary, None, select, generation))
        return True

    @staticmethod
    def last_review_at(services):
        """When the weekly review was last finished (None: never)."""
        review = getattr(services, "review", None)
        return review.last_finished_at() if review is not None and hasattr(review, "last_finished_at") else None

    @on(InventoryLoaded)
    def _loaded(self, message: InventoryLoaded) -> None:
        if message.services is not None:
            self._services_opened(message.services)
        if message.generation != self.generation:
            return  # an older read finishing late; the newer one is on its way
        self.views = message.views
        first = not self.loaded
        self.loaded = True
        if message.summary is not None:  # None: the first screenful, before the whole inventory
            self.summary_strip.show(
                message.summary,
                key_age_warn_days=self.app.settings.key_age_warn_days,
                last_review_at=message.last_review_at,
            )
            self.show_nothing_due()
        self.redraw(message.select)
        if first:
            self.call_after_refresh(self.first_rows_painted.set)
        if self.app.services_ready:
            self.refresh_review_banner()
            if not self.views and self.app.screen is self:  # never over another screen (a panic's summary)
                self.welcome()

    def welcome(self) -> None:
        """A new owner (empty inventory): what Breaker is for and the ways in. Not in read-only mode."""
        if self.app.read_only:
            return
        from app.tui.screens.welcome import ADD, DEMO, SCAN, WelcomeScreen

        def chosen(way: str | None) -> None:
            if way == ADD:
                self.action_add()
            elif way == SCAN:
                self.open_scan_when_ready()
            elif way == DEMO:
                self.app.exit(DEMO)  # the command line opens the demo (app.cli.panel)

        self.app.push_screen(WelcomeScreen(can_scan=True), chosen)

    def open_scan_when_ready(self, *, told: bool = False) -> None:
        """The scan screen; if the store is still opening (the welcome can come first), as soon as it is open."""
        if self.app.services_ready:
            self.app.action_scan()
            return
        if not told:
            self.notify("The inventory is still opening; the search starts as soon as it is open.", title="Find keys")
        self.set_timer(0.2, lambda: self.open_scan_when_ready(told=True))

    @on(ServicesOpened)
    def _opened(self, message: ServicesOpened) -> None:
        self._services_opened(message.services, reread=True)

    def _services_opened(self, services, *, reread: bool = False) -> None:
        self.app.services_opened(services)
        if self.services_seen:
            return
        self.services_seen = True
        if reread:  # the rows came from the plain read: read once more, now that the store is open
            self.reload()
        if self.open_failed:
            self.query_one("#empty", Static).display = False
            self.notify("The inventory is open.", title="Panel")
        self.refresh_bindings()  # the actions were greyed while the store opened
        if "panic" in self.app.features:
            self.switching.unfinished_worker()  # an interrupted emergency disable is offered, never resumed on its own

    @on(InventoryFailed)
    def _failed(self, message: InventoryFailed) -> None:
        if self.app.services_ready:  # a later reload failed: what is shown stays, with the reason
            self.notify(message.message, title="Cannot read the inventory", severity="error")
            return
        # The store did not open (locked by another program, damaged, no keyring …): say so once,
        # keep any rows the plain read showed (actions stay greyed), and try again quietly.
        if self.loaded:
            self.show_empty(
                f"[$text-error]The inventory could not be opened for changes:[/] "
                f"{escape(message.message)} Shown read-only; retrying every {self.OPEN_RETRY_S:.0f} s."
            )
        else:
            self.show_empty(
                f"[$text-error]Cannot read the inventory:[/] {escape(message.message)} "
                f"Retrying every {self.OPEN_RETRY_S:.0f} s."
            )
        if not self.open_failed:
            self.notify(message.message, title="Cannot open the inventory", severity="error")
        self.open_failed = True
        self.set_timer(self.OPEN_RETRY_S, self.reload)

    def show_empty(self, text: str) -> None:
        empty = self.query_one("#empty", Static)
        empty.update(text)
        empty.display = True

    def redraw(self, select: str | None = None) -> None:
        if not self.loaded:
            return
        text = self.filter_input.value
        if text.strip():
            from app.services.views import filter_views

            shown = filter_views(self.views, text)
        else:
            shown = self.views
        self.table.show(
            shown, self.app.theme_variables, key_age_warn_days=self.app.settings.key_age_warn_days, select=select
        )
        empty = self.query_one("#empty", Static)
        if not self.views:
            empty.update(
                "No connectors yet. Press [b]a[/b] to add one: paste its key, and Breaker "
                "recognises the provider; the key goes to the OS keyring, never to the database."
            )
        elif not shown:
            empty.update(
                f"Nothing matches this filter ({len(self.views)} connectors hidden). Press [b]escape[/b] to clear it."
            )
        empty.display = not shown
        self.selection_changed()

    def inventory_changed(self, message: InventoryChanged) -> None:
        self.reload(select=message.name)

    def probes_stored(self, message: ProbesStored) -> None:
        self.reload()  # same rows in the same order: updated in place

    def switches_changed(self, message: SwitchesChanged) -> None:
        self.reload()

    def store_changed(self, message: StoreChanged) -> None:
        """Another process changed the store: the rows follow (cursor, filter and scroll stay)."""
        if any(not action.startswith("gateway.") for action in message.actions):  # holds: the held line
            self.reload()

    # -- events -----------------------------------------------------------------------------
    @on(Input.Changed, "#filter")
    def _filter_changed(self, _event: Input.Changed) -> None:
        self.redraw()

    @on(Input.Submitted, "#filter")
    def _filter_done(self, _event: Input.Submitted) -> None:
        self.table.focus()

    @on(DataTable.RowSelected, "#connectors")
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        view = self.table.view_for(event.row_key)
        if view is not None:
            self.action_open(view.name)

    @on(DataTable.RowHighlighted, "#connectors")
    def _row_moved(self, _event: DataTable.RowHighlighted) -> None:
        self.selection_changed()

    def selection_changed(self) -> None:
        """check_action cares only whether a connector is selected, not which: the bindings (and the
        key bar) are refreshed when that changes, not on every cursor move."""
        has = self.selected is not None
        if has != self.had_selection:
            self.had_selection = has
            self.refresh_bindings()

    # -- availability -------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        spec = BY_ACTION.get(action)
        if spec is None:
            return True
        return self.app.action_state(spec, has_connector=self.selected is not None)

    def target(self, spec: PanelAction, name: str | None) -> str | None:
        """The connector an action applies to, or None after telling the owner why nothing happened."""
        state = self.app.action_state(spec, has_connector=True)
        if state is False:
            self.notify(f"Read-only mode: this action is hidden. {self.app.read_only_hint()}", severity="warning")
            return None
        if state is None:
            if spec.feature is None or spec.feature in self.app.features:
                self.notify("The inventory is still opening; try again in a moment.", severity="warning")
            else:
                self.notify(unavailable_message(spec), title="Not available yet", severity="warning")
            return None
        if not spec.needs_connector:
            return ""
        target = name or (self.selected.name if self.selected else None)
        if target is None:
            self.notify("Select a connector first.", severity="warning")
        return target

    # -- inventory actions ----------------------------------------------------------------------
    def action_add(self) -> None:
        """The add form, once the keyring has stored, read and deleted a test item (doctor's check, in a
        thread: a keyring may wait on an unlock prompt); otherwise two lines on what to do, no form."""
        if self.target(BY_ACTION["add"], None) is None:
            return
        if self.keyring_ready:
            self._open_add_form()
        else:
            self.keyring_check()

    @work(thread=True, exclusive=True, group="keyring-check", exit_on_error=False, description="checking the keyring")
    def keyring_check(self) -> None:
        from app.services.doctor import keyring_check

        check = keyring_check(lambda: self.services.secrets.backend)
        if not get_current_worker().is_cancelled:  # a second press started another check: one form only
            self.app.call_from_thread(self._keyring_checked, check)

    def _keyring_checked(self, check) -> None:
        if check.ok:
            self.keyring_ready = True  # checked once per panel; a later failure still shows under Save
            self._open_add_form()
            return
        self.notify(
            f"{escape(check.problem)}\nA key cannot be stored until it works: unlock your keyring, or run "
            "breaker doctor in a terminal to see what to do.",
            title="No usable keyring",
            severity="error",
            timeout=20,
        )

    def _open_add_form(self) -> None:
        from app.tui.screens.form import ConnectorForm

        self.app.push_screen(ConnectorForm(None), self._form_closed)

    def action_edit(self, name: str | None = None) -> None:
        target = self.target(BY_ACTION["edit"], name)
        if not target:
            return
        from app.tui.screens.form import ConnectorForm

        self.app.push_screen(ConnectorForm(target), self._form_closed)

    def _form_closed(self, result: tuple[str | None, str] | None) -> None:
        """The form dismisses with (previous name or None for an add, saved name) or None on cancel."""
        if result is None:
            return
        previous, saved = result
        self.app.post_message(InventoryChanged(saved, "add" if previous is None else "edit", previous))

    def action_remove(self, name: str | None = None) -> None:
        target = self.target(BY_ACTION["remove"], name)
        if not target:
            return
        from app.tui.screens.remove import RemoveChoice, RemoveConfirm

        try:
            view = self.services.inventory.get(target)
        except Exception as exc:
            self.notify(str(exc), severity="error")
            return

        def chosen(choice: RemoveChoice | None) -> None:
            if choice is not None:
                self.remove_worker(view.name, delete_key=choice is RemoveChoice.DELETE_KEY)

        prints = {c.fingerprint for c in view.credentials}
        shared = sorted(
            v.name for v in self.views if v.name != view.name and any(c.fingerprint in prints for c in v.credentials)
        )
        self.app.push_screen(RemoveConfirm(view, shared), chosen)

    @work(thread=True, group="inventory", exit_on_error=False, description="removing a connector")
    def remove_worker(self, name: str, *, delete_key: bool) -> None:
        # A thread: deleting from an OS keyring can wait on an unlock prompt. Posts only.
        try:
            self.services.inventory.remove(name, delete_key=delete_key)
        except Exception as exc:  # services keep secrets out of their messages
            self.post_message(RemoveFailed(name, str(exc)))
        else:
            self.post_message(ConnectorRemoved(name, delete_key))

    @on(ConnectorRemoved)
    def _removed(self, message: ConnectorRemoved) -> None:
        where = "its key was deleted from the keyring" if message.key_deleted else "its key stays in the keyring"
        self.notify(
            f"Removed {message.name}; {where}. The provider was not told: revoke the key there "
            "if nothing else should use it.",
            title="Connector removed",
        )
        self.app.post_message(InventoryChanged(None, "remove", message.name))

    @on(RemoveFailed)
    def _remove_failed(self, message: RemoveFailed) -> None:
        self.notify(message.message, title=f"Could not remove {message.name}", severity="error")

    def action_open(self, name: str | None = None) -> None:
        target = self.target(BY_ACTION["open"], name)
        if not target:
            return
        from app.tui.screens.connector import ConnectorScreen

        self.app.push_screen(ConnectorScreen(target))

    def action_filter(self) -> None:
        self.filter_input.focus()

    def action_clear_filter(self) -> None:
        if self.filter_input.value:
            self.filter_input.value = ""
        self.table.focus()

    # -- the weekly review (issue 11) -----------------------------------------------------------------
    def action_review(self) -> None:
        if self.target(BY_ACTION["review"], None) is None:
            return
        from app.tui.screens.review import ReviewScreen

        self.app.push_screen(ReviewScreen())

    BANNER_EVERY_S = 60.0  # the findings read the whole inventory: not on every reload of a probe-all

    def refresh_review_banner(self, *, now: bool = False) -> None:
        last = getattr(self, "banner_at", None)
        if not now and (
            getattr(self.app, "panic_running", False)
            or (last is not None and time.monotonic() - last < self.BANNER_EVERY_S)
        ):
            return
        self.banner_at = time.monotonic()
        self.review_banner_worker()

    @work(thread=True, exclusive=True, group="review-banner", exit_on_error=False, description="checking the review")
    def review_banner_worker(self) -> None:
        # A thread: the findings read the whole inventory and its history. Posts only.
        review = self.services.review
        text = review.banner()
        self.post_message(ReviewBanner(text, nothing_due=not text and review.nothing_due()))

    @on(ReviewBanner)
    def _review_banner(self, message: ReviewBanner) -> None:
        banner = self.query_one("#review-banner", Static)
        banner.update(escape(message.text))
        banner.display = bool(message.text)
        self.nothing_due = message.nothing_due
        self.show_nothing_due()

    def show_nothing_due(self) -> None:
        """A review falls due after 7 days, but with an empty queue there is nothing to do: say that."""
        if getattr(self, "nothing_due", False):
            self.summary_strip.tile("tile-review").show("none due", "queue empty", alert=False)

    # -- probing and the switches: the composed flows ----------------------------------------------
    def action_probe(self, name: str | None = None) -> None:
        self.probing.probe(name)

    def action_probe_all(self) -> None:
        self.probing.probe_all()

    def action_deep_probe(self, name: str | None = None) -> None:
        self.probing.deep_probe(name)

    def action_draft_only(self, name: str | None = None) -> None:
        self.switching.ask_switch("draft_only", name)

    def action_read_only(self, name: str | None = None) -> None:
        self.switching.ask_switch("read_only", name)

    def action_disable(self, name: str | None = None) -> None:
        self.switching.ask_switch("disable", name)

    def action_rotate(self, name: str | None = None) -> None:
        self.switching.ask_switch("rotate", name)

    def action_reenable(self, name: str | None = None) -> None:
        self.switching.ask_switch("reenable", name)

    def action_panic(self) -> None:
        self.switching.panic()

    def show_outcome(self, report) -> None:
        """The ways forward for a switch that did not end verified (the connector screen's ``c``)."""
        self.switching.show_outcome(report)
