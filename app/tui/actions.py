"""The panel's actions in one table: bindings, footer, help, command palette and read-only mode all
read it, so an action cannot be hidden in one place and reachable in another.

Features are filled in by issue: probing (``probe``, issue 3), the switches (``switch``) and the
emergency switch (``panic``, issue 4) and the weekly review (``review``, issue 11) are built.
Until a feature's name is in :data:`BUILT_FEATURES`, its keys are greyed out in the footer and its
palette entries say "not available yet"; nothing pretends to work.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

# Add a feature here in the same change that wires its MainScreen.action_* method.
BUILT_FEATURES: frozenset[str] = frozenset({"probe", "switch", "panic", "review"})

FEATURE_NAMES = {
    "probe": "Probing",
    "switch": "The switches",
    "review": "The weekly review",
    "panic": "The emergency switch",
}

SWITCH_GROUP = Binding.Group("switch")
PROBE_GROUP = Binding.Group("probe")


@dataclass(frozen=True)
class PanelAction:
    action: str  # MainScreen.action_<action>; takes the selected connector when needs_connector
    binding_id: str  # the id a [keymap] entry in config.toml uses
    key: str
    description: str  # short, for the footer
    title: str  # command palette, topic-prefixed
    help: str  # one sentence for help and the palette
    feature: str | None = None  # a later feature that must be built first; None = available now
    destructive: bool = False  # hidden (not just refused) in read-only mode
    needs_connector: bool = False
    group: Binding.Group | None = None
    show: bool = True

    def binding(self) -> Binding:
        return Binding(
            self.key,
            self.action,
            self.description,
            show=self.show,
            id=self.binding_id,
            tooltip=self.help,
            group=self.group,
        )


CONNECTOR_ACTIONS: tuple[PanelAction, ...] = (
    PanelAction(
        "add",
        "add",
        "a",
        "add",
        "connector: add",
        "Add a connector: paste its key (it goes to the OS keyring), name its owner and purpose.",
        destructive=True,
    ),
    PanelAction(
        "edit",
        "edit",
        "e",
        "edit",
        "connector: edit selected",
        "Edit the selected connector's owner, purpose, scopes or key.",
        destructive=True,
        needs_connector=True,
    ),
    PanelAction(
        "remove",
        "remove",
        "delete,D",
        "remove",
        "connector: remove selected",
        "Remove the selected connector from the inventory; you choose whether its key leaves the keyring.",
        destructive=True,
        needs_connector=True,
    ),
    PanelAction(
        "open",
        "open",
        "enter",
        "open",
        "connector: open selected",
        "Open the selected connector: purpose, declared vs live scopes, credential, history.",
        needs_connector=True,
        show=False,
    ),
    PanelAction(
        "filter",
        "filter",
        "slash",
        "filter",
        "connector: filter",
        "Filter the table by name, provider, owner, mode, tag or purpose (escape clears).",
    ),
    PanelAction(
        "probe",
        "probe",
        "p",
        "probe",
        "probe: selected",
        "Probe the selected connector's key now (read-only calls to the provider).",
        feature="probe",
        needs_connector=True,
        group=PROBE_GROUP,
    ),
    PanelAction(
        "probe_all",
        "probe-all",
        "P",
        "probe all",
        "probe: all",
        "Probe every connector concurrently; rows update as results arrive.",
        feature="probe",
        group=PROBE_GROUP,
    ),
    PanelAction(
        "deep_probe",
        "deep-probe",
        "ctrl+d",
        "deep probe",
        "probe: deep probe selected",
        "Deep-probe the selected connector: says first how many requests it sends (deliberately invalid "
        "writes to objects that do not exist, never to real ones), then asks.",
        feature="probe",
        needs_connector=True,
        show=False,
    ),
    PanelAction(
        "draft_only",
        "draft-only",
        "d",
        "draft-only",
        "switch: draft-only selected",
        "Lower the selected connector to draft-only (read and draft, nothing sent).",
        feature="switch",
        destructive=True,
        needs_connector=True,
        group=SWITCH_GROUP,
    ),
    PanelAction(
        "read_only",
        "read-only",
        "o",
        "read-only",
        "switch: read-only selected",
        "Lower the selected connector to read-only.",
        feature="switch",
        destructive=True,
        needs_connector=True,
        group=SWITCH_GROUP,
    ),
    PanelAction(
        "disable",
        "disable",
        "x",
        "disable",
        "switch: disable selected",
        "Disable the selected connector: revoke its key where the provider allows it.",
        feature="switch",
        destructive=True,
        needs_connector=True,
        group=SWITCH_GROUP,
    ),
    PanelAction(
        "rotate",
        "rotate",
        "r",
        "rotate",
        "switch: rotate selected",
        "Rotate the selected connector's key: the new key works before the old one dies.",
        feature="switch",
        destructive=True,
        needs_connector=True,
        group=SWITCH_GROUP,
    ),
    PanelAction(
        "reenable",
        "re-enable",
        "u",
        "re-enable",
        "switch: re-enable selected",
        "Raise the selected connector back to full mode.",
        feature="switch",
        destructive=True,
        needs_connector=True,
        group=SWITCH_GROUP,
    ),
    PanelAction(
        "review",
        "review",
        "w",
        "review",
        "review: weekly review",
        "Walk the weekly least-privilege checklist and export the report.",
        feature="review",
    ),
    PanelAction(
        "panic",
        "panic",
        "exclamation_mark",
        "panic",
        "panic: emergency disable all",
        "Disable every connector at once (asks twice).",
        feature="panic",
        destructive=True,
    ),
)

BY_ACTION = {a.action: a for a in CONNECTOR_ACTIONS}


@dataclass(frozen=True)
class AppAction:
    action: str  # BreakerApp.action_<action>
    binding_id: str
    key: str
    description: str
    title: str
    help: str
    show: bool = True
    priority: bool = False

    def binding(self) -> Binding:
        return Binding(
            self.key,
            self.action,
            self.description,
            show=self.show,
            id=self.binding_id,
            tooltip=self.help,
            priority=self.priority,
        )


APP_ACTIONS: tuple[AppAction, ...] = (
    AppAction(
        "audit_log",
        "audit-log",
        "l",
        "audit",
        "view: audit log",
        "The audit log: recent events and whether the hash chain is intact.",
    ),
    AppAction(
        "scan",
        "scan",
        "s",
        "find keys",
        "discovery: find the keys on this machine",
        "Read the MCP client configs, .env files and shell profiles for keys and servers (nothing is "
        "started, no key is sent); secure a key from there.",
        show=False,
    ),
    AppAction(
        "held_requests",
        "held-requests",
        "g",
        "held",
        "view: held requests (gateway)",
        "Requests the gateway holds for your answer: approve or deny each with one key.",
        show=False,
    ),
    AppAction(
        "toggle_gateway",
        "toggle-gateway",
        "G",
        "gateway",
        "gateway: start or stop it in this panel",
        "Run Breaker's gateway from this panel (`breaker gateway` in a process of its own, listening where "
        "`breaker exec` sends routed agents; it stops with the panel), or stop it; the line above the table "
        "says where it listens.",
        show=False,
    ),
    AppAction(
        "checklist",
        "checklist",
        "k",
        "still live",
        "view: keys still live (checklist)",
        "The keys a switch or the emergency disable left working (disabled, reduced, or a rotation's old "
        "key): how to find each at its provider, the steps, and enter when done (a probe ticks it off only "
        "when it proves it).",
        show=False,
    ),
    AppAction("help", "help", "question_mark", "help", "view: help", "Every key and what it does."),
    AppAction(
        "toggle_read_only",
        "toggle-read-only",
        "ctrl+r",
        "read-only",
        "panel: toggle read-only mode",
        "Read-only mode hides every key that changes something.",
    ),
    AppAction(
        "command_palette",
        "command-palette",
        "ctrl+p",
        "palette",
        "panel: command palette",
        "Search every action by name.",
        show=False,
        priority=True,
    ),
    AppAction("quit", "quit", "ctrl+q", "quit", "panel: quit", "Leave Breaker.", show=False, priority=True),
)


def unavailable_message(action: PanelAction) -> str:
    feature = FEATURE_NAMES.get(action.feature or "", "This action")
    return f"{feature} is not available yet in this version of Breaker; nothing was changed."
