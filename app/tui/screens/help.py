"""Help: every key, read from the bindings themselves (so a remap in config.toml shows here)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static

from app.tui.actions import BY_ACTION, FEATURE_NAMES
from app.tui.glossary import GLOSSARY
from app.tui.screens.base import SCREENS_CSS
from app.tui.widgets.present import tone


@dataclass(frozen=True)
class HelpRow:
    keys: str
    description: str
    explanation: str
    state: str  # "" (ready), "hidden in read-only mode", "not needed now", "not available yet", "select a connector"


def key_display(app, binding: Binding, keymap: dict[str, str]) -> str:
    keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
    return " / ".join(app.get_key_display(binding.with_key(k.strip())) for k in keys.split(",") if k.strip())


def state_of(app, node: DOMNode, binding: Binding) -> str:
    try:
        state = node.check_action(binding.action, ())
    except Exception:
        state = True
    if state is False:
        # hidden: by read-only mode, or because there is nothing for it to do here (no manual steps waiting)
        return "hidden in read-only mode" if app.read_only else "not needed now"
    if state is None:
        spec = BY_ACTION.get(binding.action)
        if spec is not None and spec.feature and spec.feature not in app.features:
            return f"not available yet ({FEATURE_NAMES[spec.feature].lower()})"
        return "select a connector first"
    return ""


def help_rows(app, screen: Screen) -> list[tuple[str, list[HelpRow]]]:
    """(section title, rows) for the screen below the help and for the whole panel."""
    keymap = dict(app.keymap)
    sections = []
    for title, node in ((screen_title(screen), screen), ("Everywhere", app)):
        rows = []
        for binding in type(node).BINDINGS:
            if not isinstance(binding, Binding) or binding.system:
                continue
            rows.append(
                HelpRow(
                    key_display(app, binding, keymap),
                    binding.description,
                    binding.tooltip or "",
                    state_of(app, node, binding),
                )
            )
        sections.append((title, rows))
    return sections


def screen_title(screen: Screen) -> str:
    return {"main": "Connector table", "audit": "Audit log", "panic": "Emergency disable"}.get(
        screen.id or "", "This screen"
    )


class HelpScreen(ModalScreen[None]):
    CSS_PATH = SCREENS_CSS
    BINDINGS = [Binding("escape,question_mark", "close", "close", id="help-close")]
    AUTO_FOCUS = "#help-table"

    def __init__(self, under: Screen) -> None:
        super().__init__(id="help")
        self.under = under

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            yield Static("Keys, then the words the panel uses", classes="dialog-title")
            yield DataTable(id="help-table", cursor_type="row", zebra_stripes=True)
            yield Static(
                "Remap any key in config.toml under \\[keymap] with the binding id, e.g. "
                'probe = "ctrl+t". The command palette (ctrl+p) finds every action by name.',
                classes="field-note",
            )
            yield Static(
                "Switch states: [b]recorded[/b] — in Breaker only, `exec` enforces it · [b]applied[/b] — the "
                "provider accepted, not proven yet · [b]waiting for you[/b] — nothing was applied, the key "
                "works until you do the steps · [b]failed[/b] — the provider refused · [b]verified[/b] — a "
                "fresh probe proved it (routed through the gateway: the gateway refused every level above the "
                "mode). A connector counts as off only when verified; live [b]unknown[/b] "
                "means Breaker could not tell.",
                id="help-states",
                classes="field-note",
            )

    def on_mount(self) -> None:
        variables = self.app.theme_variables
        table = self.query_one("#help-table", DataTable)
        sections = help_rows(self.app, self.under)
        # The dialog is 116 cells wide or 96% of the terminal; "What it does" takes what is left.
        inner = min(116, int(self.app.size.width * 0.96)) - 4 - 2 - 8 - 2  # border, padding, cells, scrollbar
        keys_width, does_width = (15, 13) if inner >= 90 else (10, 11)  # a section title fits, or wraps
        # "Now" is as wide as its longest note (most keys have none), its notes wrapping on a narrow terminal.
        longest = max((len(row.state) for _title, rows in sections for row in rows), default=0)
        state_width = max(len("Now"), min(longest, 26 if inner >= 90 else 12))
        for key, header, width in (
            ("keys", "Key", keys_width),
            ("does", "Does", does_width),
            ("state", "Now", state_width),
            ("explanation", "What it does", max(24, inner - keys_width - does_width - state_width)),
        ):
            table.add_column(header, key=key, width=width)
        muted_style = tone(variables, "foreground-darken-2")
        for title, rows in sections:
            table.add_row(
                Text(title, style=f"bold {tone(variables, 'primary')}"), Text(""), Text(""), Text(""), height=None
            )
            for row in rows:
                muted = bool(row.state)
                style = muted_style if muted else ""
                table.add_row(
                    Text(row.keys, style=style if muted else f"bold {tone(variables, 'accent')}"),
                    Text(row.description, style=style),
                    Text(row.state, style=tone(variables, "warning") if muted else ""),
                    Text(row.explanation, style=style),
                    height=None,
                )
        table.add_row(Text("Words", style=f"bold {tone(variables, 'primary')}"), Text(""), Text(""), Text(""))
        for word, meaning in GLOSSARY:
            table.add_row(Text(""), Text(word, style="bold"), Text(""), Text(meaning), height=None)

    def action_close(self) -> None:
        self.dismiss()
