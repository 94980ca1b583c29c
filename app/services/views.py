"""What the panel and the CLI exchange with the inventory: frozen views out, plain input in.

A view never carries an ORM object, so nobody can write behind the inventory service's back. This
module loads no database library: `breaker list` builds its views straight from
:mod:`app.store.snapshot` rows, and the panel's modules and the command line's parser import these
types before (or without) opening the store.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from app.services.drift import drift_findings
from app.services.vocabulary import JobState
from app.store.snapshot import InventoryRows, utcnow
from connectors.terms import Grant, Level, Mode, Outcome
from connectors.textsafe import plain

if TYPE_CHECKING:
    from app.services.probing import ProbeResult

ENVIRONMENTS = ("prod", "test")


class ValidationError(Exception):
    """Input the owner can fix. ``errors`` maps a field name to the message shown beside it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class ConnectorInput:
    """What the add/edit form and `breaker add` collect."""

    name: str
    provider: str = ""  # empty: recognise it from the key
    owner: str = ""
    purpose_access: str = ""
    purpose_task: str = ""
    purpose_forbidden: str = ""
    environment: str = "prod"
    base_url: str = ""
    env_var: str = ""
    client: str = ""
    tags: str = ""
    declared: tuple[Grant, ...] | None = None  # None on edit: leave the declared scopes alone
    extra: dict[str, str] = field(default_factory=dict)
    allow_private_url: bool = False  # the owner confirmed a private-network base URL (audited)
    confirm_destination: bool = False  # the owner confirmed where the key goes: re-seal it (audited)


@dataclass(frozen=True)
class CredentialView:
    fingerprint: str
    last4: str
    tier: str
    kind: str
    active: bool
    created_at: datetime
    rotated_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    keyring_ref: str
    binding: str = ""  # the destination seal (app.services.binding)

    @property
    def age_days(self) -> int:
        return self.age_days_at(utcnow())

    def age_days_at(self, now: datetime) -> int:
        """Whole days since the key was made or last rotated."""
        return max(0, (now - (self.rotated_at or self.created_at)).days)

    @property
    def display(self) -> str:
        return f"{self.fingerprint}…{self.last4}" if self.last4 else self.fingerprint


@dataclass(frozen=True)
class ConnectorView:
    id: int
    name: str
    provider: str
    owner: str
    purpose_access: str
    purpose_task: str
    purpose_forbidden: str
    environment: str
    mode: Mode
    base_url: str
    env_var: str
    client: str
    tags: tuple[str, ...]
    extra: dict[str, str]
    declared: tuple[Grant, ...]
    observed: tuple[Grant, ...]
    credentials: tuple[CredentialView, ...]
    last_probe_at: datetime | None
    last_outcome: str | None
    live_level: Level | None
    switch_state: JobState | None
    created_at: datetime
    updated_at: datetime
    drift: tuple[str, ...] = ()
    routed: bool = False  # handed out through the gateway (a Breaker token), not as its key
    # The fields above are shown as text (control characters as visible escapes). Where one held such a
    # character, its stored value, for documents that escape it themselves (``--json``: connectors.textsafe.json_text).
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def stored(self, name: str) -> Any:
        """A text field as stored (for JSON documents), or as shown when it held nothing to escape."""
        return self.raw.get(name, getattr(self, name))

    @property
    def live_word(self) -> str:
        """The live level as the owner reads it: a level, "none" (the key no longer works), or
        "unknown" (never probed, or the probe could not tell) — never a dash or nothing."""
        return live_word(self.live_level, self.last_outcome)

    @property
    def off(self) -> bool:
        """Disabled, and verified: a fresh probe showed every key of it dead — or, for a connector routed
        through the gateway, the gateway refused a request of every level (its key, never handed to its
        agents, still works at the provider)."""
        return self.mode is Mode.DISABLED and self.switch_state is JobState.VERIFIED

    @property
    def key_may_work_while_disabled(self) -> bool:
        """Recorded disabled in Breaker, but nothing proved the key dead at the provider."""
        return self.mode is Mode.DISABLED and self.switch_state is not JobState.VERIFIED

    @property
    def purpose(self) -> str:
        """The one-sentence rule, or "" when it is not written yet."""
        return purpose_sentence(self.purpose_access, self.purpose_task, self.purpose_forbidden)

    @property
    def credential(self) -> CredentialView | None:
        """The active credential (the one `breaker exec` hands out)."""
        active = [c for c in self.credentials if c.active]
        return active[0] if active else (self.credentials[0] if self.credentials else None)

    @property
    def key_age_days(self) -> int | None:
        cred = self.credential
        return cred.age_days if cred else None

    @property
    def declared_level(self) -> Level | None:
        return max((g.level for g in self.declared), default=None)


