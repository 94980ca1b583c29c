"""slack_sdk against the sandbox: https://tools.slack.dev/python-slack-sdk/web (``base_url``)."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from connectors.base import Outcome
from tests.clients.conftest import on_sandbox


def client(sandbox, token: str) -> WebClient:
    return WebClient(token=token, base_url=on_sandbox(sandbox, "slack", WebClient.BASE_URL))  # https://slack.com/api/


def test_the_probe_call_and_the_user_slack_sdk_follows(sandbox):
    record = sandbox.mint("slack", "user", identity="ada")
    web = client(sandbox, record.token)
    me = web.auth_test()  # https://api.slack.com/methods/auth.test
    assert me["ok"] and me.headers["x-oauth-scopes"] == "search:read,users:read,chat:write"
    user = web.users_info(user=me["user_id"])  # https://api.slack.com/methods/users.info
    assert user["user"]["id"] == me["user_id"] and user["user"]["name"] == "ada"
    bot = sandbox.mint("slack", "bot")  # without users:read Slack names the missing scope
    with pytest.raises(SlackApiError) as refused:
        client(sandbox, bot.token).users_info(user=me["user_id"])
    assert refused.value.response["error"] == "missing_scope" and refused.value.response["needed"] == "users:read"


def test_a_revoke_through_slack_sdk_is_seen_by_breaker_probe(sandbox, breaker_probe):
    record = sandbox.mint("slack", "bot")
    assert breaker_probe("slack", record.token).outcome is Outcome.OK
    web = client(sandbox, record.token)
    assert web.auth_revoke(test=True)["revoked"] is False  # a dry run changes nothing
    assert web.auth_revoke()["revoked"] is True  # https://api.slack.com/methods/auth.revoke
    assert breaker_probe("slack", record.token).outcome is Outcome.REVOKED
