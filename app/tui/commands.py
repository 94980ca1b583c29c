"""The command palette (ctrl+p): one entry per panel action, titled by topic ("switch: disable selected").

Entries hidden by read-only mode are left out, as their keys are; entries of features not built
yet stay listed and say so when chosen, so the owner learns what is coming without being fooled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from app.tui.actions import APP_ACTIONS, CONNECTOR_ACTIONS, FEATURE_NAMES, PanelAction


@dataclass(frozen=True)
class Command:
    title: str
    help: str
    run: Callable[[], object]


class BreakerCommands(Provider):
    def commands(self) -> list[Command]:
        app = self.app
        target = app.current_connector()
        found: list[Command] = []
        for spec in CONNECTOR_ACTIONS:
            state = app.action_state(spec, has_connector=True)
            if state is False:
                continue  # hidden in read-only mode, here as in the footer
            help_text = spec.help
            if state is None and spec.feature:
                help_text = f"{FEATURE_NAMES[spec.feature]} — not available yet. {spec.help}"
            title = spec.title
            if spec.needs_connector and target:
                title = f"{spec.title.replace(' selected', '')} {target}"
            found.append(Command(title, help_text, partial(self.run_connector_action, spec, target)))
        for action in APP_ACTIONS:
            if action.action == "command_palette":
                continue
            found.append(Command(action.title, action.help, partial(app.run_action, action.action)))
        return found

    def run_connector_action(self, spec: PanelAction, target: str | None) -> None:
        method = getattr(self.app.main_screen, f"action_{spec.action}")
        if spec.needs_connector:
            method(target)
        else:
            method()

    async def discover(self) -> Hits:
        for command in self.commands():
            yield DiscoveryHit(command.title, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self.commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), command.run, help=command.help)
