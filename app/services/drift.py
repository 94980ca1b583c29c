"""Drift: live power beyond what was declared or what the mode allows. Pure functions."""

from __future__ import annotations

from collections.abc import Iterable

from connectors.terms import Grant, Level, Mode


def drift_findings(
    mode: Mode, declared: Iterable[Grant], observed: Iterable[Grant], live_level: Level | None
) -> list[str]:
    """One line per finding; empty when the connector holds no more than it should."""
    findings: list[str] = []
    declared_scopes = {g.scope for g in declared}
    # A scope the provider implies from a parent (GitHub: repo ⊃ repo:status) is not drift of its
    # own: the parent is what was granted, and the parent is what is (or is not) declared.
    undeclared = sorted({g.scope for g in observed if not is_implied(g)} - declared_scopes)
    if undeclared:
        shown = ", ".join(undeclared[:5]) + (f" (+{len(undeclared) - 5} more)" if len(undeclared) > 5 else "")
        findings.append(f"undeclared live scopes: {shown}")
    if live_level is not None:
        ceiling = mode.ceiling
        if ceiling is None:
            findings.append(f"disabled, but the key still works at {live_level.label} level")
        elif live_level > ceiling:
            findings.append(f"live level {live_level.label} is above the {mode.value} ceiling ({ceiling.label})")
    return findings


# What a key at each level can do, in the owner's words.
CAN_DO: dict[Level, str] = {
    Level.READ: "read",
    Level.DRAFT: "write drafts",
    Level.WRITE: "change things",
    Level.SEND: "send on its own (post, mail, message)",
    Level.ADMIN: "administer the whole account",
}


def purpose_against_power(forbidden: str, live_level: Level | None, observed: Iterable[Grant]) -> str:
    """The owner's own rule set against what the key can do, e.g. 'You wrote it may not message
    customers; the key can send on its own (post, mail, message): chat:write.' "" without a rule or
    a live level."""
    if not forbidden.strip() or live_level is None:
        return ""
    top = [g.scope for g in observed if g.level == live_level and not is_implied(g)][:3]
    scopes = f": {', '.join(top)}" if top else ""
    return f"You wrote it may not {forbidden.strip().rstrip('.')}; the key can {CAN_DO[live_level]}{scopes}."


def is_implied(grant: Grant) -> bool:
    """True for a grant a provider listed only because a parent scope contains it."""
    return grant.note.startswith("implied by")
