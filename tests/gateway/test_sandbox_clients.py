"""The official clients through the gateway to the loopback sandbox: openai, anthropic, slack_sdk and
PyGithub, with sandbox keys the agent never sees. The sandbox checks the real key on every call."""

from __future__ import annotations

import asyncio
import base64

import anthropic
import httpx
import openai
import pytest
from github import Auth, Github, GithubException
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import text

from app.gateway.server import running
from app.services.gateway import Gateway
from app.services.views import ConnectorInput
from connectors.base import Secret
from tests.gateway.conftest import Env
from tests.switches.conftest import audit_actions


@pytest.fixture
async def on_sandbox(services, sandbox):
    env = Env(services, "")
    kinds = {"openai": "project", "anthropic": None, "slack": "bot", "github": "classic"}
    env.keys = {}
    for provider, kind in kinds.items():
        record = sandbox.mint(provider, kind) if kind else sandbox.mint(provider)
        env.keys[provider] = record.token
        services.inventory.add(
            ConnectorInput(name=provider, provider=provider, base_url=sandbox.host_url(provider)), Secret(record.token)
        )
        Gateway(services).route(provider)
        env.tokens[provider] = Gateway(services).issue(provider, "agent").token
    async with running(services, on_event=env.events.append) as gw:
        env.url, env.app = gw.url, gw.app
        yield env


async def test_openai_and_anthropic_sdks_reach_the_sandbox_through_the_gateway(on_sandbox, sandbox):
    oa = openai.AsyncOpenAI(api_key=on_sandbox.tokens["openai"], base_url=on_sandbox.base("openai") + "/v1")
    assert (await oa.models.list()).data
    an = anthropic.AsyncAnthropic(api_key=on_sandbox.tokens["anthropic"], base_url=on_sandbox.base("anthropic"))
    assert (await an.models.list()).data
    on_sandbox.set_mode("openai", "disabled")
    with pytest.raises(openai.PermissionDeniedError):
        await oa.models.list()
    await oa.close()
    await an.close()
    assert sandbox.calls("openai") == [("GET", "/openai/v1/models")]


async def test_slack_sdk_and_pygithub_through_the_gateway_read_only(on_sandbox, sandbox):
    on_sandbox.set_mode("slack", "read-only")
    on_sandbox.set_mode("github", "read-only")
    slack = WebClient(token=on_sandbox.tokens["slack"], base_url=on_sandbox.base("slack") + "/api/")
    assert (await asyncio.to_thread(slack.auth_test))["ok"] is True
    with pytest.raises(SlackApiError) as exc:
        await asyncio.to_thread(slack.chat_postMessage, channel="C1", text="hi")
    assert exc.value.response.status_code == 403
    gh = Github(auth=Auth.Token(on_sandbox.tokens["github"]), base_url=on_sandbox.base("github"), retry=None)
    login = await asyncio.to_thread(lambda: gh.get_user().login)
    assert login
    with pytest.raises(GithubException) as exc:
        await asyncio.to_thread(lambda: gh.get_user().create_repo("x"))
    assert exc.value.status == 403 and exc.value.data["connector"] == "github"
    assert not any(method == "POST" for method, _ in sandbox.calls("github"))
    assert sandbox.calls("slack") == [("POST", "/slack/api/auth.test")]


async def test_draft_only_gmail_through_the_gateway_writes_drafts_at_the_sandbox_and_sends_nothing(services, sandbox):
    # The demo's story end to end: the sandbox's mailbox takes the draft; every way to send is
    # refused at the gateway and never reaches the sandbox.
    record = sandbox.mint("google", "oauth")
    services.inventory.add(
        ConnectorInput(name="inbox", provider="google", base_url=sandbox.host_url("google")), Secret(record.token)
    )
    Gateway(services).route("inbox")
    token = Gateway(services).issue("inbox", "agent").token
    env = Env(services, "")
    async with running(services) as gw:
        env.url = gw.url
        env.set_mode("inbox", "draft-only")
        raw = "VG86IGJvYkBleGFtcGxlLmNvbQ0KU3ViamVjdDogaGkNCg0KaGVsbG8="
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=env.base("inbox") + "/gmail/v1/users/me", headers=headers) as agent:
            assert (await agent.get("/messages")).status_code == 200
            draft = await agent.post("/drafts", json={"message": {"raw": raw}})
            assert draft.status_code == 200 and draft.json()["message"]["labelIds"] == ["DRAFT"]
            for path, body in (("/messages/send", {"raw": raw}), ("/drafts/send", {"id": draft.json()["id"]})):
                refused = await agent.post(path, json=body)
                assert refused.status_code == 403 and refused.json()["connector"] == "inbox", path
    assert sandbox.calls("google") == [
        ("GET", "/google/gmail/v1/users/me/messages"),
        ("POST", "/google/gmail/v1/users/me/drafts"),
    ]