def live_word(level: Level | None, last_outcome: str | None) -> str:
    """A live level as the owner reads it (see :attr:`ConnectorView.live_word`)."""
    if level is not None:
        return level.label
    return "none" if last_outcome in ("invalid", "revoked") else "unknown"


def purpose_sentence(access: str, task: str, forbidden: str) -> str:
    """The one-sentence rule of a purpose's three parts, or "" when it is not written yet."""
    if not (access or task):
        return ""
    sentence = f"This connector may use {access or '…'} to {task or '…'}"
    if forbidden:
        sentence += f", but may not {forbidden}"
    return sentence + "."


@dataclass(frozen=True)
class Summary:
    total: int
    by_mode: dict[str, int]
    drift: int
    stale_keys: int
    never_probed: int
    failing: int
    shared_keys: int
    review_due: bool
    off: int = 0  # disabled, and a fresh probe proved every key dead (verified)
    still_live: int = 0  # recorded disabled, but no probe proved the key dead: it may still work


# Building 10,000 views is most of `breaker list --json` (bench_startup's listing). What each of
# these saves there, measured: a frozen dataclass's generated __init__ sets each field through
# object.__setattr__, three times the cost of filling the instance's __dict__ at once (17 µs against
# 5 µs per 24-field view); an enum called by value costs ten times a dict lookup.
_MODES = {m.value: m for m in Mode}
_LEVELS = {lv.value: lv for lv in Level}


_TEXT_FIELDS = (
    "name",
    "provider",
    "owner",
    "purpose_access",
    "purpose_task",
    "purpose_forbidden",
    "environment",
    "base_url",
    "env_var",
    "client",
    "tags",
)


def _frozen(cls: type, values: dict[str, Any]) -> Any:
    """An instance of the frozen dataclass ``cls`` from every one of its fields (no defaults, no
    __post_init__: tests/services/test_snapshot_read.py holds the views built this way to their __init__'s)."""
    instance = object.__new__(cls)
    instance.__dict__.update(values)
    return instance


def _mode(value: str) -> Mode:
    return _MODES.get(value) or Mode(value)  # an unknown value raises as the enum does


def _level(value: int) -> Level:
    return _LEVELS.get(value) or Level(value)


def _text(value: str) -> str:
    return value if value.isprintable() else plain(value)


_GRANTS: dict[tuple[str, int], Grant] = {}  # grants are frozen: one per (scope, level), shared by every view


def _grant(scope: str, level: int) -> Grant:
    grant = _GRANTS.get((scope, level))
    if grant is None:
        if len(_GRANTS) > 10_000:  # scopes are few; a hostile database must not grow this without end
            _GRANTS.clear()
        grant = _GRANTS[(scope, level)] = _frozen(Grant, {"scope": _text(scope), "level": _level(level), "note": ""})
    return grant


def _grant_rows(grants: Sequence[Any]) -> tuple[tuple[Grant, ...], tuple[Grant, ...]]:
    """(declared, observed) grants of grant rows, each most powerful first."""
    return split_grants([(g.scope, g.level, g.source) for g in grants])


