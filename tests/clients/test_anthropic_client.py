"""anthropic-sdk-python against the sandbox: https://github.com/anthropics/anthropic-sdk-python
(``base_url``). Since 2.0 it sends the key as ``Authorization: Bearer``, not ``x-api-key``."""

from __future__ import annotations

import anthropic
import httpx
import pytest

from connectors.base import Outcome
from tests.clients.conftest import on_sandbox

DOCUMENTED = "https://api.anthropic.com"


def client(sandbox, token: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=token, base_url=on_sandbox(sandbox, "anthropic", DOCUMENTED), max_retries=0)


def test_both_documented_ways_to_present_a_key(sandbox):
    # https://docs.anthropic.com/en/api/overview#authentication
    record = sandbox.mint("anthropic", "api")
    url = f"{sandbox.base_url('anthropic')}/v1/models"
    assert httpx.get(url, headers={"x-api-key": record.token}).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"Bearer {record.token}"}).status_code == 200
    assert httpx.get(url, headers={"Authorization": "Bearer sk-ant-api03-FAKE-nope"}).status_code == 401


def test_the_probe_call_and_the_model_anthropic_follows(sandbox):
    record = sandbox.mint("anthropic", "api")
    api = client(sandbox, record.token)
    listed = list(api.models.list())  # https://docs.anthropic.com/en/api/models-list
    assert [m.id for m in listed] == ["claude-sandbox-1"]
    assert api.models.retrieve(listed[0].id).display_name == "Claude Sandbox"  # …/en/api/models
    with pytest.raises(anthropic.NotFoundError):
        api.models.retrieve("claude-nowhere")


def test_a_disable_through_the_admin_api_is_seen_by_breaker_probe(sandbox, breaker_probe):
    record = sandbox.mint("anthropic", "api")
    admin = sandbox.mint("anthropic", "admin")
    assert breaker_probe("anthropic", record.token).outcome is Outcome.OK
    keys = client(sandbox, admin.token).organization.api_keys
    # https://docs.anthropic.com/en/api/admin-api/apikeys/update-api-key
    [key] = list(keys.list())
    assert keys.update(key.id, status="inactive").status == "inactive"
    assert (
        breaker_probe("anthropic", record.token).outcome is Outcome.INVALID
    )  # 401: https://docs.anthropic.com/en/api/errors