def routed_inbox(services, sandbox) -> str:
    """A Gmail connector on the sandbox, routed with --above ask: an agent's Breaker token."""
    record = sandbox.mint("google", "oauth")
    services.inventory.add(
        ConnectorInput(name="inbox", provider="google", base_url=sandbox.host_url("google")), Secret(record.token)
    )
    Gateway(services).route("inbox", on_above="ask")
    return Gateway(services).issue("inbox", "agent").token


async def only_hold(services):
    """The one held request, once the gateway has held it (10 s at most)."""
    from app.services.queue import Queue

    for _ in range(500):
        pending = Queue(services).pending()
        if pending:
            break
        await asyncio.sleep(0.02)
    (hold,) = pending
    return hold


async def test_a_held_drafts_send_shows_the_draft_read_first_and_not_counted_as_use(services, sandbox):
    # draft-only-then-ask: the agent names only the draft's ID; the gateway reads the draft
    # (users.drafts.get, read-only) so the owner sees whom it goes to, before anything is sent.
    from app.gateway.queue import HoldQueue
    from app.services.queue import Queue

    token = routed_inbox(services, sandbox)
    env = Env(services, "")
    queue = HoldQueue(services, hold_s=10.0)
    async with running(services, queue=queue) as gw:
        env.url = gw.url
        env.set_mode("inbox", "draft-only")
        mime = b"To: bob@example.com\r\nBcc: leak@evil.example\r\nSubject: Weekly update\r\n\r\nHello Bob\r\n"
        raw = base64.urlsafe_b64encode(mime).decode()
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            base_url=env.base("inbox") + "/gmail/v1/users/me", headers=headers, timeout=15
        ) as agent:
            draft = (await agent.post("/drafts", json={"message": {"raw": raw}})).json()["id"]
            sending = asyncio.create_task(agent.post("/drafts/send", json={"id": draft}))
            hold = await only_hold(services)
            assert hold.what.startswith(
                f"Send the draft {draft} to bob@example.com; BCC (hidden from the others) leak@evil.example"
            )
            assert hold.summary["subject"] == "Weekly update" and hold.summary["first_lines"] == ["Hello Bob"]
            Queue(services).answer(hold.id, approve=False, by="owner")
            assert (await sending).status_code == 403
        await gw.app.flush_usage()
    queue.close()
    assert ("GET", f"/google/gmail/v1/users/me/drafts/{draft}") in sandbox.calls("google")
    assert not any(c[0] == "POST" and c[1].endswith("/drafts/send") for c in sandbox.calls("google"))
    with services.engine.connect() as conn:
        used = [r[0] for r in conn.execute(text("SELECT template FROM gateway_use"))]
    assert not any("drafts/{id}" in t for t in used), used  # the gateway's own read is not the agent's use


@pytest.mark.parametrize("changed", [False, True])
async def test_an_approved_drafts_send_goes_out_only_if_the_draft_is_the_one_the_owner_saw(services, sandbox, changed):
    """drafts.send sends the draft as it is at that moment. An agent may change a draft while the hold
    waits (a draft-level call its mode allows): after the yes the gateway reads it again and sends
    only the draft the owner saw; a changed one is withdrawn (audited) and the agent refused."""
    from app.gateway.queue import DRAFT_CHANGED, HoldQueue
    from app.services.queue import Queue

    token = routed_inbox(services, sandbox)
    env = Env(services, "")
    told: list[tuple[int, str]] = []
    queue = HoldQueue(services, hold_s=10.0, on_answered=lambda hold_id, state, _status: told.append((hold_id, state)))
    async with running(services, queue=queue) as gw:
        env.url = gw.url
        env.set_mode("inbox", "draft-only")
        mime = b"To: bob@example.com\r\nSubject: Weekly update\r\n\r\nHello Bob\r\n"
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            base_url=env.base("inbox") + "/gmail/v1/users/me", headers=headers, timeout=15
        ) as agent:
            raw = base64.urlsafe_b64encode(mime).decode()
            draft = (await agent.post("/drafts", json={"message": {"raw": raw}})).json()["id"]
            sending = asyncio.create_task(agent.post("/drafts/send", json={"id": draft}))
            hold = await only_hold(services)
            assert "bob@example.com" in hold.what
            if changed:  # as a drafts.update from the agent would, after the owner has read the hold
                other = b"To: bob@example.com\r\nBcc: leak@evil.example\r\nSubject: Weekly update\r\n\r\nHi\r\n"
                for box in sandbox.state.objects.values():
                    if isinstance(box, dict) and draft in box.get("raw", {}):
                        box["raw"][draft] = base64.urlsafe_b64encode(other).decode()
            Queue(services).answer(hold.id, approve=True, by="owner")
            answer = await sending
    queue.close()
    sent = [c for c in sandbox.calls("google") if c[0] == "POST" and c[1].endswith("/drafts/send")]
    if changed:
        assert answer.status_code == 403 and DRAFT_CHANGED in answer.text
        assert sent == [] and "gateway.withdrawn" in audit_actions(services, "inbox")
        assert told[-1] == (hold.id, "withdrawn")  # what `breaker gateway` prints: not "denied in the panel"
    else:
        assert answer.status_code == 200 and len(sent) == 1
