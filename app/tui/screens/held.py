"""Held requests: what the gateway is holding for the owner's answer (the decision queue, issue 13).

Each row says what the request would do in the owner's words, with the connector's purpose
sentence below the table for the selected one; ``y`` approves (the gateway forwards it once), ``n``
denies. The list is read again every second in a thread worker, so a request held by
``breaker gateway`` in another terminal appears here within a second, and one answered there leaves.
"""

from __future__ import annotations

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from app.tui.screens.base import SCREENS_CSS, ReportsWorkerErrors
from app.tui.widgets.key_bar import KeyBar

REFRESH_S = 1.0


def clock():
    """Now, for the countdown (a function so a snapshot can fix it)."""
    from app.store.snapshot import utcnow

    return utcnow()


class HeldLoaded(Message, bubble=False):
    def __init__(self, holds: list) -> None:
        super().__init__()
        self.holds = holds


class HeldScreen(ReportsWorkerErrors, Screen):
    CSS_PATH = SCREENS_CSS
    BINDINGS = [
        Binding("escape", "back", "back", id="back"),
        Binding("y", "answer(True)", "approve", id="held-approve", tooltip="Forward the selected request once."),
        Binding("n", "answer(False)", "deny", id="held-deny", tooltip="Refuse the selected request."),
    ]
    AUTO_FOCUS = "#held-table"

    def __init__(self) -> None:
        super().__init__(id="held")
        self.holds: list = []

    @property
    def services(self):
        return self.app.services

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Requests the gateway holds for your answer. y approves (sent once), n denies.", id="held-note")
        yield DataTable(id="held-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="held-detail")
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = "held requests"
        table = self.query_one("#held-table", DataTable)
        # The countdown before the long "what it would do", so it stays in view at 80 columns; keyed,
        # so each second updates that cell alone.
        table.add_columns("#", "connector", "level")
        table.add_column("refused in", key="left")
        table.add_column("what it would do")
        self.load()
        self.set_interval(REFRESH_S, self.load)

    @work(thread=True, exclusive=True, group="held-load", exit_on_error=False, description="reading held requests")
    def load(self) -> None:
        from app.services.queue import Queue

        self.post_message(HeldLoaded(Queue(self.services).pending()))

    @on(HeldLoaded)
    def _loaded(self, message: HeldLoaded) -> None:
        table = self.query_one("#held-table", DataTable)
        now = clock()
        if [h.id for h in message.holds] == [h.id for h in self.holds]:
            # the same requests: only the time each has left moves (the gateway denies it at 0)
            for h in self.holds:
                table.update_cell(str(h.id), "left", f"{h.seconds_left(now)} s")
            return
        self.holds = message.holds
        table.clear()
        for h in self.holds:
            table.add_row(str(h.id), h.connector, h.level.label, f"{h.seconds_left(now)} s", h.what, key=str(h.id))
        self._show_detail()
        if not self.holds:
            self.query_one("#held-detail", Static).update("Nothing is held.")

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._show_detail()

    def _selected(self):
        table = self.query_one("#held-table", DataTable)
        if not self.holds or table.cursor_row is None or table.cursor_row >= len(self.holds):
            return None
        return self.holds[table.cursor_row]

    def _show_detail(self) -> None:
        h = self._selected()
        if h is None:
            return
        lines = [f"[b]{escape(h.what)}[/b]"]
        for key in ("to", "subject", "channel", "repository"):
            if h.summary.get(key):
                lines.append(f"{key}: {escape(str(h.summary[key]))}")
        lines.extend(f"  {escape(line)}" for line in h.summary.get("first_lines") or [])
        lines.append(f"[$text-muted]{escape(h.purpose or 'No purpose sentence recorded for ' + h.connector)}[/]")
        lines.append(f"[$text-muted]{escape(h.template)}[/]")
        self.query_one("#held-detail", Static).update("\n".join(lines))

    def action_answer(self, approve: bool) -> None:
        h = self._selected()
        if h is None:
            self.notify("Nothing is held.", severity="warning")
            return
        self.answer(h.id, approve)

    @work(thread=True, exit_on_error=False, description="answering a held request")
    def answer(self, hold_id: int, approve: bool) -> None:
        from app.services.queue import Queue

        view = Queue(self.services).answer(hold_id, approve)
        if view is None:
            self.app.call_from_thread(
                self.notify, f"#{hold_id} is no longer held (answered or timed out).", severity="warning"
            )
        else:
            said = "approved: the gateway sends it once" if approve else "denied"
            self.app.call_from_thread(self.notify, f"#{hold_id} {said}.")
        self.post_message(HeldLoaded(Queue(self.services).pending()))

    def action_back(self) -> None:
        self.app.pop_screen()
