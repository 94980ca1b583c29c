"""The first thing a new owner sees (the panel opened on an empty inventory): what Breaker is for,
and the ways in. Dismisses with the way chosen, or None (escape: the empty panel, ``a`` still adds)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from app.tui.screens.base import CancellableModal

ADD, DEMO, SCAN = "add", "demo", "scan"

INTRO = (
    "Breaker keeps the list of the keys your AI assistants and automations use — API keys, OAuth "
    "tokens, MCP servers — with who owns each one and what it is for. It asks each provider what the "
    "key can really do right now, shows where that is more than you meant, and switches any of them "
    "(or all at once) down or off with one key.\n\n"
    "Keys stay in this computer's keyring; Breaker's own files hold only fingerprints."
)


class WelcomeScreen(CancellableModal[str | None]):
    BINDINGS = [
        Binding("escape", "cancel", "close", id="welcome-close"),
        Binding("a", "choose('add')", "add a key", show=False, id="welcome-add"),
        Binding("s", "choose('scan')", "find keys", show=False, id="welcome-scan"),
        Binding("left", "app.focus_previous", "previous", show=False),
        Binding("right", "app.focus_next", "next", show=False),
    ]
    AUTO_FOCUS = "#welcome-add"

    def __init__(self, *, can_scan: bool = False) -> None:
        super().__init__(id="welcome")
        self.can_scan = can_scan

    def compose(self) -> ComposeResult:
        with Vertical(id="welcome-dialog", classes="dialog"):
            yield Static("Welcome to Breaker", classes="dialog-title")
            yield Static(INTRO, id="welcome-text")
            yield Static(
                "[b]Add a key[/b]: paste one; Breaker recognises the provider and checks it at once.\n"
                "[b]Find keys on this machine[/b]: "
                + (
                    "look through the AI clients' settings here."
                    if self.can_scan
                    else "run [b]breaker scan[/b] in a terminal (in the panel soon)."
                )
                + "\n[b]Try the demo[/b]: a made-up inventory with a local stand-in for every provider; "
                "nothing leaves this computer.",
                id="welcome-ways",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Add a key", variant="primary", id="welcome-add")
                if self.can_scan:
                    yield Button("Find keys", id="welcome-scan")
                yield Button("Try the demo", id="welcome-demo")
                yield Button("Close", id="cancel")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose" and parameters == (SCAN,):
            return self.can_scan  # `s`, as on the main screen, only where the panel can scan
        return True

    def action_choose(self, way: str) -> None:
        self.dismiss(way)

    @on(Button.Pressed, "#welcome-add")
    def _add(self) -> None:
        self.dismiss(ADD)

    @on(Button.Pressed, "#welcome-demo")
    def _demo(self) -> None:
        self.dismiss(DEMO)

    @on(Button.Pressed, "#welcome-scan")
    def _scan(self) -> None:
        self.dismiss(SCAN)
