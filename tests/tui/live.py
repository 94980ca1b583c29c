"""Connectors wired to the loopback sandbox, for panel tests that probe and switch for real.

``Live.add(name, provider, kind)`` mints a token through the sandbox's route module for that
provider (a realistic shape that carries the word SANDBOX) and adds a connector whose base URL is
the sandbox's, through the inventory service, exactly as the form would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.services.inventory import ConnectorInput
from connectors.base import Grant, Level, Secret
from connectors.sandbox.core import TokenRecord


def grants(text: str) -> tuple[Grant, ...]:
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        scope, _, level = part.rpartition(":")
        out.append(Grant(scope, Level.parse(level)))
    return tuple(out)


@dataclass
class Live:
    services: object
    sandbox: object
    tokens: dict[str, TokenRecord] = field(default_factory=dict)

    def add(
        self,
        name: str,
        provider: str,
        kind: str | None = None,
        *,
        declared: str = "",
        scopes: list[str] | None = None,
        owner: str = "Ana",
        client: str = "",
        tags: str = "",
        extra: dict[str, str] | None = None,
    ) -> TokenRecord:
        record = self.sandbox.mint(provider, kind, scopes=scopes)
        self.services.inventory.add(
            ConnectorInput(
                name=name,
                provider=provider,
                owner=owner,
                client=client,
                tags=tags,
                base_url=self.sandbox.base_url(provider),
                declared=grants(declared),
                extra=dict(extra or {}),
            ),
            Secret(record.token),
        )
        self.tokens[name] = record
        return record

    def alive(self, name: str) -> bool:
        record = self.sandbox.state.get(self.tokens[name].token)
        return record is not None and record.live

    def calls(self, provider: str) -> list[tuple[str, str]]:
        return self.sandbox.calls(provider)
