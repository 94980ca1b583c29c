"""The sandbox's Gmail mailbox: each method's scopes and shapes as Gmail's reference gives them
(https://developers.google.com/gmail/api/reference/rest), and nothing ever leaves the machine."""

from __future__ import annotations

import base64

import httpx

from connectors.sandbox.providers.google import G

RAW = base64.urlsafe_b64encode(b"To: bob@example.com\r\nSubject: hi\r\n\r\nhello").decode()


def gmail(sandbox, token: str, method: str, path: str, body: dict | None = None) -> httpx.Response:
    url = f"{sandbox.host_url('google')}/gmail/v1/users/me{path}"
    return httpx.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"})


def test_a_compose_token_writes_a_draft_sends_it_and_lists_it_as_sent(sandbox):
    token = sandbox.mint("google", "oauth").token  # gmail.readonly + gmail.compose, as the demo's
    assert gmail(sandbox, token, "GET", "/messages").json() == {"resultSizeEstimate": 0}
    draft = gmail(sandbox, token, "POST", "/drafts", {"message": {"raw": RAW}})
    assert draft.status_code == 200 and draft.json()["message"]["labelIds"] == ["DRAFT"]
    sent = gmail(sandbox, token, "POST", "/drafts/send", {"id": draft.json()["id"]})
    assert sent.status_code == 200 and sent.json()["labelIds"] == ["SENT"]
    assert gmail(sandbox, token, "POST", "/drafts/send", {"id": draft.json()["id"]}).status_code == 404  # sent once
    direct = gmail(sandbox, token, "POST", "/messages/send", {"raw": RAW})
    assert direct.status_code == 200
    listed = gmail(sandbox, token, "GET", "/messages").json()
    assert [m["id"] for m in listed["messages"]] == [direct.json()["id"], sent.json()["id"]]


def test_each_method_asks_for_its_own_scopes(sandbox):
    reader = sandbox.mint("google", "oauth", scopes=[G + "gmail.readonly"]).token
    assert gmail(sandbox, reader, "GET", "/messages").status_code == 200
    refused = gmail(sandbox, reader, "POST", "/drafts", {"message": {"raw": RAW}})
    assert refused.status_code == 403
    assert refused.json()["error"]["errors"][0]["reason"] == "insufficientPermissions"
    sender = sandbox.mint("google", "oauth", scopes=[G + "gmail.send"]).token
    assert gmail(sandbox, sender, "POST", "/messages/send", {"raw": RAW}).status_code == 200
    assert gmail(sandbox, sender, "POST", "/drafts", {"message": {"raw": RAW}}).status_code == 403
    assert gmail(sandbox, sender, "GET", "/messages").status_code == 403


def test_a_message_without_raw_and_a_dead_token_are_refused_as_gmail_does(sandbox):
    token = sandbox.mint("google", "oauth").token
    assert gmail(sandbox, token, "POST", "/messages/send", {}).status_code == 400
    assert gmail(sandbox, token, "POST", "/drafts", {"message": {}}).status_code == 400
    assert gmail(sandbox, "ya29.nothing", "GET", "/messages").status_code == 401
    api_key = sandbox.mint("google", "api_key").token
    assert gmail(sandbox, api_key, "GET", "/messages").status_code == 401
