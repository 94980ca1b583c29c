"""Findings: what the weekly review asks about, computed from the inventory, the probes, the
switches and the audit log — never typed in. Pure functions over :class:`Facts`; no database here.

Every rule returns zero or more :class:`Finding` objects, each with a severity, a plain-English
reason and a recommended decision. The rules and their thresholds (``ReviewSettings``, the
``[review]`` table of config.toml) are those of issue 11:

==========================  ================================================================
rule                        finding
==========================  ================================================================
``forbidden``               the live level breaks the purpose sentence's "may not" (critical)
``ceiling``                 the live level is above the mode's ceiling (critical when disabled)
``drift``                   live scopes nobody declared (critical at write or above)
``declared-unseen``         declared scopes the provider does not show live
``unused``                  no use for 30 days (high at 90), where Breaker knows use
``unused-level``            levels held that the gateway saw no request need for 30 days (high at 90)
``key-age``                 the key is older than 90 days
``no-expiry``               the key never expires
``expiring``                the key expires within 30, 7 or 1 days (or has expired)
``shared-key``              the same key is on two or more connectors
``no-owner`` / ``no-purpose``
``prod-write``              write, send or admin in production with no draft-only switch
``stale``                   never probed, last probe failed, or older than 7 days: "data stale:
                            probe first" — and then no other finding of it recommends anything
``dont-know``               a checklist answer still "don't know" after two reviews
``discovered``              found by discovery and never reviewed
==========================  ================================================================
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import IntEnum

from app.services.views import ConnectorView
from app.settings import ReviewSettings
from connectors.base import Level, Mode

# The decisions an owner can take on an item (issue 11), and advice that is not a decision.
DECISIONS = ("keep", "reduce", "rotate", "disable", "reassign", "snooze")
SWITCH_DECISIONS = ("reduce", "rotate", "disable")  # these run a switch
PROBE_FIRST = "probe"  # advice of the stale-data finding
EDIT = "edit"  # advice: change the inventory's record (declared scopes, purpose)

CHECKLIST = ("task", "data", "tools", "actions", "identity", "validation", "monitoring", "revocation")
CHECKLIST_QUESTIONS = {
    "task": "Is the task it serves still needed, and written in its purpose sentence?",
    "data": "Does it reach only the data that task needs?",
    "tools": "Does it hold only the tools or scopes that task needs?",
    "actions": "Are the actions it may take (write, send, admin) the fewest that work?",
    "identity": "Does it act under its own identity, not a person's?",
    "validation": "Is what it does checked by a person or a test before it counts?",
    "monitoring": "Would anyone notice if it misbehaved (logs, alerts, the audit log)?",
    "revocation": "Do you know how to revoke it quickly, and is that written down?",
}
ANSWERS = ("yes", "no", "dont_know")
ANSWER_LABELS = {"yes": "yes", "no": "no", "dont_know": "don't know"}


class Severity(IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r}; use one of: {', '.join(s.label for s in cls)}") from None


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    reason: str  # plain English, one sentence
    recommendation: str = ""  # one of DECISIONS, PROBE_FIRST, EDIT, or "" (none)
    detail: str = ""  # the recommended decision's target: draft-only / read-only for reduce

    @property
    def advice(self) -> str:
        """The recommendation in words."""
        return {
            "keep": "keep it",
            "reduce": f"reduce it to {self.detail or 'draft-only'}",
            "rotate": "rotate the key",
            "disable": "disable it",
            "reassign": "give it an owner",
            "snooze": "snooze it",
            PROBE_FIRST: "data stale: probe first",
            EDIT: "correct its record (declared scopes or purpose)",
        }.get(self.recommendation, "")

    def as_dict(self) -> dict:
        return {
            "rule": self.rule,
            "severity": self.severity.label,
            "reason": self.reason,
            "recommendation": self.recommendation,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Finding:
        return cls(
            data["rule"],
            Severity.parse(data["severity"]),
            data["reason"],
            data.get("recommendation", ""),
            data.get("detail", ""),
        )


@dataclass(frozen=True)
class Facts:
    """Everything the rules read about one connector beyond its view."""

    view: ConnectorView
    now: datetime
    shared_with: tuple[str, ...] = ()  # other connectors holding the same key (same fingerprint)
    provider_last_used: datetime | None = None  # the provider's own last-used date, not Breaker's own probe
    # The provider's last-used dates showed nothing but Breaker's own probes since this moment.
    provider_quiet_since: datetime | None = None
    breaker_last_used: datetime | None = None  # the last `breaker exec` run or request forwarded by the gateway
    dont_know: dict[str, int] = field(default_factory=dict)  # checklist item → reviews in a row "don't know"
    reviewed: bool = False  # ever had a decision in a review
    drift_since: datetime | None = None  # first seen of the oldest live scope nobody declared
    # The gateway: since when it carries this connector (its route), the last request it forwarded
    # at each level, and the last `breaker exec` that handed out the key itself (not a gateway token).
    routed_since: datetime | None = None
    level_last_used: dict[Level, datetime] = field(default_factory=dict)
    key_handed_out: datetime | None = None
    found_in: tuple[str, ...] = ()  # where discovery (`breaker scan`) found its key: "client: file"
    discovered: bool = False  # imported by discovery (tagged "discovered")

    @property
    def last_used(self) -> tuple[datetime, str] | None:
        known = [
            (d, s) for d, s in ((self.provider_last_used, "the provider"), (self.breaker_last_used, "Breaker")) if d
        ]
        return max(known, key=lambda x: x[0]) if known else None

    @property
    def unused_since(self) -> tuple[datetime, str] | None:
        """Since when Breaker knows of no use: the last use; else the moment from which the provider's
        last-used dates show only Breaker's own probes; else the day the gateway began to carry it
        (it has forwarded nothing since). None: Breaker does not know its use."""
        last = self.last_used
        if last is not None:
            return last
        if self.provider_quiet_since is not None:
            return self.provider_quiet_since, "the provider, which reports no use but Breaker's own probes since"
        if self.routed_since is not None:
            return self.routed_since, "Breaker's gateway, which has forwarded no request since it was routed"
        return None

    def levels_known(self, window_days: int) -> bool:
        """Is the use of each level known over the last ``window_days``? Only when the gateway carried
        every use: routed for the whole window, the key itself not handed out by `breaker exec`, and
        no use the provider reports later than the gateway's last request (else a use went around it)."""
        if self.routed_since is None or (self.now - self.routed_since).days < window_days:
            return False
        start = self.now - timedelta(days=window_days)
        if self.key_handed_out is not None and self.key_handed_out >= start:
            return False
        last_gateway = max(self.level_last_used.values(), default=None)
        if self.provider_last_used is not None and self.provider_last_used >= start:
            if last_gateway is None or self.provider_last_used > last_gateway + timedelta(days=1):
                return False
        return True

    def held_levels(self) -> list[Level]:
        return sorted({g.level for g in self.view.observed})

    def used_level(self, window_days: int) -> Level | None:
        """The highest level of a request the gateway forwarded within ``window_days`` (None: none).
        Modes are ceilings, so a request at one level also uses the power below it."""
        start = self.now - timedelta(days=window_days)
        used = [lv for lv, at in self.level_last_used.items() if at >= start]
        return max(used) if used else None


