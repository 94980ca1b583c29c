"""Sandbox Google: tokeninfo, revoke, a small Gmail mailbox, and the Gemini models list for API keys.

Shapes follow https://developers.google.com/identity/protocols/oauth2 (tokeninfo: the fields
Google's Node client library reads — aud, azp, sub, scope, exp, expires_in, email, email_verified,
access_type; revoke: https://developers.google.com/identity/protocols/oauth2/web-server#tokenrevoke),
the Gemini models list (https://ai.google.dev/api/models#method:-models.list) and Google's API
error format for a bad API key (https://cloud.google.com/apis/design/errors).
tokeninfo accepts the token as a query or form ``access_token`` or a Bearer header, as Google does.
The mailbox (messages.list, drafts.create, drafts.get, drafts.send, messages.send) checks each method's scopes as
Gmail's reference lists them and keeps drafts and "sent" messages in memory: nothing leaves the
machine, and the demo can show a draft-only connector writing drafts through the gateway.
"""

from __future__ import annotations

import base64
import secrets
import string
import time
from datetime import UTC, datetime, timedelta

from connectors.sandbox.core import SandboxRequest, SandboxResponse, SandboxState, TokenRecord, json_response

PREFIX = "google"

G = "https://www.googleapis.com/auth/"
KINDS: dict[str, list[str]] = {
    "oauth": [G + "gmail.readonly", G + "gmail.compose", G + "userinfo.email", "openid"],
    "api_key": [],
    # A refresh token: POST /token trades it for access tokens (what google-auth's refresh() does).
    "refresh": [G + "gmail.readonly", G + "gmail.compose", G + "userinfo.email", "openid"],
}
CLIENT_ID = "000000000000-sandbox.apps.googleusercontent.com"
_B64URL = string.ascii_letters + string.digits + "_-"


def _random(n: int) -> str:
    return "".join(secrets.choice(_B64URL) for _ in range(n))


def make_token(kind: str) -> str:
    if kind == "api_key":
        return "AIzaSy" + "SANDBOX" + _random(26)  # AIza + 35 characters, like a real key
    if kind == "refresh":
        return "1//SANDBOX" + _random(90)
    return "ya29.SANDBOX" + _random(80)


def _live(record: TokenRecord | None) -> bool:
    if record is None or not record.live:
        return False
    return record.expires_at is None or record.expires_at > datetime.now(UTC)


