"""Held requests: what the gateway is holding for the owner's answer (the decision queue, issue 13).

Each row says what the request would do in the owner's words, with the connector's purpose
sentence below the table for the selected one; ``y`` approves (the gateway forwards it once), ``n``
denies. The list is read again every second in a thread worker, so a request held by
``breaker gateway`` in another terminal appears here within a second, and one answered there leaves.
"""

from __future__ import annotations

import time

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from app.tui.markup import escape
from app.tui.screens.base import SCREENS_CSS, ReportsWorkerErrors
from app.tui.widgets.key_bar import KeyBar

REFRESH_S = 1.0
SENT_WATCH_S = 30.0  # after a yes, how long the screen watches for the gateway to send it
DETAIL_FIELDS = (
    ("to", "to"),
    ("cc", "cc"),
    ("bcc", "BCC (hidden from the other recipients)"),
    ("subject", "subject"),
    ("channel", "channel"),
    ("repository", "repository"),
    ("model", "model"),
)


def clock():
    """Now, for the countdown (a function so a snapshot can fix it)."""
    from app.store.snapshot import utcnow

    return utcnow()


def left(h, now) -> str:
    """The countdown cell: seconds until refused, or that the gateway holding it stopped."""
    return "lost" if h.lost else f"{h.seconds_left(now)} s"


class HeldLoaded(Message, bubble=False):
    def __init__(self, holds: list, outcomes: dict[int, str] | None = None) -> None:
        super().__init__()
        self.holds = holds
        self.outcomes = outcomes or {}  # approved holds watched: their state now


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
        self.watching: dict[int, float] = {}  # approved here: hold id → until when to watch it being sent

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

        queue = Queue(self.services)
        watched = list(self.watching)
        outcomes = queue.states(watched, check_holder=True) if watched else {}
        self.post_message(HeldLoaded(queue.pending(with_lost=True), outcomes))

    @on(HeldLoaded)
    def _loaded(self, message: HeldLoaded) -> None:
        self._say_sent(message.outcomes)
        table = self.query_one("#held-table", DataTable)
        now = clock()
        if [(h.id, h.state) for h in message.holds] == [(h.id, h.state) for h in self.holds]:
            # the same requests: only the time each has left moves (the gateway denies it at 0)
            for h in self.holds:
                table.update_cell(str(h.id), "left", left(h, now))
            return
        self.holds = message.holds
        table.clear()
        for h in self.holds:
            table.add_row(str(h.id), h.connector, h.level.label, left(h, now), h.what, key=str(h.id))
        self._show_detail()
        if not self.holds:
            self.query_one("#held-detail", Static).update("Nothing is held.")

    def _say_sent(self, outcomes: dict[int, str]) -> None:
        """After a yes: say when the gateway has sent it — or that it could not (it stopped)."""
        from app.services.queue import FORWARDED, LOST, LOST_AFTER_YES

        for hold_id, state in outcomes.items():
            if state == FORWARDED:
                # sent once; whether the provider accepted it is in its answer, which went to the agent
                self.notify(f"#{hold_id} sent to the provider, once (its answer went to the agent).")
            elif state == LOST:
                self.notify(f"#{hold_id}: {LOST_AFTER_YES}.", severity="error")
            elif self.watching.get(hold_id, 0) > time.monotonic():
                continue
            self.watching.pop(hold_id, None)

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
        lines = []
        if h.lost:
            lines.append(f"[b $error]Lost:[/] {escape(h.why_lost)}. It can no longer be approved.")
        lines.append(f"[b]{escape(h.what)}[/b]")
        for key, label in DETAIL_FIELDS:
            if h.summary.get(key):
                lines.append(f"{label}: {escape(str(h.summary[key]))}")
        said = h.summary.get("first_lines") or []
        if said:
            lines.append("[$text-muted]the request's text (the agent's words, not Breaker's):[/]")
            lines.extend(f"  │ {escape(line)}" for line in said)
        lines.append(f"[$text-muted]{escape(h.purpose or 'No purpose sentence recorded for ' + h.connector)}[/]")
        lines.append(f"[$text-muted]{escape(h.template)}[/]")
        self.query_one("#held-detail", Static).update("\n".join(lines))

    def action_answer(self, approve: bool) -> None:
        h = self._selected()
        if h is None:
            self.notify("Nothing is held.", severity="warning")
            return
        if h.lost:
            self.notify(f"#{h.id} cannot be answered: {h.why_lost}.", severity="warning")
            return
        self.answer(h.id, approve)

    @work(thread=True, exit_on_error=False, description="answering a held request")
    def answer(self, hold_id: int, approve: bool) -> None:
        from app.services.queue import Queue

        queue = Queue(self.services)
        view = queue.answer(hold_id, approve)
        if view is None:
            self.app.call_from_thread(
                self.notify, f"#{hold_id} is no longer held (answered or timed out).", severity="warning"
            )
        elif view.lost:
            self.app.call_from_thread(self.notify, f"#{hold_id} was not approved: {view.why_lost}.", severity="error")
        elif not approve:
            self.app.call_from_thread(self.notify, f"#{hold_id} denied: the agent is refused.")
        else:
            self.app.call_from_thread(self.notify, f"#{hold_id} approved; the gateway will send it.")
        self.post_message(HeldLoaded(queue.pending(with_lost=True)))
        if view is not None and approve and not view.lost:
            self.app.call_from_thread(self.watching.__setitem__, hold_id, time.monotonic() + SENT_WATCH_S)

    def action_back(self) -> None:
        self.app.pop_screen()