Rule = Callable[[Facts, ReviewSettings], list[Finding]]


# -- the purpose sentence's "may not" -----------------------------------------------------------
# Verbs in the purpose sentence, by the level of power that doing them takes. Reading words are left
# out of "may not" on purpose: which data may be read is about resources, not levels, and nearly
# every connector reads something, so a level cannot tell "may not read direct messages" apart.
LEVEL_WORDS: dict[Level, frozenset[str]] = {
    Level.READ: frozenset(
        {"read", "look", "summarise", "summarize", "answer", "search", "label", "sort", "view", "see"}
    ),
    Level.DRAFT: frozenset({"draft", "prepare", "suggest", "propose"}),
    Level.WRITE: frozenset(
        {
            "write",
            "edit",
            "delete",
            "remove",
            "push",
            "merge",
            "change",
            "modify",
            "update",
            "create",
            "train",
            "fine-tune",
            "upload",
            "commit",
            "open",
            "fill",
            "enrich",
            "sync",
        }
    ),
    Level.SEND: frozenset(
        {
            "send",
            "email",
            "mail",
            "message",
            "post",
            "publish",
            "invite",
            "pay",
            "payout",
            "refund",
            "charge",
            "spend",
            "notify",
            "run",
            "trigger",
            "deploy",
            "execute",
            "tweet",
        }
    ),
    Level.ADMIN: frozenset({"admin", "administer", "member", "members", "permission", "role", "setting", "billing"}),
}