def split_grants(grants: Iterable[tuple[str, int, str]]) -> tuple[tuple[Grant, ...], tuple[Grant, ...]]:
    """(declared, observed) grants of stored ``(scope, level, source)``, each most powerful first."""
    declared: list[Grant] = []
    observed: list[Grant] = []
    for scope, level, source in grants:
        grant = _grant(scope, level)
        if source == "declared":
            declared.append(grant)
        elif source == "observed":
            observed.append(grant)
    for rows in (declared, observed):
        if len(rows) > 1:  # most connectors hold one or two scopes: skip the sort's overhead then
            rows.sort(key=lambda g: (-g.level, g.scope))
    return tuple(declared), tuple(observed)


def _credential_view(c: Any) -> CredentialView:
    return _frozen(
        CredentialView,
        {
            "fingerprint": c.fingerprint,
            "last4": c.last4,
            "tier": c.tier,
            "kind": c.kind,
            "active": bool(c.active),
            "created_at": c.created_at,
            "rotated_at": c.rotated_at,
            "expires_at": c.expires_at,
            "revoked_at": c.revoked_at,
            "keyring_ref": c.keyring_ref,
            "binding": getattr(c, "binding", "") or "",
        },
    )


def _credential_order(c: Any) -> tuple:
    return (not c.active, c.tier != "primary", c.id or 0)


def connector_view(
    c: Any, owners: dict[int, str], grants: Sequence[Any], creds: Sequence[Any], routed: bool | None = None
) -> ConnectorView:
    """The view of one connector row (an ORM row or a snapshot row: the same column names), its
    owners' names by id, its scope grants and its unrevoked credentials. ``routed``: whether it is
    handed out through the gateway (a snapshot row carries it as a column)."""
    mode = _mode(c.mode)
    declared, observed = _grant_rows(grants)
    live = _level(c.live_level) if c.live_level is not None else None
    drift = tuple(drift_findings(mode, declared, observed, live)) if c.last_outcome == "ok" else ()
    try:
        extra = json.loads(c.extra_json) if c.extra_json and c.extra_json != "{}" else {}
    except ValueError:
        extra = {}
    if not isinstance(extra, dict):
        extra = {}
    elif not all(isinstance(v, str) and v.isprintable() for v in extra.values()):
        extra = {plain(str(k)): plain(str(v)) for k, v in extra.items()}
    creds_sorted = creds if len(creds) < 2 else sorted(creds, key=_credential_order)
    # Text from the database is shown as text (connectors.textsafe): all fields checked in one pass
    # of C calls, and passed through plain() only when one of them needs it.
    texts = (
        c.name,
        c.provider,
        owners.get(c.owner_id, ""),
        c.purpose_access,
        c.purpose_task,
        c.purpose_forbidden,
        c.environment,
        c.base_url or "",
        c.env_var,
        c.client,
        c.tags,
    )
    raw: dict[str, Any] = {}
    if not all(map(str.isprintable, texts)):
        # Where a field held such a character, its stored value too, for documents that escape it
        # themselves (ConnectorView.stored; --json through connectors.textsafe.json_text).
        raw = {k: v for k, v in zip(_TEXT_FIELDS, texts, strict=True) if not v.isprintable()}
        if "tags" in raw:
            raw["tags"] = tuple(filter(None, map(str.strip, c.tags.split(","))))
        texts = tuple(map(plain, texts))
    name, provider, owner, access, task, forbidden, environment, base_url, env_var, client, tags = texts
    return _frozen(
        ConnectorView,
        {
            "id": c.id or 0,
            "name": name,
            "provider": provider,
            "owner": owner,
            "purpose_access": access,
            "purpose_task": task,
            "purpose_forbidden": forbidden,
            "environment": environment,
            "mode": mode,
            "base_url": base_url,
            "env_var": env_var,
            "client": client,
            "tags": tuple(filter(None, map(str.strip, tags.split(",")))),
            "extra": extra,
            "declared": declared,
            "observed": observed,
            "credentials": tuple(map(_credential_view, creds_sorted)),
            "last_probe_at": c.last_probe_at,
            "last_outcome": c.last_outcome,
            "live_level": live,
            "switch_state": JobState.read(c.switch_state),
            "created_at": c.created_at,
            "updated_at": c.updated_at,
            "drift": drift,
            "raw": raw,
            "routed": bool(getattr(c, "routed", False)) if routed is None else routed,
        },
    )


