"""Sandbox GitLab: personal access tokens that describe, revoke and rotate themselves.

Shapes follow the GitLab personal access tokens API
(https://docs.gitlab.com/api/personal_access_tokens/, example in gitlab issue 426779) and the users
API (https://docs.gitlab.com/api/users/); the revoked/expired 401 bodies are GitLab's OAuth-style errors (⚠️ issue threads).
"""

from __future__ import annotations

import secrets
import string
import time
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import formatdate

from connectors.sandbox.core import (
    SandboxRequest,
    SandboxResponse,
    SandboxState,
    TokenRecord,
    empty_response,
    json_response,
)

PREFIX = "gitlab"
# The prefix stands for the instance root; the REST API is below /api/v4, as on gitlab.com
# (https://docs.gitlab.com/api/rest/#how-to-use-the-api), so python-gitlab's url= works unchanged.
API_PATH = "/api/v4"

KINDS: dict[str, list[str]] = {
    "personal": ["api", "read_user"],
    "personal_read": ["read_api", "read_user"],
}
_CHARS = string.ascii_letters + string.digits + "_-"
USER_READING = ("api", "read_api", "read_user")
ROTATING = ("api", "self_rotate")


def make_token(kind: str) -> str:
    return "glpat-SANDBOX" + "".join(secrets.choice(_CHARS) for _ in range(14))


def _now() -> datetime:
    return datetime.now(UTC)


def _rate_headers() -> dict[str, str]:
    reset = int(time.time()) + 60
    return {
        "RateLimit-Limit": "2000",
        "RateLimit-Observed": "1",
        "RateLimit-Remaining": "1999",
        "RateLimit-Reset": str(reset),
        "RateLimit-ResetTime": formatdate(reset, usegmt=True),
    }


def _token(req: SandboxRequest) -> str | None:
    """The PRIVATE-TOKEN header, an OAuth-style Bearer header or the ``private_token`` parameter
    (https://docs.gitlab.com/api/rest/authentication/#personalprojectgroup-access-tokens)."""
    return req.headers.get("private-token") or req.bearer() or req.arg("private_token")


def _auth(req: SandboxRequest, state: SandboxState) -> tuple[TokenRecord | None, SandboxResponse | None]:
    """The calling token, or GitLab's 401 for an unknown, revoked or expired one."""
    record = state.get(_token(req), PREFIX)
    if record is None:
        return None, json_response(401, {"message": "401 Unauthorized"}, _rate_headers())
    if record.revoked or record.status != "active":
        return record, json_response(
            401,
            {
                "error": "invalid_token",
                "error_description": "Token was revoked. You have to re-authorize from the user.",
            },
            _rate_headers(),
        )
    if record.expires_at is not None and record.expires_at <= _now():
        return record, json_response(
            401,
            {
                "error": "invalid_token",
                "error_description": "Token is expired. You can either do re-authorization or token refresh.",
            },
            _rate_headers(),
        )
    return record, None


def _token_id(record: TokenRecord) -> int:
    return zlib.crc32(record.token.encode()) % 10**6


def _by_id(req: SandboxRequest, state: SandboxState, match) -> tuple[TokenRecord | None, SandboxResponse | None]:
    """The token ``:id`` names, when the caller may see it: its own user's token, or any for an admin."""
    caller, failure = _auth(req, state)
    if failure is not None:
        return None, failure
    wanted = int(match["id"])
    for record in list(state.tokens.values()):
        if record.provider == PREFIX and _token_id(record) == wanted:
            same_user = record.meta.get("user_id", 4242) == caller.meta.get("user_id", 4242)
            if same_user or caller.meta.get("is_admin"):
                return record, None
    return None, json_response(404, {"message": "404 Not Found"}, _rate_headers())


