"""The switch modals: the confirmation of one switch, the pasted key of a guided rotation, what is
left to do after a switch that did not end verified, and the deep-probe confirmation.

Every confirmation shows the service's own words (``SwitchPlan.text()``: what is called where,
whether it can be undone, what will stop working), and its focus starts on Cancel, so enter or a
stray key never trips a switch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Collapsible, Input, Static

from app.services.vocabulary import JobState, SwitchAction
from app.tui.markup import escape
from app.tui.screens.base import SCREENS_CSS, CancellableModal
from app.tui.widgets.outline import Outline, OutlineLine, line, parse_outline
from connectors.base import Secret

HEADINGS = ("In Breaker, at once:", "What will stop working:", "By hand", "If the call fails, by hand:")
CONFIRM_LABEL = {
    "disable": "Disable",
    "draft-only": "Switch to draft-only",
    "read-only": "Switch to read-only",
    "enable": "Re-enable",
    "rotate": "Rotate",
}

FOCUS_KEYS = [
    Binding("left", "app.focus_previous", "previous", show=False),
    Binding("right", "app.focus_next", "next", show=False),
]


def plan_outline(text: str, *, reversible: bool) -> list[OutlineLine]:
    """The plan's text with its headings bold and its warnings coloured, each wrapped line hanging
    under its own bullet. Every line is escaped: connector names and provider notes are data."""

    def style(marker: str, body: str) -> str:
        safe = escape(body)
        if marker == "⚠":
            return f"[$text-warning]{safe}[/]"
        if body.startswith("Undo:"):
            colour = "$text-success" if reversible else "$text-error"
            return f"[b]Undo:[/b] [{colour}]{escape(body[5:].strip())}[/]"
        if not marker and (body.startswith(HEADINGS) or (body.startswith("At ") and body.endswith(":"))):
            return f"[b $text-primary]{safe}[/]"
        if body.startswith("(") and body.endswith(")"):
            return f"[$text-muted]{safe}[/]"
        return safe

    return parse_outline(text.strip("\n"), style)


EFFECT: dict[SwitchAction, str] = {
    SwitchAction.DRAFT_ONLY: "{name} will still read and write drafts, but can no longer send or change anything.",
    SwitchAction.READ_ONLY: "{name} will only be able to read.",
    SwitchAction.DISABLE: "{name} stops working: whatever uses its key loses access.",
    SwitchAction.ROTATE: "{name} gets a new key; the old one stops working once the new one works.",
    SwitchAction.ENABLE: "{name} goes back to full: everything its key allows.",
}
UNDO_KEY: dict[SwitchAction, str] = {
    SwitchAction.DRAFT_ONLY: "press [b]u[/b] on it to raise it back to full",
    SwitchAction.READ_ONLY: "press [b]u[/b] on it to raise it back to full",
    SwitchAction.DISABLE: "press [b]u[/b] on it to re-enable it",
    SwitchAction.ENABLE: "press [b]d[/b], [b]o[/b] or [b]x[/b] on it to lower it again",
}


def undo_banner(plan: Any) -> str:
    """The effect in words first, then whether (and with which key) it can be undone; the provider
    calls are folded below it."""
    effect = EFFECT.get(plan.action, "").format(name=f"[b]{escape(plan.connector)}[/b]")
    if plan.irreversible_call or not plan.reversible:
        where = f" at {escape(plan.provider_title)}" if plan.calls else ""
        undo = f"[b $text-error]✖ This cannot be undone{where}.[/]"
    elif plan.action in UNDO_KEY:
        undo = f"[b $text-success]↺ This can be undone:[/] {UNDO_KEY[plan.action]}."
    else:
        undo = "[b $text-success]↺ This can be undone.[/]"
    stops = "".join(f"\n[$text-warning]• {escape(x)}[/]" for x in plan.stops_working)
    return "\n".join(x for x in (effect, undo) if x) + stops


@dataclass(frozen=True)
class SwitchChoice:
    revoke_full: bool = False


class SwitchConfirm(CancellableModal[SwitchChoice | None]):
    """One switch of one connector: the plan, then [action] or [Cancel] (focused)."""

    BINDINGS = [
        Binding("escape,n", "cancel", "cancel", id="switch-cancel"),
        *FOCUS_KEYS,
    ]
    AUTO_FOCUS = "#cancel"

    def __init__(self, plan: Any, *, replan: Callable[[bool], Any] | None = None) -> None:
        super().__init__(id="switch-confirm")
        self.plan = plan
        self.replan = replan

    @property
    def offers_revoke_full(self) -> bool:
        """A reduced credential takes over: the owner may also revoke the full key at the provider."""
        return bool(self.plan.uses_reduced and self.replan is not None and self.plan.action.reduces)

    def compose(self) -> ComposeResult:
        plan = self.plan
        title, _, body = plan.text().partition("\n")
        danger = plan.action in (SwitchAction.DISABLE, SwitchAction.ROTATE) or plan.irreversible_call
        with Vertical(id="switch-dialog", classes="dialog" + (" -danger" if danger else " -warning")):
            yield Static(escape(title), classes="dialog-title", id="switch-title")
            yield Static(undo_banner(plan), id="switch-undo")
            with Collapsible(title="What Breaker does, and where (the provider calls)", id="switch-details"):
                with VerticalScroll(id="switch-body"):
                    yield Outline(plan_outline(body, reversible=plan.reversible), id="switch-text")
            if self.offers_revoke_full:
                yield Checkbox(
                    "Also revoke the full key at the provider (cannot be undone)", id="revoke-full", compact=True
                )
            with Horizontal(classes="dialog-buttons"):
                label = CONFIRM_LABEL[plan.action]
                if plan.guided:
                    label = "Paste the new key…"
                yield Button(label, variant="error" if danger else "warning", id="confirm")
                yield Button("Cancel", id="cancel")

    @on(Checkbox.Changed, "#revoke-full")
    async def _revoke_full(self, event: Checkbox.Changed) -> None:
        if self.replan is None:
            return
        try:
            self.plan = self.replan(event.value)
        except Exception as exc:
            self.notify(str(exc), severity="error")
            return
        _, _, body = self.plan.text().partition("\n")
        await self.query_one("#switch-text", Outline).show(plan_outline(body, reversible=self.plan.reversible))
        self.query_one("#switch-undo", Static).update(undo_banner(self.plan))

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        revoke_full = self.offers_revoke_full and self.query_one("#revoke-full", Checkbox).value
        self.dismiss(SwitchChoice(revoke_full=revoke_full))


def dashboard_of(provider: str) -> str:
    from connectors import registry

    try:
        return registry.get(provider).dashboard_url
    except Exception:  # an unknown provider still has steps, just no link
        return ""


def steps_lines(steps: tuple[str, ...] | list[str], provider: str, indent: int = 2) -> list[OutlineLine]:
    """Numbered manual steps, plus the provider's dashboard when the steps do not name it."""
    lines = [line(escape(step), indent, f"{i}.") for i, step in enumerate(steps, 1)]
    url = dashboard_of(provider)
    if url and not any(url in step for step in steps):
        lines.append(line(f"Dashboard: [b]{escape(url)}[/b]", indent))
    return lines


