"""Through the gateway with httpx and the official SDKs: the key is added, the token never forwarded,
the mode enforced per request, streams passed event by event, provider URLs rewritten."""

from __future__ import annotations

import email.utils
import json
import time

import httpx
import pytest

from tests.gateway.conftest import CANARY


async def test_a_read_is_forwarded_with_the_real_key_and_without_the_token(gateway, upstream):
    async with httpx.AsyncClient() as client:
        r = await client.get(
            gateway.base("gh-bot") + "/repos/o/r/issues?state=open",
            headers={"Authorization": f"Bearer {gateway.tokens['gh-bot']}"},
        )
    assert r.status_code == 200, r.text
    seen = upstream.seen[-1]
    assert (seen.method, seen.path, seen.query) == ("GET", "/repos/o/r/issues", "state=open")
    assert seen.headers["authorization"] == f"Bearer {CANARY['gh-bot'][1]}"
    assert gateway.tokens["gh-bot"] not in json.dumps(seen.headers)
    assert seen.headers["accept-encoding"] == "identity"


async def test_wrong_missing_or_other_connectors_token_is_401_problem(gateway, upstream):
    async with httpx.AsyncClient() as client:
        for headers in (
            {},
            {"Authorization": "Bearer brk_nope"},
            {"Authorization": f"Bearer {gateway.tokens['slack-bot']}"},
        ):
            r = await client.get(gateway.base("gh-bot") + "/user", headers=headers)
            assert r.status_code == 401
            assert r.headers["content-type"] == "application/problem+json"
    assert upstream.seen == []


async def test_a_header_that_is_not_ascii_is_refused_and_nothing_is_sent(gateway, upstream):
    """httpx would not send a non-ASCII header (it raised, and the agent got a bare 500); the gateway's
    own header lines keep that rule and say so in a problem body."""
    auth = {"Authorization": f"Bearer {gateway.tokens['gh-bot']}"}
    async with httpx.AsyncClient() as client:
        r = await client.get(gateway.base("gh-bot") + "/user", headers={**auth, "x-note": "café".encode("latin-1")})
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert "not ASCII" in r.json()["detail"] and upstream.seen == []


async def test_a_host_that_is_not_loopback_is_refused(gateway, upstream):
    async with httpx.AsyncClient() as client:
        r = await client.get(
            gateway.base("gh-bot") + "/user",
            headers={"Authorization": f"Bearer {gateway.tokens['gh-bot']}", "Host": "api.github.com"},
        )
    assert r.status_code == 421 and upstream.seen == []


async def test_github_read_only_refuses_every_write_and_a_disguised_mutation(gateway, upstream):
    gateway.set_mode("gh-bot", "read-only")
    auth = {"Authorization": f"token {gateway.tokens['gh-bot']}"}
    writes = [
        ("POST", "/repos/o/r/issues", {"title": "x"}),
        ("PATCH", "/repos/o/r/issues/1", {"state": "closed"}),
        ("PUT", "/repos/o/r/contents/a.md", {"message": "m", "content": ""}),
        ("DELETE", "/repos/o/r", None),
        ("POST", "/repos/o/r/hooks", {}),
        ("GET", "/repos/o/r/issues/1/comments", None),  # sent with a method override below
    ]
    async with httpx.AsyncClient() as client:
        for method, path, body in writes[:-1]:
            r = await client.request(method, gateway.base("gh-bot") + path, json=body, headers=auth)
            assert r.status_code == 403, (method, path)
            problem = r.json()
            assert problem["connector"] == "gh-bot" and problem["mode"] == "read-only"
            assert problem["level"] in ("write", "admin")
        r = await client.get(gateway.base("gh-bot") + writes[-1][1], headers={**auth, "X-HTTP-Method-Override": "POST"})
        assert r.status_code == 403
        query = '# read the viewer\nmutation ViewerQuery { addStar(input: {starrableId: "R_1"}) { clientMutationId } }'
        r = await client.post(
            gateway.base("gh-bot") + "/graphql", json={"query": query, "operationName": "ViewerQuery"}, headers=auth
        )
        assert r.status_code == 403 and r.json()["level"] == "write"
        r = await client.post(gateway.base("gh-bot") + "/graphql", json={"query": "{ viewer { login } }"}, headers=auth)
        assert r.status_code == 200
        r = await client.get(gateway.base("gh-bot") + "/user", headers=auth)
        assert r.status_code == 200
    assert [s.path for s in upstream.seen] == ["/graphql", "/user"]


async def test_links_and_json_urls_pointing_at_the_provider_are_rewritten_to_the_gateway(gateway, upstream):
    async with httpx.AsyncClient() as client:
        r = await client.get(
            gateway.base("graph-bot") + "/v1.0/me/messages",
            headers={"Authorization": f"Bearer {gateway.tokens['graph-bot']}"},
        )
    assert r.status_code == 200
    assert r.json()["@odata.nextLink"] == gateway.base("graph-bot") + "/v1.0/me/messages?$skip=10"
    assert r.headers["link"] == f'<{gateway.base("graph-bot")}/items?page=2>; rel="next"'
    assert upstream.url not in r.text


