"""msgraph-core against the sandbox: https://github.com/microsoftgraph/msgraph-sdk-python-core
(``GraphClientFactory`` builds ``{host}/{api_version}``: the sandbox's prefix is Graph's host)."""

from __future__ import annotations

import asyncio

import pytest
from msgraph_core import APIVersion, GraphClientFactory, NationalClouds

from connectors.base import Outcome
from tests.clients.conftest import on_sandbox


def graph(sandbox, version: APIVersion = APIVersion.v1):
    host = on_sandbox(sandbox, "microsoft", NationalClouds.Global.value)  # https://graph.microsoft.com
    return GraphClientFactory.create_with_default_middleware(api_version=version, host=host)


def bearer(record) -> dict[str, str]:
    return {"Authorization": f"Bearer {record.token}"}


@pytest.mark.parametrize("version", [APIVersion.v1, APIVersion.beta])
def test_the_probe_call_and_the_user_msgraph_follows_on_both_versions(sandbox, version):
    user = sandbox.mint("microsoft", "delegated", identity="ada")

    async def run():
        async with graph(sandbox, version) as client:
            me = await client.get("/me", headers=bearer(user))  # https://learn.microsoft.com/en-us/graph/api/user-get
            again = await client.get(f"/users/{me.json()['id']}", headers=bearer(user))
            return me, again

    me, again = asyncio.run(run())
    assert me.status_code == 200 and again.status_code == 200
    assert again.json()["userPrincipalName"] == me.json()["userPrincipalName"]
    assert me.json()["@odata.context"] == f"{sandbox.url}/microsoft/{version.value}/$metadata#users/$entity"
    assert ("GET", f"/microsoft/{version.value}/me") in sandbox.calls("microsoft")


def test_a_revoke_through_msgraph_is_seen_by_breaker_probe(sandbox, breaker_probe):
    user = sandbox.mint("microsoft", "delegated")
    admin = sandbox.mint("microsoft", "admin")
    assert breaker_probe("microsoft", user.token).outcome is Outcome.OK

    async def revoke():
        async with graph(sandbox) as client:
            me = await client.get("/me", headers=bearer(user))
            # https://learn.microsoft.com/en-us/graph/api/user-revokesigninsessions
            return await client.post(f"/users/{me.json()['id']}/revokeSignInSessions", headers=bearer(admin))

    answer = asyncio.run(revoke())
    assert answer.status_code == 200 and answer.json()["value"] is True
    assert breaker_probe("microsoft", user.token).outcome is Outcome.INVALID
