"""What a switch will do, said before it is done: the text of every confirmation.

:func:`plan_for` is pure: given the connector (and the inventory, to find connectors sharing its key
or relying on it as their admin credential) it says which call goes where, whether it can be
undone, and what will stop working. The panel shows :meth:`SwitchPlan.text` in its confirmation
modal; the CLI prints it and asks. :func:`panic_plan` does the same for an emergency disable.

The calls come from the provider classes (``Provider.switch_calls``, one :class:`SwitchCall` per
verb, documented beside the provider code that makes them).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from app.services.inventory import ConnectorView, CredentialView
from app.services.vocabulary import SwitchAction
from connectors import registry
from connectors.base import Mode, Provider, SwitchCall, Verb


@dataclass(frozen=True)
class PlannedCall:
    """One request Breaker will send: where, what, and what to know about it."""

    where: str  # provider title
    request: str  # "POST https://api.github.com/credentials/revoke"
    note: str = ""

    def line(self) -> str:
        return f"{self.where}: {self.request}" + (f" — {self.note}" if self.note else "")


@dataclass(frozen=True)
class SwitchPlan:
    connector: str
    provider: str
    provider_title: str
    action: SwitchAction
    from_mode: Mode
    to_mode: Mode | None
    local: tuple[str, ...]  # what changes in Breaker at once
    calls: tuple[PlannedCall, ...]  # what is sent to the provider
    manual_steps: tuple[str, ...]  # what the owner must do by hand (no API, or as a fallback)
    reversible: bool
    undo: str  # how to undo it, or why it cannot be undone
    stops_working: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    guided: bool = False  # rotate: Breaker needs the new key pasted
    uses_reduced: bool = False  # draft-only/read-only switch to the reduced credential
    irreversible_call: bool = False

    @property
    def provider_call(self) -> str:
        """One line for the journal and the audit log."""
        if self.calls:
            return "; ".join(c.request for c in self.calls)
        if self.uses_reduced:
            return "local: switch to the reduced credential"
        if self.guided:
            return "guided: the owner pastes a new key"
        return "manual steps" if self.manual_steps else "none"

    def text(self) -> str:
        """The confirmation, for a modal or a terminal. Says what, where, undo, and what stops."""
        lines = [f"{self.action.title} {self.connector} ({self.provider_title})"]
        if self.to_mode is not None and self.to_mode is not self.from_mode:
            lines[0] += f" — mode {self.from_mode.value} → {self.to_mode.value}"
        lines.append("")
        lines.append("In Breaker, at once:")
        lines += [f"  • {x}" for x in self.local]
        if self.calls:
            lines.append(f"At {self.provider_title}:")
            lines += [f"  • {c.request}" + (f"\n    ({c.note})" if c.note else "") for c in self.calls]
        if self.manual_steps:
            lines.append(
                "By hand (Breaker cannot do this by API; the switch waits for you):"
                if not self.calls
                else "If the call fails, by hand:"
            )
            lines += [f"  {i}. {s}" for i, s in enumerate(self.manual_steps, 1)]
        lines.append(f"Undo: {self.undo}")
        if self.stops_working:
            lines.append("What will stop working:")
            lines += [f"  • {x}" for x in self.stops_working]
        if self.warnings:
            lines += [f"⚠ {w}" for w in self.warnings]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "connector": self.connector,
            "provider": self.provider,
            "action": self.action,
            "from_mode": self.from_mode.value,
            "to_mode": self.to_mode.value if self.to_mode else None,
            "local": list(self.local),
            "calls": [c.line() for c in self.calls],
            "manual_steps": list(self.manual_steps),
            "reversible": self.reversible,
            "undo": self.undo,
            "stops_working": list(self.stops_working),
            "warnings": list(self.warnings),
            "guided": self.guided,
            "irreversible_call": self.irreversible_call,
        }


# -- helpers -----------------------------------------------------------------------------------


def live_credentials(view: ConnectorView) -> list[CredentialView]:
    """The credentials that hold power for this connector's task: not revoked, not the admin tier
    (unless the admin key *is* the connector's credential, as on an organisation admin connector)."""
    creds = [c for c in view.credentials if c.revoked_at is None]
    own = [c for c in creds if c.tier != "admin"]
    if own:
        return own
    active = view.credential
    return [active] if active is not None and active.revoked_at is None else []


def reduced_credential(view: ConnectorView) -> CredentialView | None:
    return next((c for c in view.credentials if c.tier == "reduced" and c.revoked_at is None), None)


def primary_credential(view: ConnectorView) -> CredentialView | None:
    return next((c for c in view.credentials if c.tier == "primary" and c.revoked_at is None), None)


def is_admin_connector(view: ConnectorView) -> bool:
    """An organisation admin connector: its handed-out credential is an admin-tier key."""
    cred = view.credential
    return cred is not None and cred.tier == "admin" and cred.active


def admin_source(view: ConnectorView, views: list[ConnectorView]) -> ConnectorView | None:
    """Where this connector's admin credential comes from (see :func:`admin_credential`)."""
    if any(c.tier == "admin" and c.revoked_at is None for c in view.credentials):
        return view
    same = [
        v
        for v in views
        if v.provider == view.provider and (v.base_url or "") == (view.base_url or "") and is_admin_connector(v)
    ]
    return sorted(same, key=lambda v: v.name)[0] if same else None


def admin_credential(view: ConnectorView, views: list[ConnectorView]) -> CredentialView | None:
    """The admin key used for this connector's provider calls (Anthropic, OpenAI, SendGrid …).

    Design: an organisation admin key is registered once, as its own connector whose credential
    has tier ``admin`` (so it is on the panel, probed and reviewed like any other powerful key).
    Every connector of the same provider and base URL uses it. A connector may instead hold its own
    ``admin``-tier credential beside its primary one; that one wins.
    """
    source = admin_source(view, views)
    if source is None:
        return None
    return next((c for c in source.credentials if c.tier == "admin" and c.revoked_at is None), None)


def dependants(view: ConnectorView, views: list[ConnectorView]) -> list[ConnectorView]:
    """Connectors that use ``view`` as their organisation admin connector."""
    if not is_admin_connector(view):
        return []
    return [v for v in views if v.name != view.name and admin_source(v, views) is view]


def shared_with(view: ConnectorView, views: list[ConnectorView]) -> list[str]:
    """Other connectors holding one of the same keys (same fingerprint): a revoke kills theirs too."""
    prints = {c.fingerprint for c in live_credentials(view)}
    return sorted(
        v.name for v in views if v.name != view.name and any(c.fingerprint in prints for c in live_credentials(v))
    )


def _endpoint(provider: Provider, verb: Verb, cred: CredentialView | None) -> SwitchCall | None:
    return provider.switch_call(verb, (cred.kind or "") if cred is not None else "")


def _call(provider: Provider, view: ConnectorView, verb: Verb, cred: CredentialView | None) -> PlannedCall:
    root = (view.base_url or provider.base_url or "").rstrip("/")
    found = _endpoint(provider, verb, cred)
    if found is None:
        return PlannedCall(provider.title, f"{root} — {provider.title}'s API to {verb} this key")
    method, _, path = found.request.partition(" ")
    return PlannedCall(provider.title, f"{method} {root}{path}", found.note)


def _has_api(provider: Provider, verb: Verb, view: ConnectorView, cred: CredentialView | None) -> bool:
    """Whether Breaker will call the provider for ``verb`` (else: manual steps only)."""
    if verb is Verb.REENABLE and not provider.reversible(_kind(cred)):
        return False
    return provider.has_api(verb, _kind(cred))


def _kind(cred: CredentialView | None) -> str:
    return (cred.kind or "") if cred is not None else ""


def _provider_can_rotate(view: ConnectorView) -> bool:
    try:
        return registry.get(view.provider).has_api(Verb.ROTATE, _kind(view.credential))
    except Exception:  # an unknown provider: no rotation by API
        return False


def _stops(view: ConnectorView, views: list[ConnectorView], action: SwitchAction) -> list[str]:
    out: list[str] = []
    client = view.client or "the assistant or automation using this key"
    if action is SwitchAction.DISABLE:
        out.append(f"{client}: its key stops working")
        out.append(f"`breaker exec {view.name}` refuses to hand out {view.env_var or 'the key'}")
    elif action.reduces:
        out.append(f"{client}: anything above {action.ceiling.label} level fails")  # type: ignore[union-attr]
    elif action is SwitchAction.ROTATE:
        made_here = _provider_can_rotate(view)  # the owner never sees a key the provider makes
        out.append(
            f"{client}: the old key stops working; give it the new one "
            f"(`breaker exec {view.name}` does it for you via {view.env_var or 'its variable'}"
            + ("; otherwise the panel shows the new key once, to copy)" if made_here else ")")
        )
    if action in (SwitchAction.DISABLE, SwitchAction.ROTATE):
        shared = shared_with(view, views)
        if shared:
            out.append(f"connectors sharing this very key: {', '.join(shared)}")
        deps = dependants(view, views)
        if deps:
            out.append(
                f"switches of {len(deps)} {view.provider} connector(s) that use this admin key: "
                + ", ".join(d.name for d in deps[:8])
                + ("…" if len(deps) > 8 else "")
            )
    return out


# -- the plan ----------------------------------------------------------------------------------


def plan_for(
    view: ConnectorView,
    action: SwitchAction | str,
    views: list[ConnectorView] | None = None,
    *,
    revoke_full: bool = False,
) -> SwitchPlan:
    """Exactly what ``action`` on ``view`` will do. Pure: reads nothing, changes nothing."""
    try:
        action = SwitchAction(action)
    except ValueError:
        raise ValueError(f"unknown switch {action!r}; use one of: {', '.join(SwitchAction)}") from None
    views = views if views is not None else [view]
    provider = registry.get(view.provider)
    target = action.target_mode
    active = view.credential
    local: list[str] = []
    calls: list[PlannedCall] = []
    manual: list[str] = []
    warnings: list[str] = []
    reversible, undo, guided, uses_reduced, irreversible = True, "", False, False, False
    verb = {SwitchAction.DISABLE: Verb.REVOKE, SwitchAction.ENABLE: Verb.REENABLE, SwitchAction.ROTATE: Verb.ROTATE}
    needs_admin = provider.admin_needed(verb[action], _kind(active)) if action in verb else ""
    if action is SwitchAction.ROTATE and not needs_admin and not provider.has_api(Verb.ROTATE, _kind(active)):
        needs_admin = provider.admin_needed(Verb.REVOKE, _kind(active))  # guided: the old key's revoke needs it
    admin_missing = bool(needs_admin) and admin_credential(view, views) is None

    if target is not None and target is not view.mode:
        local.append(f"record mode {target.value} (was {view.mode.value})")
    if action is SwitchAction.DISABLE:
        local.append(f"`breaker exec {view.name}` refuses from now on")
        creds = live_credentials(view)
        for cred in creds or [None]:
            if _has_api(provider, Verb.REVOKE, view, cred):
                calls.append(_call(provider, view, Verb.REVOKE, cred))
            elif cred is not None and Verb.REVOKE in provider.switch_calls:
                warnings.append(
                    f"{provider.title} has no API to switch off this kind of key ({cred.kind or 'unknown kind'}): "
                    "Breaker blocks it locally and then waits for you to do the steps below"
                )
        if len(creds) > 1:
            local.append(
                f"revoke all {len(creds)} live keys of this connector ("
                + ", ".join(f"{c.tier} …{c.last4}" for c in creds)
                + ")"
            )
        manual = provider.manual_steps(Verb.REVOKE)  # shown as the fallback when there is a call
        undoable = all(provider.reversible(_kind(c)) for c in creds or [None])
        irreversible = bool(calls) and not undoable
        reversible = not irreversible
        undo = (
            f"`breaker enable {view.name}` — {provider.title} sets the key active again"
            if undoable and calls
            else f"locally yes (`breaker enable {view.name}`), but at {provider.title} the key is gone for good: "
            "you will need a new key (`breaker rotate` then takes it)"
            if calls
            else f"`breaker enable {view.name}` lifts the local block; what you do by hand at {provider.title} "
            "decides the rest"
        )
    elif action.reduces:
        assert target is not None and target.ceiling is not None
        reduced = reduced_credential(view)
        if reduced is not None and not (active is not None and active.tier == "reduced"):
            uses_reduced = True
            local.append(
                f"hand out the reduced credential (…{reduced.last4}) instead of the full one"
                + (f" (…{active.last4})" if active else "")
            )
            if revoke_full and active is not None:
                if _has_api(provider, Verb.REVOKE, view, active):
                    calls.append(_call(provider, view, Verb.REVOKE, active))
                    irreversible = not provider.reversible(_kind(active))
                else:
                    manual = provider.manual_steps(Verb.REVOKE)
                local.append("then revoke the full key")
            else:
                warnings.append(
                    "the full key still works at the provider until you revoke it "
                    "(run again with --revoke-full, or revoke it by hand)"
                )
        elif reduced is not None:
            local.append(f"keep handing out the reduced credential (…{reduced.last4})")
            uses_reduced = True
        elif _has_api(provider, Verb.RESTRICT, view, active):
            calls.append(_call(provider, view, Verb.RESTRICT, active))
            manual = provider.manual_steps(Verb.RESTRICT)
        else:
            manual = provider.manual_steps(Verb.RESTRICT)
            warnings.append(
                f"{provider.title} has no API to reduce this key: until you do it by hand, the key keeps "
                "its power and the switch stays 'applied — not verified'"
            )
        reversible = not irreversible
        undo = f"`breaker enable {view.name}`" + (
            " hands out the full credential again"
            if uses_reduced and not revoke_full
            else ""
            if not irreversible
            else " lifts the local ceiling; the revoked full key is gone for good"
        )
    elif action is SwitchAction.ENABLE:
        reduced_active = active is not None and active.tier == "reduced"
        if reduced_active and primary_credential(view) is not None:
            local.append("hand out the full (primary) credential again")
        by_api = _has_api(provider, Verb.REENABLE, view, active)
        if by_api:
            calls.append(_call(provider, view, Verb.REENABLE, active))
        undo = f"`breaker disable {view.name}` (or a narrower mode)"
        manual = provider.manual_steps(Verb.REENABLE) if not by_api else []
        if not provider.reversible(_kind(active)) and view.mode is Mode.DISABLED:
            warnings.append(
                f"if the key was revoked at {provider.title}, it cannot come back: "
                f"`breaker rotate {view.name}` takes a new one"
            )
    else:  # rotate
        reversible = False
        if _has_api(provider, Verb.ROTATE, view, active):
            calls.append(_call(provider, view, Verb.ROTATE, active))
            manual = provider.manual_steps(Verb.ROTATE)
            local.append(
                "store the new key in the keyring the moment the provider returns it, "
                "then probe it before the old one is given up"
            )
            irreversible = True
        else:
            guided = True
            manual = provider.manual_steps(Verb.ROTATE)
            local.append("take the new key you paste (hidden), probe it, and only then swap it in")
            if _has_api(provider, Verb.REVOKE, view, active):
                calls.append(_call(provider, view, Verb.REVOKE, active))
                local.append("then revoke the old key at the provider")
            else:
                local.append("then tell you how to revoke the old key")
        undo = "not possible: the old key is revoked once the new one works"

    if admin_missing and calls:
        how = (
            "add it as a connector, then `breaker admin-key THAT-NAME`; until then Breaker gives manual steps"
            if provider.revoke_needs_admin
            else f"`breaker admin-key {view.name} --app-secret`; until then Breaker does what the call's note "
            "says without it"
        )
        warnings.append(f"{provider.title} needs {needs_admin} for this call and none is registered: {how}")
        if action is SwitchAction.DISABLE and reversible and not provider.revoke_needs_admin:
            reversible, irreversible = False, True  # the fallback without it cannot be undone
            undo = (
                f"locally yes (`breaker enable {view.name}`), but without {needs_admin} the key is revoked "
                f"at {provider.title} for good"
            )
    if view.mode is Mode.DISABLED and action is SwitchAction.DISABLE:
        warnings.append("already disabled: Breaker checks by probe before calling the provider again")
    return SwitchPlan(
        connector=view.name,
        provider=view.provider,
        provider_title=provider.title,
        action=action,
        from_mode=view.mode,
        to_mode=target,
        local=tuple(local),
        calls=tuple(calls),
        manual_steps=tuple(manual),
        reversible=reversible,
        undo=undo,
        stops_working=tuple(_stops(view, views, action)),
        warnings=tuple(warnings),
        guided=guided,
        uses_reduced=uses_reduced,
        irreversible_call=irreversible,
    )


@dataclass(frozen=True)
class PanicPlan:
    """What an emergency disable of ``names`` will do, grouped by provider."""

    names: tuple[str, ...]
    by_provider: dict[str, int]
    calls: dict[str, str]  # provider → the call, or "manual steps"
    irreversible: dict[str, int]  # provider → connectors whose revocation cannot be undone
    manual: dict[str, int]  # provider → connectors that will need manual steps
    already_disabled: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    mcp_servers: tuple[str, ...] = ()  # MCP servers a scan recorded, on: turned off after the keys

    @property
    def count(self) -> int:
        return len(self.names)

    @property
    def empty(self) -> bool:
        """Nothing at all to do: no connector and no MCP server."""
        return not self.names and not self.mcp_servers

    def text(self) -> str:
        lines = [
            f"EMERGENCY DISABLE: {self.count} connector(s) across {len(self.by_provider)} provider(s)",
            "",
            "In Breaker, at once: every one is recorded disabled; `breaker exec` refuses them all.",
            "Then, at every provider at the same time (bounded per provider, each call with its own timeout):",
        ]
        for name, n in sorted(self.by_provider.items()):
            extra = []
            if self.irreversible.get(name):
                extra.append(f"{self.irreversible[name]} cannot be undone")
            if self.manual.get(name):
                extra.append(f"{self.manual[name]} need manual steps")
            lines.append(
                f"  • {name}: {n} × {self.calls.get(name, 'manual steps')}"
                + (f"  [{'; '.join(extra)}]" if extra else "")
            )
        lines.append("Then every connector is probed to verify that its key no longer works.")
        if self.mcp_servers:
            lines.append(
                f"Then {len(self.mcp_servers)} MCP server(s) are turned off in their apps' config files "
                "(each app must be restarted to notice):"
            )
            lines += [f"  • {s}" for s in self.mcp_servers]
        lines += [f"⚠ {n}" for n in self.notes]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "connectors": list(self.names),
            "by_provider": dict(self.by_provider),
            "calls": dict(self.calls),
            "irreversible": dict(self.irreversible),
            "manual": dict(self.manual),
            "already_disabled": self.already_disabled,
            "notes": list(self.notes),
            "mcp_servers": list(self.mcp_servers),
        }


