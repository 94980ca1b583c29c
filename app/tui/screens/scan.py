"""Find the keys on this machine: the scan's results, and securing a key with a preview of the change.

The scan reads files only (nothing is started, no key is sent) and runs in a thread worker; its
keys become unreviewed connectors unless the panel is read-only. ``enter`` on a key shows exactly
how each file would change (keys masked) before anything is written; focus starts on Cancel.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, DataTable, Header, Static

from app.tui.markup import escape
from app.tui.screens.base import SCREENS_CSS, CancellableModal, ReportsWorkerErrors
from app.tui.widgets.key_bar import KeyBar


def short_path(path: str) -> str:
    home = str(Path.home())
    return "~" + path[len(home) :] if path.startswith(home + "/") else path


def diff_text(preview: str) -> Text:
    """A unified diff as text: removed lines red, added lines green, nothing read as markup."""
    out = Text()
    for line in preview.splitlines(keepends=True):
        style = ""
        if line.startswith("+") and not line.startswith("+++"):
            style = "green"
        elif line.startswith("-") and not line.startswith("---"):
            style = "red"
        elif line.startswith("@@"):
            style = "dim"
        body = line.rstrip("\n")
        lead = len(body) - len(body.lstrip(" "))
        # Leading spaces kept as no-break spaces: the indentation is part of what the diff shows.
        out.append("\u00a0" * lead + body[lead:] + ("\n" if line.endswith("\n") else ""), style=style)
    return out


class ScanDone(Message):
    def __init__(self, report, summary) -> None:
        super().__init__()
        self.report = report
        self.summary = summary


class ScanFailed(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class PlansReady(Message):
    def __init__(self, name: str, plans: list) -> None:
        super().__init__()
        self.name = name
        self.plans = plans


class Secured(Message):
    def __init__(self, lines: list[str], failed: bool) -> None:
        super().__init__()
        self.lines = lines
        self.failed = failed


class ScanScreen(ReportsWorkerErrors, Screen):
    CSS_PATH = SCREENS_CSS
    BINDINGS = [
        Binding("escape", "back", "back", id="back"),
        Binding("s", "rescan", "scan again", id="scan-again", tooltip="Read every client config again."),
        Binding(
            "enter",
            "secure",
            "secure key",
            id="scan-secure",
            tooltip="Show how the selected key would leave its plain files, then do it if you confirm.",
        ),
        Binding("tab", "app.focus_next", "next table", show=False),
    ]
    AUTO_FOCUS = "#scan-keys"
    DEFAULT_CSS = """
    #scan-status { height: auto; padding: 1 2; background: $boost; }
    #scan-servers { height: 1fr; }
    #scan-keys-title { height: auto; padding: 1 2 0 2; }
    #scan-keys { height: 1fr; }
    #scan-problems-box { height: auto; max-height: 8; }
    #scan-problems { height: auto; padding: 0 2; }
    """

    def __init__(self) -> None:
        super().__init__(id="scan")
        self.report = None

    @property
    def services(self):
        return self.app.services

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            "[$text-muted]Reading the MCP client configs… nothing is started and no key is sent.[/]", id="scan-status"
        )
        yield DataTable(id="scan-servers", cursor_type="row", zebra_stripes=True)
        yield Static("", id="scan-keys-title")
        yield DataTable(id="scan-keys", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="scan-problems-box", can_focus=False):  # problems first, then notes; scrolls
            yield Static("", id="scan-problems")
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = "find the keys on this machine"
        servers = self.query_one("#scan-servers", DataTable)
        servers.add_columns("client", "scope", "server", "runs", "state", "keys")
        keys = self.query_one("#scan-keys", DataTable)
        keys.add_columns("key", "provider", "connector", "wired in")
        self.run_scan(bool(self.app.read_only))

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_rescan(self) -> None:
        self.query_one("#scan-status", Static).update("[$text-muted]Reading the MCP client configs again…[/]")
        self.run_scan(bool(self.app.read_only))

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False, description="reading client configs")
    def run_scan(self, dry: bool) -> None:
        from app.services import discovery, discovery_store

        services = self.services
        try:
            folders = discovery_store.remembered_folders(services)
            report = discovery.run_scan(services, folders)
            summary = None if dry else discovery_store.record(services, report)
        except Exception as exc:  # a locked keyring or store: one line, the panel stays up
            self.post_message(ScanFailed(f"The scan stopped: {exc}"))
            return
        self.post_message(ScanDone(report, summary))

    @on(ScanFailed)
    def _failed(self, message: ScanFailed) -> None:
        self.query_one("#scan-status", Static).update(f"[$error]{escape(message.text)}[/]")

    @on(ScanDone)
    def _done(self, message: ScanDone) -> None:
        report, summary = message.report, message.summary
        self.report = report
        short = {g.fingerprint: f"••••{g.last4}" if g.last4 else "••••" for g in report.keys}
        servers = self.query_one("#scan-servers", DataTable)
        servers.clear()
        for s in report.servers:
            runs = f"{s.command} {s.package}".strip() if s.transport == "stdio" else f"{s.transport} {s.url}"
            state = "secured" if s.secured_by else (f"off ({s.disabled_by})" if s.disabled else "on")
            if s.blocked_tools and not s.disabled:
                state += ", all tools refused" if "*" in s.blocked_tools else f", {len(s.blocked_tools)} refused"
            elif s.asks_for and not s.disabled:
                state += ", asks you"
            servers.add_row(
                s.client_title,
                s.scope,
                s.name,
                runs[:44],
                state,
                ", ".join(short[f] for f in report.server_keys(s)) or "-",
            )
        keys = self.query_one("#scan-keys", DataTable)
        keys.clear()
        for g in report.keys:
            first = g.places[0]
            where = f"{first.client_title} › {first.server or first.variable} ({short_path(first.file)})"
            if len(g.places) > 1:
                where += f" and {len(g.places) - 1} more"
            keys.add_row(
                short[g.fingerprint], g.provider or "unrecognised", g.connector or "-", where, key=g.fingerprint
            )
        n_keys = len(report.keys)
        self.query_one("#scan-keys-title", Static).update(
            f"[b]{n_keys} keys sit in plain files[/b] — select one and press [b]enter[/b] to see how Breaker would take it out"
            if n_keys
            else "[b]No key sits in a plain file.[/b]"
        )
        from app.services.discovery import server_notes

        problems = "\n".join(
            [f"[$warning]⚠[/] {escape(p.message.replace(str(Path.home()), '~'))}" for p in report.problems]
            + [
                f"[$text-muted]ℹ {escape(n.replace(str(Path.home()), '~'))}[/]"
                for s in report.servers
                for n in server_notes(s)
            ]
        )
        self.query_one("#scan-problems", Static).update(problems)
        status = f"{len(report.servers)} MCP servers in {len(report.result.clients_installed)} clients. Nothing was started and no key was sent."
        if summary is None:
            status += " Read-only: nothing was kept."
        elif summary.new_connectors:
            status += f" {len(summary.new_connectors)} new unreviewed connectors (keys copied into the keyring)."
        if summary is not None and summary.failed:
            status += f" Not imported ({len(summary.failed)}): " + "; ".join(summary.failed)
        if summary is not None and (summary.vanished_servers or summary.vanished_places):
            status += f" Gone since the last scan: {len(summary.vanished_servers)} servers, {len(summary.vanished_places)} keys."
        self.query_one("#scan-status", Static).update(status)
        if summary is not None and summary.new_connectors:
            from app.tui.messages import InventoryChanged

            self.app.post_message(InventoryChanged(summary.new_connectors[0], "add"))

    # -- securing ------------------------------------------------------------------------------
    @on(DataTable.RowSelected, "#scan-keys")
    def _key_chosen(self, _event: DataTable.RowSelected) -> None:
        self.action_secure()

    def action_secure(self) -> None:
        if self.report is None or not self.report.keys:
            return
        if self.app.read_only:
            self.notify("Read-only mode: securing a key changes files; press ctrl+r to leave read-only.")
            return
        table = self.query_one("#scan-keys", DataTable)
        if table.row_count == 0:
            return
        fp = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        group = next(g for g in self.report.keys if g.fingerprint == fp)
        if not group.connector:
            self.notify("Scan again first: this key is not a connector yet.")
            return
        self.plan(group.connector)

    @work(thread=True, exclusive=True, group="secure-plan", exit_on_error=False, description="planning the change")
    def plan(self, name: str) -> None:
        from app.services import secure

        try:
            plans = secure.plan_secure(self.services, name)
        except secure.SecureError as exc:
            self.post_message(Secured([str(exc)], True))
            return
        self.post_message(PlansReady(name, plans))

    @on(PlansReady)
    def _plans(self, message: PlansReady) -> None:
        def chosen(go: bool | None) -> None:
            if go:
                self.apply([p for p in message.plans if p.ok], message.name)

        self.app.push_screen(SecurePreview(message.name, message.plans), chosen)

    @work(thread=True, exclusive=True, group="secure-apply", exit_on_error=False, description="securing")
    def apply(self, plans: list, name: str) -> None:
        from app.services import secure

        lines, failed = [], False
        for p in plans:
            try:
                secure.apply_secure(self.services, p)
                lines.append(f"Secured {p.where}: {p.restart}.")
            except secure.SecureError as exc:
                failed = True
                lines.append(f"{p.where}: {exc}")
        self.post_message(Secured(lines, failed))

    @on(Secured)
    def _secured(self, message: Secured) -> None:
        self.notify("\n".join(message.lines), severity="error" if message.failed else "information", timeout=10)
        from app.tui.messages import InventoryChanged

        self.app.post_message(InventoryChanged(None, "edit"))
        if not message.failed:
            self.action_rescan()


class SecurePreview(CancellableModal[bool]):
    """The exact change to each file, keys masked; Cancel has the focus."""

    CANCELLED = False
    BINDINGS = [Binding("escape", "cancel", "cancel", id="secure-cancel")]
    AUTO_FOCUS = "#cancel"
    DEFAULT_CSS = """
    #secure-dialog { height: 90%; }
    #secure-body { height: 1fr; }
    .secure-where { padding-top: 1; }
    .secure-diff { background: $boost; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, name: str, plans: list) -> None:
        super().__init__(id="secure-preview")
        self.connector = name
        self.plans = plans

    def compose(self) -> ComposeResult:
        doable = [p for p in self.plans if p.ok]
        with Vertical(classes="dialog -warning", id="secure-dialog"):
            yield Static(f"Secure {escape(self.connector)}: take its key out of plain files", classes="dialog-title")
            with VerticalScroll(id="secure-body"):
                yield Static(
                    "The key stays only in Breaker's keyring. "
                    + (
                        "Each change below is made exactly as shown (keys masked here); undo puts the files back "
                        f"byte for byte: breaker secure {escape(self.connector)} --undo"
                        if doable
                        else "No place can be changed safely; nothing will be written."
                    ),
                    id="secure-intro",
                )
                for p in self.plans:
                    yield Static(f"[b]{escape(p.where)}[/b] — {escape(short_path(p.file))}", classes="secure-where")
                    if p.ok:
                        yield Static(diff_text(p.preview.replace(str(Path.home()), "~")), classes="secure-diff")
                        yield Static(f"[$text-muted]Then: {escape(p.restart)}.[/]", classes="secure-restart")
                    else:
                        yield Static(f"[$warning]Left as it is:[/] {escape(p.refusal)}", classes="secure-refusal")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                label = f"Secure ({len(doable)} change{'s' if len(doable) != 1 else ''})"
                yield Button(label, id="go", variant="error", disabled=not doable)

    @on(Button.Pressed, "#go")
    def _go(self) -> None:
        self.dismiss(True)
