"""Removal confirmation: says what goes, what stays, and asks about the key. Focus starts on Cancel."""

from __future__ import annotations

from enum import Enum

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from app.services.views import ConnectorView
from app.tui.markup import escape
from app.tui.screens.base import CancellableModal


class RemoveChoice(Enum):
    DELETE_KEY = "delete-key"
    KEEP_KEY = "keep-key"


def removal_text(view: ConnectorView, shared_with: list[str] | None = None) -> str:
    keys = [c.display for c in view.credentials]
    lines = [
        f"Remove [b]{escape(view.name)}[/b] ({escape(view.provider)}"
        f"{', owner ' + escape(view.owner) if view.owner else ', no owner'}) from the inventory?",
        "",
        "Removed: the connector, its declared and live scopes, its credential records, probe history and "
        "switch journal. The audit log keeps every event about it.",
    ]
    if view.client or view.env_var:
        users = " and ".join(
            x for x in (escape(view.client), f"`breaker exec` ({escape(view.env_var)})" if view.env_var else "") if x
        )
        lines.append(f"Stops working through Breaker: {users}.")
    if keys:
        lines += [
            "",
            f"Its key ({', '.join(keys)}) is in the OS keyring. Delete it from the keyring too, or keep it?",
            "[$text-warning]Either way the provider is not told: the key keeps working wherever else it is "
            "configured. Revoke it at the provider (or disable the connector first) to stop it.[/]",
        ]
    else:
        lines += ["", "It has no key in the keyring."]
    if shared_with:
        lines.append(
            f"The same key is also used by {escape(', '.join(shared_with))}: revoking it at the provider "
            "stops those too."
        )
    return "\n".join(lines)


class RemoveConfirm(CancellableModal[RemoveChoice | None]):
    BINDINGS = [
        Binding("escape", "cancel", "cancel", id="remove-cancel"),
        Binding("left", "app.focus_previous", "previous", show=False),
        Binding("right", "app.focus_next", "next", show=False),
    ]
    AUTO_FOCUS = "#cancel"

    def __init__(self, view: ConnectorView, shared_with: list[str] | None = None) -> None:
        super().__init__(id="remove-confirm")
        self.view = view
        self.shared_with = shared_with or []

    def compose(self) -> ComposeResult:
        with Vertical(id="remove-dialog", classes="dialog -danger"):
            yield Static(f"Remove {escape(self.view.name)}", classes="dialog-title")
            yield Static(removal_text(self.view, self.shared_with), id="remove-text")
            with Horizontal(classes="dialog-buttons"):
                if self.view.credentials:
                    yield Button("Remove and delete the key", variant="error", id="delete-key")
                    yield Button("Remove, keep the key", variant="warning", id="keep-key")
                else:
                    yield Button("Remove", variant="error", id="keep-key")
                yield Button("Cancel", id="cancel")

    @on(Button.Pressed, "#delete-key")
    def _delete_key(self) -> None:
        self.dismiss(RemoveChoice.DELETE_KEY)

    @on(Button.Pressed, "#keep-key")
    def _keep_key(self) -> None:
        self.dismiss(RemoveChoice.KEEP_KEY)