def get_by_id(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``GET /personal_access_tokens/:id`` (https://docs.gitlab.com/api/personal_access_tokens/)."""
    record, failure = _by_id(req, state, match)
    return failure if record is None else json_response(200, _token_object(record), _rate_headers())  # type: ignore[return-value]


def delete_by_id(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``DELETE /personal_access_tokens/:id``: revoke (what python-gitlab's ``token.delete()`` sends)."""
    record, failure = _by_id(req, state, match)
    if record is None:
        return failure  # type: ignore[return-value]
    state.revoke(record.token)
    return empty_response(204, _rate_headers())


def _token_object(record: TokenRecord) -> dict:
    record.meta["last_used_at"] = _now().isoformat().replace("+00:00", "Z")
    return {
        "id": _token_id(record),
        "name": record.meta.get("name", "breaker-sandbox"),
        "revoked": record.revoked,
        "created_at": record.created_at.isoformat().replace("+00:00", "Z"),
        "scopes": list(record.scopes),
        "user_id": int(record.meta.get("user_id", 4242)),
        "last_used_at": record.meta["last_used_at"],
        "active": record.live and (record.expires_at is None or record.expires_at > _now()),
        "expires_at": record.expires_at.date().isoformat() if record.expires_at else None,
    }


def get_self(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, failure = _auth(req, state)
    if failure is not None:
        return failure
    return json_response(200, _token_object(record), _rate_headers())


def delete_self(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, failure = _auth(req, state)
    if failure is not None:
        return failure
    state.revoke(record.token)
    return empty_response(204, _rate_headers())


def rotate_self(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record = state.get(_token(req), PREFIX)
    if record is not None and record.revoked and record.meta.get("rotated_to"):
        # GitLab issue 524639: re-using a rotated token to rotate again revokes the new token too.
        state.revoke(record.meta["rotated_to"])
    record, failure = _auth(req, state)
    if failure is not None:
        return failure
    if not any(s in record.scopes for s in ROTATING):
        return json_response(403, {"message": "403 Forbidden"}, _rate_headers())
    # expires_at (YYYY-MM-DD, GitLab 16.6+) keeps the lifetime; without it GitLab gives the new token a week
    # (https://docs.gitlab.com/api/personal_access_tokens/#rotate-a-personal-access-token).
    expires = _now() + timedelta(days=7)
    wanted = (req.json() or {}).get("expires_at") if req.body else req.arg("expires_at")
    if wanted:
        try:
            expires = datetime.strptime(str(wanted)[:10], "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            return json_response(400, {"message": "expires_at is invalid"}, _rate_headers())
    fresh = state.replace(record, make_token(record.kind), expires_at=expires)
    fresh.meta.pop("rotated_to", None)
    record.meta["rotated_to"] = fresh.token
    return json_response(200, {**_token_object(fresh), "token": fresh.token}, _rate_headers())


def list_tokens(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``GET /personal_access_tokens``: a user's own tokens (an admin's: everyone's), filtered by
    ``search`` (name), ``state`` (active/inactive), ``created_after``
    (https://docs.gitlab.com/api/personal_access_tokens/#list-all-personal-access-tokens)."""
    caller, failure = _auth(req, state)
    if failure is not None:
        return failure
    search, wanted, after = req.arg("search"), req.arg("state"), req.arg("created_after")
    since = None
    if after:
        try:
            since = datetime.fromisoformat(after.replace("Z", "+00:00"))
        except ValueError:
            return json_response(400, {"message": "created_after is invalid"}, _rate_headers())
    out = []
    for record in list(state.tokens.values()):
        if record.provider != PREFIX:
            continue
        if record.meta.get("user_id", 4242) != caller.meta.get("user_id", 4242) and not caller.meta.get("is_admin"):
            continue
        obj = _token_object(record)
        if search and search.lower() not in obj["name"].lower():
            continue
        if wanted and (wanted == "active") != obj["active"]:
            continue
        if since is not None and record.created_at < since:
            continue
        out.append(obj)
    return json_response(200, sorted(out, key=lambda o: o["id"]), _rate_headers())


def get_user(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, failure = _auth(req, state)
    if failure is not None:
        return failure
    if not any(s in record.scopes for s in USER_READING):
        return json_response(
            403,
            {
                "error": "insufficient_scope",
                "error_description": "The request requires higher privileges than provided by the access token.",
                "scope": "api read_user read_api",
            },
            _rate_headers(),
        )
    body = {
        **_public_user(req, record),
        "email": f"{record.identity}@sandbox.example",
        "two_factor_enabled": True,
        "external": False,
        "private_profile": False,
    }
    if record.meta.get("is_admin"):
        body["is_admin"] = True
    return json_response(200, body, _rate_headers())


def _public_user(req: SandboxRequest, record: TokenRecord) -> dict:
    name = record.identity
    return {
        "id": int(record.meta.get("user_id", 4242)),
        "username": name,
        "name": "Sandbox User",
        "state": "active",
        "locked": False,
        "avatar_url": req.url("/uploads/-/system/user/avatar/4242/avatar.png"),
        "web_url": req.url(f"/{name}"),
        "created_at": "2020-01-01T00:00:00.000Z",
        "bio": "",
        "location": "Loopback",
        "public_email": "",
    }


def get_user_by_id(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``GET /users/:id`` (https://docs.gitlab.com/api/users/#get-a-single-user), what python-gitlab's
    ``gl.users.get(id)`` asks: the public profile of a user one of the sandbox's tokens belongs to."""
    if _token(req) is not None:
        _, failure = _auth(req, state)
        if failure is not None:
            return failure
    wanted = int(match["id"])
    for record in list(state.tokens.values()):
        if record.provider == PREFIX and int(record.meta.get("user_id", 4242)) == wanted:
            return json_response(200, _public_user(req, record), _rate_headers())
    return json_response(404, {"message": "404 User Not Found"}, _rate_headers())


ROUTES = [
    ("GET", API_PATH + r"/personal_access_tokens/self", get_self),
    ("DELETE", API_PATH + r"/personal_access_tokens/self", delete_self),
    ("POST", API_PATH + r"/personal_access_tokens/self/rotate", rotate_self),
    ("GET", API_PATH + r"/personal_access_tokens", list_tokens),
    ("GET", API_PATH + r"/personal_access_tokens/(?P<id>\d+)", get_by_id),
    ("DELETE", API_PATH + r"/personal_access_tokens/(?P<id>\d+)", delete_by_id),
    ("GET", API_PATH + r"/user", get_user),
    ("GET", API_PATH + r"/users/(?P<id>\d+)", get_user_by_id),
]