async def test_usage_is_recorded_without_bodies_paths_or_keys(gateway, upstream):
    gateway.set_mode("mail-bot", "draft-only")
    auth = {"Authorization": f"Bearer {gateway.tokens['mail-bot']}"}
    async with httpx.AsyncClient() as client:
        await client.post(
            gateway.base("mail-bot") + "/gmail/v1/users/me/drafts", json={"raw": "c2VjcmV0"}, headers=auth
        )
        await client.post(
            gateway.base("mail-bot") + "/gmail/v1/users/me/messages/send", json={"raw": "x"}, headers=auth
        )
        await client.get(
            gateway.base("gh-bot") + "/repos/o/r", headers={"Authorization": f"Bearer {gateway.tokens['gh-bot']}"}
        )
    await gateway.app.flush_usage()
    rows = gateway.usage()
    assert [(r["method"], r["template"], r["level"], r["decision"], r["status"]) for r in rows] == [
        # templates from the generated Gmail table name the discovery document's parameters
        ("POST", "POST /gmail/v1/users/{userId}/drafts", 2, "allow", 200),
        ("POST", "POST /gmail/v1/users/{userId}/messages/send", 4, "refuse", 403),
        ("GET", "GET /{rest*}", 1, "allow", 200),
    ]
    assert json.loads(rows[0]["accepted_json"]) == {"x-accepted-github-permissions": "issues=write"}
    dump = json.dumps(rows, default=str)
    for _, key in CANARY.values():
        assert key not in dump
    for token in gateway.tokens.values():
        assert token not in dump
    assert "c2VjcmV0" not in dump and "/repos/o/r" not in dump.replace("/repos/{owner}", "")


async def test_a_forwarded_answer_carries_the_providers_date_and_server_once(gateway, upstream):
    """uvicorn added a Date and a Server header of its own to every answer, so a forwarded one had
    two of each (Date is a singleton field, RFC 9110 §6.6.1); the gateway's own answers have one Date."""
    auth = {"Authorization": f"Bearer {gateway.tokens['gh-bot']}"}
    async with httpx.AsyncClient() as client:
        r = await client.get(gateway.base("gh-bot") + "/user", headers=auth)
        refused = await client.get(gateway.base("gh-bot") + "/user")
    assert r.status_code == 200
    assert len(r.headers.get_list("date")) == 1 and r.headers.get_list("server") == ["uvicorn"]  # the stand-in's
    assert refused.status_code == 401
    assert len(refused.headers.get_list("date")) == 1 and "server" not in refused.headers
    httpx_date = email.utils.parsedate_to_datetime(refused.headers["date"])
    assert abs(httpx_date.timestamp() - time.time()) < 60


async def test_response_headers_pass_byte_for_byte(gateway, upstream):
    """A header value in UTF-8 reaches the agent as the provider sent it (it was decoded, then
    encoded again as Latin-1: a character outside Latin-1 failed the request), and the provider's
    links in headers are still rewritten to the gateway."""
    auth = {"Authorization": f"Bearer {gateway.tokens['gh-bot']}"}
    async with httpx.AsyncClient() as client:
        r = await client.get(gateway.base("gh-bot") + "/_utf8_header", headers=auth)
        linked = await client.get(gateway.base("gh-bot") + "/repos/o/r/issues", headers=auth)
    assert r.status_code == 200
    assert dict(r.headers.raw)[b"x-note"] == "café → ok".encode()
    assert linked.headers["link"] == f'<{gateway.base("gh-bot")}/items?page=2>; rel="next"'


def test_the_upstream_headers_are_the_ones_httpx_builds_from_content():
    """The gateway sends its header lines without an httpx Request (AiohttpTransport.send): they are
    the lines httpx.Request would build, in its order, and the transport's handle_async_request
    passes httpx's on in the same form."""
    from app.gateway.app import NotAscii, upstream_headers

    url = httpx.URL("https://api.example.test:8443/v1/x?a=1")
    agent = [("accept", "application/json"), ("x-trace", "t1"), ("authorization", "Bearer real")]
    for method, body in (("GET", b""), ("post", b""), ("PUT", b'{"a": 1}'), ("DELETE", b"x"), ("PATCH", b"")):
        ours = upstream_headers(method, url, list(agent), body)
        theirs = httpx.Request(method, url, headers=agent, content=body)
        assert ours == [(k.decode("latin-1"), v.decode("latin-1")) for k, v in theirs.headers.raw], method
    for bad in (("x-note", "café"), ("x-é", "1")):
        with pytest.raises(NotAscii):
            upstream_headers("GET", url, [bad], b"")
        with pytest.raises(UnicodeEncodeError):  # httpx would not send it either
            httpx.Request("GET", url, headers=[bad])
