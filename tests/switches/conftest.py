"""Fixtures for the switch tests: an inventory whose connectors point at the loopback sandbox.

``world.add(name, provider, kind)`` mints a token through the provider's sandbox route module (so
the key has the real shape and the word SANDBOX) and adds a connector whose base URL is the
sandbox's; ``world.admin(provider)`` registers an organisation admin connector. ``CASES`` says, per
provider, how to set a connector up and what each switch must end in.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import pytest

from app.services.inventory import ConnectorInput
from app.services.switches import Switches
from connectors import registry
from connectors.base import Secret
from connectors.sandbox import dispatch
from connectors.sandbox.core import TokenRecord


@dataclass(frozen=True)
class Case:
    """How to build one provider's connector and what each switch must end in."""

    kind: str
    disable: str  # final job state of `disable`
    read_only: str  # final job state of `read-only` (no reduced credential)
    rotate: str  # "api" (provider rotates) or "guided" (the owner pastes a new key)
    rotate_ends: str = "verified"  # final job state of the rotation
    enable_after_disable: str = "manual"  # "verified" where the revoke is reversible
    admin: str | None = None  # kind of the organisation admin key the provider's calls need
    extra: dict[str, str] = field(default_factory=dict)


CASES: dict[str, Case] = {
    "github": Case("classic", "verified", "manual", "guided"),
    "gitlab": Case("personal", "verified", "manual", "api"),
    "slack": Case("bot", "verified", "manual", "guided"),
    "openai": Case("project", "verified", "manual", "guided", admin="admin", extra={"project_id": "proj_SANDBOX"}),
    "anthropic": Case("api", "verified", "manual", "guided", admin="admin", enable_after_disable="verified"),
    "google": Case("oauth", "verified", "manual", "guided"),
    "sendgrid": Case("full_access", "verified", "verified", "api"),
    # Graph: narrowing a grant leaves issued access tokens as they are ("applied — not verified"),
    # and revoking sessions (to retire the old token) kills every token of the user, the new one too.
    "microsoft": Case("delegated", "verified", "applied", "guided", rotate_ends="applied", admin="admin"),
    "hubspot": Case("private_app", "manual", "manual", "guided", rotate_ends="manual"),
    "notion": Case("public", "verified", "manual", "guided", admin="admin", extra={"client_id": "client-SANDBOX"}),
    "stripe": Case("restricted_test", "manual", "manual", "guided", rotate_ends="manual"),
    "airtable": Case("pat", "manual", "manual", "guided", rotate_ends="manual"),
}


def _importable(provider: str) -> bool:
    target = registry.BUILTIN.get(provider)
    if target is None:
        return False
    try:
        importlib.import_module(target.partition(":")[0])
    except ImportError:
        return False
    return True


def present_providers() -> list[str]:
    """Providers with both a provider module and a sandbox route module (others land later)."""
    served = dispatch.route_modules()
    return sorted(p for p in CASES if p in served and _importable(p))


class World:
    def __init__(self, services, sandbox) -> None:
        self.services = services
        self.sandbox = sandbox
        self.tokens: dict[str, TokenRecord] = {}

    def mint(self, provider: str, kind: str | None = None, **kw) -> TokenRecord:
        return self.sandbox.mint(provider, kind, **kw)

    def add(
        self,
        name: str,
        provider: str,
        kind: str | None = None,
        *,
        scopes: list[str] | None = None,
        extra: dict[str, str] | None = None,
        tags: str = "",
        owner: str = "Ana",
        client: str = "",
        env_var: str = "",
        record: TokenRecord | None = None,
    ) -> TokenRecord:
        record = record or self.mint(provider, kind, scopes=scopes)
        extra = dict(extra or {})
        if provider == "microsoft":
            extra.setdefault("grant_id", record.key_id)  # the sandbox's grant id for this token
        self.services.inventory.add(
            ConnectorInput(
                name=name,
                provider=provider,
                owner=owner,
                tags=tags,
                client=client,
                env_var=env_var,
                base_url=self.sandbox.base_url(provider),
                extra=extra,
            ),
            Secret(record.token),
        )
        self.tokens[name] = record
        return record

    def admin(self, provider: str, kind: str = "admin", name: str | None = None) -> TokenRecord:
        name = name or f"{provider}-org-admin"
        record = self.add(name, provider, kind, extra=dict(CASES[provider].extra) if provider in CASES else None)
        if provider == "notion":
            record.meta["client_id"] = CASES["notion"].extra["client_id"]
        sw = Switches(self.services)
        sw.mark_admin_connector(name)
        sw.close()
        return record

    def connector(self, name: str, provider: str) -> TokenRecord:
        """A connector set up as CASES says (with its admin connector when the provider needs one)."""
        case = CASES[provider]
        if case.admin and not any(n.startswith(f"{provider}-org-admin") for n in self.tokens):
            self.admin(provider, case.admin)
        return self.add(name, provider, case.kind, extra=case.extra)

    def alive(self, name: str) -> bool:
        record = self.sandbox.state.get(self.tokens[name].token)
        return record is not None and record.live


@pytest.fixture
def world(services, sandbox) -> World:
    return World(services, sandbox)


@pytest.fixture
def switches(services):
    sw = Switches(services, call_timeout=3.0, backoff_s=0.05)
    yield sw
    sw.close()


def audit_actions(services, connector: str | None = None) -> list[str]:
    return [e.action for e in reversed(services.audit.recent(services.engine, 500, connector))]