def build_views(rows: InventoryRows) -> list[ConnectorView]:
    """Views of every connector in ``rows``, in their order (by name)."""
    owners, grants, creds = rows.owners, rows.grants, rows.credentials
    return [connector_view(c, owners, grants.get(c.id, ()), creds.get(c.id, ())) for c in rows.connectors]


def summarize(
    views: Sequence[ConnectorView], key_age_warn_days: int = 90, last_review_at: datetime | None = None
) -> Summary:
    """The figures of the panel's summary strip and `breaker list`'s last line."""
    by_mode = {m.value: 0 for m in Mode}
    fingerprints: dict[str, int] = defaultdict(int)
    for v in views:
        by_mode[v.mode.value] += 1
        if v.credential:
            fingerprints[v.credential.fingerprint] += 1
    return Summary(
        total=len(views),
        by_mode=by_mode,
        drift=sum(1 for v in views if v.drift),
        stale_keys=sum(1 for v in views if (v.key_age_days or 0) > key_age_warn_days),
        never_probed=sum(1 for v in views if v.last_probe_at is None),
        # A disabled connector whose key answers invalid/revoked is the switch working, not a failure.
        failing=sum(
            1
            for v in views
            if v.last_outcome not in (None, "ok")
            and not (v.mode is Mode.DISABLED and v.last_outcome in ("invalid", "revoked"))
        ),
        shared_keys=sum(n for n in fingerprints.values() if n > 1),
        # A reminder only when there is something to review.
        review_due=bool(views) and (last_review_at is None or utcnow() - last_review_at > timedelta(days=7)),
        off=sum(1 for v in views if v.off),
        still_live=sum(1 for v in views if v.key_may_work_while_disabled),
    )


def filter_views(views: list[ConnectorView], text: str) -> list[ConnectorView]:
    """Free-text filter: every word must appear in the name, provider, owner, mode, tags or purpose."""
    words = text.lower().split()
    out = []
    for v in views:
        hay = " ".join(
            [
                v.name,
                v.provider,
                v.owner,
                v.mode.value,
                v.environment,
                " ".join(v.tags),
                v.purpose,
                v.client,
                "drift" if v.drift else "",
            ]
        ).lower()
        if all(w in hay for w in words):
            out.append(v)
    return out


def level_after_probe(outcome: Outcome, reported: Level | None, before: Level | None) -> Level | None:
    """The live level a connector holds once a probe with ``outcome`` is stored: an ok probe brings
    the level the provider reported; a dead key (invalid, revoked) holds no power; any other
    failure (a timeout, an outage, a refusal to say) leaves the last known level standing."""
    if outcome is Outcome.OK:
        return reported
    if outcome in (Outcome.INVALID, Outcome.REVOKED):
        return None
    return before


def after_probe(view: ConnectorView, result: ProbeResult, at: datetime) -> ConnectorView:
    """The view as it will read once ``result`` is stored (the panel shows it before the store is
    read again). Same rules as :meth:`app.services.probing.Prober.store`, via :func:`level_after_probe`."""
    from dataclasses import replace

    report = result.report
    live = level_after_probe(report.outcome, report.live_level, view.live_level)
    if report.outcome is Outcome.OK:
        drift = tuple(result.drift)
    elif report.outcome in (Outcome.INVALID, Outcome.REVOKED):
        drift = ()
    else:
        drift = view.drift
    return replace(view, last_probe_at=at, last_outcome=report.outcome.value, live_level=live, drift=drift)
