"""Enforcement: mode × level → allow / refuse / ask, for one request the gateway is about to forward.

The level comes from the provider's request table (:mod:`connectors.requests`); the mode is the
connector's, read for every request. ``on_above`` is the owner's choice for requests above the
mode's ceiling: ``refuse`` them, or ``ask`` (hold them in the decision queue). A disabled connector
refuses everything, whatever ``on_above`` says: there is no one to ask on its behalf.

A refusal is an RFC 9457 problem (``application/problem+json``) that names the connector, the mode
and the level, so an agent can tell Breaker's refusal from the provider's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from connectors import registry
from connectors.base import Level, Mode
from connectors.requests import OVERRIDE_HEADERS, Classification, Refused, Request, RequestTable, classified, table_for

PROBLEM_TYPE = "https://breaker.invalid/problems/"  # RFC 9457 §3.1.1: a URI; ours is not dereferenceable
PROBLEM_CONTENT_TYPE = "application/problem+json"


class Decision(StrEnum):
    ALLOW = "allow"
    REFUSE = "refuse"
    ASK = "ask"


class AboveCeiling(StrEnum):
    """What the gateway does with a request above the connector's mode: the owner's choice per connector."""

    REFUSE = "refuse"
    ASK = "ask"


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    connector: str
    mode: Mode
    level: Level | None  # None: the request could not be classified
    template: str  # path template, recorded in the usage log ("" when unclassified)
    reason: str  # one line, for the problem's detail and the gateway's log
    classification: Classification | None = None

    @property
    def level_label(self) -> str:
        return self.level.label if self.level is not None else "unknown"

    def problem(self, status: int = 403) -> dict:
        """The RFC 9457 body of a refusal."""
        if self.mode is Mode.DISABLED:
            kind = "disabled"
        else:
            kind = "unclassified" if self.level is None else "above-mode"
        titles = {
            "unclassified": "Breaker's gateway refused a request it cannot classify",
            "disabled": "Breaker's gateway refused: the connector is disabled",
            "above-mode": "Breaker's gateway refused: the request is above the connector's mode",
        }
        return {
            "type": PROBLEM_TYPE + kind,
            "title": titles[kind],
            "status": status,
            "detail": self.reason,
            "connector": self.connector,
            "mode": self.mode.value,
            "level": self.level_label,
            "refused_by": "breaker-gateway",
        }


def decide(mode: Mode, level: Level, on_above: AboveCeiling = AboveCeiling.REFUSE) -> Decision:
    """Allow at or under the mode's ceiling; above it refuse, or ask where the owner chose that."""
    if mode.allows(level):
        return Decision.ALLOW
    if mode is Mode.DISABLED:
        return Decision.REFUSE
    return Decision.ASK if on_above is AboveCeiling.ASK else Decision.REFUSE


def check(
    connector: str, provider: str, mode: Mode, request: Request, on_above: AboveCeiling = AboveCeiling.REFUSE
) -> Verdict:
    """Classify ``request`` by the provider's table and decide; fails closed on anything unknown."""
    if mode is Mode.DISABLED:  # before reading the request at all
        return Verdict(Decision.REFUSE, connector, mode, None, "", f"{connector} is disabled: nothing passes")
    return _classified(connector, provider, mode, request, on_above)


_TABLES: dict[str, RequestTable] = {}  # provider name → its request table (module constants, read once)


def _table(provider: str) -> RequestTable | None:
    """The provider's request table, kept once found: ``registry.get`` makes a provider object and
    ``table_for`` imports its module by name, on every request otherwise."""
    table = _TABLES.get(provider)
    if table is None:
        try:
            table = table_for(registry.get(provider))
        except KeyError:
            return None
        if table is not None:
            _TABLES[provider] = table
    return table


# Verdicts kept for requests whose classification follows from host, method, override headers and
# path alone (connectors.requests.classified): agents send the same few calls again and again, and
# the gateway decides every one on its way upstream. The key holds everything such a verdict is a
# function of — the connector, its mode and above-ceiling choice (read for each request: a switch
# changes the key, never a kept verdict), the provider (its table is a module constant), host,
# method, override headers and path. A verdict an inspector gave (a body, a query) is never kept.
_VERDICTS: dict[tuple, Verdict] = {}
VERDICTS_KEPT = 4096


def _classified(connector: str, provider: str, mode: Mode, request: Request, on_above: AboveCeiling) -> Verdict:
    headers = request.headers
    key = (
        connector,
        provider,
        mode,
        on_above,
        request.host,
        request.method,
        request.path,
        *(headers.get(name) for name in OVERRIDE_HEADERS),
    )
    kept = _VERDICTS.get(key)
    if kept is not None:
        return kept
    table = _table(provider)
    if table is None:
        return Verdict(
            Decision.REFUSE, connector, mode, None, "", f"Breaker has no request table for provider {provider!r}"
        )
    try:
        found, static = classified(table, request)
    except Refused as exc:
        return Verdict(Decision.REFUSE, connector, mode, None, "", f"{exc}; refused (fail closed)")
    decision = decide(mode, found.level, on_above)
    if decision is Decision.ALLOW:
        reason = f"{found.level.label} is within {mode.value}"
    else:
        ceiling = mode.ceiling.label if mode.ceiling is not None else "nothing"
        held = "held for the owner's answer" if decision is Decision.ASK else "refused"
        reason = (
            f"{found.template} is {found.level.label}; {connector} is {mode.value} (allows up to {ceiling}): {held}"
        )
    verdict = Verdict(decision, connector, mode, found.level, found.template, reason, found)
    if static:
        if len(_VERDICTS) >= VERDICTS_KEPT:
            _VERDICTS.clear()
        _VERDICTS[key] = verdict
    return verdict
