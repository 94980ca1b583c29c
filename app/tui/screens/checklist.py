"""The still-live checklist (``k``): every key a switch or the emergency disable left working.

Thin: the list and "I did it" are :mod:`app.services.checklist` (the same as ``breaker checklist``).
Each row is a key recorded disabled that no probe has shown dead; below the table, for the selected
one, how to recognise it at the provider, the dashboard and the exact steps. ``enter`` ("I did it")
probes the key in a worker and ticks it off only when it is dead; ``m`` writes the list as Markdown
(``still-live-checklist.md`` in Breaker's data folder — the home) to hand to a partner.
"""

from __future__ import annotations

from pathlib import Path

from rich.cells import cell_len
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from app.tui.markup import escape
from app.tui.screens.base import SCREENS_CSS, ReportsWorkerErrors
from app.tui.widgets.key_bar import KeyBar

MARKDOWN_FILE = "still-live-checklist.md"
COLUMNS = ("", "connector", "provider", "key", "last probe")


class ChecklistLoaded(Message, bubble=False):
    def __init__(self, items: list, note: str = "") -> None:
        super().__init__()
        self.items = items
        self.note = note


class ChecklistScreen(ReportsWorkerErrors, Screen):
    CSS_PATH = SCREENS_CSS
    BINDINGS = [
        Binding("escape", "back", "back", id="back"),
        Binding(
            "enter",
            "did_it",
            "I did it",
            id="checklist-done",
            tooltip="Probe the selected key now; it is ticked off only when the probe shows it dead.",
        ),
        Binding("m", "markdown", "markdown", id="checklist-markdown", tooltip="Write the list as Markdown."),
    ]
    AUTO_FOCUS = "#checklist-table"

    def __init__(self) -> None:
        super().__init__(id="checklist")
        self.items: list = []

    @property
    def services(self):
        return self.app.services

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("reading the checklist…", id="checklist-note")
        yield DataTable(id="checklist-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="checklist-detail")
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = "keys still live"
        self.load()

    @work(thread=True, exclusive=True, group="checklist", exit_on_error=False, description="reading the checklist")
    def load(self, note: str = "") -> None:
        from app.services import checklist

        self.post_message(ChecklistLoaded(checklist.items(self.services), note))

    @on(ChecklistLoaded)
    def _loaded(self, message: ChecklistLoaded) -> None:
        self.items = message.items
        table = self.query_one("#checklist-table", DataTable)
        rows = [
            ("[ ]", item.connector, item.provider_title, f"…{item.last4}" if item.last4 else "—", item.last_probe)
            for item in self.items
        ]
        # Columns sized from their cells up front: DataTable measures added rows only on an idle
        # pass, and a header painted before that pass kept the empty table's widths (seen 1 in 6).
        table.clear(columns=True)
        for index, label in enumerate(COLUMNS):
            table.add_column(label, width=max([cell_len(label)] + [cell_len(row[index]) for row in rows]))
        for item, row in zip(self.items, rows, strict=True):
            table.add_row(*row, key=item.key)
        if self.items:
            head = (
                f"[b $text-error]{len(self.items)} key(s) still work at their provider[/] with more power than "
                "Breaker records (disabled, reduced, or replaced by a rotation). Deal with each at the provider, "
                "then press enter: a probe ticks it off only when it proves it. m writes this list as Markdown."
            )
        else:
            from app.services.checklist import NOTHING_LEFT

            rest = NOTHING_LEFT.removeprefix("Nothing on the checklist:")
            head = f"[b $text-success]Nothing on the checklist:[/]{escape(rest)}"
        if message.note:
            head = f"{message.note}\n{head}"
        self.query_one("#checklist-note", Static).update(head)
        self._show_detail()

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._show_detail()

    def _selected(self):
        table = self.query_one("#checklist-table", DataTable)
        if not self.items or table.cursor_row is None or table.cursor_row >= len(self.items):
            return None
        return self.items[table.cursor_row]

    def _show_detail(self) -> None:
        from app.services.checklist import recognise

        item = self._selected()
        detail = self.query_one("#checklist-detail", Static)
        if item is None:
            detail.update("")
            return
        lines = [f"[b]{escape(item.connector)}[/b] — {escape(item.reason.words)} — {escape(item.state)}"]
        if item.why:
            lines.append(escape(item.why))
        lines += [f"[$text-muted]recognise it:[/] {escape(line)}" for line in recognise(item)]
        if item.dashboard_url:
            lines.append(f"[$text-muted]dashboard:[/] {escape(item.dashboard_url)}")
        lines += [f"  {i}. {escape(step)}" for i, step in enumerate(item.steps, 1)]
        detail.update("\n".join(lines))

    @on(DataTable.RowSelected, "#checklist-table")
    def _row_chosen(self) -> None:  # enter on the table (the table's own binding for enter)
        self.action_did_it()

    def action_did_it(self) -> None:
        item = self._selected()
        if item is None:
            self.notify("Nothing on the checklist.", severity="warning")
            return
        if self.app.read_only:
            self.notify(f"Read-only: {self.app.read_only_hint()}", severity="warning")
            return
        self.notify(f"Probing {item.connector}…")
        self.check(item.connector)

    @work(group="checklist-done", exit_on_error=False, description="probing the key")
    async def check(self, name: str) -> None:
        from app.services import checklist

        checked = await checklist.done(self.services, name)
        self.notify(checked.message, severity="information" if checked.ticked else "warning", timeout=10)
        self.load(escape(checked.message))

    def action_markdown(self) -> None:
        self.write_markdown()

    @work(thread=True, exit_on_error=False, description="writing the checklist")
    def write_markdown(self) -> None:
        from app.services import checklist

        path = Path(self.services.settings.data_dir) / MARKDOWN_FILE
        path.write_text(checklist.markdown(checklist.items(self.services)), encoding="utf-8")
        self.app.call_from_thread(self.notify, f"Wrote the checklist to {path}.", timeout=10)

    def action_back(self) -> None:
        self.app.pop_screen()
