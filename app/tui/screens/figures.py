"""The weekly figures (``ctrl+f`` in the review): each KPI's value this week, ▲/▼ against last week,
a Sparkline over the stored weeks, and what the figure counts. Figures are snapshotted per ISO
week when a review ends (app.services.review.figures); this screen only reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Sparkline, Static

from app.tui.screens.base import SCREENS_CSS, ReportsWorkerErrors
from app.tui.widgets.key_bar import KeyBar


@dataclass
class FiguresLoaded(Message):
    weeks: list[dict]
    error: str = ""


class FiguresScreen(ReportsWorkerErrors, Screen):
    CSS_PATH = SCREENS_CSS
    BINDINGS = [Binding("escape", "back", "back", id="figures-back")]
    DEFAULT_CSS = """
    FiguresScreen #figures-note { padding: 0 1; height: auto; }
    FiguresScreen #figures-grid { grid-size: 3; grid-gutter: 1 2; padding: 1 1; height: auto; }
    FiguresScreen .kpi { border: round $border; height: 10; padding: 0 1; }
    FiguresScreen .kpi Sparkline { height: 2; margin-top: 1; }
    FiguresScreen .kpi-value { height: 2; }
    FiguresScreen .kpi-words { color: $text-muted; height: 2; }
    """

    def __init__(self) -> None:
        super().__init__(id="figures")

    @property
    def services(self):
        return self.app.services

    def compose(self) -> ComposeResult:
        from app.services.review.figures import KPIS

        yield Header()
        yield Static("Reading the weekly figures…", id="figures-note")
        with Grid(id="figures-grid"):
            for kpi in KPIS:
                with Vertical(classes="kpi", id=f"kpi-{kpi.key}") as box:
                    box.border_title = kpi.title
                    yield Static("", classes="kpi-value")
                    yield Sparkline([], summary_function=max)
                    yield Static("", classes="kpi-words")
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = "weekly figures"
        self.load()

    @work(thread=True, exclusive=True, group="figures-load", exit_on_error=False, description="reading the figures")
    def load(self) -> None:
        from app.services.review.figures import history

        try:
            self.post_message(FiguresLoaded(history(self.services.review)))
        except Exception as exc:
            self.post_message(FiguresLoaded([], str(exc) or type(exc).__name__))

    @on(FiguresLoaded)
    def _loaded(self, message: FiguresLoaded) -> None:
        from app.services.review.figures import extra_line, trends

        note = self.query_one("#figures-note", Static)
        if message.error:
            note.update(f"[$text-error]Cannot read the figures:[/] {escape(message.error)}")
            return
        weeks = message.weeks
        if not weeks:
            note.update("No figures yet: they are kept when a review ends (w, then ctrl+t).")
        else:
            note.update(
                f"Week {weeks[-1]['week']} against {weeks[-2]['week'] if len(weeks) > 1 else 'no earlier week'} · "
                f"{len(weeks)} week(s) kept · ▲/▼ green when it moved the good way"
            )
        words = extra_line(weeks[-1]) if weeks else {}
        for trend in trends(weeks):
            box = self.query_one(f"#kpi-{trend.kpi.key}")
            tone = "$text-muted" if trend.good is None else ("$text-success" if trend.good else "$text-error")
            box.query_one(".kpi-value", Static).update(
                f"[b]{escape(trend.show())}[/b]\n[{tone}]{escape(trend.delta)}[/]"
            )
            box.query_one(Sparkline).data = list(trend.series) or [0]
            box.query_one(".kpi-words", Static).update(escape(words.get(trend.kpi.key, "")))

    def action_back(self) -> None:
        self.app.pop_screen()


def figures_shown(screen: Any) -> dict[str, str]:
    """What each KPI box says (for tests): key → its value and delta text."""
    return {
        box.id.removeprefix("kpi-"): str(box.query_one(".kpi-value", Static).render()) for box in screen.query(".kpi")
    }
