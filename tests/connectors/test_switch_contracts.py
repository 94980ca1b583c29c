"""Switches by API instead of manual steps (issue 9): each provider call checked against the shape its
documentation gives, the page beside each shape. The sandbox serves the same shapes
(tests/switches prove them end to end, with the "after" state a verify probe reads)."""

from __future__ import annotations

import base64
import json

import httpx

from connectors import registry
from connectors.base import ActionState, Credential, Secret, Verb

OPENAI = "https://api.openai.test"
SVC_KEY = "sk-svcacct-" + "A" * 20 + "T3BlbkFJ" + "C" * 20
ADMIN = Secret("sk-admin-" + "B" * 58 + "T3BlbkFJ" + "B" * 58)


def _client(handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


# https://platform.openai.com/docs/api-reference/project-api-keys/list — a ProjectApiKey's owner is
# {"type": "service_account", "service_account": {"id": "svc_acct_…", …}} for a service account's key.
LISTED = {
    "object": "list",
    "data": [
        {
            "object": "organization.project.api_key",
            "id": "key_abc",
            "name": "ci",
            "redacted_value": SVC_KEY[:8] + "..." + SVC_KEY[-4:],
            "created_at": 1711471533,
            "owner": {
                "type": "service_account",
                "service_account": {
                    "object": "organization.project.service_account",
                    "id": "svc_acct_abc",
                    "name": "ci",
                    "role": "member",
                    "created_at": 1711471533,
                },
            },
        }
    ],
    "has_more": False,
}
# https://platform.openai.com/docs/api-reference/project-service-accounts ("Create API key for a
# service account"): POST …/service_accounts/{service_account_id}/api_keys {name?, scopes?,
# expires_in_seconds?} → {object, id, name, value, created_at, expires_at}; the value is shown once.
CREATED = {
    "object": "organization.project.service_account.api_key",
    "id": "key_new",
    "name": "ci (rotated by Breaker)",
    "value": "sk-svcacct-" + "N" * 20 + "T3BlbkFJ" + "N" * 20,
    "created_at": 1711471600,
    "expires_at": None,
}


async def test_openai_service_account_key_rotates_through_the_admin_api():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "GET" and request.url.path == "/v1/organization/projects/proj_1/api_keys":
            return httpx.Response(200, json=LISTED)
        if request.method == "POST" and request.url.path.endswith("/service_accounts/svc_acct_abc/api_keys"):
            return httpx.Response(200, json=CREATED)
        return httpx.Response(404, json={"error": {"code": "not_found"}})

    provider = registry.get("openai")
    assert provider.has_api(Verb.ROTATE, "service-account key")
    assert not provider.has_api(Verb.ROTATE, "project key")  # user-owned keys cannot be made by API
    cred = Credential(Secret(SVC_KEY), base_url=OPENAI, extra={"project_id": "proj_1"}, admin_secret=ADMIN)
    async with _client(handler) as client:
        result = await provider.rotate(client, cred)
    assert result.state is ActionState.APPLIED, result
    assert result.new_secret is not None and result.new_secret.reveal() == CREATED["value"]
    assert result.details == {"key_id": "key_new", "service_account_id": "svc_acct_abc", "old_key_id": "key_abc"}
    listing, create = seen
    assert listing.url.params.get("owner_project_access") == "any"
    assert create.headers["authorization"] == f"Bearer {ADMIN.reveal()}"  # the admin key, never the old key
    assert json.loads(create.content) == {"name": "ci (rotated by Breaker)"}
    assert CREATED["value"] not in result.message and CREATED["value"] not in json.dumps(result.details)


async def test_openai_rotation_of_a_key_not_owned_by_a_service_account_waits_for_you():
    listed = json.loads(json.dumps(LISTED))
    listed["data"][0]["owner"] = {"type": "user", "user": {"id": "user_1"}}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=listed)

    cred = Credential(Secret(SVC_KEY), base_url=OPENAI, extra={"project_id": "proj_1"}, admin_secret=ADMIN)
    async with _client(handler) as client:
        result = await registry.get("openai").rotate(client, cred)
    assert result.state is ActionState.MANUAL and result.new_secret is None


