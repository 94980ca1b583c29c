"""Sandbox Microsoft Graph: JWT-shaped access tokens, /me, /organization, permission grants and
revokeSignInSessions.

Shapes follow https://learn.microsoft.com/en-us/graph/api/user-get,
…/graph/api/oauth2permissiongrant-get, …/oauth2permissiongrant-update,
…/user-revokesigninsessions and the error format at https://learn.microsoft.com/en-us/graph/errors.

Tokens are unsigned JWTs (``alg: none``) whose payload carries ``aud``, ``scp`` or ``roles``, ``oid``
and a ``xms_sandbox`` claim; the signature segment starts with SANDBOX so the raw string says so.
As at Graph, what a token may do comes from its own claims. The token's record holds the
delegated *grant* (its ``key_id`` is the oauth2PermissionGrant id, its ``scopes`` the grant's
scope): narrowing the grant does not change tokens already issued.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import unquote

from connectors.sandbox.core import (
    SandboxRequest,
    SandboxResponse,
    SandboxState,
    TokenRecord,
    empty_response,
    json_response,
)

PREFIX = "microsoft"
# The prefix stands for graph.microsoft.com; the API versions are its first path segment, /v1.0
# and /beta (https://learn.microsoft.com/en-us/graph/use-the-api#version), and both are served.
API_PATH = "/v1.0"
VERSION = r"/(?P<version>v1\.0|beta)"
GRAPH = "https://graph.microsoft.com"  # the token audience (aud), not a URL the sandbox answers at
TENANT = "5a4db0c0-0000-4000-8000-00000000cafe"
APP_ID = "5a4db0c0-0000-4000-8000-0000000000a1"
GRAPH_SP = "5a4db0c0-0000-4000-8000-000000000001"  # the tenant's Microsoft Graph service principal

KINDS: dict[str, list[str]] = {
    "delegated": ["User.Read", "Mail.ReadWrite", "Mail.Send", "offline_access"],
    "delegated_drafts": ["User.Read", "Mail.ReadWrite", "offline_access"],
    "application": ["Mail.Send", "Organization.Read.All"],
    # An administrator's token: it may narrow grants and revoke other users' sessions.
    "admin": ["User.Read", "DelegatedPermissionGrant.ReadWrite.All", "User.RevokeSessions.All"],
    # A refresh token (not a JWT): the identity platform's token endpoint trades it for access tokens.
    "refresh": ["User.Read", "Mail.ReadWrite", "Mail.Send", "offline_access"],
}


def default_meta(kind: str) -> dict[str, str]:
    """A refresh token belongs to an app registration (its client id)."""
    return {"client_id": APP_ID} if kind == "refresh" else {}


READ_GRANTS = {
    "DelegatedPermissionGrant.Read.All",
    "DelegatedPermissionGrant.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
}
WRITE_GRANTS = {"DelegatedPermissionGrant.ReadWrite.All", "Directory.ReadWrite.All"}
REVOKE_SESSIONS = {"User.RevokeSessions.All", "Directory.ReadWrite.All"}
READ_ORG = {
    "Organization.Read.All",
    "Organization.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "User.Read",
}


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def user_oid(identity: str) -> str:
    """A stable object id per identity, so two tokens of one user share an ``oid``."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"breaker-sandbox:{identity}"))


def make_token(
    kind: str, scopes: list[str] | None = None, identity: str | None = None, lifetime_s: int = 30 * 24 * 3600
) -> str:
    """An unsigned Graph-shaped JWT. ``scopes`` default to the kind's; tests pass their own.

    The claims are fixed when the token is made, as at Graph: a record minted with other scopes
    than these keeps them as its grant, while the token keeps what it was issued with.
    """
    if kind == "refresh":  # opaque, like the identity platform's ("0.A…")
        return "0.ASANDBOX" + secrets.token_urlsafe(96)
    scopes = list(KINDS.get(kind, KINDS["delegated"]) if scopes is None else scopes)
    identity = identity or ("sandbox-admin" if kind == "admin" else "sandbox-user")
    now = int(time.time())
    payload: dict = {
        "aud": GRAPH,
        "iss": f"https://sts.windows.net/{TENANT}/",
        "iat": now,
        "nbf": now,
        "exp": now + lifetime_s,
        "tid": TENANT,
        "appid": APP_ID,
        "app_displayname": "Breaker Sandbox App",
        "azpacr": "1",
        "ver": "1.0",
        "xms_sandbox": f"SANDBOX-{secrets.token_hex(4)}",
    }
    if kind == "application":
        payload.update(roles=scopes, oid=user_oid("app:" + APP_ID), idtyp="app")
    else:
        payload.update(
            scp=" ".join(scopes), oid=user_oid(identity), upn=f"{identity}@sandbox.example", name="Sandbox User"
        )
    header = {"typ": "JWT", "alg": "none", "kid": "SANDBOX"}
    return f"{_b64(header)}.{_b64(payload)}.SANDBOX{secrets.token_hex(16)}"


