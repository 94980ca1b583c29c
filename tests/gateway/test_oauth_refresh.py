"""OAuth connectors through the gateway, against the sandbox's Google token endpoint: the refresh
token stays in Breaker, the gateway refreshes once even when requests arrive together, and a
rotated refresh token is in the keyring at once (the old one is dead at the provider)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.gateway.server import running
from app.services.gateway import Gateway, set_oauth_client
from app.services.views import ConnectorInput
from connectors.base import Secret
from connectors.sandbox.providers import google as sandbox_google

PROFILE = "/gmail/v1/users/me/profile"


def token_calls(sandbox) -> int:
    return sum(1 for method, path in sandbox.calls("google") if (method, path) == ("POST", "/google/token"))


async def routed_mail_bot(services, sandbox, *, rotates: bool):
    refresh = sandbox.mint("google", "refresh", meta={"rotates": True} if rotates else None)
    services.inventory.add(
        ConnectorInput(name="mail-bot", provider="google", base_url=sandbox.host_url("google")), Secret(refresh.token)
    )
    set_oauth_client(services, "mail-bot", sandbox_google.CLIENT_ID, Secret("sandbox-client-secret"))
    Gateway(services).route("mail-bot")
    return refresh, Gateway(services).issue("mail-bot", "agent").token


@pytest.mark.parametrize("rotates", [False, True])
async def test_requests_arriving_together_share_one_refresh(services, sandbox, rotates):
    refresh, token = await routed_mail_bot(services, sandbox, rotates=rotates)
    ref = services.inventory.get("mail-bot").credential.keyring_ref
    events: list[str] = []
    async with running(services, on_event=events.append) as gw:
        async with httpx.AsyncClient(base_url=f"{gw.url}/mail-bot", headers={"authorization": f"Bearer {token}"}) as c:
            answers = await asyncio.gather(*(c.get(PROFILE) for _ in range(12)))
            assert [a.status_code for a in answers] == [200] * 12, answers[0].text
            assert answers[0].json()["emailAddress"].endswith("@sandbox.example")
            assert token_calls(sandbox) == 1  # one refresh for twelve requests
            assert gw.app.oauth.refreshes == 1
            stored = services.secrets.get(ref).reveal()
            if rotates:
                # The rotated refresh token is in the keyring already; the old one is dead at Google.
                assert stored != refresh.token and stored.startswith("1//SANDBOX")
                assert not sandbox.state.get(refresh.token).live
                assert services.inventory.get("mail-bot").credential.last4 == stored[-4:]
            else:
                assert stored == refresh.token
            # The access token expires: the next refresh uses what the keyring holds now, and works.
            gw.app.oauth._tokens.clear()
            assert (await c.get(PROFILE)).status_code == 200
            assert token_calls(sandbox) == 2
    actions = [e.action for e in services.audit.recent(services.engine, 50, "mail-bot")]
    assert ("credential.rotated" in actions) is rotates
    # Neither the refresh token nor an access token reached the agent's answers or the gateway's log.
    for text in [*(a.text for a in answers), *events]:
        assert refresh.token not in text and "ya29." not in text


async def test_a_refused_refresh_is_a_clear_502_and_no_token_leaks(services, sandbox):
    refresh, token = await routed_mail_bot(services, sandbox, rotates=False)
    sandbox.state.revoke(refresh.token)
    async with running(services) as gw:
        async with httpx.AsyncClient(base_url=f"{gw.url}/mail-bot", headers={"authorization": f"Bearer {token}"}) as c:
            answer = await c.get(PROFILE)
    assert answer.status_code == 502
    body = answer.json()
    assert body["refused_by"] == "breaker-gateway" and "refused to refresh" in body["detail"]
    assert refresh.token not in answer.text