# -- GitHub ---------------------------------------------------------------------------------------

GITHUB = "https://api.github.test"
INSTALLATION_TOKEN = "ghs_" + "I" * 36
OAUTH_TOKEN = "gho_" + "O" * 36


def _app_key():

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return base64.b64encode(der).decode(), key.public_key()


async def test_github_installation_suspend_and_unsuspend_as_the_app():
    """https://docs.github.com/en/rest/apps/apps#suspend-an-app-installation: PUT (suspend) and DELETE
    (unsuspend) /app/installations/{installation_id}/suspended, 204 No Content, authenticated with a
    JWT: RS256, iat 60 s in the past, exp ≤ 10 minutes, iss the client id or app id
    (https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app)."""
    import jwt

    private, public = _app_key()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    provider = registry.get("github")
    kind = "GitHub App installation token"
    assert provider.reversible(kind) and provider.has_api(Verb.REENABLE, kind)
    assert provider.switch_call(Verb.REVOKE, kind).request == "PUT /app/installations/{installation_id}/suspended"
    cred = Credential(
        Secret(INSTALLATION_TOKEN),
        base_url=GITHUB,
        extra={"app_id": "1234", "installation_id": "42"},
        admin_secret=Secret(private),
    )
    async with _client(handler) as client:
        off = await provider.revoke(client, cred)
        on = await provider.reenable(client, cred)
    assert off.state is ActionState.APPLIED and not off.irreversible, off
    assert on.state is ActionState.APPLIED, on
    assert [(r.method, r.url.path) for r in seen] == [
        ("PUT", "/app/installations/42/suspended"),
        ("DELETE", "/app/installations/42/suspended"),
    ]
    bearer = seen[0].headers["authorization"].removeprefix("Bearer ")
    assert INSTALLATION_TOKEN not in bearer  # as the app, not as the installation
    claims = jwt.decode(bearer, public, algorithms=["RS256"])
    assert claims["iss"] == "1234" and 0 < claims["exp"] - claims["iat"] <= 600


async def test_github_oauth_app_token_is_deleted_with_the_app_credentials():
    """https://docs.github.com/en/rest/apps/oauth-applications#delete-an-app-token: DELETE
    /applications/{client_id}/token, Basic auth client_id:client_secret, body {"access_token"}, 204."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    cred = Credential(
        Secret(OAUTH_TOKEN), base_url=GITHUB, extra={"client_id": "Ov23abc"}, admin_secret=Secret("s" * 40)
    )
    async with _client(handler) as client:
        result = await registry.get("github").revoke(client, cred)
    assert result.state is ActionState.APPLIED and result.irreversible, result
    (request,) = seen
    assert (request.method, request.url.path) == ("DELETE", "/applications/Ov23abc/token")
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"Ov23abc:" + b"s" * 40).decode()
    assert json.loads(request.content) == {"access_token": OAUTH_TOKEN}


async def test_github_oauth_token_without_the_app_secret_falls_back_to_credentials_revoke():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={})

    async with _client(handler) as client:
        result = await registry.get("github").revoke(client, Credential(Secret(OAUTH_TOKEN), base_url=GITHUB))
    assert result.state is ActionState.APPLIED
    assert [(r.method, r.url.path) for r in seen] == [("POST", "/credentials/revoke")]


# -- Microsoft Entra --------------------------------------------------------------------------------


def _graph_app_token(appid: str = "11111111-2222-3333-4444-555555555555") -> str:
    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    claims = {"aud": "https://graph.microsoft.com", "appid": appid, "roles": ["Mail.Send"], "exp": 4102444800}
    return f"{b64({'typ': 'JWT', 'alg': 'none'})}.{b64(claims)}.sig"


async def test_entra_service_principal_disable_and_enable_patch_account_enabled():
    """https://learn.microsoft.com/en-us/graph/api/serviceprincipal-update: PATCH
    /servicePrincipals(appId='{appId}') (or /servicePrincipals/{id}) with {"accountEnabled": false|true},
    204 No Content, with a token holding Application.ReadWrite.All."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    provider = registry.get("microsoft")
    token = _graph_app_token()
    kind = provider.recognise(token).kind
    assert kind == "Graph application token (JWT)"
    assert provider.reversible(kind) and provider.has_api(Verb.REENABLE, kind)
    assert not provider.has_api(Verb.RESTRICT, kind)  # application permissions: by hand in Entra
    cred = Credential(Secret(token), base_url="https://graph.test/v1.0", admin_secret=Secret("admin-token-xyz"))
    async with _client(handler) as client:
        off = await provider.revoke(client, cred)
        on = await provider.reenable(client, cred)
    assert off.state is ActionState.APPLIED and not off.irreversible, off
    assert "work until they expire" in off.message  # issued access tokens cannot be revoked
    assert on.state is ActionState.APPLIED, on
    path = "/v1.0/servicePrincipals(appId='11111111-2222-3333-4444-555555555555')"
    assert [(r.method, r.url.path, json.loads(r.content)) for r in seen] == [
        ("PATCH", path, {"accountEnabled": False}),
        ("PATCH", path, {"accountEnabled": True}),
    ]
    assert all(r.headers["authorization"] == "Bearer admin-token-xyz" for r in seen)