def panic_plan(selected: list[ConnectorView], views: list[ConnectorView]) -> PanicPlan:
    by_provider: Counter[str] = Counter()
    irreversible: Counter[str] = Counter()
    manual: Counter[str] = Counter()
    calls: dict[str, str] = {}
    for view in selected:
        plan = plan_for(view, SwitchAction.DISABLE, views)
        by_provider[view.provider] += 1
        # Every distinct call of the provider, in the order met (its kinds of key may differ: a GitHub
        # token is revoked, an App installation suspended; an Anthropic admin key has no call at all).
        said = calls.get(view.provider, "")
        if plan.calls:
            this = plan.calls[0].request
            if plan.irreversible_call:
                irreversible[view.provider] += 1
        else:
            manual[view.provider] += 1
            this = "manual steps"
        if this not in said.split(" · "):
            calls[view.provider] = f"{said} · {this}" if said else this
    notes = []
    already = sum(1 for v in selected if v.mode is Mode.DISABLED)
    if already:
        notes.append(
            f"{already} already disabled: Breaker probes them first and calls their provider again only "
            "if the key works (it may have been re-activated since)"
        )
    if "github" in by_provider and by_provider["github"] > 60:
        notes.append(
            f"GitHub allows 60 revocations per hour; {by_provider['github']} GitHub connectors "
            "means some will stay pending until the limit resets"
        )
    return PanicPlan(
        names=tuple(v.name for v in selected),
        by_provider=dict(by_provider),
        calls=calls,
        irreversible=dict(irreversible),
        manual=dict(manual),
        already_disabled=already,
        notes=tuple(notes),
    )
