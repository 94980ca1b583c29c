"""Two failures every provider must turn into outcomes, one parametrised contract instead of a copy
per provider: the network refusing to connect (unreachable, with a reason) and a body that is not
JSON (an error that says malformed); neither report carries the key."""

from __future__ import annotations

import pytest

from connectors import registry
from connectors.base import Outcome
from connectors.sandbox.core import SandboxState
from tests.connectors.fixtures.contract import cred, mint, offline_and_garbled

KINDS = [
    ("airtable", "pat", {}),
    ("anthropic", "api", {}),
    ("generic", "bearer", {"url": "/verify", "identity_field": "user.name"}),
    ("github", "classic", {}),
    ("gitlab", "personal", {}),
    ("google", "oauth", {}),
    ("hubspot", "private_app", {}),
    ("microsoft", "delegated", {}),
    ("notion", "internal", {}),
    ("openai", "project", {}),
    ("sendgrid", "restricted", {}),
    ("slack", "bot", {}),
    ("stripe", "secret_test", {}),
]


@pytest.mark.parametrize("provider, kind, extra", KINDS, ids=[k[0] for k in KINDS])
async def test_offline_and_garbled_answers_are_outcomes(provider, kind, extra):
    state = SandboxState()
    token = mint(state, provider, kind).token
    down, garbled = await offline_and_garbled(registry.get(provider), state, cred(token, provider, extra=extra))
    assert down.outcome is Outcome.UNREACHABLE and down.error
    assert garbled.outcome is Outcome.ERROR and "malformed" in garbled.error
    assert token not in repr(down) and token not in repr(garbled)


def test_every_provider_is_covered():
    assert {k[0] for k in KINDS} == set(registry.names())
