"""HubSpot in the sandbox (https://developers.hubspot.com/docs/api/private-apps,
https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/v1/get-oauth-token-metadata,
https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/v1/delete-oauth-v1-refresh-tokens-token).

``private_app`` records are ``pat-na1-…`` tokens; OAuth records (kinds ``oauth_access`` and
``oauth_refresh``, tokens from :func:`make_oauth_token`) are read through the token-metadata GETs,
and a refresh token is revoked with ``DELETE /oauth/v1/refresh-tokens/{token}``. Private-app
tokens have no revoke endpoint, as at HubSpot. ``meta["rate_limited"]`` makes calls 429.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

from connectors.sandbox.core import (
    SandboxRequest,
    SandboxResponse,
    SandboxState,
    TokenRecord,
    empty_response,
    json_response,
)

PREFIX = "hubspot"
HUB_ID = 62515
APP_ID = 456789
KINDS = {
    "private_app": [
        "crm.objects.contacts.read",
        "crm.objects.contacts.write",
        "crm.objects.deals.read",
        "transactional-email",
    ]
}
OAUTH_SCOPES = ["oauth", "crm.objects.contacts.read"]
# OAuth tokens, so the admin API can mint them too; an access token's meta["refresh_token"] ties it
# to the refresh token whose revocation ends it.
KINDS |= {"oauth_refresh": list(OAUTH_SCOPES), "oauth_access": list(OAUTH_SCOPES)}


def default_meta(kind: str) -> dict[str, str]:
    return {"client_id": "sandbox-client"} if kind == "oauth_refresh" else {}


def make_token(kind: str) -> str:
    if kind.startswith("oauth_"):
        return make_oauth_token(kind)
    h = secrets.token_hex(16)
    return f"pat-na1-SANDBOX{h[0]}-{h[1:5]}-{h[5:9]}-{h[9:13]}-{h[13:25]}"


def make_oauth_token(kind: str) -> str:
    """OAuth tokens have no recognisable shape; these only need to say SANDBOX."""
    return f"{'refresh' if kind == 'oauth_refresh' else 'access'}-SANDBOX-{uuid.uuid4()}"


def _headers(record: TokenRecord | None = None) -> dict[str, str]:
    headers = {
        "x-hubspot-ratelimit-max": "190",
        "x-hubspot-ratelimit-remaining": "189",
        "x-hubspot-ratelimit-interval-milliseconds": "10000",
        "x-hubspot-ratelimit-secondly": "19",
        "x-hubspot-ratelimit-secondly-remaining": "18",
    }
    if record is None or record.kind == "private_app":  # the daily headers are not sent for OAuth calls
        headers |= {"x-hubspot-ratelimit-daily": "500000", "x-hubspot-ratelimit-daily-remaining": "499999"}
    return headers


def _error(status: int, message: str, category: str, extra: dict[str, str] | None = None) -> SandboxResponse:
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}
    return json_response(status, body, {**_headers(), **(extra or {})})


def _limited(record: TokenRecord) -> SandboxResponse | None:
    if not record.meta.get("rate_limited"):
        return None
    body = {
        "status": "error",
        "message": "You have reached your ten_secondly_rolling limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": "TEN_SECONDLY_ROLLING",
    }
    return json_response(429, body, {**_headers(record), "x-hubspot-ratelimit-remaining": "0", "retry-after": "10"})


def _unauthorized() -> SandboxResponse:
    return _error(
        401,
        "Authentication credentials not found. This API supports OAuth 2.0 authentication.",
        "INVALID_AUTHENTICATION",
    )


def _bearer_record(req: SandboxRequest, state: SandboxState) -> TokenRecord | None:
    record = state.get(req.bearer(), PREFIX)
    return record if record is not None and record.live and record.kind != "oauth_refresh" else None


def usage(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record = _bearer_record(req, state)
    if record is None:
        return _unauthorized()
    if (limited := _limited(record)) is not None:
        return limited
    today = datetime.now(UTC)
    return json_response(
        200,
        {
            "results": [
                {
                    "name": "private-apps-api-calls-daily",
                    "usageLimit": 500000,
                    "currentUsage": 1,
                    "fetchStatus": "SUCCESS",
                    "collectedAt": today.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "resetsAt": today.replace(hour=23, minute=59, second=59).strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            ]
        },
        _headers(record),
    )


def account_details(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``GET /account-info/v3/details``: the account (portal) a token belongs to, the ``hubId`` the
    token metadata names (https://developers.hubspot.com/docs/api-reference/account-account-info-v3/account-information/get-account-info-v3-details)."""
    record = _bearer_record(req, state)
    if record is None:
        return _unauthorized()
    if (limited := _limited(record)) is not None:
        return limited
    body = {
        "portalId": record.meta.get("hub_id", HUB_ID),
        "accountType": "STANDARD",
        "timeZone": "US/Eastern",
        "companyCurrency": "USD",
        "additionalCurrencies": [],
        "utcOffset": "-05:00",
        "utcOffsetMilliseconds": -18000000,
        "uiDomain": "app.hubspot.com",
        "dataHostingLocation": "na1",
    }
    return json_response(200, body, _headers(record))


