"""openai-python against the sandbox: https://github.com/openai/openai-python#configuring-the-http-client
(``base_url`` is ``https://api.openai.com/v1``; ``admin_api_key`` for the Admin API)."""

from __future__ import annotations

import warnings

import openai
import pytest

from connectors.base import Outcome
from tests.clients.conftest import on_sandbox

DOCUMENTED = "https://api.openai.com/v1"


def client(sandbox, token: str = "unused", admin: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=token, admin_api_key=admin, base_url=on_sandbox(sandbox, "openai", DOCUMENTED), max_retries=0
    )


def test_the_probe_calls_and_the_model_openai_follows(sandbox):
    record = sandbox.mint("openai", "project")
    api = client(sandbox, record.token)
    listed = list(api.models.list())  # https://platform.openai.com/docs/api-reference/models/list
    assert [m.id for m in listed] == ["gpt-sandbox-1", "gpt-sandbox-mini"]
    # https://platform.openai.com/docs/api-reference/models/retrieve, the id the list handed out
    assert api.models.retrieve(listed[0].id).owned_by == "system"
    with pytest.raises(openai.NotFoundError):
        api.models.retrieve("gpt-nowhere")
    assert list(api.files.list()) == []  # a deep-probe read


def test_assistants_answer_the_beta_header_the_client_sends(sandbox):
    record = sandbox.mint("openai", "project")
    # The SDK sends OpenAI-Beta: assistants=v2 (https://platform.openai.com/docs/assistants/migration).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the SDK marks the Assistants API deprecated
        assert list(client(sandbox, record.token).beta.assistants.list()) == []
        restricted = sandbox.mint("openai", "restricted")  # no assistants:read
        with pytest.raises(openai.AuthenticationError, match="Missing scopes"):
            list(client(sandbox, restricted.token).beta.assistants.list())


def test_a_revoke_through_the_admin_api_is_seen_by_breaker_probe(sandbox, breaker_probe):
    record = sandbox.mint("openai", "project")
    admin = sandbox.mint("openai", "admin")
    assert breaker_probe("openai", record.token).outcome is Outcome.OK
    keys = client(sandbox, admin=admin.token).admin.organization.projects.api_keys
    # https://platform.openai.com/docs/api-reference/project-api-keys/delete
    [key] = list(keys.list("proj_SANDBOX"))
    assert keys.delete(key.id, project_id="proj_SANDBOX").deleted is True
    assert breaker_probe("openai", record.token).outcome is Outcome.INVALID
