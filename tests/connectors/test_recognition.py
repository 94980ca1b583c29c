"""Key recognition across providers, one parametrised contract instead of a copy per provider:
every sandbox token kind is recognised as its own provider's (with the kind's label), and no
provider claims another provider's tokens. Provider-specific recognition (routable GitLab tokens,
Graph JWT claims, SendGrid's key id …) stays in each provider's test module."""

from __future__ import annotations

import pytest

from connectors import registry
from connectors.sandbox.dispatch import route_modules
from tests.connectors.fixtures.contract import foreign_tokens

RECOGNISED: dict[str, dict[str, str]] = {
    "airtable": {"pat": "personal access token", "oauth": "OAuth access token"},
    "anthropic": {"api": "API key", "admin": "admin key"},
    "github": {
        "classic": "classic PAT",
        "oauth": "OAuth app token",
        "fine_grained": "fine-grained PAT",
        "user_to_server": "GitHub App user token",
        "installation": "GitHub App installation token",
    },
    "gitlab": {"personal": "personal access token", "personal_read": "personal access token"},
    "google": {"oauth": "OAuth access token", "api_key": "API key"},
    "hubspot": {"private_app": "private-app token"},
    # An app-only token (roles, no scp) is told apart: its switch is the app's service principal.
    # Refresh tokens are opaque: the owner says what they are (`breaker add --refresh-token`).
    "microsoft": {
        kind: "Graph application token (JWT)" if kind == "application" else "Graph access token (JWT)"
        for kind in route_modules()["microsoft"].KINDS
        if kind != "refresh"
    },
    "notion": {"internal": "integration token", "public": "integration token", "legacy": "integration token (legacy)"},
    "openai": {
        "project": "project key",
        "restricted": "project key",
        "service_account": "service-account key",
        "legacy": "legacy user key",
        "admin": "admin key",
    },
    "sendgrid": {"full_access": "API key"},
    "slack": {"bot": "bot token", "user": "user token"},
    "stripe": {
        "secret_test": "secret key (test)",
        "secret_live": "secret key (live)",
        "restricted_test": "restricted key (test)",
        "restricted_live": "restricted key (live)",
    },
}
CASES = [(provider, kind, label) for provider, kinds in RECOGNISED.items() for kind, label in kinds.items()]


@pytest.mark.parametrize("provider, kind, expected", CASES)
def test_recognises_its_sandbox_tokens(provider, kind, expected):
    token = route_modules()[provider].make_token(kind)
    assert "SANDBOX" in token
    assert registry.get(provider).recognise(token).kind == expected
    assert registry.recognise(token)[0].provider == provider


def test_every_recognisable_provider_is_covered():
    recognising = {name for name in registry.names() if registry.get(name).key_patterns}
    assert recognising <= set(RECOGNISED) | {"generic"}


@pytest.mark.parametrize("provider", sorted(RECOGNISED))
def test_does_not_claim_other_providers_tokens(provider):
    claimed = [t for t in foreign_tokens(provider) if registry.get(provider).recognise(t)]
    assert claimed == []