def token_info(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``POST /oauth/v2/private-apps/get/access-token-info`` with ``{"tokenKey": …}``."""
    body = req.json() if isinstance(req.json(), dict) else {}
    record = state.get(body.get("tokenKey"), PREFIX)
    if record is None or not record.live or record.kind != "private_app":
        return _unauthorized()
    if (limited := _limited(record)) is not None:
        return limited
    return json_response(
        200,
        {
            "userId": 123456,
            "hubId": record.meta.get("hub_id", HUB_ID),
            "appId": record.meta.get("app_id", APP_ID),
            "scopes": list(record.scopes),
        },
        _headers(record),
    )


def _oauth_record(state: SandboxState, token: str, kind: str) -> TokenRecord | None:
    record = state.get(token, PREFIX)
    return record if record is not None and record.live and record.kind == kind else None


def _token_fields(record: TokenRecord) -> dict:
    """What v1's token metadata (access and refresh) and 2026-03's introspection both answer."""
    return {
        "token": record.token,
        "user": f"{record.identity}@sandbox.invalid",
        "hub_domain": "sandbox.hubspot.invalid",
        "scopes": list(record.scopes),
        "hub_id": HUB_ID,
        "user_id": 123456,
    }


def _expires_in(record: TokenRecord) -> int:
    """Seconds an access token has left (HubSpot's are issued for 30 minutes)."""
    if record.expires_at is None:
        return 1800
    return max(0, int((record.expires_at - datetime.now(UTC)).total_seconds()))


def access_token_info(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record = _oauth_record(state, match.group("token"), "oauth_access")
    if record is None:
        return _error(404, "The access token was not found or has expired.", "OBJECT_NOT_FOUND")
    body = _token_fields(record) | {
        "app_id": APP_ID,
        "expires_in": _expires_in(record),
        "token_type": "access",
        "is_private_distribution": False,
    }
    return json_response(200, body, _headers(record))


def refresh_token_info(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record = _oauth_record(state, match.group("token"), "oauth_refresh")
    if record is None:
        return _error(404, "The refresh token was not found.", "OBJECT_NOT_FOUND")
    body = _token_fields(record) | {
        "client_id": record.meta.get("client_id", "sandbox-client"),
        "token_type": "refresh",
    }
    return json_response(200, body, _headers(record))


def revoke_refresh_token(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """The OAuth kill switch; its access tokens (``meta["refresh_token"]``) die with it."""
    record = _oauth_record(state, match.group("token"), "oauth_refresh")
    if record is None:
        return _error(404, "The refresh token was not found.", "OBJECT_NOT_FOUND")
    state.revoke(record.token)
    for other in list(state.tokens.values()):
        if other.provider == PREFIX and other.meta.get("refresh_token") == record.token:
            state.revoke(other.token)
    return empty_response(204, _headers(record))


# -- OAuth, the date-versioned API (2026-03) that replaces v1 (sunset 2027-02-16) -----------------------
# https://developers.hubspot.com/docs/api-reference/2026-03/authentication/oauth-tokens/token-introspect and
# https://developers.hubspot.com/docs/api-reference/latest/authentication/oauth-tokens/revoke-token: form
# bodies with the app's client_id and client_secret, the token and a token_type_hint. An app's client
# secret is a record of kind "oauth_client" (its token the secret, meta client_id).


def register_client(state: SandboxState, client_id: str = "sandbox-client") -> TokenRecord:
    """An OAuth app the sandbox knows; the record's token is its client secret."""
    return state.add(
        TokenRecord(
            token=f"client-secret-SANDBOX-{uuid.uuid4()}",
            provider=PREFIX,
            kind="oauth_client",
            identity=f"app {client_id}",
            meta={"client_id": client_id},
        )
    )


def _client_of(req: SandboxRequest, state: SandboxState) -> tuple[str, SandboxResponse | None]:
    form = req.form()
    record = state.get(form.get("client_secret"), PREFIX)
    if record is None or record.kind != "oauth_client" or record.meta.get("client_id") != form.get("client_id"):
        return "", _error(401, "Invalid client credentials.", "INVALID_AUTHENTICATION")
    return str(record.meta["client_id"]), None


def _app_token(state: SandboxState, req: SandboxRequest, client_id: str) -> TokenRecord | None:
    """The live OAuth token of the form's ``token``, issued to ``client_id`` (an access token belongs to
    the app of the refresh token it came from)."""
    record = state.get(req.form().get("token"), PREFIX)
    if record is None or not record.live or record.kind not in ("oauth_access", "oauth_refresh"):
        return None
    if record.kind == "oauth_access":
        parent = state.get(record.meta.get("refresh_token"), PREFIX)
        owner = parent.meta.get("client_id") if parent is not None else record.meta.get("client_id", "sandbox-client")
    else:
        owner = record.meta.get("client_id", "sandbox-client")
    return record if owner == client_id else None


def introspect(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``POST /oauth/2026-03/token/introspect``: ``{"active": false}`` for a token the app does not know
    (RFC 7662), else PublicAccessTokenInfoResponse / PublicRefreshTokenInfoResponse."""
    client_id, refusal = _client_of(req, state)
    if refusal is not None:
        return refusal
    record = _app_token(state, req, client_id)
    if record is None:
        return json_response(200, {"active": False})
    body = {"active": True} | _token_fields(record) | {"app_id": APP_ID, "client_id": client_id}
    if record.kind == "oauth_access":
        body |= {"token_type": "bearer", "token_use": "access_token", "expires_in": _expires_in(record)}
        body["is_private_distribution"] = False
    else:
        body |= {"token_type": "bearer", "token_use": "refresh_token"}
    return json_response(200, body, _headers(record))


def revoke_token(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``POST /oauth/2026-03/token/revoke``: deletes the refresh token (its access tokens die with it)."""
    client_id, refusal = _client_of(req, state)
    if refusal is not None:
        return refusal
    record = _app_token(state, req, client_id)
    if record is None or record.kind != "oauth_refresh":
        return _error(400, "The refresh token was not found.", "VALIDATION_ERROR")
    state.revoke(record.token)
    for other in list(state.tokens.values()):
        if other.provider == PREFIX and other.meta.get("refresh_token") == record.token:
            state.revoke(other.token)
    return empty_response(204, _headers(record))


def refresh(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``POST /oauth/2026-03/token`` with ``grant_type=refresh_token``: a form with the client in the
    body (https://developers.hubspot.com/docs/api-reference/2026-03/authentication/oauth-tokens/refresh-oauth-token);
    a new 30-minute access token, the refresh token unchanged."""
    form = req.form()
    if form.get("grant_type") != "refresh_token":
        return _error(400, "grant_type must be refresh_token", "BAD_GRANT_TYPE")
    record = _oauth_record(state, form.get("refresh_token") or "", "oauth_refresh")
    if record is None:
        return _error(400, "missing or unknown refresh token", "BAD_REFRESH_TOKEN")
    if form.get("client_id") != record.meta.get("client_id") or not form.get("client_secret"):
        return _error(400, "missing or invalid client credentials", "BAD_CLIENT_ID")
    access = state.add(
        TokenRecord(
            token=make_oauth_token("oauth_access"),
            provider=PREFIX,
            kind="oauth_access",
            identity=record.identity,
            scopes=list(record.scopes),
            meta={"refresh_token": record.token},
        )
    )
    body = {"token_type": "bearer", "refresh_token": record.token, "access_token": access.token, "expires_in": 1800}
    return json_response(200, body)


ROUTES = [
    ("POST", r"/oauth/2026-03/token/introspect", introspect),
    ("POST", r"/oauth/2026-03/token/revoke", revoke_token),
    ("POST", r"/oauth/2026-03/token", refresh),
    ("GET", r"/account-info/v3/api-usage/daily/private-apps", usage),
    ("GET", r"/account-info/v3/details", account_details),
    ("POST", r"/oauth/v2/private-apps/get/access-token-info", token_info),
    ("GET", r"/oauth/v1/access-tokens/(?P<token>[^/]+)", access_token_info),
    ("GET", r"/oauth/v1/refresh-tokens/(?P<token>[^/]+)", refresh_token_info),
    ("DELETE", r"/oauth/v1/refresh-tokens/(?P<token>[^/]+)", revoke_refresh_token),
]
