"""One connector: its purpose, declared vs live scopes, credential facts, switch state, probe
history and audit events. Actions delegate to the main screen's methods with this connector.

The screen reloads itself when a probe or a switch of its connector ends (it subscribes to the app's
``probes_stored_signal`` and ``switches_changed_signal``), so ``p`` here shows the new live scopes at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Sparkline, Static

from app.services.inventory import ConnectorView, NotFound
from app.services.vocabulary import JobState
from app.tui.actions import BY_ACTION, CONNECTOR_ACTIONS
from app.tui.markup import escape
from app.tui.messages import InventoryChanged, ProbesStored, StoreChanged, SwitchesChanged
from app.tui.screens.base import SCREENS_CSS, ReportsWorkerErrors
from app.tui.widgets.key_bar import KeyBar
from app.tui.widgets.present import (
    NOTHING,
    ago,
    days,
    event_sentence,
    level_markup,
    level_text,
    local_time,
    short_scope,
    tone,
    until,
)
from connectors import registry
from connectors.base import Level


def switch_label(state: str | None, routed: bool = False) -> str:
    """The honest state in full words (app.services.switches.states.view_label)."""
    from app.services.switches.states import view_label

    return view_label(state, routed)


HISTORY_LIMIT = 50
EVENTS_LIMIT = 200


def probe_history(services: Any, name: str, limit: int = HISTORY_LIMIT) -> list:
    """The connector's recent probes, newest first (app.services.probing.Prober.history)."""
    from app.services.probing import Prober  # only the connector screen needs it

    return list(Prober(services).history(name, limit))


def gateway_use(services: Any, name: str) -> Any:
    """The connector's gateway use per level and week (app.services.gateway.Gateway.use_by_level)."""
    from app.services.gateway import Gateway

    return Gateway(services).use_by_level(name)


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def provider_title(name: str) -> str:
    try:
        return registry.get(name).title
    except Exception:  # unknown or broken provider module: its name is still true
        return name


@dataclass
class ConnectorRead(Message, bubble=False):
    """The loading worker read the connector, its recent probes and audit events and its latest switch."""

    view: ConnectorView | None  # None: no longer in the inventory
    probes: list = field(default_factory=list)
    events: list = field(default_factory=list)
    latest: Any = None  # the connector's latest switch (app.services.switches.JobReport) or None
    use: Any = None  # gateway use per level and week (app.services.gateway.UseByLevel) or None


WAITING_STATES = (JobState.MANUAL, JobState.APPLIED, JobState.FAILED, JobState.PENDING, JobState.OUT_OF_SYNC)


def outcome_strip(probes: list, variables) -> Text:
    """One symbol per probe, oldest first: ● ok, ✖ anything else (colour and shape both tell)."""
    strip = Text()
    for probe in reversed(probes):
        ok = str(getattr(probe, "outcome", "")) == "ok"
        strip.append("●" if ok else "✖", style=tone(variables, "success" if ok else "error"))
    return strip


def latency_range(probes: list) -> str:
    values = [p.latency_ms for p in probes if getattr(p, "latency_ms", None) is not None]
    if not values:
        return ""
    low, high = min(values), max(values)
    return f"{low:.0f} ms" if round(low) == round(high) else f"{low:.0f}–{high:.0f} ms"


