"""The emergency disable: two confirmations, then a screen that fills in as results arrive.

No single stray key can trip it: ``!`` opens a modal whose focus is on Cancel (so ``! enter``
cancels); continuing opens a second step where the owner types PANIC or the number of
connectors. Once confirmed the panic runs to its end (the service never waits on a single
provider); the screen cannot be left while it runs, and it ends with the honest summary:
verified, applied but not verified, waiting for you (nothing applied), failed — with the steps.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DataTable, Header, Input, ProgressBar, Static

from app.services.vocabulary import JobState
from app.tui.markup import escape
from app.tui.messages import PanicFinished, PanicProgress, SwitchesChanged
from app.tui.screens.base import SCREENS_CSS, CancellableModal, ReportsWorkerErrors
from app.tui.screens.confirm import FOCUS_KEYS, steps_lines
from app.tui.widgets.connector_table import set_cell
from app.tui.widgets.key_bar import KeyBar
from app.tui.widgets.outline import Outline, OutlineLine, line, parse_outline
from app.tui.widgets.present import switch_text, switch_word, tone

CONFIRM_WORD = "PANIC"
FLUSH_EVERY_S = 0.1
# Event states after which a connector has nothing more coming (a PENDING is final unless it says
# "retrying"; the summary at the end settles every connector anyway).
FINAL = {JobState.VERIFIED, JobState.UNVERIFIED, JobState.FAILED, JobState.OUT_OF_SYNC, JobState.PENDING}


def plan_lines(plan: Any) -> list[OutlineLine]:
    """The panic plan below its first line (the title), warnings coloured."""
    body = "\n".join(plan.text().splitlines()[1:]).strip("\n")
    return parse_outline(
        body, lambda marker, text: f"[$text-warning]{escape(text)}[/]" if marker == "⚠" else escape(text)
    )


class PanicConfirm(CancellableModal[bool]):
    """Step one: what the emergency disable will do. Focus on Cancel."""

    CANCELLED = False
    BINDINGS = [Binding("escape,n", "cancel", "cancel", id="panic-cancel"), *FOCUS_KEYS]
    AUTO_FOCUS = "#cancel"

    def __init__(self, plan: Any) -> None:
        super().__init__(id="panic-confirm")
        self.plan = plan

    def compose(self) -> ComposeResult:
        with Vertical(id="panic-dialog", classes="dialog -danger"):
            yield Static(escape(self.plan.text().splitlines()[0]), classes="dialog-title")
            with VerticalScroll(id="panic-plan"):
                yield Outline(plan_lines(self.plan), id="panic-text")
            yield Static("Next you type PANIC (or the number of connectors) to start it.", id="panic-next")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Continue…", variant="error", id="continue")
                yield Button("Cancel", id="cancel")

    @on(Button.Pressed, "#continue")
    def _continue(self) -> None:
        self.dismiss(True)


def typed_enough(text: str, count: int) -> bool:
    """The deliberate second step: the word PANIC (any case: a frightened owner forgets caps lock)
    or the exact number of connectors."""
    answer = text.strip()
    return answer.upper() == CONFIRM_WORD or answer == str(count)


class PanicTypeConfirm(CancellableModal[bool]):
    """Step two: type PANIC or the number. Enter on anything else does nothing but say so."""

    CANCELLED = False
    BINDINGS = [Binding("escape", "cancel", "cancel", id="panic-type-cancel")]
    AUTO_FOCUS = "#panic-word"

    def __init__(self, plan: Any) -> None:
        super().__init__(id="panic-type")
        self.plan = plan

    def compose(self) -> ComposeResult:
        count = self.count
        servers = len(self.plan.mcp_servers)
        what = (
            f"Every one of the [b]{self.plan.count}[/b] connector(s) will be disabled in Breaker at once, then its "
            f"key revoked at its provider where the provider allows it ({self.irreversible()})."
            if self.plan.count
            else ""
        )
        if servers:
            what += (" Then " if what else "") + (
                f"[b]{servers}[/b] MCP server(s) will be turned off in their apps' config files."
            )
        with Vertical(id="panic-type-dialog", classes="dialog -danger"):
            yield Static("Emergency disable — last step", classes="dialog-title")
            yield Static(
                f"{what}\n\nType [b]{CONFIRM_WORD}[/b] or [b]{count}[/b] and press enter to start. Escape cancels.",
                id="panic-type-text",
            )
            yield Input(placeholder=f"{CONFIRM_WORD} or {count}", id="panic-word", compact=True)
            yield Static("", id="panic-word-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button(
                    f"Disable all {self.plan.count}" if self.plan.count else f"Turn off {servers}",
                    variant="error",
                    id="go",
                    disabled=True,
                )
                yield Button("Cancel", id="cancel")

    @property
    def count(self) -> int:
        """The number that confirms: the connectors, or the MCP servers when there is no connector."""
        return self.plan.count or len(self.plan.mcp_servers)

    def irreversible(self) -> str:
        n = sum(self.plan.irreversible.values())
        return f"{n} of them cannot be undone" if n else "each can be re-enabled later"

    def on_mount(self) -> None:
        self.query_one("#panic-word-error").display = False

    @on(Input.Changed, "#panic-word")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#go", Button).disabled = not typed_enough(event.value, self.count)
        self.query_one("#panic-word-error").display = False

    @on(Input.Submitted, "#panic-word")
    def _submitted(self, event: Input.Submitted) -> None:
        if typed_enough(event.value, self.count):
            self.dismiss(True)
            return
        error = self.query_one("#panic-word-error", Static)
        error.update(f"✖ Type {CONFIRM_WORD} or {self.count} to go on; nothing was changed.")
        error.display = True

    @on(Button.Pressed, "#go")
    def _go(self) -> None:
        if typed_enough(self.query_one("#panic-word", Input).value, self.count):
            self.dismiss(True)


def batch_started(batch: str) -> str:
    """``panic-20260101T120000-1a2b3c`` → "2026-01-01 12:00 UTC" (the journal's batch ids carry their time)."""
    found = re.match(r"panic-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})", batch)
    if not found:
        return ""
    y, mo, d, h, mi = found.groups()
    return f"{y}-{mo}-{d} {h}:{mi} UTC"


class ResumeOffer(CancellableModal[bool]):
    """The panel opened with an interrupted emergency disable in the journal: offer to finish it."""

    CANCELLED = False
    BINDINGS = [Binding("escape,n", "cancel", "not now", id="resume-cancel"), *FOCUS_KEYS]
    AUTO_FOCUS = "#cancel"

    def __init__(self, batches: list[str]) -> None:
        super().__init__(id="resume-offer")
        self.batches = batches

    def compose(self) -> ComposeResult:
        batch = self.batches[0]
        when = batch_started(batch)
        more = (
            f"\n\n{len(self.batches) - 1} older interrupted one(s) can be finished with "
            "`breaker panic --resume --batch ID`."
            if len(self.batches) > 1
            else ""
        )
        with Vertical(id="resume-dialog", classes="dialog -danger"):
            yield Static("An emergency disable was interrupted", classes="dialog-title")
            yield Static(
                f"The emergency disable [b]{escape(batch)}[/b]{f' (started {when})' if when else ''} did "
                "not finish: the panel or the machine stopped while it ran.\n\n"
                "Resuming finishes it from its journal: connectors not yet recorded are recorded disabled, "
                "a provider call that already went through is not sent again, and every connector is "
                "verified (by probe at its provider, or at Breaker's gateway when it is routed there). "
                f"Nothing runs unless you choose Resume.{more}",
                id="resume-text",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Resume now", variant="error", id="resume")
                yield Button("Not now", id="cancel")

    @on(Button.Pressed, "#resume")
    def _resume(self) -> None:
        self.dismiss(True)


class PanicScreen(ReportsWorkerErrors, Screen):
    """The emergency disable running: a progress bar, one row per connector filled in as its steps
    happen, and the summary at the end."""

    CSS_PATH = SCREENS_CSS

    BINDINGS = [Binding("escape", "back", "back", id="panic-back")]
    AUTO_FOCUS = "#panic-table"
    DETAIL_WIDTH = 58

    def __init__(self, *, plan: Any = None, resume: str | None = None) -> None:
        super().__init__(id="panic", classes="panic-screen")
        self.plan = plan
        self.resume_batch = resume
        self.total = plan.count if plan is not None else 0
        self.rows: dict[str, str] = {}  # connector → row key
        self.state: dict[str, str] = {}
        self.finished = False
        self.summary: Any = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="panic-status")
        yield ProgressBar(id="panic-bar", show_eta=False)
        yield DataTable(id="panic-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="panic-summary"):
            yield Outline([], id="panic-summary-text")
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = "emergency disable" + (" — resuming" if self.resume_batch else "")
        table = self.query_one("#panic-table", DataTable)
        for key, header in (
            ("connector", "Connector"),
            ("provider", "Provider"),
            ("state", "State"),
            ("detail", "Detail"),
            ("time", "Time"),
        ):
            table.add_column(header, key=key)
        if self.plan is not None:
            views = {v.name: v for v in getattr(self.app.main_screen, "views", [])}
            for name in self.plan.names:
                view = views.get(name)
                self.add_row(name, view.provider if view else "")
        self.query_one("#panic-summary").display = False
        self.app.panic_running = True  # type: ignore[attr-defined]
        self.show_status()
        self.run_panic()

    def add_row(self, name: str, provider: str) -> str:
        table = self.query_one("#panic-table", DataTable)
        key = f"c{len(self.rows)}"
        self.rows[name] = key
        muted = tone(self.app.theme_variables, "foreground-darken-2")
        table.add_row(
            Text(name, style="bold"), Text(provider), Text("waiting", style=muted), Text(""), Text(""), key=key
        )
        return key

    # -- the run ---------------------------------------------------------------------------------
    @work(group="panic", exit_on_error=False, description="the emergency disable")
    async def run_panic(self) -> None:
        # On the app's loop; SwitchEvents are batched into PanicProgress messages every ~100 ms.
        from app.services.switches import Selection

        sw = self.app.services.switches
        pending: list[Any] = []

        def flush() -> None:
            if pending:
                self.post_message(PanicProgress(pending[:]))
                pending.clear()

        async def flush_regularly() -> None:
            while True:
                await asyncio.sleep(FLUSH_EVERY_S)
                flush()

        flusher = asyncio.create_task(flush_regularly())
        try:
            if self.resume_batch is not None:
                summary = await sw.resume(self.resume_batch, on_event=pending.append)
            else:
                summary = await sw.panic(Selection(), on_event=pending.append)
        except Exception as exc:  # the journal keeps what was done; the resume finishes it
            flush()
            self.post_message(PanicFinished(error=str(exc) or type(exc).__name__))
            return
        finally:
            flusher.cancel()
        flush()
        self.post_message(PanicFinished(summary))

    def on_panic_progress(self, message: PanicProgress) -> None:
        table = self.query_one("#panic-table", DataTable)
        variables = self.app.theme_variables
        for event in message.events:
            key = self.rows.get(event.connector) or self.add_row(event.connector, event.provider)
            # a "retrying" pending is a step; any other pending is where the provider left it
            retrying = event.state is JobState.PENDING and "retrying" in event.message
            self.state[event.connector] = "retrying" if retrying else event.state
            set_cell(table, key, "state", switch_text(event.state, variables))
            set_cell(table, key, "detail", Text(clip(event.message, self.DETAIL_WIDTH)))
            set_cell(table, key, "time", Text(f"{event.elapsed_ms / 1000:.1f} s"))
        self.show_status()

    @property
    def done(self) -> int:
        return sum(1 for s in self.state.values() if s in FINAL)

    def show_status(self) -> None:
        total = max(self.total, len(self.rows))
        bar = self.query_one("#panic-bar", ProgressBar)
        bar.update(total=total or 1, progress=total if self.finished else self.done)
        if self.finished:
            return
        recorded = len(self.state)
        what = "Resuming the emergency disable" if self.resume_batch else "Disabling every connector"
        self.query_one("#panic-status", Static).update(
            f"[b $text-error]{what}[/] — {recorded}/{total} recorded locally · {self.done}/{total} finished. "
            "Each provider is called at the same time; a slow one delays only its own connectors."
        )

    async def on_panic_finished(self, message: PanicFinished) -> None:
        self.finished = True
        self.app.panic_running = False  # type: ignore[attr-defined]
        self.summary = message.summary
        status = self.query_one("#panic-status", Static)
        if message.error:
            status.update(
                f"[b $text-error]The emergency disable stopped:[/] {escape(message.error)}. What was done "
                "is in the journal; the panel offers to resume it when it next opens "
                "(or run `breaker panic --resume`)."
            )
            self.notify(message.error, title="Emergency disable stopped", severity="error")
        elif message.summary is None:
            status.update("Nothing to resume: the interrupted emergency disable had already finished.")
        else:
            await self.show_summary(message.summary)
        self.show_status()
        self.app.post_message(SwitchesChanged(list(self.rows)))

    async def show_summary(self, summary: Any) -> None:
        variables = self.app.theme_variables
        table = self.query_one("#panic-table", DataTable)
        for report in summary.reports:  # the journal's last word for every row
            key = self.rows.get(report.connector) or self.add_row(report.connector, report.provider)
            set_cell(table, key, "state", switch_text(report.state, variables))
            note = report.verify_note or report.message
            set_cell(table, key, "detail", Text(clip(note, self.DETAIL_WIDTH)))
        self.total = max(summary.total, len(self.rows))
        ok = len(summary.verified)
        how = verified_how(summary.verified)
        head = (
            f"[b $text-success]Done: all {summary.total} connector(s) disabled and verified {how}.[/]"
            if summary.ok and summary.total
            else "[b]Done.[/]"
            if summary.ok
            else f"[b $text-error]Done, not all verified — {len(summary.not_verified)} key(s) may still work:[/] "
            f"{ok} of {summary.total} verified {how}."
            if summary.not_verified
            else f"[b $text-warning]Done: {ok} of {summary.total} verified {how}, "
            "but NOT recorded in Breaker (below).[/]"
        )
        recorded = (
            f" All recorded disabled locally in {fmt_ms(summary.recorded_ms)};"
            if summary.recorded
            else " [b $text-error]Nothing could be recorded locally;[/]"
        )
        timing = f"{recorded} finished in {fmt_ms(summary.verified_ms)}." if summary.total else ""
        if summary.mcp_off or summary.mcp_failed:
            timing += f" MCP servers turned off: {len(summary.mcp_off or [])}" + (
                f", [b $text-error]{len(summary.mcp_failed)} not[/]." if summary.mcp_failed else "."
            )
        self.query_one("#panic-status", Static).update(head + timing + " escape: back to the panel.")
        await self.query_one("#panic-summary-text", Outline).show(summary_lines(summary))
        self.query_one("#panic-summary").display = True
        severity = "information" if summary.ok and not summary.mcp_failed else "warning"
        mcp = f" · {len(summary.mcp_off)} MCP server(s) turned off" if summary.mcp_off else ""
        self.notify(
            f"{ok} verified · {len(summary.unverified)} applied, not verified · {len(summary.waiting)} waiting "
            f"for you · {len(summary.failed)} failed{mcp}"
            + (f" · {len(summary.not_called)} not called (keyring)" if getattr(summary, "not_called", None) else ""),
            title="Emergency disable finished",
            severity=severity,
            timeout=10,
        )

    def action_back(self) -> None:
        if not self.finished:
            self.notify(
                "The emergency disable is still running; it never waits on one provider, so this ends in seconds.",
                severity="warning",
            )
            return
        self.dismiss()


def clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def fmt_ms(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def verified_how(verified: list[Any]) -> str:
    """How the verified ones were verified: by probe at their providers, at the gateway (routed), or both."""
    at_gateway = sum(1 for r in verified if r.at)
    if not at_gateway:
        return "by probe"
    if at_gateway == len(verified):
        return "at Breaker's gateway"
    return f"({len(verified) - at_gateway} by probe, {at_gateway} at Breaker's gateway)"


def summary_lines(summary: Any) -> list[OutlineLine]:
    """Verified, applied but unverified, failed — each with what the owner must still do."""
    lines: list[OutlineLine] = []
    for title, reports in (
        ("✔ Verified by probe", [r for r in summary.verified if not r.at]),
        (
            "✔ Verified at Breaker's gateway (routed: every request refused there)",
            [r for r in summary.verified if r.at],
        ),
    ):
        if reports:
            names = ", ".join(r.connector for r in reports)
            lines.append(line(f"[b $text-success]{title} ({len(reports)}):[/] {escape(clip(names, 400))}"))
    for title, reports, colour in (
        ("◐ Applied at the provider, not verified", summary.unverified, "$text-warning"),
        ("✎ Waiting for you — nothing was applied at the provider", summary.waiting, "$text-warning"),
        ("✖ Failed — do these by hand", summary.failed, "$text-error"),
        (
            "✖ Recorded disabled, provider NOT called — the keyring could not be read; unlock it and resume "
            "(`breaker panic --resume`), or do these by hand",
            getattr(summary, "not_called", []),
            "$text-error",
        ),
    ):
        if not reports:
            continue
        lines += [line(""), line(f"[b {colour}]{title} ({len(reports)}):[/]")]
        for report in reports:
            why = report.verify_note or report.message
            lines.append(
                line(
                    f"[b]{escape(report.connector)}[/b] ({escape(report.provider)}, "
                    f"{escape(switch_word(report.state))})" + (f": {escape(why)}" if why else "")
                )
            )
            lines += steps_lines(report.manual_steps, report.provider) if report.manual_steps else []
    lines += mcp_lines(summary)
    if getattr(summary, "write_problem", ""):
        names = escape(clip(", ".join(summary.not_recorded), 400))
        if not summary.recorded:
            what = (
                "Breaker could not record even the start of this emergency disable. The provider calls were made "
                f"all the same, but Breaker's own record still shows {names} as enabled, so `breaker exec` still "
                "hands out their keys (a revoked key no longer works anywhere). "
            )
        elif names:
            what = f"The provider calls were made, but what happened to {names} is not in Breaker's database. "
        else:
            what = ""
        lines += [
            line(""),
            line(f"[b $text-error]✖ NOT recorded:[/] {escape(summary.write_problem)}"),
            line(
                what + "Free some space, then run `breaker panic --resume` (or press ! again): it looks at each key "
                "first and records what it finds (a key already revoked is not revoked again)."
            ),
        ]
    if summary.not_verified:
        lines += [
            line(""),
            line(
                "[$text-muted]Done the steps? Open the connector (enter on its row in the panel) "
                "and press c, or run `breaker confirm NAME`; a probe then verifies it.[/]"
            ),
        ]
    return lines


def mcp_lines(summary: Any) -> list[OutlineLine]:
    """The MCP servers the emergency disable turned off in their apps' config files (or could not)."""
    off, failed = summary.mcp_off or [], summary.mcp_failed
    lines: list[OutlineLine] = []
    if off:
        lines += [
            line(""),
            line(f"[b $text-success]⏻ MCP servers turned off in their apps' config files ({len(off)}):[/]"),
        ]
        lines += [line(escape(r.sentence)) for r in off]
        lines.append(
            line(
                "[$text-muted]`breaker mcp-enable NAME` turns one back on (an entry taken out is put back as it was).[/]"
            )
        )
    if failed:
        lines += [line(""), line(f"[b $text-error]✖ MCP servers not turned off — do these by hand ({len(failed)}):[/]")]
        lines += [line(escape(f)) for f in failed]
    return lines
