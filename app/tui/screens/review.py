"""The weekly review (``w``): this week's queue, riskiest first, one item at a time.

Left, the queue with each item's severity (✓ once decided) and the progress; right, the item: its
purpose sentence (editable), why it is due, what changed since the last review, its last use, its
findings, the least-privilege checklist (yes / no / don't know, with a note) and the decision. A
decision that is a switch (reduce, rotate, disable) goes through the same plan and confirmation
as ``d``/``o``/``x``/``r`` on the main screen, and is recorded with the state the switch reached.

``escape`` leaves: the review stays open and ``w`` resumes it. Every read and write runs in a
thread worker (the switch in an async one) that posts a message; the screen owns its widgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, HorizontalGroup, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Header, Input, OptionList, RadioButton, RadioSet, Select, Static
from textual.widgets.option_list import Option

from app.tui.screens.base import SCREENS_CSS, ReportsWorkerErrors
from app.tui.widgets.key_bar import KeyBar

CHECKLIST = ("task", "data", "tools", "actions", "identity", "validation", "monitoring", "revocation")
ANSWER_IDS = ("yes", "no", "dont_know")
SEVERITY_MARK = {
    "critical": "[$text-error]▲▲[/]",
    "high": "[$text-error]▲ [/]",
    "medium": "[$text-warning]● [/]",
    "low": "[$text-muted]· [/]",
    "info": "[$text-muted]· [/]",
    None: "  ",
}
PURPOSE_PARTS = (  # field, the sentence's words before it, what to type
    ("access", "This connector may use", "what it reaches (access)"),
    ("task", "to", "the task it serves"),
    ("forbidden", ", but may not", "what it must never do"),
)
DECISION_OPTIONS = (
    ("keep", "keep"),
    ("reduce to draft-only", "reduce:draft-only"),
    ("reduce to read-only", "reduce:read-only"),
    ("rotate the key", "rotate"),
    ("disable", "disable"),
    ("reassign the owner", "reassign"),
    ("snooze", "snooze"),
)


@dataclass
class ReviewLoaded(Message):
    state: Any  # app.services.review.ReviewState
    select: str | None = None
    resumed: bool = False


@dataclass
class ReviewFailed(Message):
    message: str


@dataclass
class SwitchDecided(Message):
    decision: Any  # app.services.review.Decision
    report: Any  # app.services.switches.JobReport
    error: str = ""


@dataclass
class ReportExported(Message):
    paths: list[str]
    error: str = ""


class ReviewScreen(ReportsWorkerErrors, Screen):
    CSS_PATH = SCREENS_CSS
    BINDINGS = [
        Binding("escape", "leave", "leave (resume with w)", id="review-leave"),
        Binding("ctrl+f", "figures", "figures", id="review-figures", tooltip="The weekly figures, week on week."),
        Binding(
            "ctrl+t", "finish", "finish", id="review-finish", tooltip="End the review: figures and report are kept."
        ),
        Binding(
            "ctrl+s",
            "export",
            "export report",
            id="review-export",
            tooltip="Write the latest finished review's report (Markdown and HTML) to Breaker's data folder.",
        ),
    ]
    AUTO_FOCUS = "#review-queue"
    # Under 110 columns (80×24) the queue narrows and each purpose part's words go above its box.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    DEFAULT_CSS = """
    ReviewScreen #review-progress { height: auto; padding: 0 1; background: $boost; }
    ReviewScreen #review-body { height: 1fr; }
    ReviewScreen #review-queue { width: 34; height: 1fr; border: round $border; }
    ReviewScreen #review-item { width: 1fr; height: 1fr; padding: 0 1; }
    ReviewScreen .section { margin-top: 1; text-style: bold; }
    ReviewScreen .purpose-part { height: auto; }
    ReviewScreen .purpose-label { width: 24; padding: 0 1 0 0; text-align: right; color: $text-muted; }
    ReviewScreen .purpose-part Input { width: 1fr; }
    ReviewScreen #purpose-save-row { height: auto; }
    ReviewScreen.-narrow #review-queue { width: 24; }
    ReviewScreen.-narrow .purpose-part { layout: vertical; }
    ReviewScreen.-narrow .purpose-label { width: auto; text-align: left; }
    ReviewScreen .check-row { height: auto; }
    ReviewScreen .check-question { width: 44; padding: 0 1 0 0; }
    ReviewScreen .check-row RadioSet { width: auto; border: none; padding: 0; layout: horizontal; height: auto; }
    ReviewScreen .check-row RadioButton { width: auto; }
    ReviewScreen .check-row RadioSet:blur > RadioButton.-selected > .toggle--label { background: transparent; }
    ReviewScreen .check-note { width: 1fr; }
    ReviewScreen #decision-row { height: auto; }
    ReviewScreen #decision-row Select { width: 28; }
    ReviewScreen #decision-row Input { width: 1fr; }
    ReviewScreen .button-row { height: auto; margin-top: 1; }
    ReviewScreen .button-row Button { margin-right: 2; }
    ReviewScreen #review-empty { padding: 1 2; }
    """

    def __init__(self) -> None:
        super().__init__(id="review")
        self.state: Any = None
        self.current: str | None = None
        self.showing = False  # filling the widgets: their Changed events are not the owner's answers

    @property
    def services(self):
        return self.app.services

    # -- layout ---------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        from app.services.review.findings import CHECKLIST_QUESTIONS

        yield Header()
        yield Static("Opening the weekly review…", id="review-progress")
        with Horizontal(id="review-body"):
            yield OptionList(id="review-queue")
            with VerticalScroll(id="review-item"):
                yield Static("", id="item-title")
                yield Static("Purpose sentence", classes="section")
                # The sentence as it reads, one part a line at full width: every word stays in view.
                for field, words, hint in PURPOSE_PARTS:
                    with HorizontalGroup(classes="purpose-part"):
                        yield Static(words, classes="purpose-label")
                        yield Input(placeholder=hint, id=f"purpose-{field}", compact=True)
                with HorizontalGroup(id="purpose-save-row"):
                    yield Static("", classes="purpose-label")
                    yield Button("Save the purpose", id="save-purpose", compact=True)
                yield Static("", id="item-facts")
                yield Static("Findings", classes="section")
                yield Static("", id="item-findings")
                yield Static("Least-privilege checklist", classes="section")
                for item in CHECKLIST:
                    with HorizontalGroup(classes="check-row"):
                        yield Static(f"[b]{item}[/b]: {CHECKLIST_QUESTIONS[item]}", classes="check-question")
                        with RadioSet(id=f"check-{item}", compact=True):
                            yield RadioButton("yes", id=f"check-{item}-yes", compact=True)
                            yield RadioButton("no", id=f"check-{item}-no", compact=True)
                            yield RadioButton("don't know", id=f"check-{item}-dont_know", compact=True)
                        yield Input(
                            placeholder="note (enter saves)", id=f"note-{item}", classes="check-note", compact=True
                        )
                yield Static("Decision", classes="section")
                yield Static("", id="decision-now")
                with HorizontalGroup(id="decision-row"):
                    yield Select(DECISION_OPTIONS, prompt="decision…", id="decision", compact=True)
                    yield Input(
                        placeholder="reason (required to keep a high-risk item)", id="decision-reason", compact=True
                    )
                    yield Input(placeholder="new owner / snooze until YYYY-MM-DD", id="decision-detail", compact=True)
                with HorizontalGroup(id="decision-buttons", classes="button-row"):
                    yield Button("Decide", variant="primary", id="decide", compact=True)
                    yield Button("Recommended", id="decide-recommended", compact=True)
                    yield Button("Same for all like it", id="decide-bulk", compact=True)
                with HorizontalGroup(id="review-buttons", classes="button-row"):
                    yield Button("Finish the review", id="finish", compact=True)
                    yield Button("Figures", id="figures", compact=True)
                    yield Button("Export report", id="export", compact=True)
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = "weekly review"
        self.query_one("#review-item").display = False
        self.load(resume=True)

    # -- data -------------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="review-load", exit_on_error=False, description="reading the review")
    def load(self, select: str | None = None, resume: bool = False) -> None:
        svc = self.services.review
        try:
            resumed = svc.open_review_id() is not None
            state = svc.start() if self.state is None else svc.state(self.state.id)
        except Exception as exc:
            self.post_message(ReviewFailed(str(exc) or type(exc).__name__))
            return
        self.post_message(ReviewLoaded(state, select, resumed and resume))

    @on(ReviewFailed)
    def _failed(self, message: ReviewFailed) -> None:
        self.notify(message.message, title="Weekly review", severity="error")

    @on(ReviewLoaded)
    def _loaded(self, message: ReviewLoaded) -> None:
        first = self.state is None
        self.state = message.state
        if first and message.resumed:
            self.notify(f"Resumed the open review: {self.state.progress}.", title="Weekly review")
        self.show_progress()
        queue = self.query_one("#review-queue", OptionList)
        keep = message.select or self.current
        queue.clear_options()
        for item in self.state.items:
            mark = (
                "[$text-success]✓ [/]"
                if item.decision
                else SEVERITY_MARK[item.severity.label if item.severity else None]
            )
            queue.add_option(Option(f"{mark}{escape(item.name)}", id=item.name))
        if not self.state.items:
            self.query_one("#review-item").display = False
            return
        names = [i.name for i in self.state.items]
        target = keep if keep in names else next((i.name for i in self.state.items if not i.decision), names[0])
        queue.highlighted = names.index(target)
        self.show_item(target)

    def show_progress(self) -> None:
        state = self.state
        text = f"[b]Weekly review {state.iso_week} [/b]· {state.progress}"
        if state.finished_at:
            text += " · [$text-success]finished[/] — ctrl+s exports the report"
        elif not state.items:
            text += " · nothing is due: no connector changed or looks risky. ctrl+t finishes."
        else:
            text += " · escape leaves, w resumes"
        self.query_one("#review-progress", Static).update(text)

    def show_item(self, name: str) -> None:
        item = self.state.item(name)
        self.current = name
        self.showing = True
        panel = self.query_one("#review-item")
        panel.display = True
        view = item.view
        sev = item.severity.label if item.severity else "no finding"
        if view is None:
            title = f"[b]{escape(name)} [/b]— removed from the inventory"
        else:
            title = (
                f"[b]{escape(name)} [/b]— {escape(view.provider)}, {view.environment}, mode {view.mode.value}, "
                f"owner {escape(view.owner or 'nobody')} · risk {item.risk} · {sev}\n"
                f"[$text-muted]due: {escape(item.why)}[/]"
            )
        self.query_one("#item-title", Static).update(title)
        for field, value in (
            ("access", view.purpose_access if view else ""),
            ("task", view.purpose_task if view else ""),
            ("forbidden", view.purpose_forbidden if view else ""),
        ):
            self.query_one(f"#purpose-{field}", Input).value = value
        changes = "\n".join(f"  • {escape(c)}" for c in item.changes)
        self.query_one("#item-facts", Static).update(
            f"[b]Changed since the last review[/b]\n{changes}\n[b]Last use: [/b]{escape(item.last_use)}"
        )
        if item.findings:
            lines = []
            for f in item.findings:
                advice = f" [$text-muted]→ {escape(f.advice)}[/]" if f.advice else ""
                lines.append(f"{SEVERITY_MARK[f.severity.label]}{f.severity.label}: {escape(f.reason)}{advice}")
            self.query_one("#item-findings", Static).update("\n".join(lines))
        else:
            self.query_one("#item-findings", Static).update("none")
        for check in CHECKLIST:
            answer, note = item.answers.get(check, ("", ""))
            for a in ANSWER_IDS:
                self.query_one(f"#check-{check}-{a}", RadioButton).value = answer == a
            self.query_one(f"#note-{check}", Input).value = note
        d = item.decision
        self.query_one("#decision-now", Static).update(
            f"[$text-success]decided: {escape(d.describe())}[/]"
            + (f" — {escape(d.reason)}" if d.reason else "")
            + (f" · switch: {escape(_label(d.outcome))}" if d.switch_action else "")
            if d
            else "[$text-muted]not decided yet[/]"
        )
        rec, detail = item.recommended
        button = self.query_one("#decide-recommended", Button)
        button.label = f"Recommended: {rec}{' to ' + detail if detail else ''}" if rec else "No recommendation"
        button.disabled = not rec or rec not in ("keep", "reduce", "rotate", "disable", "reassign", "snooze")
        alike = self.services.review.bulk_names(self.state, name) if item.decision is None else []
        bulk = self.query_one("#decide-bulk", Button)
        bulk.label = f"Same for all {len(alike)} like it" if len(alike) > 1 else "Same for all like it"
        bulk.disabled = len(alike) < 2
        bulk.tooltip = "The chosen keep, reassign or snooze for every undecided item with this recommendation."
        self.query_one("#decision", Select).clear()
        self.query_one("#decision-reason", Input).value = ""
        self.query_one("#decision-detail", Input).value = ""
        self.call_after_refresh(self._shown)

    def _shown(self) -> None:
        self.showing = False

    # -- events -------------------------------------------------------------------------------------
    @on(OptionList.OptionHighlighted, "#review-queue")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if self.state is not None and event.option.id and event.option.id != self.current:
            self.show_item(event.option.id)

    @on(RadioSet.Changed)
    def _answered(self, event: RadioSet.Changed) -> None:
        if self.showing or self.current is None or not event.radio_set.id:
            return
        check = event.radio_set.id.removeprefix("check-")
        answer = event.pressed.id.rsplit("-", 1)[-1] if event.pressed.id else ""
        if answer == "know":
            answer = "dont_know"
        if self.state.item(self.current).answers.get(check, ("", ""))[0] == answer:
            return  # the screen showing the stored answer, not a new one
        note = self.query_one(f"#note-{check}", Input).value
        self.save_answer(self.current, check, answer, note)

    @on(Input.Submitted, ".check-note")
    def _note(self, event: Input.Submitted) -> None:
        if self.current is None or not event.input.id:
            return
        check = event.input.id.removeprefix("note-")
        answer = self.state.item(self.current).answers.get(check, ("", ""))[0]
        if not answer:
            self.notify("Choose yes, no or don't know first; the note goes with the answer.", severity="warning")
            return
        self.save_answer(self.current, check, answer, event.value)

    @work(thread=True, group="review-write", exit_on_error=False, description="saving a checklist answer")
    def save_answer(self, name: str, check: str, answer: str, note: str) -> None:
        try:
            self.services.review.answer(self.state.id, name, check, answer, note)
        except Exception as exc:
            self.post_message(ReviewFailed(str(exc)))
            return
        self.post_message(ReviewLoaded(self.services.review.state(self.state.id), name))

    @on(Button.Pressed, "#save-purpose")
    def _save_purpose(self) -> None:
        if self.current is None:
            return
        values = [self.query_one(f"#purpose-{f}", Input).value for f in ("access", "task", "forbidden")]
        self.save_purpose(self.current, *values)

    @work(thread=True, group="review-write", exit_on_error=False, description="saving the purpose")
    def save_purpose(self, name: str, access: str, task: str, forbidden: str) -> None:
        try:
            self.services.review.edit_purpose(self.state.id, name, access, task, forbidden)
        except Exception as exc:
            self.post_message(ReviewFailed(str(exc)))
            return
        self.post_message(ReviewLoaded(self.services.review.state(self.state.id), name))

    # -- decisions -----------------------------------------------------------------------------------
    @on(Button.Pressed, "#decide")
    def _decide_pressed(self) -> None:
        value = self.query_one("#decision", Select).value
        if value is Select.BLANK or value is None:
            self.notify("Choose a decision first.", severity="warning")
            return
        decision, _, target = str(value).partition(":")
        self.decide(decision, target)

    @on(Button.Pressed, "#decide-bulk")
    def _bulk_pressed(self) -> None:
        value = self.query_one("#decision", Select).value
        if self.current is None or value is Select.BLANK or value is None:
            self.notify("Choose a decision first (keep, reassign or snooze).", severity="warning")
            return
        decision, _, target = str(value).partition(":")
        typed = self.query_one("#decision-detail", Input).value.strip()
        until = None
        if decision == "snooze" and typed:
            try:
                until = datetime.fromisoformat(typed).replace(tzinfo=UTC)
            except ValueError:
                self.notify("Give the snooze's end as YYYY-MM-DD.", title="Snooze", severity="error")
                return
        detail = typed if decision == "reassign" else target
        self.record_bulk(self.current, decision, self.query_one("#decision-reason", Input).value, detail, until)

    @work(thread=True, group="review-write", exit_on_error=False, description="recording decisions")
    def record_bulk(self, name: str, decision: str, reason: str, detail: str, until: Any) -> None:
        from app.services.inventory import ValidationError

        svc = self.services.review
        try:
            done = svc.decide_bulk(self.state.id, name, decision, reason=reason, detail=detail, until=until)
        except ValidationError as exc:
            self.post_message(ReviewFailed("; ".join(exc.errors.values())))
            return
        except Exception as exc:
            self.post_message(ReviewFailed(str(exc)))
            return
        state = svc.state(self.state.id)
        self.post_message(ReviewLoaded(state, self.next_after(name)))
        self.app.call_from_thread(
            self.notify, f"{done[0].describe().capitalize()}: {', '.join(d.connector for d in done)}.", title="Decided"
        )

    @on(Button.Pressed, "#decide-recommended")
    def _recommended_pressed(self) -> None:
        if self.current is None:
            return
        rec, detail = self.state.item(self.current).recommended
        if rec:
            self.decide(rec, detail)

    def decide(self, decision: str, target: str = "") -> None:
        from app.services.inventory import ValidationError

        if self.current is None or self.state is None:
            return
        if self.state.finished_at is not None:
            self.notify("This review is finished; press w on the main screen next week.", severity="warning")
            return
        name = self.current
        reason = self.query_one("#decision-reason", Input).value
        typed = self.query_one("#decision-detail", Input).value.strip()
        until = None
        detail = target
        if decision == "reassign":
            detail = typed
        elif decision == "snooze" and typed:
            try:
                until = datetime.fromisoformat(typed).replace(tzinfo=UTC)
            except ValueError:
                self.notify("Give the snooze's end as YYYY-MM-DD.", title="Snooze", severity="error")
                return
        try:
            checked = self.services.review.check_decision(
                self.state, name, decision, reason=reason, detail=detail, until=until
            )
        except ValidationError as exc:
            self.notify("\n".join(exc.errors.values()), title=f"Cannot {decision} {name} yet", severity="error")
            return
        if checked.switch_action is None:
            self.record(checked)
        else:
            self.plan_switch(checked)

    @work(thread=True, group="review-write", exit_on_error=False, description="recording a decision")
    def record(self, decision: Any, outcome: str = "") -> None:
        try:
            self.services.review.decide(self.state.id, decision, outcome=outcome)
        except Exception as exc:
            self.post_message(ReviewFailed(str(exc)))
            return
        self.post_message(ReviewLoaded(self.services.review.state(self.state.id), self.next_after(decision.connector)))

    def next_after(self, name: str) -> str:
        names = [i.name for i in self.state.items]
        later = names[names.index(name) + 1 :] + names
        return next((n for n in later if n != name and not self.state.item(n).decision), name)

    @work(thread=True, group="review-plan", exit_on_error=False, description="reading the switch plan")
    def plan_switch(self, decision: Any) -> None:
        try:
            plan = self.services.switches.plan(decision.connector, decision.switch_action)
        except Exception as exc:
            self.post_message(ReviewFailed(str(exc)))
            return
        self.app.call_from_thread(self.confirm_switch, decision, plan)

    def confirm_switch(self, decision: Any, plan: Any) -> None:
        from app.tui.screens.confirm import NewKeyModal, SwitchConfirm

        def pasted(secret: Any) -> None:
            if secret is not None:
                self.run_switch(decision, secret)

        def chosen(choice: Any) -> None:
            if choice is None:
                self.notify("Nothing was changed; the item is not decided.", title="Cancelled")
                return
            if plan.guided:
                self.app.push_screen(NewKeyModal(plan), pasted)
            else:
                self.run_switch(decision, None, getattr(choice, "revoke_full", False))

        def replan(revoke_full: bool) -> Any:
            return self.services.switches.plan(decision.connector, decision.switch_action, revoke_full=revoke_full)

        self.app.push_screen(SwitchConfirm(plan, replan=replan), chosen)

    @work(group="review-switch", exit_on_error=False, description="running a switch from the review")
    async def run_switch(self, decision: Any, secret: Any = None, revoke_full: bool = False) -> None:
        from app.tui.messages import SwitchProgress

        sw = self.services.switches
        main = self.app.main_screen

        def on_event(event: Any) -> None:
            main.post_message(SwitchProgress(event))  # the table's Switch column and the toasts, as for d/o/x/r

        try:
            if secret is not None:
                report = await sw.rotate_with(decision.connector, secret, on_event=on_event)
            else:
                report = await sw.switch(
                    decision.connector, decision.switch_action, revoke_full=revoke_full, on_event=on_event
                )
        except Exception as exc:
            self.post_message(SwitchDecided(decision, None, str(exc) or type(exc).__name__))
            return
        self.post_message(SwitchDecided(decision, report))

    @on(SwitchDecided)
    def _switched(self, message: SwitchDecided) -> None:
        from app.tui.messages import SwitchesChanged

        self.app.post_message(SwitchesChanged([message.decision.connector]))
        if message.error:
            self.notify(
                message.error, title=f"The switch of {message.decision.connector} did not run", severity="error"
            )
            return
        report = message.report
        self.record(message.decision, report.state)
        if not report.verified:
            self.app.main_screen.show_outcome(report)  # the manual steps, "I did it", verify, force: as for x/o/d/r

    # -- the end ---------------------------------------------------------------------------------------
    @on(Button.Pressed, "#finish")
    def action_finish(self) -> None:
        if self.state is None or self.state.finished_at is not None:
            return
        self.finish()

    @work(thread=True, group="review-write", exit_on_error=False, description="finishing the review")
    def finish(self) -> None:
        try:
            state = self.services.review.finish(self.state.id)
        except Exception as exc:
            self.post_message(ReviewFailed(str(exc)))
            return
        self.post_message(ReviewLoaded(state, self.current))
        self.app.call_from_thread(
            self.notify,
            f"Review {state.iso_week} finished: {state.progress}. The report and figures are kept; ctrl+s exports.",
            title="Weekly review",
        )
        self.app.call_from_thread(self.app.main_screen.reload)
        self.app.call_from_thread(lambda: self.app.main_screen.refresh_review_banner(now=True))

    @on(Button.Pressed, "#figures")
    def action_figures(self) -> None:
        from app.tui.screens.figures import FiguresScreen

        self.app.push_screen(FiguresScreen())

    @on(Button.Pressed, "#export")
    def action_export(self) -> None:
        self.export()

    @work(thread=True, group="review-export", exit_on_error=False, description="exporting the report")
    def export(self) -> None:
        self.post_message(ReportExported(*export_report(self.services)))

    @on(ReportExported)
    def _exported(self, message: ReportExported) -> None:
        if message.error:
            self.notify(message.error, title="Report not exported", severity="error")
        else:
            self.notify("\n".join(message.paths), title="Report written", timeout=12)

    def action_leave(self) -> None:
        if self.state is not None and self.state.finished_at is None and self.state.items:
            self.notify(f"The review stays open ({self.state.progress}); w resumes it.", title="Weekly review")
        self.app.pop_screen()
        self.app.main_screen.reload()  # the summary follows
        self.app.main_screen.refresh_review_banner(now=True)


def export_report(services) -> tuple[list[str], str]:
    """Write the latest finished review's report, Markdown and HTML, into the data folder."""
    from app.services.review import ReviewError

    svc = services.review
    try:
        review_id = svc.latest_finished_id()
        if review_id is None:
            raise ReviewError("no review has been finished yet: finish this one first (ctrl+t)")
        week = svc.state(review_id).iso_week
        folder = services.settings.data_dir
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for fmt in ("md", "html"):
            path = folder / f"breaker-review-{week}.{fmt}"
            path.write_text(svc.report(review_id, fmt=fmt), encoding="utf-8")
            paths.append(str(path))
    except (ReviewError, OSError) as exc:
        return [], str(exc)
    return paths, ""


def _label(state: str) -> str:
    from app.services.switches.states import label

    return label(state)
