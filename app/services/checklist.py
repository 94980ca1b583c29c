"""The still-live checklist (issue 9): every key a switch or an emergency disable left working.

A key is on the list, for one of three reasons (:class:`Reason`), while no probe has proved otherwise:

* **disabled** — its connector is recorded disabled in Breaker and no probe has proved every key of it
  dead (``ConnectorView.key_may_work_while_disabled`` — the same fact as the main screen's "N keys
  still live" and ``list --json``'s ``key_still_live``);
* **reduced** — its connector was switched to draft-only or read-only but the switch is not verified:
  the key (or the full key kept beside a reduced one) still holds more than the switch asked for, for
  instance because the provider has no API to reduce it and the steps wait for you;
* **old key** — a rotation replaced it, but no probe has shown it dead (a rotated-out credential that is
  not marked revoked).

The list is not stored apart: it is read from the inventory and the switch journal, so it persists
across runs and machines for free, and it can never disagree with the states shown elsewhere.

Each item says how to recognise the key at the provider without the key itself: the key's last
four characters and Breaker's fingerprint, the provider's key id or name when Breaker knows it,
the account the last probe saw, when the key was added to Breaker, the provider's dashboard, and
the exact steps. :func:`done` is the owner's "I did it": a fresh probe, and the item is ticked off
only when the probe proves it (the key dead; for a reduced key, every key at or under the ceiling —
the switch becomes verified); otherwise it stays, with what the probe saw. :func:`markdown` is the
same list to hand to a partner.

Service API (the CLI's ``breaker checklist`` and the panel's checklist screen)::

    items(services) -> [Item]
    markdown(items, generated_at) -> str
    await done(services, name) -> Checked      # .ticked is True only when the probe proved the key dead
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from app.services.inventory import NotFound
from app.services.switches.states import view_label
from app.services.views import ConnectorView, CredentialView
from app.services.vocabulary import JobState, SwitchAction
from app.store.snapshot import utcnow
from connectors import registry
from connectors.base import Mode, Verb


class Reason(StrEnum):
    """Why a key is on the list, in the owner's words (``Reason.X.words``)."""

    DISABLED = "disabled"
    REDUCED = "reduced"
    OLD_KEY = "old key"

    @property
    def words(self) -> str:
        return {
            Reason.DISABLED: "recorded disabled, but not proven dead",
            Reason.REDUCED: "still holds more than the switch asked for",
            Reason.OLD_KEY: "replaced by a rotation, but not proven dead",
        }[self]


# Facts about the key that Breaker may hold in ``extra`` and that identify it at the provider (never secret).
_IDENTIFYING = {
    "key_id": "key id",
    "api_key_id": "key id",
    "key_name": "key name",
    "token_id": "token id",
    "token_name": "token name",
    "project_id": "project",
    "grant_id": "grant id",
    "client_id": "app (client id)",
    "user_id": "user id",
}


@dataclass(frozen=True)
class Item:
    connector: str
    provider: str
    provider_title: str
    owner: str
    state: str  # the switch state in the owner's words
    last4: str
    fingerprint: str
    added_on: datetime | None  # when the key was added to Breaker (not the provider's creation date)
    account: str  # who the provider said the key belongs to, at the last probe ("" if never seen)
    identifiers: tuple[tuple[str, str], ...]  # (what, value): the provider's key id or name …
    dashboard_url: str
    steps: tuple[str, ...]
    last_probe: str  # "ok 2026-12-04 21:50 UTC", "never probed"
    why: str = ""  # the journal's last word (what happened, why it is not verified)
    reason: Reason = Reason.DISABLED

    @property
    def key(self) -> str:
        """Unique on the list (a connector may have a reduced key and an old key on it)."""
        return f"{self.connector}:{self.reason.value}:{self.fingerprint}"

    def as_dict(self) -> dict:
        return {
            "connector": self.connector,
            "reason": self.reason.value,
            "reason_words": self.reason.words,
            "provider": self.provider,
            "owner": self.owner,
            "state": self.state,
            "last4": self.last4,
            "fingerprint": self.fingerprint,
            "added_on": self.added_on.date().isoformat() if self.added_on else None,
            "account": self.account,
            "identifiers": {what: value for what, value in self.identifiers},
            "dashboard_url": self.dashboard_url,
            "steps": list(self.steps),
            "last_probe": self.last_probe,
            "why": self.why,
        }


@dataclass(frozen=True)
class Checked:
    connector: str
    ticked: bool  # the probe proved the key dead: off the list
    message: str
    steps: tuple[str, ...] = field(default_factory=tuple)


def items(services) -> list[Item]:
    out: list[Item] = []
    for view in services.inventory.list():
        for reason, cred in _live_keys(services, view):
            out.append(_item(services, view, reason, cred))
    return out


