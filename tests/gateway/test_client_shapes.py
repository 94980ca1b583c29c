"""Requests shaped as slack_sdk, PyGithub, google-api-python-client and the Graph SDK send them,
through the gateway: Gmail draft-only, unmapped paths and foreign hosts."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.unit.test_classify import gmail_batch


def auth(gateway, name: str, scheme: str = "Bearer") -> dict[str, str]:
    return {"Authorization": f"{scheme} {gateway.tokens[name]}"}


async def send(gateway, name: str, method: str, path: str, **kw) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        headers = {**auth(gateway, name), **kw.pop("headers", {})}
        return await client.request(method, gateway.base(name) + path, headers=headers, **kw)


GOOGLE_UA = {"User-Agent": "(gzip)", "x-goog-api-client": "gdcl/2.150.0 gl-python/3.12"}


async def test_gmail_draft_only_creates_drafts_and_refuses_every_way_to_send(gateway, upstream):
    gateway.set_mode("mail-bot", "draft-only")
    ok = await send(
        gateway,
        "mail-bot",
        "POST",
        "/gmail/v1/users/me/drafts?alt=json",
        json={"message": {"raw": "eA"}},
        headers=GOOGLE_UA,
    )
    assert ok.status_code == 200
    up = await send(
        gateway,
        "mail-bot",
        "POST",
        "/upload/gmail/v1/users/me/drafts?uploadType=multipart&alt=json",
        content=b"--b\r\n\r\n{}\r\n--b--",
        headers={**GOOGLE_UA, "Content-Type": "multipart/related; boundary=b"},
    )
    assert up.status_code == 200
    sends = [
        ("/gmail/v1/users/me/drafts/send?alt=json", {}),
        ("/gmail/v1/users/me/messages/send?alt=json", {}),
        (
            "/upload/gmail/v1/users/me/messages/send?uploadType=multipart",
            {"Content-Type": "multipart/related; boundary=b"},
        ),
        ("/resumable/upload/gmail/v1/users/me/messages/send?uploadType=resumable", {}),
        ("/gmail/v1/users/me/settings/filters", {}),
        ("/gmail/v1/users/me/settings/forwardingAddresses", {}),
    ]
    for path, headers in sends:
        r = await send(gateway, "mail-bot", "POST", path, content=b"{}", headers={**GOOGLE_UA, **headers})
        assert r.status_code == 403, path
        assert r.json()["level"] in ("send", "admin")
    body, headers = gmail_batch("POST /gmail/v1/users/me/drafts", "POST /gmail/v1/users/me/drafts/send")
    r = await send(gateway, "mail-bot", "POST", "/batch/gmail/v1", content=body, headers=headers)
    assert r.status_code == 403 and r.json()["level"] == "send"
    body, headers = gmail_batch("POST /gmail/v1/users/me/drafts", "GET /gmail/v1/users/me/messages")
    r = await send(gateway, "mail-bot", "POST", "/batch/gmail/v1", content=body, headers=headers)
    assert r.status_code == 200
    forwarded = [s.path for s in upstream.seen]
    assert forwarded == ["/gmail/v1/users/me/drafts", "/upload/gmail/v1/users/me/drafts", "/batch/gmail/v1"]


async def test_slack_sdk_shaped_calls(gateway, upstream):
    gateway.set_mode("slack-bot", "read-only")
    ua = {"User-Agent": "Python/3.12.0 slackclient/3.33.0 Linux/6.1"}
    r = await send(gateway, "slack-bot", "POST", "/api/conversations.history", data={"channel": "C1"}, headers=ua)
    assert r.status_code == 200
    r = await send(
        gateway, "slack-bot", "POST", "/api/chat.postMessage", json={"channel": "C1", "text": "hi"}, headers=ua
    )
    assert r.status_code == 403 and r.json()["level"] == "send"


async def test_pygithub_shaped_calls(gateway, upstream):
    gateway.set_mode("gh-bot", "read-only")
    ua = {"User-Agent": "PyGithub/Python", "Accept": "application/vnd.github+json"}
    headers = {**ua, **auth(gateway, "gh-bot", "token")}
    async with httpx.AsyncClient() as client:
        r = await client.get(gateway.base("gh-bot") + "/repos/o/r", headers=headers)
        assert r.status_code == 200
        r = await client.post(gateway.base("gh-bot") + "/repos/o/r/issues", headers=headers, json={"title": "t"})
        assert r.status_code == 403


async def test_graph_sdk_shaped_calls_and_batch(gateway, upstream):
    gateway.set_mode("graph-bot", "draft-only")
    ua = {"SdkVersion": "graph-python/1.0.0", "Content-Type": "application/json"}
    r = await send(gateway, "graph-bot", "POST", "/v1.0/me/messages", json={"subject": "s"}, headers=ua)
    assert r.status_code == 200
    r = await send(gateway, "graph-bot", "POST", "/v1.0/me/sendMail", json={"message": {}}, headers=ua)
    assert r.status_code == 403
    batch = {"requests": [{"id": "1", "method": "POST", "url": "/me/messages/AAMk/send"}]}
    r = await send(gateway, "graph-bot", "POST", "/v1.0/$batch", json=batch, headers=ua)
    assert r.status_code == 403 and r.json()["level"] == "send"


async def test_unmapped_path_counts_as_write_and_a_foreign_host_inside_a_batch_is_refused(gateway, upstream):
    gateway.set_mode("mail-bot", "draft-only")
    r = await send(gateway, "mail-bot", "POST", "/gmail/v1/users/me/brandNewThing", json={})
    assert r.status_code == 403 and r.json()["level"] == "write"
    body, headers = gmail_batch("GET https://evil.example/gmail/v1/users/me/messages")
    r = await send(gateway, "mail-bot", "POST", "/batch/gmail/v1", content=body, headers=headers)
    assert r.status_code == 403 and r.json()["level"] == "unknown"
    assert "evil.example" in r.json()["detail"]
    gateway.set_mode("mail-bot", "full")
    r = await send(gateway, "mail-bot", "POST", "/gmail/v1/users/me/brandNewThing", json={})
    assert r.status_code == 200  # full allows write


@pytest.mark.parametrize("header", ["x-api-key", "x-goog-api-key"])
async def test_tokens_in_the_headers_other_sdks_use_are_accepted_and_stripped(gateway, upstream, header):
    async with httpx.AsyncClient() as client:
        r = await client.get(gateway.base("gh-bot") + "/user", headers={header: gateway.tokens["gh-bot"]})
    assert r.status_code == 200
    assert header not in upstream.seen[-1].headers
    assert json.dumps(upstream.seen[-1].headers).count("brk_") == 0
