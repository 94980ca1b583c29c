"""Gaps the official clients found in the sandbox (issue 15), each against the documentation."""

from __future__ import annotations

import socket
import time

import httpx


def test_the_status_line_carries_the_reason_phrase(sandbox):
    # RFC 9110 §15 (https://www.rfc-editor.org/rfc/rfc9110#section-15): clients show it in errors.
    with socket.create_connection((sandbox.host, sandbox.port), timeout=5) as conn:
        conn.sendall(b"GET /github/user HTTP/1.1\r\nHost: sandbox\r\nConnection: close\r\n\r\n")
        head = conn.recv(4096).split(b"\r\n", 1)[0]
    assert head == b"HTTP/1.1 401 Unauthorized"
    assert httpx.get(f"{sandbox.url}/github/nowhere").reason_phrase == "Not Found"


def test_tokeninfo_exp_is_a_fact_of_the_token_not_of_the_call(sandbox):
    # https://developers.google.com/identity/protocols/oauth2#expiration: an access token's expiry
    # is fixed when it is issued. A token minted without one must not move forward with each probe.
    record = sandbox.mint("google", "oauth")
    url = f"{sandbox.base_url('google')}/tokeninfo"
    first = httpx.get(url, headers={"Authorization": f"Bearer {record.token}"}).json()
    time.sleep(1.1)
    second = httpx.get(url, headers={"Authorization": f"Bearer {record.token}"}).json()
    assert first["exp"] == second["exp"]
    assert int(first["exp"]) == int(record.created_at.timestamp()) + 3599
    assert int(second["expires_in"]) < int(first["expires_in"])


def test_the_admin_api_mints_hubspot_oauth_tokens(sandbox):
    admin = f"{sandbox.url}/_sandbox/tokens"
    refresh = httpx.post(admin, json={"provider": "hubspot", "kind": "oauth_refresh"})
    assert refresh.status_code == 201, refresh.text
    access = httpx.post(
        admin, json={"provider": "hubspot", "kind": "oauth_access", "meta": {"refresh_token": refresh.json()["token"]}}
    )
    assert access.status_code == 201, access.text
    base = sandbox.base_url("hubspot")
    # https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/v1/get-oauth-token-metadata
    assert httpx.get(f"{base}/oauth/v1/access-tokens/{access.json()['token']}").status_code == 200
    assert httpx.delete(f"{base}/oauth/v1/refresh-tokens/{refresh.json()['token']}").status_code == 204
    assert httpx.get(f"{base}/oauth/v1/access-tokens/{access.json()['token']}").status_code == 404


def test_the_admin_api_mints_a_notion_client_secret_that_revokes(sandbox):
    admin = f"{sandbox.url}/_sandbox/tokens"
    secret = httpx.post(admin, json={"provider": "notion", "kind": "admin"})
    token = httpx.post(admin, json={"provider": "notion", "kind": "public"})
    assert secret.status_code == 201 and token.status_code == 201, secret.text
    # https://developers.notion.com/reference/revoke-token: Basic client_id:client_secret
    revoked = httpx.post(
        f"{sandbox.base_url('notion')}/v1/oauth/revoke",
        auth=("sandbox-client", secret.json()["token"]),
        json={"token": token.json()["token"]},
    )
    assert revoked.status_code == 200
    me = httpx.get(
        f"{sandbox.base_url('notion')}/v1/users/me",
        headers={"Authorization": f"Bearer {token.json()['token']}", "Notion-Version": "2022-06-28"},
    )
    assert me.status_code == 401


def test_the_admin_api_refuses_meta_that_is_not_plain_values(sandbox):
    answer = httpx.post(f"{sandbox.url}/_sandbox/tokens", json={"provider": "notion", "meta": {"x": [1]}})
    assert answer.status_code == 400 and "meta" in answer.json()["message"]


def test_gitlab_takes_the_token_in_each_documented_place(sandbox):
    # https://docs.gitlab.com/api/rest/authentication/#personalprojectgroup-access-tokens
    record = sandbox.mint("gitlab", "personal")
    url = f"{sandbox.base_url('gitlab')}/user"
    assert httpx.get(url, headers={"PRIVATE-TOKEN": record.token}).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"Bearer {record.token}"}).status_code == 200
    assert httpx.get(url, params={"private_token": record.token}).status_code == 200
    assert httpx.get(url, params={"private_token": "glpat-nope"}).status_code == 401


def test_stripe_takes_the_key_as_basic_user_name_or_bearer(sandbox):
    # https://docs.stripe.com/api/authentication: `curl -u sk_test_…:` is HTTP Basic, user name = key.
    record = sandbox.mint("stripe", "secret_test")
    url = f"{sandbox.base_url('stripe')}/v1/charges"
    assert httpx.get(url, auth=(record.token, "")).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"Bearer {record.token}"}).status_code == 200
    assert httpx.get(url, auth=("sk_test_nope", "")).status_code == 401