class ConnectorScreen(ReportsWorkerErrors, Screen):
    CSS_PATH = SCREENS_CSS
    BINDINGS = [
        Binding("escape", "back", "back", id="back"),
        # the deep probe shows in this screen's footer (the main one has no room for it)
        *(
            replace(a.binding(), show=True) if a.action == "deep_probe" else a.binding()
            for a in CONNECTOR_ACTIONS
            if a.needs_connector and a.action != "open"
        ),
        Binding(
            "h",
            "handout",
            "key/gateway",
            id="handout",
            tooltip="Hand this connector out as its key, or through Breaker's gateway (asks first).",
        ),
        Binding(
            "c",
            "switch_steps",
            "manual steps",
            id="switch-steps",
            tooltip='The latest switch\'s manual steps, "I did it", a fresh probe, or a forced switch.',
        ),
    ]
    AUTO_FOCUS = "#connector-body"

    def __init__(self, name: str) -> None:
        super().__init__(classes="connector-screen")
        self.connector_name = name
        self.view: ConnectorView | None = None
        self.latest: Any = None  # JobReport of the latest switch

    @property
    def services(self):
        return self.app.services

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="connector-body", can_focus=True):
            yield Static("", id="connector-title")
            yield Static("", id="purpose")
            with Horizontal(id="scopes"):
                with Vertical(id="declared-panel", classes="panel"):
                    yield DataTable(id="declared", cursor_type="none", show_cursor=False)
                with Vertical(id="live-panel", classes="panel"):
                    yield DataTable(id="live", cursor_type="none", show_cursor=False)
            yield Static("", id="drift")
            yield Static("", id="switch-panel", classes="panel")
            yield Static("", id="gateway-use", classes="panel")
            with Horizontal(id="facts"):
                yield Static("", id="credential", classes="panel")
                with Vertical(id="probes-panel", classes="panel"):
                    yield Static("", id="history-strip")
                    yield Sparkline([], id="latency")
                    yield DataTable(id="probe-history", cursor_type="none", show_cursor=False)
            with Vertical(id="events-panel", classes="panel"):
                yield DataTable(id="connector-audit", cursor_type="none", show_cursor=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#declared-panel").border_title = "Declared scopes"
        self.query_one("#probes-panel").border_title = "Probe history"
        self.query_one("#events-panel").border_title = "Audit events"
        self.query_one("#credential").border_title = "Credential"
        self.query_one("#switch-panel").border_title = "Latest switch"
        self.query_one("#switch-panel").display = False
        self.query_one("#gateway-use").border_title = "Gateway use by level — last 4 weeks"
        self.query_one("#gateway-use").display = False
        for table_id, columns in (
            ("#declared", ("Scope", "Level")),
            ("#live", ("Scope", "Level", "")),
            ("#probe-history", ("When", "Outcome", "Level", "Latency", "Status")),
            ("#connector-audit", ("When", "Actor", "Action", "Outcome", "What happened")),
        ):
            table = self.query_one(table_id, DataTable)
            for column in columns:
                table.add_column(column, key=column.lower() or "note")
        app = self.app
        app.inventory_changed_signal.subscribe(self, self.inventory_changed)
        app.probes_stored_signal.subscribe(self, self.probes_stored)
        app.switches_changed_signal.subscribe(self, self.switches_changed)
        app.store_changed_signal.subscribe(self, self.store_changed)
        self.load()

    # -- data -------------------------------------------------------------------------------
    def load(self) -> None:
        """Read the connector again, in a thread; the screen fills in when it arrives."""
        self.load_worker(self.connector_name)

    @work(
        thread=True,
        exclusive=True,
        group="connector-load",
        exit_on_error=False,
        description="reading the connector",
    )
    def load_worker(self, name: str) -> None:
        # A thread: the audit table may hold 100,000 events; the screen paints first. Posts only.
        services = self.services
        try:
            view = services.inventory.get(name)
        except NotFound:
            self.post_message(ConnectorRead(None))
            return
        events = services.audit.recent(services.engine, EVENTS_LIMIT, connector=view.name)
        latest = services.switches.latest(view.name) if "switch" in self.app.features else None
        self.post_message(
            ConnectorRead(view, probe_history(services, view.name), events, latest, gateway_use(services, view.name))
        )

    @on(ConnectorRead)
    def _read(self, message: ConnectorRead) -> None:
        if message.view is None:
            self.notify(f"{self.connector_name} is no longer in the inventory.", severity="warning")
            self._leave()
            return
        self.view = message.view
        self.sub_title = self.view.name
        self.show_view(self.view)
        self.show_history(message)
        self.refresh_bindings()

    def show_view(self, view: ConnectorView) -> None:
        variables = self.app.theme_variables
        switch = (
            f"\n[$text-muted]switch:[/] {escape(switch_label(view.switch_state, view.routed))}"
            if view.switch_state
            else ""
        )
        owner = f"owner {escape(view.owner)}" if view.owner else "[$text-warning]no owner[/]"
        self.query_one("#connector-title", Static).update(
            f"[b]{escape(view.name)}[/b]   {escape(provider_title(view.provider))} · {escape(view.environment)} · "
            f"{owner} · mode [b]{view.mode.value}[/b] · live {level_markup(view.live_level, view.live_word)}{switch}"
        )
        self.query_one("#purpose", Static).update(
            escape(view.purpose)
            if view.purpose
            else "[$text-warning]No purpose written yet.[/] Press [b]e[/b] and write the one-sentence rule: "
            "this connector may use … to …, but may not …."
        )
        # Each scopes panel gets half the screen; long scopes are cut from the left so nothing scrolls sideways.
        panel = max(24, (self.app.size.width - 2) // 2 - 6)
        declared = self.query_one("#declared", DataTable)
        declared.clear()
        for grant in view.declared:
            declared.add_row(Text(short_scope(grant.scope, panel - 12)), level_text(grant.level, variables))
        if not view.declared:
            declared.add_row(Text("none declared", style=tone(variables, "foreground-darken-2")), Text(""))
        live = self.query_one("#live", DataTable)
        live.clear()
        declared_scopes = {g.scope for g in view.declared}
        notes = [self.live_note(view, grant, declared_scopes) for grant in view.observed]
        room = panel - 12 - max((len(n) for n in notes), default=0) - 2
        for grant, note in zip(view.observed, notes):
            live.add_row(
                Text(short_scope(grant.scope, room)),
                level_text(grant.level, variables),
                Text(note, style=tone(variables, "warning")),
            )
        if not view.observed:
            live.add_row(
                Text(
                    "not probed yet" if view.last_probe_at is None else "no scopes reported",
                    style=tone(variables, "foreground-darken-2"),
                ),
                Text(""),
                Text(""),
            )
        self.query_one("#live-panel").border_title = (
            f"Live scopes — last probe {ago(view.last_probe_at)}" if view.last_probe_at else "Live scopes"
        )
        from app.services.drift import purpose_against_power

        drift = self.query_one("#drift", Static)
        lines = [f"[$text-warning]▲ {escape(f)}[/]" for f in view.drift]
        rule = purpose_against_power(view.purpose_forbidden, view.live_level, view.observed) if view.drift else ""
        if rule:
            lines.insert(0, f"[b $text-warning]{escape(rule)}[/]")
        drift.update("\n".join(lines))
        drift.display = bool(view.drift)
        self.query_one("#credential", Static).update(self.credential_facts(view))

    @staticmethod
    def live_note(view: ConnectorView, grant, declared_scopes: set[str]) -> str:
        parts = [] if grant.scope in declared_scopes else ["undeclared"]
        if view.mode.ceiling is None or grant.level > view.mode.ceiling:
            parts.append("over mode")
        return ", ".join(parts)

    def on_resize(self) -> None:
        if self.view is not None:
            self.show_view(self.view)

    @staticmethod
    def credential_facts(view: ConnectorView) -> str:
        """Fingerprints and facts only: the secret itself never reaches the screen."""
        rows: list[tuple[str, str]] = []
        if not view.credentials:
            rows.append(("Key", "[$text-warning]no key in the keyring[/]"))
        for cred in view.credentials:
            state = "active" if cred.active else "standby"
            rows += [
                ("Fingerprint", f"[b]{escape(cred.display)}[/b]"),
                ("Kind", escape(" · ".join(x for x in (cred.kind or "unknown kind", cred.tier, state)))),
                ("Age", f"{days(cred.age_days)} (since {local_time(cred.rotated_at or cred.created_at)[:10]})"),
                (
                    "Expires",
                    f"[$text-warning]{until(cred.expires_at)}[/]"
                    if until(cred.expires_at).startswith("expired")
                    else until(cred.expires_at),
                ),
            ]
        rows += [
            ("Env variable", escape(view.env_var) or NOTHING),
            (
                "Handed out",
                "through the gateway [$text-muted](h)[/]" if view.routed else "as its key [$text-muted](h)[/]",
            ),
            ("Used by", escape(view.client) or NOTHING),
            ("Base URL", escape(view.base_url) or "provider default"),
            ("Tags", escape(", ".join(view.tags)) or NOTHING),
        ]
        width = max(len(label) for label, _ in rows)
        return "\n".join(f"[$text-muted]{label:<{width}}[/]  {value}" for label, value in rows)

    def show_history(self, message: ConnectorRead) -> None:
        variables = self.app.theme_variables
        table = self.query_one("#probe-history", DataTable)
        table.clear()
        for probe in message.probes:
            outcome = str(getattr(probe, "outcome", "?"))
            latency = getattr(probe, "latency_ms", None)
            status = getattr(probe, "status", None)
            deep = " (deep)" if getattr(probe, "deep", False) else ""
            table.add_row(
                Text(ago(getattr(probe, "at", None))),
                Text(outcome + deep, style="" if outcome == "ok" else tone(variables, "error")),
                level_text(getattr(probe, "live_level", None), variables),
                Text(f"{latency:.0f} ms" if latency is not None else NOTHING),
                Text(str(status) if status is not None else NOTHING),
            )
        if not message.probes:
            table.add_row(Text("no probes yet", style=tone(variables, "foreground-darken-2")), "", "", "", "")
        strip = self.query_one("#history-strip", Static)
        if message.probes:
            line = Text("Outcomes ", style=tone(variables, "foreground-darken-2"))
            line.append_text(outcome_strip(message.probes, variables))
            line.append(
                f"  oldest → newest · latency {latency_range(message.probes)}",
                style=tone(variables, "foreground-darken-2"),
            )
            strip.update(line)
        strip.display = bool(message.probes)
        spark = self.query_one("#latency", Sparkline)
        spark.data = [float(getattr(p, "latency_ms", 0) or 0) for p in reversed(message.probes)]
        spark.display = len(message.probes) > 2
        self.show_latest(message.latest)
        self.show_use(message.use)
        events = self.query_one("#connector-audit", DataTable)
        events.clear()
        for ev in message.events:
            events.add_row(
                Text(local_time(ev.at)),
                Text(ev.actor),
                Text(ev.action),
                Text(ev.outcome, style="" if ev.outcome == "ok" else tone(variables, "error")),
                Text(shorten(event_sentence(ev.action, ev.connector, ev.old_json, ev.new_json, ev.outcome), 70)),
            )
        if not message.events:
            events.add_row(Text("no events", style=tone(variables, "foreground-darken-2")), "", "", "", "")

    def show_use(self, use: Any) -> None:
        """What the agents did through the gateway, per level and week (forwarded; refused or held)."""
        panel = self.query_one("#gateway-use", Static)
        routed = self.view is not None and self.view.routed
        panel.display = routed or (use is not None and not use.empty)
        if not panel.display:
            return
        if use is None or use.empty:
            panel.update("[$text-muted]No request through the gateway in the last 4 weeks.[/]")
            return
        head = ["Level", "this week", "1 week ago", "2 weeks ago", "3 weeks ago", "last forwarded"]
        rows = []
        for label in [x.label for x in Level] + ["unknown"]:
            weeks = use.counts.get(label)
            if weeks is None:
                continue
            cells = [f"{ok}" + (f" ({held})" if held else "") for ok, held in weeks[:4]]
            rows.append([label, *cells, ago(use.last_used[label]) if label in use.last_used else "never"])
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths))  # noqa: E731
        text = [f"[$text-muted]{escape(line(head))}[/]", *(escape(line(r)) for r in rows)]
        text.append("[$text-muted]requests forwarded; (n) refused or held[/]")
        panel.update("\n".join(text))

    def show_latest(self, report: Any) -> None:
        """The latest switch in its honest state, and what is still to do."""
        self.latest = report
        panel = self.query_one("#switch-panel", Static)
        panel.display = report is not None
        if report is None:
            self.refresh_bindings()
            return
        lines = [f"[b]{escape(report.action)}[/b] — {escape(report.label)}"]
        if report.message:
            lines.append(escape(report.message))
        if report.verify_note:
            how = "Gateway" if "at the gateway" in report.verify_note else "Probe"
            lines.append(f"[$text-muted]{how}:[/] {escape(report.verify_note)}")
        if report.state in WAITING_STATES:
            lines.append(
                '[$text-warning]Press [b]c[/b] for the manual steps, "I did it" and the other ways forward.[/]'
            )
        panel.update("\n".join(lines))
        self.refresh_bindings()

    def probes_stored(self, message: ProbesStored) -> None:
        if self.connector_name in message.names:
            self.load()

    def switches_changed(self, message: SwitchesChanged) -> None:
        if self.connector_name in message.names or len(message.names) != 1:
            self.load()

    def store_changed(self, message: StoreChanged) -> None:
        """Another process changed this connector (``breaker disable`` in another terminal): read it again."""
        if self.connector_name in message.names:
            self.notify(f"{self.connector_name} was changed outside this panel; shown as stored now.", title="Changed")
            self.load()

    def inventory_changed(self, message: InventoryChanged) -> None:
        if self.connector_name not in (message.previous, message.name):
            return
        if message.action == "remove":
            self._leave()
            return
        self.connector_name = message.name or self.connector_name
        self.load()

    def _leave(self) -> None:
        """The connector is gone: close this screen once it is on top again."""
        if self.is_current:
            self.dismiss()
        elif self in self.app.screen_stack:
            self.set_timer(0.05, self._leave)

    # -- actions: the main screen's methods, aimed at this connector --------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "handout":
            return not self.app.read_only and self.view is not None
        if action == "switch_steps":
            if self.app.read_only or "switch" not in self.app.features:
                return False
            return self.latest is not None and self.latest.state in WAITING_STATES
        spec = BY_ACTION.get(action)
        if spec is None:
            return True
        return self.app.action_state(spec, has_connector=self.view is not None)

    def action_back(self) -> None:
        self.dismiss()

    def action_edit(self) -> None:
        self.app.main_screen.action_edit(self.connector_name)

    def action_remove(self) -> None:
        self.app.main_screen.action_remove(self.connector_name)

    def action_probe(self) -> None:
        self.app.main_screen.action_probe(self.connector_name)

    def action_deep_probe(self) -> None:
        self.app.main_screen.action_deep_probe(self.connector_name)

    def action_handout(self) -> None:
        """Hand the connector out as its key or through the gateway: confirm, then the service."""
        self.read_handout_worker(self.connector_name)

    @work(thread=True, exclusive=True, group="connector-handout", exit_on_error=False, description="handout")
    def read_handout_worker(self, name: str) -> None:
        from app.services.gateway import Gateway

        handout = Gateway(self.services).handout(name)
        self.app.call_from_thread(self._ask_handout, handout)

    def _ask_handout(self, handout) -> None:
        from app.tui.screens.handout import HandoutConfirm

        if handout.via == "key" and not handout.can_route:
            self.notify(f"{handout.why_not}: {handout.connector} stays handed out as its key.", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.set_handout_worker(handout.connector, "key" if handout.via == "gateway" else "gateway")

        self.app.push_screen(HandoutConfirm(handout), answered)

    @work(thread=True, exclusive=True, group="connector-handout", exit_on_error=False, description="handout")
    def set_handout_worker(self, name: str, via: str) -> None:
        from app.services.gateway import Gateway, GatewayError

        try:
            gateway = Gateway(self.services)
            done = gateway.set_handout(name, via)
            left = gateway.unrouted_note(name) if via == "key" else ""
        except GatewayError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        if left:
            self.app.call_from_thread(self.notify, f"{name} is now handed out {done.label}. {left}", severity="warning")
        else:
            self.app.call_from_thread(self.notify, f"{name} is now handed out {done.label}.")
        self.app.post_message(InventoryChanged(name, "edit", name))

    def action_switch_steps(self) -> None:
        if self.latest is not None and self.latest.state in WAITING_STATES:
            self.app.main_screen.show_outcome(self.latest)

    def action_draft_only(self) -> None:
        self.app.main_screen.action_draft_only(self.connector_name)

    def action_read_only(self) -> None:
        self.app.main_screen.action_read_only(self.connector_name)

    def action_disable(self) -> None:
        self.app.main_screen.action_disable(self.connector_name)

    def action_rotate(self) -> None:
        self.app.main_screen.action_rotate(self.connector_name)

    def action_reenable(self) -> None:
        self.app.main_screen.action_reenable(self.connector_name)
