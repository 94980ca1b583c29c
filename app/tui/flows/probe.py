"""Probing from the panel: ``p`` (the selected connector), ``P`` (all, with a progress bar) and
``ctrl+d`` (a deep probe, after saying how many requests it sends).

The probe runs in an async worker on the app's loop (httpx is async). Results reach the screen as
:class:`ProbesArrived` messages, batched every ~200 ms: a probe-all of 1,000 connectors then costs
the UI a few dozen table updates, not a thousand, and the panel keeps answering keys. Each row is
updated from the result at once (outcome, live level, drift); when the run ends and every result is
stored, the inventory is read again so the rows, the summary strip and any open connector screen
show exactly what the store holds.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.widgets import Static

from app.tui.actions import BY_ACTION
from app.tui.flows.base import Flow
from app.tui.messages import ProbesArrived, ProbesFinished, ProbesStored
from app.tui.widgets.present import now

if TYPE_CHECKING:
    from app.services.probing import ProbeResult

FLUSH_EVERY_S = 0.2  # how often a running probe hands its new results to the screen (each hand-over redraws the table)


@dataclass
class ProbeRun:
    names: list[str]
    deep: bool
    whole: bool  # a probe-all (progress bar) rather than one connector
    done: int = 0
    failed: int = 0
    drift: int = 0
    seen: set[str] = field(default_factory=set)


def deep_probe_counts(providers: list[str]) -> list[tuple[str, int]]:
    """(provider title, requests a deep probe sends) for each provider, as each provider states it."""
    from connectors import registry

    out = []
    for name in dict.fromkeys(providers):
        try:
            provider = registry.get(name)
        except KeyError:
            continue
        out.append((provider.title, int(provider.deep_probe_requests)))
    return out


def result_line(result: ProbeResult) -> tuple[str, str]:
    """One line about one probe for a notification, and its severity."""
    report = result.report
    if report.outcome.value != "ok":
        why = f": {report.error}" if report.error else (f" (HTTP {report.status})" if report.status else "")
        return f"{report.outcome.value}{why}", "error"
    level = f"live level {report.live_level.label}" if report.live_level is not None else "no scopes reported"
    deep = " (deep)" if report.deep else ""
    if result.drift:
        return f"ok{deep} — {level}; ▲ " + "; ".join(result.drift), "warning"
    return f"ok{deep} — {level}; nothing beyond what is declared and allowed", "information"


class ProbeFlow(Flow):
    """The probe runs of the main screen, and the progress line of a probe-all (this widget, shown
    below the table while one runs). The screen's ``p``, ``P`` and ``ctrl+d`` call :meth:`probe`,
    :meth:`probe_all` and :meth:`deep_probe`."""

    DEFAULT_CSS = """
    ProbeFlow {
        layout: horizontal;
    }
    """

    def __init__(self, host, **kwargs) -> None:
        super().__init__(host, **kwargs)
        self.runs: dict[int, ProbeRun] = {}
        self.counter = 0

    def compose(self) -> ComposeResult:
        # Empty until the first probe-all: the label and the progress bar are mounted by
        # show_probe_progress. Composed up front they cost the panel's first frame 50 M
        # instructions (callgrind, bench_startup's panel at 1,000 connectors) for a hidden line.
        yield from ()

    def on_mount(self) -> None:
        self.display = False

    # -- actions ---------------------------------------------------------------------------------
    def probe(self, name: str | None = None) -> None:
        target = self.host.target(BY_ACTION["probe"], name)
        if target:
            self.start_probe([target], deep=False)

    def probe_all(self) -> None:
        if self.host.target(BY_ACTION["probe_all"], None) is None:
            return
        if self.probe_all_running:
            self.notify(
                "A probe of every connector is already running; its progress is below the table.", severity="warning"
            )
            return
        names = [v.name for v in self.host.views]
        if not names:
            self.notify("Nothing to probe yet: press a to add a connector.", severity="warning")
            return
        self.start_probe(names, deep=False, whole=True)

    def deep_probe(self, name: str | None = None) -> None:
        target = self.host.target(BY_ACTION["deep_probe"], name)
        if not target:
            return
        from app.tui.screens.confirm import DeepProbeConfirm

        table = self.host.table
        view = table.view_named(target) or next((v for v in self.host.views if v.name == target), None)
        counts = deep_probe_counts([view.provider] if view else [])

        def chosen(go: bool | None) -> None:
            if go:
                self.start_probe([target], deep=True)

        self.app.push_screen(DeepProbeConfirm([target], counts), chosen)

    @property
    def probe_all_running(self) -> bool:
        return any(run.whole for run in self.runs.values())

    # -- the run ---------------------------------------------------------------------------------
    def start_probe(self, names: list[str], *, deep: bool, whole: bool = False) -> int:
        self.counter += 1
        run = self.counter
        self.runs[run] = ProbeRun(list(names), deep, whole)
        if whole:
            self.show_probe_progress(self.runs[run])
        else:
            self.notify(f"Probing {names[0]}{' (deep)' if deep else ''}…", title="Probe", timeout=2)
        self.probe_worker(list(names), deep, run)
        return run

    @work(group="probe", exit_on_error=False, description="probing")
    async def probe_worker(self, names: list[str], deep: bool, run: int) -> None:
        # On the app's loop (not a thread): the probing service is async. Posts messages only.
        pending: list[ProbeResult] = []

        def flush() -> None:
            if pending:
                self.post_message(ProbesArrived(run, pending[:]))
                pending.clear()

        async def flush_regularly() -> None:
            while True:
                await asyncio.sleep(FLUSH_EVERY_S)
                flush()

        flusher = asyncio.create_task(flush_regularly())
        try:
            results = await self.services.prober.probe(names, deep=deep, on_result=pending.append)
        except Exception as exc:  # a connector removed meanwhile, a store error: one line, the panel stays
            flush()
            self.post_message(ProbesFinished(run, names, [], deep, error=str(exc) or type(exc).__name__))
            return
        finally:
            flusher.cancel()
        flush()
        self.post_message(ProbesFinished(run, names, results, deep))

    def on_probes_arrived(self, message: ProbesArrived) -> None:
        from app.services.views import after_probe  # the probing service's rules, not the panel's

        run = self.runs.get(message.run)
        variables = self.app.theme_variables
        warn_days = self.app.settings.key_age_warn_days
        table = self.host.table
        for result in message.results:
            view = table.view_named(result.connector)
            if view is not None:
                table.update_view(after_probe(view, result, now()), variables, key_age_warn_days=warn_days)
            if run is not None and result.connector not in run.seen:
                run.seen.add(result.connector)
                run.done += 1
                run.failed += result.failed
                run.drift += bool(result.drift)
        if run is not None and run.whole:
            self.show_probe_progress(run)

    def on_probes_finished(self, message: ProbesFinished) -> None:
        run = self.runs.pop(message.run, None)
        if run is not None and run.whole:
            self.hide_probe_progress()
        if message.error:
            self.notify(message.error, title="The probe could not finish", severity="error")
        elif len(message.results) == 1 and not (run and run.whole):
            result = message.results[0]
            line, severity = result_line(result)
            self.notify(line, title=f"Probe of {result.connector}", severity=severity)
        elif message.results:
            failed = sum(r.failed for r in message.results)
            drift = sum(bool(r.drift) for r in message.results)
            total = len(message.results)
            self.notify(
                f"{total} probed: {total - failed} ok, {failed} failed, {drift} with drift.",
                title="Probe of every connector",
                severity="warning" if failed or drift else "information",
            )
        self.app.post_message(ProbesStored(list(message.names)))

    # -- progress ----------------------------------------------------------------------------------
    def show_probe_progress(self, run: ProbeRun) -> None:
        from textual.widgets import ProgressBar

        if not self.children:
            self.mount(Static("", id="probe-label"), ProgressBar(id="probe-bar", show_eta=False))
        self.display = True
        bar = self.query_one("#probe-bar", ProgressBar)
        bar.update(total=len(run.names), progress=run.done)
        parts = [f"Probing all {len(run.names):,} connectors: {run.done:,} done"]
        if run.failed:
            parts.append(f"[$text-error]{run.failed:,} failed[/]")
        if run.drift:
            # Found by this run so far; the summary tile above counts what the store holds.
            parts.append(f"[$text-warning]▲ {run.drift:,} with drift so far[/]")
        self.query_one("#probe-label", Static).update(" · ".join(parts))

    def hide_probe_progress(self) -> None:
        self.display = False