def tokeninfo(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record = state.get(req.arg("access_token") or req.bearer(), PREFIX)
    if not _live(record) or record.token.startswith("AIza") or record.kind == "refresh":
        return json_response(400, {"error": "invalid_token", "error_description": "Invalid Value"})
    now = int(time.time())
    exp = int(record.expires_at.timestamp()) if record.expires_at else _rolling_exp(record, now)
    body = {
        "azp": CLIENT_ID,
        "aud": CLIENT_ID,
        "sub": "100000000000000000001",
        "scope": " ".join(record.scopes),
        "exp": str(exp),
        "expires_in": str(max(0, exp - now)),
        "email": f"{record.identity}@sandbox.example",
        "email_verified": "true",
        "access_type": "offline",
    }
    return json_response(200, body)


def _rolling_exp(record: TokenRecord, now: int) -> int:
    """The expiry of a token minted without one. Google access tokens live an hour
    (https://developers.google.com/identity/protocols/oauth2#expiration); a sandbox token without an
    expiry stands for one its agent keeps refreshing. Its ``exp`` is fixed for each hour after it
    was minted (created + 3599 s, then the next hour's), so repeated probes agree on it instead of
    moving it to now + 3599 each call."""
    first = int(record.created_at.timestamp()) + 3599
    hours = max(0, -(-(now - first) // 3600))  # whole hours past the first expiry, rounded up
    return first + 3600 * hours


def revoke(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record = state.get(req.arg("token"), PREFIX)
    if not _live(record):
        return json_response(400, {"error": "invalid_token", "error_description": "Token expired or revoked"})
    # "If the token is an access token and it has a corresponding refresh token, the refresh token
    # will also be revoked" (https://developers.google.com/identity/protocols/oauth2/web-server#tokenrevoke);
    # the access tokens of a revoked refresh token end with it.
    grant = record.meta.get("refresh_token") or (record.token if record.kind == "refresh" else None)
    state.revoke(record.token)
    for other in list(state.tokens.values()):
        if grant and other.provider == PREFIX and grant in (other.token, other.meta.get("refresh_token")):
            state.revoke(other.token)
    return SandboxResponse(200, b"", {"content-type": "application/json; charset=utf-8"})


def token(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``POST /token`` with ``grant_type=refresh_token``: a fresh access token for a refresh token
    (https://developers.google.com/identity/protocols/oauth2/web-server#offline)."""
    form = req.form()
    if form.get("grant_type") != "refresh_token":
        return json_response(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
    if form.get("client_id") != CLIENT_ID or not form.get("client_secret"):
        return json_response(401, {"error": "invalid_client", "error_description": "The OAuth client was not found."})
    record = state.get(form.get("refresh_token"), PREFIX)
    if not _live(record) or record.kind != "refresh":
        return json_response(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
    rotated = None
    if record.meta.get("rotates"):
        # "The authorization server MAY issue a new refresh token, in which case the client MUST
        # discard the old refresh token" (RFC 6749 §6, https://www.rfc-editor.org/rfc/rfc6749#section-6):
        # meta["rotates"] makes this sandbox do so, as providers that rotate refresh tokens do.
        rotated = state.successor(
            record, make_token("refresh"), {"rotates": True, "client_id": record.meta.get("client_id")}
        )
        state.revoke(record.token)
    fresh = state.add(
        TokenRecord(
            token=make_token("oauth"),
            provider=PREFIX,
            kind="oauth",
            identity=record.identity,
            scopes=list(record.scopes),
            expires_at=datetime.now(UTC) + timedelta(seconds=int(record.meta.get("expires_in", 3599))),
            meta={"refresh_token": (rotated or record).token},
        )
    )
    body = {
        "access_token": fresh.token,
        "expires_in": int(record.meta.get("expires_in", 3599)),
        "scope": " ".join(fresh.scopes),
        "token_type": "Bearer",
    }
    if rotated is not None:
        body["refresh_token"] = rotated.token
    return json_response(200, body, {"cache-control": "no-cache, no-store, max-age=0, must-revalidate"})


def profile(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``GET /gmail/v1/users/{userId}/profile``
    (https://developers.google.com/gmail/api/reference/rest/v1/users/getProfile) for a live access token."""
    record = state.get(req.bearer(), PREFIX)
    if not _live(record) or record.kind != "oauth":
        return json_response(
            401,
            {
                "error": {
                    "code": 401,
                    "message": "Request had invalid authentication credentials.",
                    "status": "UNAUTHENTICATED",
                }
            },
        )
    return json_response(
        200,
        {"emailAddress": f"{record.identity}@sandbox.example", "messagesTotal": 3, "threadsTotal": 2, "historyId": "1"},
    )


# The scopes that allow each mailbox method, from its "Authorization scopes" section:
# https://developers.google.com/gmail/api/reference/rest/v1/users.messages/list,
# https://developers.google.com/gmail/api/reference/rest/v1/users.drafts/create,
# https://developers.google.com/gmail/api/reference/rest/v1/users.drafts/send,
# https://developers.google.com/gmail/api/reference/rest/v1/users.drafts/get,
# https://developers.google.com/gmail/api/reference/rest/v1/users.messages/send
_FULL = ["https://mail.google.com/", G + "gmail.modify"]
READ_SCOPES = [*_FULL, G + "gmail.readonly", G + "gmail.metadata"]
DRAFT_SCOPES = [*_FULL, G + "gmail.compose"]
SEND_SCOPES = [*DRAFT_SCOPES, G + "gmail.send"]
DRAFT_GET_SCOPES = [*DRAFT_SCOPES, G + "gmail.readonly"]


def _mailbox_caller(req: SandboxRequest, state: SandboxState, allowed: list[str]) -> dict | SandboxResponse:
    """The caller's mailbox when the Bearer token is a live access token holding one of ``allowed``;
    else Gmail's error (https://developers.google.com/gmail/api/guides/handle-errors)."""
    record = state.get(req.bearer(), PREFIX)
    if record is None or not _live(record) or record.kind != "oauth":
        return json_response(
            401,
            {
                "error": {
                    "code": 401,
                    "message": "Request had invalid authentication credentials.",
                    "status": "UNAUTHENTICATED",
                }
            },
        )
    if not set(allowed) & set(record.scopes):
        return json_response(
            403,
            {
                "error": {
                    "code": 403,
                    "message": "Request had insufficient authentication scopes.",
                    "errors": [
                        {"message": "Insufficient Permission", "domain": "global", "reason": "insufficientPermissions"}
                    ],
                    "status": "PERMISSION_DENIED",
                }
            },
        )
    return _mailbox(state, record.identity)


def _raw_required() -> SandboxResponse:
    return json_response(
        400,
        {
            "error": {
                "code": 400,
                "message": "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
                "status": "INVALID_ARGUMENT",
            }
        },
    )


def _mailbox(state: SandboxState, record_identity: str) -> dict:
    """The account's drafts (by id) and sent messages (oldest first)."""
    return state.kept(f"gmail:{record_identity}", lambda: {"drafts": {}, "sent": []})


def _message(labels: list[str]) -> dict:
    return {"id": _random(16).lower(), "threadId": _random(16).lower(), "labelIds": labels}


def list_messages(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``GET /gmail/v1/users/{userId}/messages``: the sandbox mailbox's sent messages, newest first."""
    box = _mailbox_caller(req, state, READ_SCOPES)
    if isinstance(box, SandboxResponse):
        return box
    listed = [{"id": m["id"], "threadId": m["threadId"]} for m in reversed(box["sent"])]
    return json_response(
        200, {"messages": listed, "resultSizeEstimate": len(listed)} if listed else {"resultSizeEstimate": 0}
    )


def create_draft(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``POST /gmail/v1/users/{userId}/drafts`` with a Draft (``{"message": {"raw": …}}``)."""
    box = _mailbox_caller(req, state, DRAFT_SCOPES)
    if isinstance(box, SandboxResponse):
        return box
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("message"), dict) or not body["message"].get("raw"):
        return _raw_required()
    draft = {"id": "r" + _random(18).lower(), "message": _message(["DRAFT"])}
    box["drafts"][draft["id"]] = draft
    box.setdefault("raw", {})[draft["id"]] = body["message"]["raw"]
    return json_response(200, draft)


def get_draft(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``GET /gmail/v1/users/{userId}/drafts/{id}``: the Draft; with ``format=raw`` its message's
    ``raw`` (base64url RFC 2822), else its headers in ``payload`` (metadata/full)."""
    box = _mailbox_caller(req, state, DRAFT_GET_SCOPES)
    if isinstance(box, SandboxResponse):
        return box
    draft = box["drafts"].get(match["id"])
    if draft is None:
        return json_response(
            404, {"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}}
        )
    raw = box.get("raw", {}).get(match["id"], "")
    if (req.arg("format") or "full") == "raw":
        return json_response(200, {**draft, "message": {**draft["message"], "raw": raw}})
    from email import message_from_bytes, policy

    mime = message_from_bytes(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)), policy=policy.default)
    headers = [{"name": k, "value": str(v)} for k, v in mime.items()]
    return json_response(200, {**draft, "message": {**draft["message"], "payload": {"headers": headers}}})


def send_draft(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``POST /gmail/v1/users/{userId}/drafts/send`` with ``{"id": draft id}``: the sent Message."""
    box = _mailbox_caller(req, state, DRAFT_SCOPES)
    if isinstance(box, SandboxResponse):
        return box
    body = req.json()
    draft = box["drafts"].pop(body.get("id") if isinstance(body, dict) else None, None)
    if draft is None:
        return json_response(
            404, {"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}}
        )
    sent = {**draft["message"], "labelIds": ["SENT"]}
    box["sent"].append(sent)
    return json_response(200, sent)


def send_message(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``POST /gmail/v1/users/{userId}/messages/send`` with a Message (``{"raw": …}``): the sent Message."""
    box = _mailbox_caller(req, state, SEND_SCOPES)
    if isinstance(box, SandboxResponse):
        return box
    body = req.json()
    if not isinstance(body, dict) or not body.get("raw"):
        return _raw_required()
    sent = _message(["SENT"])
    box["sent"].append(sent)
    return json_response(200, sent)


def list_models(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record = state.get(req.headers.get("x-goog-api-key") or req.arg("key"), PREFIX)
    if not _live(record) or not record.token.startswith("AIza"):
        return json_response(
            400,
            {
                "error": {
                    "code": 400,
                    "message": "API key not valid. Please pass a valid API key.",
                    "status": "INVALID_ARGUMENT",
                    "details": [
                        {
                            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "API_KEY_INVALID",
                            "domain": "googleapis.com",
                            "metadata": {"service": "generativelanguage.googleapis.com"},
                        }
                    ],
                }
            },
        )
    model = {
        "name": "models/gemini-sandbox",
        "version": "001",
        "displayName": "Gemini Sandbox",
        "description": "A sandbox model",
        "inputTokenLimit": 32768,
        "outputTokenLimit": 8192,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
    }
    return json_response(200, {"models": [model]})


ROUTES = [
    ("GET", r"/tokeninfo", tokeninfo),
    ("POST", r"/tokeninfo", tokeninfo),
    ("GET", r"/oauth2/v3/tokeninfo", tokeninfo),  # the www.googleapis.com path TruffleHog uses
    ("POST", r"/oauth2/v3/tokeninfo", tokeninfo),
    ("POST", r"/revoke", revoke),
    ("POST", r"/token", token),
    ("GET", r"/gmail/v1/users/(?P<user>[^/]+)/profile", profile),
    ("GET", r"/gmail/v1/users/(?P<user>[^/]+)/messages", list_messages),
    ("POST", r"/gmail/v1/users/(?P<user>[^/]+)/drafts", create_draft),
    ("POST", r"/gmail/v1/users/(?P<user>[^/]+)/drafts/send", send_draft),
    ("GET", r"/gmail/v1/users/(?P<user>[^/]+)/drafts/(?P<id>[^/]+)", get_draft),
    ("POST", r"/gmail/v1/users/(?P<user>[^/]+)/messages/send", send_message),
    ("GET", r"/v1/models", list_models),
]