def claims_of(token: str) -> dict:
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        data = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def identity_of(token: str) -> str | None:
    """The identity a delegated token was made for (its upn before the @); the server's mint copies it
    into the record, so an admin token minted without an identity is "sandbox-admin" on both sides."""
    upn = claims_of(token).get("upn")
    return upn.split("@")[0] if isinstance(upn, str) and upn else None


def _permissions(claims: dict) -> set[str]:
    return set(str(claims.get("scp") or "").split()) | set(claims.get("roles") or [])


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> SandboxResponse:
    inner = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": str(uuid.uuid4()),
        "client-request-id": str(uuid.uuid4()),
    }
    return json_response(status, {"error": {"code": code, "message": message, "innerError": inner}}, headers)


def _caller(req: SandboxRequest, state: SandboxState) -> tuple[TokenRecord | None, dict, SandboxResponse | None]:
    """The calling token and its claims, or Graph's 401."""
    record = state.get(req.bearer(), PREFIX)
    claims = claims_of(record.token) if record is not None else {}
    challenge = {
        "www-authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/'
        'oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"'
    }
    if record is None or not record.live or claims.get("aud") not in (GRAPH, GRAPH + "/"):
        return None, {}, _error(401, "InvalidAuthenticationToken", "Access token validation failure.", challenge)
    exp = claims.get("exp")
    if (isinstance(exp, (int, float)) and exp <= time.time()) or (
        record.expires_at is not None and record.expires_at <= datetime.now(UTC)
    ):
        return (
            None,
            {},
            _error(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.", challenge),
        )
    return record, claims, None


def _denied() -> SandboxResponse:
    return _error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


def get_me(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, claims, failure = _caller(req, state)
    if failure is not None:
        return failure
    if "scp" not in claims:
        return _error(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
    if not any(p.startswith(("User.", "Directory.")) for p in _permissions(claims)):
        return _denied()
    return json_response(200, _user_object(req, match, claims, record.identity))


READ_USERS = {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}


def get_user(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``GET /users/{id | userPrincipalName}`` (https://learn.microsoft.com/en-us/graph/api/user-get):
    what a client follows from ``/me``'s ``id``. Oneself with ``User.Read``; anyone else needs
    ``User.Read.All`` (or a directory permission)."""
    record, claims, failure = _caller(req, state)
    if failure is not None:
        return failure
    user = unquote(match["user"])
    if user in (claims.get("oid"), claims.get("upn")) and "scp" in claims:
        if not any(p.startswith(("User.", "Directory.")) for p in _permissions(claims)):
            return _denied()
        return json_response(200, _user_object(req, match, claims, record.identity))
    if not _permissions(claims) & READ_USERS:
        return _denied()
    for other in list(state.tokens.values()):
        theirs = claims_of(other.token) if other.provider == PREFIX else {}
        if user in (theirs.get("oid"), theirs.get("upn")):
            return json_response(200, _user_object(req, match, theirs, other.identity))
    return _missing(user)


def _user_object(req: SandboxRequest, match, claims: dict, identity: str) -> dict:
    upn = claims.get("upn") or f"{identity}@sandbox.example"
    return {
        "@odata.context": _context(req, match, "users/$entity"),
        "businessPhones": [],
        "displayName": claims.get("name", "Sandbox User"),
        "givenName": "Sandbox",
        "jobTitle": None,
        "mail": upn,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": "en-US",
        "surname": "User",
        "userPrincipalName": upn,
        "id": claims.get("oid", user_oid(identity)),
    }


def get_organization(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, claims, failure = _caller(req, state)
    if failure is not None:
        return failure
    if not _permissions(claims) & READ_ORG:
        return _denied()
    return json_response(
        200,
        {
            "@odata.context": _context(req, match, "organization"),
            "value": [
                {
                    "id": TENANT,
                    "displayName": "Sandbox Organisation",
                    "tenantType": "AAD",
                    "verifiedDomains": [
                        {
                            "capabilities": "Email, OfficeCommunicationsOnline",
                            "isDefault": True,
                            "isInitial": True,
                            "name": "sandbox.example",
                            "type": "Managed",
                        }
                    ],
                }
            ],
        },
    )


def _grant_records(state: SandboxState, grant_id: str) -> list[TokenRecord]:
    return [r for r in list(state.tokens.values()) if r.provider == PREFIX and r.key_id == grant_id]


def _context(req: SandboxRequest, match, what: str) -> str:
    """The ``@odata.context`` URL, on the sandbox's own prefix and the version that was asked."""
    return req.url(f"/{match['version']}/$metadata#{what}")


def _grant_object(req: SandboxRequest, match, record: TokenRecord) -> dict:
    claims = claims_of(record.token)
    return {
        "@odata.context": _context(req, match, "oauth2PermissionGrants/$entity"),
        "clientId": APP_ID,
        "consentType": "Principal",
        "id": record.key_id,
        "principalId": claims.get("oid"),
        "resourceId": GRAPH_SP,
        "scope": " ".join(record.scopes),
    }


def _missing(object_id: str) -> SandboxResponse:
    return _error(
        404,
        "Request_ResourceNotFound",
        f"Resource '{object_id}' does not exist or one of its queried reference-property objects are not present.",
    )


def get_grant(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, claims, failure = _caller(req, state)
    if failure is not None:
        return failure
    if not _permissions(claims) & READ_GRANTS:
        return _denied()
    grant_id = unquote(match["id"])
    grants = _grant_records(state, grant_id)
    return json_response(200, _grant_object(req, match, grants[0])) if grants else _missing(grant_id)


def patch_grant(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, claims, failure = _caller(req, state)
    if failure is not None:
        return failure
    if not _permissions(claims) & WRITE_GRANTS:
        return _denied()
    grant_id = unquote(match["id"])
    grants = _grant_records(state, grant_id)
    if not grants:
        return _missing(grant_id)
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("scope"), str):
        return _error(400, "Request_BadRequest", "Invalid value specified for property 'scope'.")
    for grant in grants:  # the grant changes; tokens already issued keep their claims
        grant.scopes = body["scope"].split()
    return empty_response(204)


def revoke_sessions(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, claims, failure = _caller(req, state)
    if failure is not None:
        return failure
    if not _permissions(claims) & REVOKE_SESSIONS:
        return _denied()
    user = unquote(match["user"])
    targets = [
        r
        for r in list(state.tokens.values())
        if r.provider == PREFIX and user in (claims_of(r.token).get("oid"), claims_of(r.token).get("upn"))
    ]
    if not targets:
        return _missing(user)
    # ❓ unconfirmed: real Graph lets issued access tokens live until exp unless the client is
    # CAE-capable; the sandbox behaves like a CAE client so the next probe shows the change.
    for target in targets:
        state.revoke(target.token)
    return json_response(200, {"@odata.context": _context(req, match, "Edm.Boolean"), "value": True})


MANAGE_APPS = {"Application.ReadWrite.All", "Directory.ReadWrite.All"}


def _service_principal(state: SandboxState, app_id: str) -> TokenRecord:
    """The tenant's service principal of ``app_id`` (a record of kind ``service_principal`` whose meta
    holds ``accountEnabled``), made on first use."""
    handle = f"sp-SANDBOX-{app_id}"
    record = state.get(handle, PREFIX)
    if record is None:
        record = state.add(
            TokenRecord(
                token=handle,
                provider=PREFIX,
                kind="service_principal",
                identity="Breaker Sandbox App",
                key_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"breaker-sandbox-sp:{app_id}")),
                meta={"appId": app_id, "accountEnabled": True},
            )
        )
    return record


def _sp_of(state: SandboxState, match) -> TokenRecord | None:
    if match["appid"]:
        return _service_principal(state, unquote(match["appid"]))
    wanted = unquote(match["id"])
    for record in list(state.tokens.values()):
        if record.provider == PREFIX and record.kind == "service_principal" and record.key_id == wanted:
            return record
    return _service_principal(state, APP_ID) if wanted == _service_principal(state, APP_ID).key_id else None


def _sp_object(req: SandboxRequest, match, sp: TokenRecord) -> dict:
    return {
        "@odata.context": _context(req, match, "servicePrincipals/$entity"),
        "id": sp.key_id,
        "appId": sp.meta["appId"],
        "displayName": sp.identity,
        "accountEnabled": bool(sp.meta.get("accountEnabled", True)),
        "servicePrincipalType": "Application",
    }


def get_service_principal(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``GET /servicePrincipals/{id}`` or ``(appId='{appId}')`` (https://learn.microsoft.com/en-us/graph/api/serviceprincipal-get)."""
    record, claims, failure = _caller(req, state)
    if failure is not None:
        return failure
    if not _permissions(claims) & (MANAGE_APPS | {"Application.Read.All", "Directory.Read.All"}):
        return _denied()
    sp = _sp_of(state, match)
    return json_response(200, _sp_object(req, match, sp)) if sp is not None else _missing(match["id"] or "")


def patch_service_principal(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``PATCH /servicePrincipals/{id}`` or ``(appId='{appId}')`` with ``accountEnabled``: 204
    (https://learn.microsoft.com/en-us/graph/api/serviceprincipal-update). Disabled, Entra issues no new
    token for the app; tokens already issued keep working until they expire, as at Entra (access
    tokens cannot be revoked)."""
    record, claims, failure = _caller(req, state)
    if failure is not None:
        return failure
    if not _permissions(claims) & MANAGE_APPS:
        return _denied()
    sp = _sp_of(state, match)
    if sp is None:
        return _missing(match["id"] or "")
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("accountEnabled"), bool):
        return _error(400, "Request_BadRequest", "Invalid value specified for property 'accountEnabled'.")
    sp.meta["accountEnabled"] = body["accountEnabled"]
    return empty_response(204)


SP = VERSION + r"/servicePrincipals(?:/(?P<id>[^/(]+)|\(appId='(?P<appid>[^']+)'\))"


def _token_error(code: str, description: str, status: int = 400) -> SandboxResponse:
    return json_response(status, {"error": code, "error_description": description, "error_codes": [], "timestamp": ""})


def token(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``POST /{tenant}/oauth2/v2.0/token`` with ``grant_type=refresh_token`` at the identity platform
    (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token):
    the form's client_id, client_secret, refresh_token and scope; the answer always carries a new
    refresh token (the old one stays valid until it expires, as there)."""
    form = req.form()
    if form.get("grant_type") != "refresh_token":
        return _token_error("unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
    if not form.get("scope"):
        return _token_error("invalid_request", "AADSTS900144: The request body must contain the parameter: 'scope'.")
    record = state.get(form.get("refresh_token"), PREFIX)
    if record is None or not record.live or record.kind != "refresh":
        return _token_error("invalid_grant", "AADSTS9002313: Invalid request. The refresh token is invalid or revoked.")
    # A single-tenant app's refresh token (meta 'tenant': its tenant ID, 'domains': its domain names, commas)
    # is redeemed at its own tenant only; /common is refused as the identity platform refuses it.
    own = record.meta.get("tenant")
    asked = unquote(match["tenant"]).lower()
    if own and asked not in {own.lower(), *str(record.meta.get("domains", "")).lower().split(",")}:
        if asked in ("common", "organizations", "consumers"):
            return _token_error(
                "invalid_request",
                "AADSTS50194: Application is not configured as a multi-tenant application. Usage of the "
                f"/{asked} endpoint is not supported for such applications. Use a tenant-specific endpoint.",
            )
        return _token_error("invalid_client", f"AADSTS700016: Application not found in the directory '{asked}'.")
    if form.get("client_id") != record.meta.get("client_id") or not form.get("client_secret"):
        return _token_error("invalid_client", "AADSTS7000215: Invalid client secret provided.", 401)
    lifetime = int(record.meta.get("expires_in", 3599))
    access = make_token("delegated", scopes=list(record.scopes), identity=record.identity, lifetime_s=lifetime)
    state.add(
        TokenRecord(
            token=access,
            provider=PREFIX,
            kind="delegated",
            identity=record.identity,
            scopes=list(record.scopes),
            key_id=record.key_id,  # the same delegated grant
            meta={"refresh_token": record.token},
        )
    )
    rotated = state.successor(record, make_token("refresh"))
    body = {
        "token_type": "Bearer",
        "scope": " ".join(s for s in record.scopes if s != "offline_access"),
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access,
        "refresh_token": rotated.token,
    }
    return json_response(200, body, {"cache-control": "no-store, no-cache"})


ROUTES = [
    ("POST", r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token", token),
    ("GET", VERSION + r"/me", get_me),
    ("GET", VERSION + r"/organization", get_organization),
    ("GET", VERSION + r"/users/(?P<user>[^/]+)", get_user),
    ("GET", VERSION + r"/oauth2PermissionGrants/(?P<id>[^/]+)", get_grant),
    ("PATCH", VERSION + r"/oauth2PermissionGrants/(?P<id>[^/]+)", patch_grant),
    ("POST", VERSION + r"/users/(?P<user>[^/]+)/revokeSignInSessions", revoke_sessions),
    ("GET", SP, get_service_principal),
    ("PATCH", SP, patch_service_principal),
]
