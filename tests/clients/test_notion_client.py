"""notion-sdk-py against the sandbox: https://github.com/ramnes/notion-sdk-py (``base_url``)."""

from __future__ import annotations

import pytest
from notion_client import APIResponseError, Client
from notion_client.client import ClientOptions

from connectors.base import Outcome
from tests.clients.conftest import on_sandbox


def client(sandbox, token: str | None = None) -> Client:
    return Client(auth=token, base_url=on_sandbox(sandbox, "notion", ClientOptions.base_url))  # https://api.notion.com


def test_the_probe_call_and_the_user_notion_client_follows(sandbox):
    record = sandbox.mint("notion", "public", identity="ada")
    api = client(sandbox, record.token)
    me = api.users.me()  # https://developers.notion.com/reference/get-self
    assert me["type"] == "bot" and me["bot"]["owner"]["user"]["name"] == "ada"
    assert api.users.retrieve(me["id"])["id"] == me["id"]  # https://developers.notion.com/reference/get-user
    people = api.users.list()["results"]  # https://developers.notion.com/reference/get-users
    assert api.users.retrieve(people[0]["id"])["name"] == people[0]["name"]


def test_a_revoke_through_notion_client_is_seen_by_breaker_probe(sandbox, breaker_probe):
    record = sandbox.mint("notion", "public")
    secret = sandbox.mint("notion", "admin")  # the public integration's client secret (client_id by default)
    assert breaker_probe("notion", record.token).outcome is Outcome.OK
    # https://developers.notion.com/reference/revoke-token: Basic client_id:client_secret
    client(sandbox).oauth.revoke(client_id=secret.meta["client_id"], client_secret=secret.token, token=record.token)
    assert breaker_probe("notion", record.token).outcome is Outcome.INVALID
    with pytest.raises(APIResponseError):
        client(sandbox, record.token).users.me()
