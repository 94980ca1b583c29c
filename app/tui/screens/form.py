"""Add / edit a connector.

The key field is masked and its value only ever travels inside a :class:`Secret` to the
inventory service, which puts it in the keyring. Validation messages appear under the field they
are about. Saving runs in a thread worker (an OS keyring may wait on an unlock prompt); the worker
only posts messages.

Live probing (issue 3): once a pasted key is recognised, :meth:`ConnectorForm.key_ready` probes it
at once (read-only calls, in an async worker; nothing is stored) and :meth:`offer_live_scopes` puts
the live grants in the declared-scopes field for the owner to check. Changing the base URL probes
again. In the demo, a sandbox key with no base URL is pointed at the running demo sandbox.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static

from app.services.inventory import ConnectorInput, ConnectorView, Inventory, ValidationError, key_problem
from app.tui.markup import escape
from app.tui.messages import ConnectorSaved, KeyProbed, SaveRefused
from app.tui.screens.base import CancellableModal, ReportsWorkerErrors
from app.tui.widgets.present import format_grants, parse_grants
from connectors import registry
from connectors.base import Grant, Secret
from connectors.masking import mask, mask_known

FIELDS = (
    "key",
    "provider",
    "name",
    "owner",
    "purpose",
    "environment",
    "declared",
    "client",
    "env_var",
    "base_url",
    "tags",
)
PURPOSE_PARTS = ("purpose_access", "purpose_task", "purpose_forbidden")


@dataclass(frozen=True)
class ProviderChoice:
    name: str
    title: str
    env_var: str = ""


def provider_choices() -> list[ProviderChoice]:
    """Every registered provider with its title; a provider module that cannot load shows its name."""
    choices = []
    for name in registry.names():
        try:
            provider = registry.get(name)
            choices.append(ProviderChoice(name, provider.title, provider.env_var))
        except Exception:  # a broken plug-in must not take the form down
            choices.append(ProviderChoice(name, name))
    return choices


def purpose_sentence(access: str, task: str, forbidden: str) -> str:
    """The one-sentence rule as the inventory shows it, with … for the parts not written yet."""
    if not (access.strip() or task.strip() or forbidden.strip()):
        return ""
    sentence = f"This connector may use {access.strip() or '…'} to {task.strip() or '…'}"
    sentence += f", but may not {forbidden.strip()}" if forbidden.strip() else ", but may not …"
    return sentence + "."


@dataclass(frozen=True)
class KeyUnderTest:
    """What the probing service needs to know of a key that is not a connector yet."""

    provider: str
    name: str = "the pasted key"


class ConnectorForm(ReportsWorkerErrors, CancellableModal[tuple[str | None, str] | None]):
    """Dismisses with (previous name, saved name) — previous is None for an add — or None on cancel."""

    BINDINGS = [
        Binding("escape", "cancel", "cancel", id="form-cancel"),
        Binding("ctrl+s", "save", "save", id="form-save"),
    ]
    AUTO_FOCUS = "#key"

    def __init__(self, name: str | None) -> None:
        super().__init__(id="connector-form")
        self.original = name  # None: adding
        self.view: ConnectorView | None = None
        self.choices: dict[str, ProviderChoice] = {}
        self.saving = False
        self.recognised = ""
        self.ready: tuple[str, Secret] | None = None  # (provider, key) of the last recognised key
        self.probe_generation = 0
        self.offered = ""  # the declared-scopes text the last live probe offered
        self.recognised_live = ""  # what the last live probe of the key said, for the note

    @property
    def inventory(self) -> Inventory:
        return self.app.services.inventory

    # -- layout -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        if self.original is not None:
            self.view = self.inventory.get(self.original)
        self.choices = {c.name: c for c in provider_choices()}
        view = self.view
        with Vertical(id="form-dialog", classes="dialog"):
            yield Static(f"Edit {escape(view.name)}" if view else "Add a connector", classes="dialog-title")
            with VerticalScroll(id="form-fields"):
                current = f" (now {view.credential.display})" if view and view.credential else ""
                yield from self.row(
                    "key",
                    "Key" if view is None else "New key",
                    Input(
                        placeholder=(
                            "paste the key — masked; it goes to the OS keyring, never to the database"
                            if view is None
                            else f"leave empty to keep the current key{current}"
                        ),
                        password=True,
                        id="key",
                        compact=True,
                    ),
                    note=Static("", id="key-recognised", classes="field-note"),
                )
                yield from self.row(
                    "provider",
                    "Provider",
                    Select(
                        [(c.title, c.name) for c in self.choices.values()],
                        prompt="recognise it from the key",
                        allow_blank=True,
                        value=view.provider if view else Select.NULL,
                        id="provider",
                        compact=True,
                    ),
                )
                yield from self.row(
                    "name",
                    "Name",
                    Input(
                        value=view.name if view else "", placeholder="e.g. github-issues-bot", id="name", compact=True
                    ),
                )
                yield from self.row(
                    "owner",
                    "Owner",
                    Input(
                        value=view.owner if view else "",
                        placeholder="the person who answers for it",
                        suggester=SuggestFromList(self.inventory.owners(), case_sensitive=False),
                        id="owner",
                        compact=True,
                    ),
                )
                with Vertical(id="field-purpose", classes="field"):
                    for part, label, hint in (
                        ("purpose_access", "May use", "e.g. the GitHub API on acme/website"),
                        ("purpose_task", "to", "e.g. triage and label issues"),
                        ("purpose_forbidden", "but may not", "e.g. push code or change settings"),
                    ):
                        with Horizontal(classes="field-row"):
                            yield Label(label, classes="field-label")
                            yield Input(
                                value=getattr(view, part) if view else "", placeholder=hint, id=part, compact=True
                            )
                    yield Static("", id="purpose-preview", classes="field-note")
                    yield Static("", id="error-purpose", classes="field-error")
                yield from self.row(
                    "environment",
                    "Environment",
                    Select(
                        [("prod", "prod"), ("test", "test")],
                        allow_blank=False,
                        value=view.environment if view else "prod",
                        id="environment",
                        compact=True,
                    ),
                )
                yield from self.row(
                    "declared",
                    "Declared scopes",
                    Input(
                        value=format_grants(view.declared) if view else "",
                        placeholder="scope:level, …  e.g. repo:write, read:org:read  (read draft write send admin)",
                        id="declared",
                        compact=True,
                    ),
                )
                yield from self.row(
                    "client",
                    "Used by",
                    Input(
                        value=view.client if view else "",
                        placeholder="the assistant or automation, e.g. Claude Desktop",
                        id="client",
                        compact=True,
                    ),
                )
                yield from self.row(
                    "env_var",
                    "Env variable",
                    Input(
                        value=view.env_var if view else "",
                        placeholder="for `breaker exec`, e.g. GITHUB_TOKEN",
                        id="env_var",
                        compact=True,
                    ),
                )
                yield from self.row(
                    "base_url",
                    "Base URL",
                    Input(
                        value=view.base_url if view else "",
                        placeholder="only for GitHub Enterprise, self-managed GitLab, the sandbox …",
                        id="base_url",
                        compact=True,
                    ),
                )
                yield from self.row(
                    "tags",
                    "Tags",
                    Input(
                        value=", ".join(view.tags) if view else "",
                        placeholder="comma-separated, e.g. support, nightly",
                        id="tags",
                        compact=True,
                    ),
                )
            yield Static("", id="form-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    @staticmethod
    def row(field: str, label: str, widget: Widget, note: Widget | None = None) -> ComposeResult:
        """Label and widget on one line; a note (if any) and the field's error message under it."""
        with Vertical(id=f"field-{field}", classes="field"):
            with Horizontal(classes="field-row"):
                yield Label(label, classes="field-label")
                yield widget
            if note is not None:
                yield note
            yield Static("", id=f"error-{field}", classes="field-error")

    def on_mount(self) -> None:
        self.initial = self.values()
        self.update_preview()
        for error in self.query(".field-error"):
            error.display = False
        self.query_one("#key-recognised").display = False
        self.update_env_placeholder()

    # -- live feedback ----------------------------------------------------------------------------
    @on(Input.Changed, "#purpose_access, #purpose_task, #purpose_forbidden")
    def update_preview(self) -> None:
        access, task, forbidden = (self.query_one(f"#{p}", Input).value for p in PURPOSE_PARTS)
        sentence = purpose_sentence(access, task, forbidden)
        self.query_one("#purpose-preview", Static).update(
            f"→ {escape(sentence)}" if sentence else "→ the one-sentence rule appears here as you type"
        )

    @on(Input.Changed, "#key")
    def _key_changed(self, event: Input.Changed) -> None:
        note = self.query_one("#key-recognised", Static)
        value = event.value
        self.ready = None
        self.probe_generation += 1  # an answer about the previous text is no longer wanted
        note.display = bool(value)
        if not value:
            note.update("")
            self.show_error("key", "")
            return
        problem = key_problem(Secret(value))
        self.show_error("key", problem)  # live: the same line a save would show, never twice
        if problem:
            note.display = False
            return
        try:
            hits = registry.recognise(value)
        except Exception:  # a provider module that cannot load: ask instead of guessing
            hits = []
        if not hits:
            note.update("Not recognised — choose the provider (generic for any other HTTP API).")
            return
        best = hits[0]
        title = self.choices.get(best.provider, ProviderChoice(best.provider, best.provider)).title
        if len(hits) > 1 and hits[1].confidence == best.confidence:
            others = ", ".join(self.choices.get(h.provider, ProviderChoice(h.provider, h.provider)).title for h in hits)
            note.update(f"Could be any of: {escape(others)} — choose the provider.")
            return
        kind = f" · {escape(best.kind)}" if best.kind else ""
        self.recognised = f"[$text-success]Recognised: {escape(title)}{kind}[/]"
        note.update(self.recognised)
        select = self.query_one("#provider", Select)
        if select.value is Select.NULL or (self.original is None and select.value != best.provider):
            select.value = best.provider  # when adding, the key's own prefix is the better witness
        self.key_ready(best.provider, Secret(value))

    @on(Select.Changed, "#provider")
    def update_env_placeholder(self) -> None:
        choice = self.choices.get(str(self.query_one("#provider", Select).value))
        env = self.query_one("#env_var", Input)
        env.placeholder = (
            f"for `breaker exec`; default {choice.env_var}"
            if choice and choice.env_var
            else "for `breaker exec`, e.g. GITHUB_TOKEN"
        )

    def key_ready(self, provider: str, secret: Secret) -> None:
        """A pasted key was recognised and looks well formed: probe it now (read-only, nothing stored)."""
        self.ready = (provider, secret)
        base_url = self.value("base_url").strip()
        sandbox = getattr(self.app, "sandbox", None)
        if not base_url and sandbox is not None and "SANDBOX" in secret.reveal():
            # The demo: its keys live in the loopback sandbox, not at the real provider.
            base_url = sandbox.base_url(provider)
            self.query_one("#base_url", Input).value = base_url  # probes again through _base_url_changed
            return
        self.start_key_probe(provider, secret, base_url)

    def start_key_probe(self, provider: str, secret: Secret, base_url: str) -> None:
        self.probe_generation += 1
        self.query_one("#key-recognised", Static).update(f"{self.recognised} — probing the key…")
        self.probe_key(provider, secret, base_url or None, self.probe_generation)

    @on(Input.Changed, "#base_url")
    def _base_url_changed(self, event: Input.Changed) -> None:
        if self.ready is not None and self.value("key"):
            self.start_key_probe(*self.ready, event.value.strip())

    @work(exclusive=True, group="form-probe", exit_on_error=False, description="probing the pasted key")
    async def probe_key(self, provider: str, secret: Secret, base_url: str | None, generation: int) -> None:
        # exclusive: a key still being typed or a base URL being edited cancels the previous probe.
        await asyncio.sleep(0.2)
        from app.services.probing import Prober
        from connectors.base import Credential

        prober: Prober = self.app.services.prober
        async with prober.client() as client:
            report = await prober.probe_report(
                client, KeyUnderTest(provider), Credential(secret=secret, base_url=base_url)
            )
        self.post_message(KeyProbed(generation, report))

    @on(KeyProbed)
    def _key_probed(self, message: KeyProbed) -> None:
        if message.generation != self.probe_generation or self.ready is None or not self.value("key"):
            return  # an older key's answer
        report = message.report
        note = self.query_one("#key-recognised", Static)
        if report.outcome.value != "ok":
            why = escape(report.error) if report.error else (f"HTTP {report.status}" if report.status else "")
            note.update(
                f"{self.recognised} — [$text-error]live probe: {report.outcome.value}[/]"
                + (f" ({why})" if why else "")
                + "; nothing offered"
            )
            return
        from app.services.drift import is_implied

        grants = [g for g in report.grants if not is_implied(g)]
        who = f" as {escape(report.identity)}" if report.identity else ""
        level = f", level {report.live_level.label}" if report.live_level is not None else ""
        self.recognised_live = f"live probe: ok{who}{level}"
        self.offer_live_scopes(grants)
        if not grants:
            note.update(f"{self.recognised} — {self.recognised_live}; no scopes reported")

    def offer_live_scopes(self, grants: list[Grant]) -> None:
        """Offer the key's live scopes as the declared ones, unless the owner already wrote others."""
        declared = self.query_one("#declared", Input)
        live = self.recognised_live
        note = self.query_one("#key-recognised", Static)
        if grants and (not declared.value.strip() or declared.value == self.offered):
            self.offered = format_grants(grants)
            declared.value = self.offered
            self.show_error("declared", "")
            note.update(
                f"{self.recognised} — {live + '; ' if live else ''}live scopes offered as declared scopes: check them"
            )
        elif grants:
            note.update(
                f"{self.recognised} — {live + '; ' if live else ''}your declared scopes are kept "
                f"(live: {escape(format_grants(grants))})"
            )

    # -- leaving --------------------------------------------------------------------------------------
    def values(self) -> dict[str, object]:
        """What the fields hold now (the key only as whether it is empty: it is not kept here)."""
        shown: dict[str, object] = {i.id or "": i.value for i in self.query(Input) if i.id != "key"}
        shown.update({s.id or "": s.value for s in self.query(Select)})
        shown["key"] = bool(self.query_one("#key", Input).value)
        return shown

    def action_cancel(self) -> None:
        """Escape or Cancel: close at once if nothing was typed, else ask first (focus on Keep editing)."""
        if self.saving or self.values() == self.initial:
            self.dismiss(None)
            return
        from app.tui.screens.discard import DiscardConfirm

        what = "The new connector" if self.original is None else f"Your changes to {self.original}"

        def chosen(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(DiscardConfirm(what), chosen)

    # -- saving ---------------------------------------------------------------------------------------
    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Input.Submitted)
    def _submitted(self, _event: Input.Submitted) -> None:
        self.action_save()

    def value(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value

    def action_save(self) -> None:
        if self.saving:
            return
        for field in (*FIELDS, "form"):
            self.show_error(field, "")
        provider = self.query_one("#provider", Select).value
        declared_text = self.value("declared")
        declared: tuple[Grant, ...] | None = None
        declared_error = ""
        try:
            declared = parse_grants(declared_text)
        except ValueError as exc:
            declared_error = str(exc)
        if self.view is not None and declared == self.view.declared:
            declared = None  # unchanged: keep the declared rows (and their first-seen dates) as they are
        data = ConnectorInput(
            name=self.value("name"),
            provider="" if provider is Select.NULL else str(provider),
            owner=self.value("owner").strip(),
            purpose_access=self.value("purpose_access"),
            purpose_task=self.value("purpose_task"),
            purpose_forbidden=self.value("purpose_forbidden"),
            environment=str(self.query_one("#environment", Select).value),
            base_url=self.value("base_url"),
            env_var=self.value("env_var").strip(),
            client=self.value("client"),
            tags=self.value("tags"),
            declared=declared if self.view is not None else (declared or ()),
            extra=dict(self.view.extra) if self.view else {},
        )
        key = self.value("key")
        secret = Secret(key) if key else None
        self.saving = True
        self.query_one("#save", Button).disabled = True
        self.save_worker(self.inventory, data, secret, declared_error)

    @work(thread=True, exclusive=True, group="form-save", exit_on_error=False, description="saving a connector")
    def save_worker(
        self, inventory: Inventory, data: ConnectorInput, secret: Secret | None, declared_error: str
    ) -> None:
        """Runs in a thread; never touches a widget, only posts messages."""
        adding = self.original is None
        try:
            if declared_error:
                errors = {"declared": declared_error}
                try:
                    inventory.validate(data, secret, existing=self.original, require_key=adding)
                except ValidationError as exc:
                    errors = {**exc.errors, **errors}
                raise ValidationError(errors)
            if adding:
                view = inventory.add(data, secret)
            else:
                assert self.original is not None
                view = inventory.edit(self.original, data, secret)
        except ValidationError as exc:
            self.post_message(SaveRefused(exc.errors))
        except Exception as exc:  # keyring or store trouble: services keep secrets out of messages
            text = mask_known(mask(str(exc), [secret.reveal()] if secret is not None else []))
            self.post_message(SaveRefused({}, text or type(exc).__name__))
        else:
            self.post_message(ConnectorSaved(view, adding))

    @on(SaveRefused)
    def _refused(self, message: SaveRefused) -> None:
        self.saving = False
        self.query_one("#save", Button).disabled = False
        shown = []
        for field, text in message.errors.items():
            target = "purpose" if field in PURPOSE_PARTS else field
            if target not in FIELDS:
                self.show_error("form", f"{field}: {text}")
                continue
            self.show_error(target, text)
            shown.append(target)
        first = min(shown, key=FIELDS.index) if shown else None  # the first wrong field in form order
        if message.message:
            self.show_error("form", message.message)
        if first is not None:
            widget_id = "purpose_access" if first == "purpose" else first
            self.query_one(f"#{widget_id}").focus()
            self.query_one(f"#field-{first}").scroll_visible(animate=False)

    def show_error(self, field: str, text: str) -> None:
        error = self.query_one(f"#error-{field}", Static) if field != "form" else self.query_one("#form-error", Static)
        error.update(f"✖ {escape(text)}" if text else "")
        error.display = bool(text)
        if field != "form":
            self.query_one(f"#field-{field}").set_class(bool(text), "-invalid")

    @on(ConnectorSaved)
    def _saved(self, message: ConnectorSaved) -> None:
        view = message.view
        if message.added:
            where = (
                f" Its key is in the keyring; the inventory keeps only its fingerprint {view.credential.display}."
                if view.credential
                else ""
            )
            self.notify(f"Added {view.name}.{where}", title="Connector added")
        else:
            self.notify(f"Saved {view.name}.", title="Connector saved")
        self.dismiss((self.original, view.name))
