"""The still-live checklist (issue 9): every key a switch or an emergency disable left working.

A connector is on the list while it is recorded disabled in Breaker and no probe has proved every
key of it dead (``ConnectorView.key_may_work_while_disabled`` — the same fact as the main screen's
"N keys still live" and ``list --json``'s ``key_still_live``). The list is not stored apart: it is
read from the inventory and the switch journal, so it persists across runs and machines for free,
and it can never disagree with the states shown elsewhere.

Each item says how to recognise the key at the provider without the key itself: the key's last
four characters and Breaker's fingerprint, the provider's key id or name when Breaker knows it,
the account the last probe saw, when the key was added to Breaker, the provider's dashboard, and
the exact steps. :func:`done` is the owner's "I did it": a fresh probe, and the item is ticked off
only when the key is dead (the switch becomes verified); otherwise it stays, with what the probe
saw. :func:`markdown` is the same list to hand to a partner.

Service API (the CLI's ``breaker checklist`` and the panel's checklist screen)::

    items(services) -> [Item]
    markdown(items, generated_at) -> str
    await done(services, name) -> Checked      # .ticked is True only when the probe proved the key dead
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from app.services.inventory import NotFound
from app.services.switches.states import label
from app.services.views import ConnectorView
from app.store.snapshot import utcnow
from connectors import registry
from connectors.base import Verb

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

    def as_dict(self) -> dict:
        return {
            "connector": self.connector,
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
    views = [v for v in services.inventory.list() if v.key_may_work_while_disabled]
    return [_item(services, v) for v in views]


def _item(services, view: ConnectorView) -> Item:
    provider = registry.get(view.provider)
    cred = view.credential
    job = services.switches.latest(view.name)
    steps = tuple(job.manual_steps) if job and job.manual_steps else tuple(provider.manual_steps(Verb.REVOKE))
    probes = services.prober.history(view.name, limit=20)
    account = next((p.identity for p in probes if p.identity), "")
    last = probes[0] if probes else None
    last_probe = f"{last.outcome} {last.at:%Y-%m-%d %H:%M} UTC" if last else "never probed"
    identifiers = tuple((what, str(view.extra[key])) for key, what in _IDENTIFYING.items() if view.extra.get(key))
    why = ""
    if job is not None:
        why = job.verify_note or job.message
    return Item(
        connector=view.name,
        provider=view.provider,
        provider_title=provider.title,
        owner=view.owner,
        state=label(view.switch_state),
        last4=cred.last4 if cred else "",
        fingerprint=cred.fingerprint if cred else "",
        added_on=cred.created_at if cred else None,
        account=account,
        identifiers=identifiers,
        dashboard_url=provider.dashboard_url,
        steps=steps,
        last_probe=last_probe,
        why=why,
    )


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
        out += ["Every key recorded disabled was proven dead by a probe. Nothing to do.", ""]
        return "\n".join(out)
    out += [
        f"{len(found)} key(s) are recorded disabled in Breaker (its `breaker exec` refuses them), but no probe "
        "has shown them dead at the provider. Until each is revoked there, anyone holding it can still use it.",
        "",
    ]
    for item in found:
        out += [f"## [ ] {item.connector} — {item.provider_title}", ""]
        if item.owner:
            out.append(f"- Owner: {item.owner}")
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
            f"Done? `breaker checklist --done {item.connector}` probes the key and ticks it off only when it is dead.",
            "",
        ]
    return "\n".join(out)


async def done(services, name: str) -> Checked:
    """ "I did it": probe the key now; ticked off only when every key of it is dead (verified)."""
    views = await asyncio.to_thread(services.inventory.list)
    view = next((v for v in views if v.name == name), None)
    if view is None:
        raise NotFound(name, [v.name for v in views])
    if not view.key_may_work_while_disabled:
        return Checked(name, True, f"{name} is not on the checklist: " + _why_not(view))
    sw = services.switches
    report = await sw.verify(name)
    ticked = report.verified
    await sw.db.run(
        sw.journal.audit_event,
        "checklist.checked",
        name,
        {"owner_says": "done", "verified": ticked, "why": report.verify_note or report.message},
        "ok" if ticked else "unverified",
    )
    if ticked:
        return Checked(name, True, f"{name}: ticked off — {report.verify_note or 'the key no longer works'}")
    steps = report.manual_steps or tuple(registry.get(view.provider).manual_steps(Verb.REVOKE))
    return Checked(
        name,
        False,
        f"{name}: still on the list — {report.verify_note or report.message or 'the probe did not show the key dead'}",
        tuple(steps),
    )


def _why_not(view: ConnectorView) -> str:
    if view.off:
        return "it is off, verified by probe"
    return "it is not recorded disabled"