def _stems(word: str) -> set[str]:
    out = {word}
    for suffix, add in (("ies", "y"), ("es", ""), ("s", ""), ("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out.add(word[: -len(suffix)] + add)
    return out


def levels_in(text: str) -> set[Level]:
    """The levels the verbs of ``text`` take (see :data:`LEVEL_WORDS`)."""
    found: set[Level] = set()
    for word in re.findall(r"[a-z][a-z-]*", text.lower()):
        stems = _stems(word)
        for level, words in LEVEL_WORDS.items():
            if stems & words:
                found.add(level)
    return found


def forbidden_level(view: ConnectorView) -> Level | None:
    """The least power that already does what the purpose sentence forbids, when the sentence says
    something a level can tell: None when the task itself needs that power too (then the "may not"
    is about which resources, which a level cannot see) or when the sentence forbids nothing."""
    forbidden = {lv for lv in levels_in(view.purpose_forbidden) if lv > Level.READ}
    if not forbidden:
        return None
    lowest = min(forbidden)
    task = levels_in(view.purpose_task) | levels_in(view.purpose_access)
    if task and max(task) >= lowest:
        return None
    return lowest


# -- the rules ---------------------------------------------------------------------------------
def _probed_ok(f: Facts) -> bool:
    return f.view.last_outcome == "ok" and f.view.live_level is not None


def _disabled(f: Facts) -> bool:
    return f.view.mode is Mode.DISABLED


def _refused_at_gateway(f: Facts, level: Level) -> bool:
    """Routed through the gateway, whose mode refuses ``level``: the key's power there never reaches an
    agent (it holds a Breaker token, not the key), so it is a narrower-key matter, not a switch to make."""
    ceiling = f.view.mode.ceiling
    return f.view.routed and (ceiling is None or level > ceiling)


def _key_only(rule: str, reason: str) -> Finding:
    return Finding(
        rule,
        Severity.LOW,
        f"{reason} Breaker's gateway already refuses that (every request of it goes there); the key itself, "
        "which never leaves Breaker, could still do it.",
        "rotate",
    )


def rule_forbidden(f: Facts, s: ReviewSettings) -> list[Finding]:
    if not _probed_ok(f):
        return []
    limit = forbidden_level(f.view)
    live = f.view.live_level
    if limit is None or live is None or live < limit:
        return []
    if _refused_at_gateway(f, limit):
        why = f"It may not \u201c{f.view.purpose_forbidden}\u201d; its key works at {live.label} level."
        return [_key_only("forbidden", why)]
    return [
        Finding(
            "forbidden",
            Severity.CRITICAL,
            f"It may not \u201c{f.view.purpose_forbidden}\u201d, yet its key works at {live.label} level, "
            f"enough to do that ({limit.label}).",
            "reduce",
            "read-only" if limit <= Level.WRITE else "draft-only",
        )
    ]


def rule_ceiling(f: Facts, s: ReviewSettings) -> list[Finding]:
    live = f.view.live_level
    if not _probed_ok(f) or live is None:
        return []
    ceiling = f.view.mode.ceiling
    if _refused_at_gateway(f, live):
        held = "It is disabled" if ceiling is None else f"It is {f.view.mode.value}"
        return [_key_only("ceiling", f"{held}, and its key works at {live.label} level.")]
    if ceiling is None:
        return [
            Finding(
                "ceiling",
                Severity.CRITICAL,
                f"It is disabled, but its key still works at {live.label} level.",
                "disable",
            )
        ]
    if live > ceiling:
        return [
            Finding(
                "ceiling",
                Severity.HIGH,
                f"Its key works at {live.label} level, above its {f.view.mode.value} ceiling ({ceiling.label}).",
                "reduce",
                f.view.mode.value if f.view.mode in (Mode.DRAFT_ONLY, Mode.READ_ONLY) else "draft-only",
            )
        ]
    return []


def rule_drift(f: Facts, s: ReviewSettings) -> list[Finding]:
    if f.view.last_outcome != "ok":
        return []
    declared = {g.scope for g in f.view.declared}
    undeclared = sorted(
        (g for g in f.view.observed if g.scope not in declared and g.scope != "*"), key=lambda g: -g.level
    )
    out = []
    if undeclared:
        top = undeclared[0].level
        names = ", ".join(g.scope for g in undeclared[:5]) + (
            f" and {len(undeclared) - 5} more" if len(undeclared) > 5 else ""
        )
        out.append(
            Finding(
                "drift",
                Severity.CRITICAL if top >= Level.WRITE else Severity.MEDIUM,
                f"Live scopes nobody declared: {names} (up to {top.label} level).",
                "reduce",
                "read-only" if top <= Level.DRAFT else "draft-only",
            )
        )
    observed = {g.scope for g in f.view.observed}
    if observed and "*" not in observed:
        unseen = sorted(declared - observed)
        if unseen:
            out.append(
                Finding(
                    "declared-unseen",
                    Severity.LOW,
                    f"Declared but not seen live: {', '.join(unseen[:5])}; the declaration may be out of date.",
                    EDIT,
                )
            )
    return out


def rule_unused(f: Facts, s: ReviewSettings) -> list[Finding]:
    if _disabled(f):
        return []
    if (f.now - f.view.created_at).days < s.young_days:
        return []  # too young to call unused
    since = f.unused_since
    if since is None:
        return []  # Breaker does not know its use: no claim either way
    when, source = since
    days = (f.now - when).days
    if days < s.unused_days:
        return []
    high = days >= s.unused_high_days
    what = "last use" if f.last_used is not None else "no use seen since"
    return [
        Finding(
            "unused",
            Severity.HIGH if high else Severity.MEDIUM,
            f"Not used for {days} days ({what} {when:%Y-%m-%d}, according to {source}).",
            "disable" if high else "reduce",
            "" if high else "read-only",
        )
    ]


def rule_unused_level(f: Facts, s: ReviewSettings) -> list[Finding]:
    """Levels held above every level the gateway saw a request need in ``unused_days`` (only where
    the gateway carries every use: :meth:`Facts.levels_known`). A connector with no request at all
    is the ``unused`` rule's."""
    if _disabled(f) or not _probed_ok(f) or (f.now - f.view.created_at).days < s.young_days:
        return []
    if not f.levels_known(s.unused_days):
        return []
    top = f.used_level(s.unused_days)
    if top is None:
        return []
    # a level the mode already refuses at the gateway is not idle power: the switch is made (rule_ceiling
    # speaks of the key itself)
    idle = [lv for lv in f.held_levels() if lv > top and not _refused_at_gateway(f, lv)]
    if not idle:
        return []
    high = f.levels_known(s.unused_high_days) and not any(
        at >= f.now - timedelta(days=s.unused_high_days) for lv, at in f.level_last_used.items() if lv > top
    )
    days = s.unused_high_days if high else s.unused_days
    names = ", ".join(lv.label for lv in idle)
    if top <= Level.DRAFT:
        recommendation, detail = "reduce", "read-only" if top <= Level.READ else "draft-only"
        how = f"reduce it to {detail}"
    else:
        recommendation, detail = "rotate", ""
        how = "rotate to a key without them"
    return [
        Finding(
            "unused-level",
            Severity.HIGH if high else Severity.MEDIUM,
            f"Through the gateway nothing needed more than {top.label} level for {days} days, yet it holds "
            f"{names}: {how}.",
            recommendation,
            detail,
        )
    ]


def rule_key(f: Facts, s: ReviewSettings) -> list[Finding]:
    cred = f.view.credential
    if cred is None or _disabled(f):
        return []
    out = []
    born = cred.rotated_at or cred.created_at
    if born is not None:
        age = (f.now - born).days
        if age > s.key_age_days:
            out.append(
                Finding(
                    "key-age", Severity.MEDIUM, f"The key is {age} days old (more than {s.key_age_days}).", "rotate"
                )
            )
    if cred.expires_at is None:
        out.append(Finding("no-expiry", Severity.LOW, "The key never expires.", "rotate"))
    else:
        left = cred.expires_at - f.now
        days = left.total_seconds() / 86400
        warn = sorted(s.expiry_warn_days)  # e.g. 1, 7, 30: the nearest is the most severe
        severities = [Severity.HIGH, Severity.MEDIUM, Severity.LOW]
        if days <= 0:
            out.append(Finding("expiring", Severity.HIGH, f"The key expired on {cred.expires_at:%Y-%m-%d}.", "rotate"))
        else:
            for i, limit in enumerate(warn):
                if days <= limit:
                    out.append(
                        Finding(
                            "expiring",
                            severities[min(i, len(severities) - 1)],
                            f"The key expires on {cred.expires_at:%Y-%m-%d}, within {limit} day{'s' if limit != 1 else ''}.",
                            "rotate",
                        )
                    )
                    break
    return out


def rule_shared(f: Facts, s: ReviewSettings) -> list[Finding]:
    if not f.shared_with:
        return []
    return [
        Finding(
            "shared-key",
            Severity.HIGH,
            f"The same key is on {', '.join(f.shared_with)}: one leak or one revocation hits all of them.",
            "rotate",
        )
    ]


def rule_owner_purpose(f: Facts, s: ReviewSettings) -> list[Finding]:
    out = []
    if not f.view.owner.strip():
        out.append(Finding("no-owner", Severity.MEDIUM, "Nobody owns it.", "reassign"))
    if not f.view.purpose:
        out.append(Finding("no-purpose", Severity.MEDIUM, "It has no purpose sentence.", EDIT))
    return out


def rule_prod_write(f: Facts, s: ReviewSettings) -> list[Finding]:
    live = f.view.live_level
    if f.view.environment != "prod" or f.view.mode is not Mode.FULL or not _probed_ok(f) or live is None:
        return []
    if live < Level.WRITE:
        return []
    return [
        Finding(
            "prod-write",
            Severity.HIGH,
            f"It holds {live.label} power in production with no draft-only switch.",
            "reduce",
            "draft-only",
        )
    ]


def stale_reason(f: Facts, s: ReviewSettings) -> str:
    """Why the probe data cannot be trusted, or ""."""
    view = f.view
    if view.last_probe_at is None:
        return "never probed"
    if view.last_outcome not in (None, "ok") and not (_disabled(f) and view.last_outcome in ("invalid", "revoked")):
        return f"the last probe failed ({view.last_outcome})"
    days = (f.now - view.last_probe_at).days
    if days > s.stale_probe_days:
        return f"the last probe is {days} days old"
    return ""


def rule_stale(f: Facts, s: ReviewSettings) -> list[Finding]:
    why = stale_reason(f, s)
    if not why:
        return []
    severity = Severity.LOW if _disabled(f) and f.view.switch_state == "verified" else Severity.MEDIUM
    return [Finding("stale", severity, f"Data stale: probe first ({why}).", PROBE_FIRST)]


def rule_dont_know(f: Facts, s: ReviewSettings) -> list[Finding]:
    items = [item for item in CHECKLIST if f.dont_know.get(item, 0) >= s.dont_know_reviews]
    if not items:
        return []
    return [
        Finding(
            "dont-know",
            Severity.MEDIUM,
            f"Still \u201cdon't know\u201d after {s.dont_know_reviews} reviews: {', '.join(items)}.",
            "",
        )
    ]


def rule_discovered(f: Facts, s: ReviewSettings) -> list[Finding]:
    """Imported by `breaker scan` (tagged "discovered", its places in ``found_place``) and no review
    decision yet."""
    if not f.discovered or f.reviewed:
        return []
    where = "; ".join(f.found_in[:3]) + (f" and {len(f.found_in) - 3} more" if len(f.found_in) > 3 else "")
    return [
        Finding(
            "discovered",
            Severity.MEDIUM,
            f"Found by discovery{f' in {where}' if where else ''} and never reviewed.",
            "keep",
        )
    ]


RULES: tuple[Rule, ...] = (
    rule_forbidden,
    rule_ceiling,
    rule_drift,
    rule_unused,
    rule_unused_level,
    rule_key,
    rule_shared,
    rule_owner_purpose,
    rule_prod_write,
    rule_stale,
    rule_dont_know,
    rule_discovered,
)


def findings_for(facts: Facts, settings: ReviewSettings) -> list[Finding]:
    """Every finding of one connector, most severe first. When its data is stale the stale finding
    is the only one that recommends anything ("data stale: probe first")."""
    found = [finding for rule in RULES for finding in rule(facts, settings)]
    if any(x.rule == "stale" for x in found):
        found = [x if x.rule == "stale" else replace(x, recommendation="", detail="") for x in found]
    found.sort(key=lambda x: (-x.severity, x.rule))
    return found


def top_severity(findings: list[Finding]) -> Severity | None:
    return max((x.severity for x in findings), default=None)


def recommendation(findings: list[Finding]) -> tuple[str, str]:
    """The one recommended decision of an item: its most severe finding's that has one."""
    for x in findings:
        if x.recommendation:
            return x.recommendation, x.detail
    return "", ""
