"""Provider lookup by name, key recognition by prefix, and third-party providers by entry point.

Built-in providers are named here and imported on first use, so that ``breaker list`` does not
pay for importing every provider module. A third-party package adds a provider by declaring an
entry point in the group ``breaker.providers`` whose value is a :class:`connectors.base.Provider`
subclass (``name = "package.module:ClassName"``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points

from connectors.base import KeyPattern, Provider

ENTRY_POINT_GROUP = "breaker.providers"

BUILTIN: dict[str, str] = {
    "github": "connectors.github:GitHub",
    "gitlab": "connectors.gitlab:GitLab",
    "slack": "connectors.slack:Slack",
    "openai": "connectors.openai:OpenAI",
    "anthropic": "connectors.anthropic:Anthropic",
    "google": "connectors.google:Google",
    "microsoft": "connectors.microsoft:MicrosoftGraph",
    "sendgrid": "connectors.sendgrid:SendGrid",
    "stripe": "connectors.stripe:Stripe",
    "hubspot": "connectors.hubspot:HubSpot",
    "notion": "connectors.notion:Notion",
    "airtable": "connectors.airtable:Airtable",
    "generic": "connectors.generic:GenericHTTP",
}


class UnknownProvider(KeyError):
    def __str__(self) -> str:
        return f"unknown provider {self.args[0]!r}; known: {', '.join(names())}"


def _load(target: str) -> type[Provider]:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


@cache
def _third_party() -> dict[str, str]:
    found: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in BUILTIN:  # a plug-in never shadows a built-in provider
            found[ep.name] = ep.value
    return found


def names() -> list[str]:
    return sorted({*BUILTIN, *_third_party()})


@cache
def get(name: str) -> Provider:
    """The provider instance for ``name`` (instances are stateless and shared)."""
    target = BUILTIN.get(name) or _third_party().get(name)
    if target is None:
        raise UnknownProvider(name)
    return _load(target)()


def all_providers() -> list[Provider]:
    return [get(n) for n in names()]


@dataclass(frozen=True)
class Recognition:
    provider: str
    kind: str
    confidence: int


def recognise(key: str) -> list[Recognition]:
    """Providers whose key patterns match ``key``, most certain first. Empty when none does."""
    key = key.strip()
    hits: list[Recognition] = []
    for provider in all_providers():
        pattern: KeyPattern | None = provider.recognise(key)
        if pattern is not None:
            hits.append(Recognition(provider.name, pattern.kind, pattern.confidence))
    hits.sort(key=lambda r: -r.confidence)
    return hits