class NewKeyModal(CancellableModal[Secret | None]):
    """Guided rotation: where to make the new key, and a masked field to paste it. Breaker probes the
    new key before it swaps it in; the old one is revoked (or the steps say how) only after that."""

    BINDINGS = [
        Binding("escape", "cancel", "cancel", id="new-key-cancel"),
        Binding("ctrl+n", "mint", "make a sandbox key (demo)", id="new-key-mint", show=False),
    ]
    AUTO_FOCUS = "#new-key"

    def __init__(self, plan: Any) -> None:
        super().__init__(id="new-key")
        self.plan = plan

    def compose(self) -> ComposeResult:
        plan = self.plan
        with Vertical(id="new-key-dialog", classes="dialog -danger"):
            yield Static(
                f"Rotate the key of {escape(plan.connector)} ({escape(plan.provider_title)})", classes="dialog-title"
            )
            with VerticalScroll(id="new-key-body"):  # long steps scroll; the field and buttons stay
                yield Outline(
                    [
                        line(f"{escape(plan.provider_title)} cannot make the new key by API. Make it yourself:"),
                        *steps_lines(plan.manual_steps, plan.provider),
                    ],
                    id="new-key-steps",
                )
                yield Static(
                    "Then paste it here. It is hidden, goes to the OS keyring, and is probed before it "
                    "replaces the old key; the old key dies only once the new one works.",
                    classes="field-note",
                    id="new-key-note",
                )
            if self.demo:
                yield Static(
                    f"[b]Demo:[/b] the sandbox stands in for {escape(plan.provider_title)}'s dashboard. "
                    "Press [b]Make a sandbox key[/b] (ctrl+n) and it makes one, as you would at "
                    f"{escape(plan.provider_title)}, and puts it in the field below.",
                    classes="field-note",
                    id="new-key-demo",
                )
            yield Input(placeholder="paste the new key — masked", password=True, id="new-key-input", compact=True)
            yield Static("", id="new-key-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                if self.demo:
                    yield Button("Make a sandbox key", id="mint")
                yield Button("Rotate", variant="error", id="rotate")
                yield Button("Cancel", id="cancel")

    @property
    def demo(self) -> bool:
        """A demo inventory: its sandbox can make the new key (there is no dashboard to go to)."""
        settings = getattr(self.app, "settings", None)
        return bool(settings is not None and settings.demo)

    def on_mount(self) -> None:
        self.query_one("#new-key-error").display = False
        self.query_one("#new-key-input", Input).focus()

    @on(Button.Pressed, "#mint")
    def action_mint(self) -> None:
        if self.demo:
            self._mint()

    @work(exclusive=True, group="mint", exit_on_error=False, description="making a sandbox key")
    async def _mint(self) -> None:
        from app.services.demo import mint_sandbox_key

        error = self.query_one("#new-key-error", Static)
        try:
            secret = await mint_sandbox_key(self.app.services, self.plan.connector)  # type: ignore[attr-defined]
        except Exception as exc:  # DemoError: one line beside the field
            error.update(f"✖ {escape(str(exc) or type(exc).__name__)}")
            error.display = True
            return
        field = self.query_one("#new-key-input", Input)
        field.value = secret.reveal()  # masked: the field is a password field
        error.display = False
        self.query_one("#new-key-demo", Static).update(
            f"[b]Demo:[/b] the sandbox made a new key (ending …{escape(secret.last4)}); it is in the field, "
            "masked. Press [b]Rotate[/b]: Breaker probes it, swaps it in, then retires the old key."
        )
        self.query_one("#rotate", Button).focus()

    @on(Input.Submitted, "#new-key-input")
    @on(Button.Pressed, "#rotate")
    def _rotate(self) -> None:
        from app.services.inventory import key_problem, shape_problem

        value = self.query_one("#new-key-input", Input).value.strip()
        error = self.query_one("#new-key-error", Static)
        problem = "paste the new key first" if not value else key_problem(Secret(value))
        problem = problem or shape_problem(self.plan.provider, Secret(value))
        if problem:
            error.update(f"✖ {escape(problem)}")
            error.display = True
            return
        self.dismiss(Secret(value))


class OutcomeChoice(Enum):
    DONE_BY_HAND = "done"  # the owner did the manual steps: confirm, then verify by probe
    VERIFY = "verify"  # probe again
    FORCE = "force"  # record locally although the provider call failed (out of sync)


WAITING = (
    JobState.MANUAL,
    JobState.APPLIED,
    JobState.FAILED,
    JobState.PENDING,
    JobState.OUT_OF_SYNC,
    JobState.RECORDED,
    JobState.APPLYING,
)


class SwitchOutcome(ModalScreen[OutcomeChoice | None]):
    """A switch that did not end verified: its honest state, why, the manual steps with the dashboard
    URL, and the ways forward. Focus starts on Later: nothing more happens by accident."""

    CSS_PATH = SCREENS_CSS

    BINDINGS = [Binding("escape", "later", "later", id="outcome-later"), *FOCUS_KEYS]
    AUTO_FOCUS = "#later"

    def __init__(self, report: Any) -> None:
        super().__init__(id="switch-outcome")
        self.report = report

    def compose(self) -> ComposeResult:
        report = self.report
        failed = report.state in (JobState.FAILED, JobState.PENDING, JobState.OUT_OF_SYNC)
        with Vertical(id="outcome-dialog", classes="dialog " + ("-danger" if failed else "-warning")):
            yield Static(
                f"{escape(report.action)} {escape(report.connector)}: {escape(report.label)}", classes="dialog-title"
            )
            with VerticalScroll(id="outcome-body"):
                yield Outline(self.body(), id="outcome-text")
            with Horizontal(classes="dialog-buttons"):
                if report.state in (JobState.FAILED, JobState.PENDING) and report.action is not SwitchAction.ROTATE:
                    yield Button("Force: record it here (out of sync)", variant="error", id="force")
                if report.state in (
                    JobState.MANUAL,
                    JobState.APPLIED,
                    JobState.FAILED,
                    JobState.PENDING,
                    JobState.OUT_OF_SYNC,
                ):
                    yield Button("I did it — verify", variant="primary", id="done")
                if report.state in (JobState.APPLIED, JobState.MANUAL):
                    yield Button("Probe again", id="verify")
                yield Button("Later", id="later")

    def body(self) -> list[OutlineLine]:
        report = self.report
        lines: list[OutlineLine] = []
        if report.message:
            lines.append(line(escape(report.message)))
        if report.verify_note:
            lines.append(line(f"[$text-muted]Probe:[/] {escape(report.verify_note)}"))
        if report.manual_steps:
            lines += [
                line(""),
                line("[b $text-primary]By hand:[/]"),
                *steps_lines(report.manual_steps, report.provider),
            ]
        lines.append(line(""))
        if report.state is JobState.MANUAL:
            lines.append(
                line(
                    "Nothing was applied at the provider: the switch is [b]waiting for you[/b], and the key "
                    "keeps working until you do the steps. Done them? Choose [b]I did it[/b]: Breaker probes "
                    "at once and marks it verified only when the probe proves it."
                )
            )
        elif report.state is JobState.APPLIED:
            lines.append(
                line(
                    "The provider accepted the change, but the switch stays [b]applied — not verified[/b] "
                    "until a probe shows it. Done the steps? Choose [b]I did it[/b]: Breaker probes at once."
                )
            )
        elif report.state in (JobState.FAILED, JobState.PENDING):
            lines.append(
                line(
                    "[$text-error]The provider call did not go through.[/] The mode is recorded in "
                    "Breaker (`breaker exec` already follows it). Do the steps by hand, or [b]force[/b] "
                    "the switch: it stays recorded here and is shown as out of sync with the provider."
                )
            )
        elif report.state is JobState.OUT_OF_SYNC:
            lines.append(
                line(
                    "[$text-error]Forced:[/] recorded in Breaker, but the provider still has the old "
                    "state. Do the steps by hand, then choose [b]I did it[/b]."
                )
            )
        return lines

    def action_later(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#later")
    def _later(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#done")
    def _done(self) -> None:
        self.dismiss(OutcomeChoice.DONE_BY_HAND)

    @on(Button.Pressed, "#verify")
    def _verify(self) -> None:
        self.dismiss(OutcomeChoice.VERIFY)

    @on(Button.Pressed, "#force")
    def _force(self) -> None:
        self.dismiss(OutcomeChoice.FORCE)


class DeepProbeConfirm(CancellableModal[bool]):
    """Before a deep probe: how many requests each provider's deep probe sends, and what they are."""

    CANCELLED = False
    BINDINGS = [Binding("escape,n", "cancel", "cancel", id="deep-cancel"), *FOCUS_KEYS]
    AUTO_FOCUS = "#cancel"

    def __init__(self, names: list[str], counts: list[tuple[str, int]]) -> None:
        super().__init__(id="deep-confirm")
        self.names = names
        self.counts = counts

    def compose(self) -> ComposeResult:
        who = self.names[0] if len(self.names) == 1 else f"{len(self.names)} connectors"
        lines = [
            "A deep probe also tests write permissions: it sends [b]deliberately invalid writes aimed at "
            "objects that do not exist[/b] — never at real ones — and reads how the provider refuses them. "
            "Nothing is created, changed or sent. Providers may log these requests, and they count against "
            "rate limits.",
            "",
        ]
        for title, count in self.counts:
            lines.append(
                f"  • {escape(title)}: "
                + (f"[b]{count}[/b] requests in all" if count else "nothing more than an ordinary probe")
            )
        with Vertical(id="deep-dialog", classes="dialog -warning"):
            yield Static(f"Deep probe of {escape(who)}", classes="dialog-title")
            yield Static("\n".join(lines), id="deep-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Deep probe", variant="warning", id="confirm")
                yield Button("Cancel", id="cancel")

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.dismiss(True)
