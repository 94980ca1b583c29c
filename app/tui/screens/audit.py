"""The audit log: recent events, and whether the hash chain is intact.

Verifying walks every event (100,000 of them take seconds), so it runs in a thread worker that
posts the result; the screen paints at once with "verifying…".
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from app.tui.markup import escape
from app.tui.messages import AuditLoaded, ChainVerified
from app.tui.screens.base import SCREENS_CSS, ReportsWorkerErrors
from app.tui.widgets.key_bar import KeyBar
from app.tui.widgets.present import change_summary, event_sentence, local_time, tone

RECENT_LIMIT = 500


class AuditScreen(ReportsWorkerErrors, Screen):
    CSS_PATH = SCREENS_CSS
    BINDINGS = [
        Binding("escape", "back", "back", id="back"),
        Binding(
            "v",
            "verify",
            "verify again",
            id="audit-verify",
            tooltip="Walk the whole hash chain again and say where it breaks, if it does.",
        ),
        Binding(
            "enter", "details", "details", id="audit-details", tooltip="Everything the selected event changed, in full."
        ),
    ]
    AUTO_FOCUS = "#audit-table"

    def __init__(self) -> None:
        super().__init__(id="audit")

    @property
    def services(self):
        return self.app.services

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="chain-status")
        yield Static("", id="audit-note")
        yield DataTable(id="audit-table", cursor_type="row", zebra_stripes=True)
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = "audit log"
        self.events: list = []
        self.total = 0
        self.load_events()
        self.action_verify()

    @work(thread=True, exclusive=True, group="audit-load", exit_on_error=False, description="reading audit events")
    def load_events(self) -> None:
        services = self.services
        self.post_message(
            AuditLoaded(services.audit.recent(services.engine, RECENT_LIMIT), services.audit.count(services.engine))
        )

    def action_verify(self) -> None:
        self.query_one("#chain-status", Static).update("[$text-muted]verifying the audit chain…[/]")
        self.set_class(False, "-chain-ok")
        self.set_class(False, "-chain-broken")
        self.verify_chain()

    @work(thread=True, exclusive=True, group="audit-verify", exit_on_error=False, description="verifying the chain")
    def verify_chain(self) -> None:
        services = self.services
        try:
            status = services.audit.verify(services.engine)
        except Exception as exc:  # no keyring, locked store: say so, do not call the chain broken
            self.post_message(ChainVerified(None, str(exc) or type(exc).__name__))
        else:
            self.post_message(ChainVerified(status))

    @on(AuditLoaded)
    def _loaded(self, message: AuditLoaded) -> None:
        self.events = message.events
        self.total = message.total if message.total is not None else len(message.events)
        self.show_events()

    def on_resize(self) -> None:
        if self.events:
            self.show_events()

    def show_events(self) -> None:
        """Fill the table; the last column gets the width that is left, so it never scrolls sideways."""
        variables = self.app.theme_variables
        table = self.query_one("#audit-table", DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        rows = [
            (
                str(ev.seq),
                local_time(ev.at),
                ev.actor,
                ev.connector or "—",
                ev.action,
                ev.outcome,
                event_sentence(ev.action, ev.connector, ev.old_json, ev.new_json, ev.outcome),
            )
            for ev in self.events
        ]
        headers = (
            ("seq", "#"),
            ("at", "When"),
            ("actor", "Actor"),
            ("connector", "Connector"),
            ("action", "Action"),
            ("outcome", "Outcome"),
        )
        widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, (_k, h) in enumerate(headers)]
        scrollbar = 2 if len(rows) > table.size.height - 1 else 0
        used = sum(widths) + 2 * table.cell_padding * (len(headers) + 1) + scrollbar
        for (key, header), width in zip(headers, widths):
            table.add_column(header, key=key, width=width)
        table.add_column("What happened", key="changes", width=max(20, table.size.width - used))
        for row in rows:
            table.add_row(
                *(Text(c) for c in row[:5]),
                Text(row[5], style="" if row[5] == "ok" else tone(variables, "error")),
                Text(row[6], overflow="ellipsis", no_wrap=True),
                key=row[0],
            )
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1), animate=False)
        shown = len(rows)
        note = self.query_one("#audit-note", Static)
        note.update(f"Showing the newest {shown} of {self.total} events. " if self.total > shown else "")
        note.display = self.total > shown

    @on(ChainVerified)
    def _verified(self, message: ChainVerified) -> None:
        status = message.status
        if status is None:
            text = f"[$text-warning]The audit chain could not be checked: {escape(message.error)}[/]"
        elif status.unchecked:  # the keyring cannot be read: not checked, not broken
            text = f"[$text-warning]{escape(status.summary())}[/]"
            status = None
        elif status.ok:
            text = f"[$text-success]✔ {escape(status.summary())}[/]"
        else:
            text = (
                f"[$text-error]✖ {escape(status.summary())}[/]\n"
                "Someone or something changed the audit log outside Breaker. Keep a copy of the database "
                "file before anything else writes to it."
            )
        self.query_one("#chain-status", Static).update(text)
        self.set_class(status is not None and status.ok, "-chain-ok")
        self.set_class(status is not None and not status.ok, "-chain-broken")

    @on(DataTable.RowSelected, "#audit-table")
    def _event_chosen(self, event: DataTable.RowSelected) -> None:
        self.show_details(event.row_key.value)

    def action_details(self) -> None:
        table = self.query_one("#audit-table", DataTable)
        if table.row_count:
            self.show_details(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def show_details(self, seq: str | None) -> None:
        """Everything an event changed, in full (the table's column is cut to the screen)."""
        found = next((ev for ev in self.events if str(ev.seq) == seq), None)
        if found is not None:
            self.notify(
                escape(change_summary(found.old_json, found.new_json, limit=2000)) or "nothing recorded",
                title=f"Event {found.seq} · {found.action} · {found.connector or 'inventory'}",
                timeout=15,
            )

    def action_back(self) -> None:
        self.dismiss()