def _live_keys(services, view: ConnectorView) -> list[tuple[Reason, CredentialView | None]]:
    """The keys of ``view`` that are on the list, and why (see the module docstring)."""
    found: list[tuple[Reason, CredentialView | None]] = []
    if view.key_may_work_while_disabled:
        found.append((Reason.DISABLED, view.credential))
    elif view.mode in (Mode.DRAFT_ONLY, Mode.READ_ONLY) and view.switch_state not in (None, JobState.VERIFIED):
        job = services.switches.journal.latest(view.name)  # read only here: most connectors never get here
        if job is not None and job.action.reduces:  # the unverified switch is the reduce itself
            found.append((Reason.REDUCED, _over_the_ceiling(view)))
    if view.mode is not Mode.DISABLED:  # a disabled connector's old keys are revoked with it
        found += [(Reason.OLD_KEY, c) for c in _old_keys(view)]
    return found


def _over_the_ceiling(view: ConnectorView) -> CredentialView | None:
    """The key that holds the power a reduce switch was meant to remove: the full key kept beside a
    handed-out reduced one, else the handed-out key itself."""
    active = view.credential
    if active is not None and active.tier == "reduced":
        full = next((c for c in view.credentials if c.tier == "primary" and c.revoked_at is None), None)
        if full is not None:
            return full
    return active


def _old_keys(view: ConnectorView) -> list[CredentialView]:
    """Keys a rotation replaced that no probe has shown dead (not marked revoked)."""
    return [
        c
        for c in view.credentials
        if c.rotated_at is not None and c.revoked_at is None and not c.active and c.tier != "admin"
    ]


def _item(services, view: ConnectorView, reason: Reason = Reason.DISABLED, cred: CredentialView | None = None) -> Item:
    provider = registry.get(view.provider)
    cred = cred if cred is not None else view.credential
    row = services.switches.journal.latest(view.name)
    job = row.report() if row is not None else None
    verb = Verb.RESTRICT if reason is Reason.REDUCED else Verb.REVOKE
    steps = (
        tuple(job.manual_steps)
        if job and job.manual_steps and reason is not Reason.OLD_KEY
        else tuple(provider.manual_steps(verb))
    )
    if reason is Reason.REDUCED and cred is not None and cred.tier == "primary" and view.credential is not cred:
        steps = (
            *provider.manual_steps(Verb.REVOKE)[:-1],
            f"Or let Breaker revoke it: `breaker {_reduce(view)} {view.name} --revoke-full`.",
            provider.manual_steps(Verb.REVOKE)[-1],
        )
    probes = services.prober.history(view.name, limit=20)
    account = next((p.identity for p in probes if p.identity), "")
    last = probes[0] if probes else None
    last_probe = f"{last.outcome} {last.at:%Y-%m-%d %H:%M} UTC" if last else "never probed"
    if reason is Reason.OLD_KEY:
        last_probe = "not probed since it was replaced"  # the connector's probes are of the new key
    identifiers = tuple((what, str(view.extra[key])) for key, what in _IDENTIFYING.items() if view.extra.get(key))
    if reason is Reason.OLD_KEY:  # the connector's extras may name either key: only what the rotation journalled
        identifiers = _old_key_identity(row, cred)
    why = ""
    if job is not None:
        why = job.verify_note or job.message
    if reason is Reason.OLD_KEY:
        why = (
            f"a rotation replaced this key (…{cred.last4 if cred else ''}) on {cred.rotated_at:%Y-%m-%d}"
            if cred is not None and cred.rotated_at
            else "a rotation replaced this key"
        ) + "; no probe has shown it dead"
    return Item(
        connector=view.name,
        provider=view.provider,
        provider_title=provider.title,
        owner=view.owner,
        state=view_label(view.switch_state, view.routed) if reason is not Reason.OLD_KEY else "old key still live",
        last4=cred.last4 if cred else "",
        fingerprint=cred.fingerprint if cred else "",
        added_on=cred.created_at if cred else None,
        account=account,
        identifiers=identifiers,
        dashboard_url=provider.dashboard_url,
        steps=steps,
        last_probe=last_probe,
        why=why,
        reason=reason,
    )


def _old_key_identity(job, cred: CredentialView | None) -> tuple[tuple[str, str], ...]:
    """What the rotation journalled about the key it replaced (the provider's id, name, creation date)."""
    if job is None or job.action is not SwitchAction.ROTATE or cred is None:
        return ()
    if cred.keyring_ref not in set(job.details.get("old_refs") or []):
        return ()
    old = job.details.get("old_key") or {}
    names = {"id": "key id", "name": "key name", "created_at": "created at the provider", "expires_at": "expires"}
    return tuple((what, str(old[k])) for k, what in names.items() if old.get(k) is not None)


def _reduce(view: ConnectorView) -> str:
    return SwitchAction.DRAFT_ONLY.value if view.mode is Mode.DRAFT_ONLY else SwitchAction.READ_ONLY.value


def recognise(item: Item) -> list[str]:
    """How to find the key at the provider, one fact a line (no key, no secret)."""
    lines = []
    if item.last4:
        lines.append(f"ends in …{item.last4} (Breaker's fingerprint {item.fingerprint})")
    lines += [f"{what}: {value}" for what, value in item.identifiers]
    if item.account:
        lines.append(f"account: {item.account}")
    if item.added_on:
        lines.append(f"added to Breaker on {item.added_on:%Y-%m-%d} (the key was created at or before that)")
    return lines