# -- HubSpot ------------------------------------------------------------------------------------------

HUBSPOT = "https://api.hubapi.test"


def _hubspot_cred(token: str = "refresh-token-1") -> Credential:
    return Credential(
        Secret(token),
        base_url=HUBSPOT,
        extra={"token_type": "oauth_refresh", "client_id": "cid"},
        admin_secret=Secret("client-secret-1"),
    )


async def test_hubspot_introspects_on_the_2026_03_api():
    """https://developers.hubspot.com/docs/api-reference/2026-03/authentication/oauth-tokens/token-introspect:
    POST /oauth/2026-03/token/introspect, form client_id, client_secret, token, token_type_hint; the
    answer is PublicRefreshTokenInfoResponse {active, app_id, client_id, hub_id, scopes, token,
    token_type, token_use, user_id, …}, or {"active": false} for a dead token."""
    seen: list[httpx.Request] = []
    answers = [
        {
            "active": True,
            "app_id": 7,
            "client_id": "cid",
            "hub_id": 62515,
            "scopes": ["oauth", "crm.objects.contacts.read"],
            "token": "refresh-token-1",
            "token_type": "bearer",
            "token_use": "refresh_token",
            "user_id": 1,
            "user": "ana@example.com",
        },
        {"active": False},
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=answers[len(seen) - 1])

    provider = registry.get("hubspot")
    async with _client(handler) as client:
        alive = await provider.probe(client, _hubspot_cred())
        dead = await provider.probe(client, _hubspot_cred())
    assert alive.outcome.value == "ok" and alive.identity == "ana@example.com"
    assert {g.scope for g in alive.grants} == {"oauth", "crm.objects.contacts.read"}
    assert dead.outcome.value == "invalid"
    request = seen[0]
    assert (request.method, request.url.path) == ("POST", "/oauth/2026-03/token/introspect")
    form = dict(x.split("=", 1) for x in request.content.decode().split("&"))
    assert form == {
        "client_id": "cid",
        "client_secret": "client-secret-1",
        "token": "refresh-token-1",
        "token_type_hint": "refresh_token",
    }


async def test_hubspot_revokes_a_refresh_token_on_the_current_api():
    """https://developers.hubspot.com/docs/api-reference/latest/authentication/oauth-tokens/revoke-token:
    POST /oauth/2026-03/token/revoke with the same form fields ("Deletes/Revokes provided Refresh Token")."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    provider = registry.get("hubspot")
    async with _client(handler) as client:
        result = await provider.revoke(client, _hubspot_cred())
    assert result.state is ActionState.APPLIED and result.irreversible, result
    (request,) = seen
    assert (request.method, request.url.path) == ("POST", "/oauth/2026-03/token/revoke")
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "token_type_hint=refresh_token" in request.content.decode()
    assert "/oauth/v1/" not in str(request.url)