def markdown(found: list[Item], generated_at: datetime | None = None) -> str:
    when = (generated_at or utcnow()).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# Keys that still work",
        "",
        f"Generated {when} by Breaker. No key is included: each is named by its last four characters.",
        "",
    ]
    if not found:
        out += [f"{NOTHING_LEFT} Nothing to do.", ""]
        return "\n".join(out)
    out += [
        f"{len(found)} key(s) still work at the provider with more power than Breaker records: keys recorded "
        "disabled (Breaker's `breaker exec` refuses them) that no probe has shown dead, keys a draft-only or "
        "read-only switch could not reduce, and old keys a rotation replaced. Until each is dealt with at the "
        "provider, anyone holding it can still use it.",
        "",
    ]
    for item in found:
        out += [f"## [ ] {item.connector} — {item.provider_title}", ""]
        if item.owner:
            out.append(f"- Owner: {item.owner}")
        out.append(f"- Why it is here: {item.reason.words}")
        out.append(f"- State: {item.state}")
        if item.why:
            out.append(f"- Last word: {item.why}")
        out.append(f"- Last probe: {item.last_probe}")
        out += [f"- Recognise it: {line}" for line in recognise(item)]
        if item.dashboard_url:
            out.append(f"- Dashboard: {item.dashboard_url}")
        out += ["", "Steps:", ""]
        out += [f"{i}. {step}" for i, step in enumerate(item.steps, 1)]
        out += [
            "",
            f"Done? `breaker checklist --done {item.connector}` probes the key and ticks it off only when the "
            "probe proves it.",
            "",
        ]
    return "\n".join(out)


NOTHING_LEFT = (
    "Nothing on the checklist: every key recorded disabled was proven dead, every reduced key is within its "
    "ceiling and every rotated-out key is dead, by a probe — or, for a connector routed through the gateway, "
    "every request above its mode is refused there (its key, never handed to its agents, is not changed)."
)


async def done(services, name: str) -> Checked:
    """ "I did it": probe the connector's keys on the list now; ticked off only when the probe proves it
    (the switch becomes verified; an old key is marked revoked). Otherwise it stays, with what the probe saw."""
    views = await asyncio.to_thread(services.inventory.list)
    view = next((v for v in views if v.name == name), None)
    if view is None:
        raise NotFound(name, [v.name for v in views])
    live = await asyncio.to_thread(_live_keys, services, view)
    if not live:
        return Checked(name, True, f"{name} is not on the checklist: " + _why_not(view))
    sw = services.switches
    job = await asyncio.to_thread(sw.journal.latest, name)
    old_refs = (
        set(job.details.get("old_refs") or []) if job is not None and job.action is SwitchAction.ROTATE else set()
    )
    results: list[tuple[bool, str]] = []
    by_job = [c for r, c in live if r is not Reason.OLD_KEY or (c is not None and c.keyring_ref in old_refs)]
    if by_job:  # the latest switch's own verification (a disable, a reduce, the rotation that left the old key)
        report = await sw.verify(name)
        results.append((report.verified, report.verify_note or report.message or "the probe did not prove it"))
    for reason, cred in live:
        if reason is Reason.OLD_KEY and cred is not None and cred.keyring_ref not in old_refs:
            gone, why = await sw.check_old_key(name, cred.keyring_ref)
            results.append((gone is True, why))
    ticked = all(ok for ok, _ in results)
    why = "; ".join(w for _, w in results if w)
    await sw.db.run(
        sw.journal.audit_event,
        "checklist.checked",
        name,
        {"owner_says": "done", "verified": ticked, "why": why, "reasons": sorted({r.value for r, _ in live})},
        "ok" if ticked else "unverified",
    )
    if ticked:
        return Checked(name, True, f"{name}: ticked off — {why or 'the probe proved it'}")
    left = await asyncio.to_thread(lambda: _live_keys(services, services.inventory.get(name)))
    verb = Verb.RESTRICT if any(r is Reason.REDUCED for r, _ in left) else Verb.REVOKE
    steps = tuple(registry.get(view.provider).manual_steps(verb))
    if job is not None and job.manual_steps and not any(r is Reason.OLD_KEY for r, _ in left):
        latest = await asyncio.to_thread(sw.journal.latest, name)
        steps = tuple(latest.manual_steps if latest is not None and latest.manual_steps else steps)
    return Checked(name, False, f"{name}: still on the list — {why}", steps)


def _why_not(view: ConnectorView) -> str:
    how = "verified; enforced at the gateway" if view.routed else "verified by probe"
    if view.off:
        return f"it is off, {how}"
    if view.mode in (Mode.DRAFT_ONLY, Mode.READ_ONLY) and view.switch_state is JobState.VERIFIED:
        return f"it is {view.mode.value}, {how}"
    return "no key of it is left working beyond what Breaker records"
