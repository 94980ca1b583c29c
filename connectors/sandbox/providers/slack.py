"""Sandbox Slack: auth.test and auth.revoke with Slack's HTTP-200 ``ok``/``error`` bodies.

Shapes follow https://api.slack.com/methods/auth.test (example responses),
https://api.slack.com/methods/auth.revoke and https://api.slack.com/methods/users.info: scopes in the ``x-oauth-scopes`` header; failures are HTTP 200 with
``{"ok": false, "error": …}``.
"""

from __future__ import annotations

import secrets
import string

from connectors.sandbox.core import SandboxRequest, SandboxResponse, SandboxState, TokenRecord, json_response

PREFIX = "slack"
# The prefix stands for slack.com; Web API methods are below /api (https://api.slack.com/web#basics).
API_PATH = "/api"

KINDS: dict[str, list[str]] = {
    "bot": ["chat:write", "channels:read", "channels:history"],
    "user": ["search:read", "users:read", "chat:write"],
}
TOKEN_PREFIX = {"bot": "xoxb-", "user": "xoxp-"}
TEAM_ID, USER_ID, BOT_ID = "T0SANDBOX1", "U0SANDBOX1", "B0SANDBOX1"


def make_token(kind: str) -> str:
    digits = lambda n: "".join(secrets.choice(string.digits) for _ in range(n))  # noqa: E731
    tail = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(24))
    return f"{TOKEN_PREFIX.get(kind, 'xoxb-')}{digits(12)}-{digits(13)}-SANDBOX{tail}"


def _answer(ok: dict | None = None, error: str | None = None, headers: dict[str, str] | None = None) -> SandboxResponse:
    """Slack answers 200 whether or not the call worked; the body says which."""
    body = {"ok": True, **ok} if error is None else {"ok": False, "error": error}
    return json_response(200, body, headers)


def _caller(req: SandboxRequest, state: SandboxState) -> tuple[TokenRecord | None, str | None]:
    token = req.bearer() or req.arg("token")
    if not token:
        return None, "not_authed"
    record = state.get(token, PREFIX)
    if record is None:
        return None, "invalid_auth"
    if record.revoked:
        return record, "token_revoked"
    if record.status != "active":
        return record, "account_inactive"
    return record, None


def _scope_headers(record: TokenRecord) -> dict[str, str]:
    return {"x-oauth-scopes": ",".join(record.scopes), "x-accepted-oauth-scopes": ""}


def auth_test(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, error = _caller(req, state)
    if error is not None:
        return _answer(error=error)
    body = {
        "url": "https://sandbox-workspace.slack.com/",
        "team": "Sandbox Workspace",
        "user": record.identity,
        "team_id": TEAM_ID,
        "user_id": USER_ID,
    }
    if record.token.startswith("xoxb-"):
        body["bot_id"] = BOT_ID
    return _answer(body, headers=_scope_headers(record))


def auth_revoke(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, error = _caller(req, state)
    if error is not None:
        return _answer(error=error)
    if req.arg("test") in ("1", "true"):  # a dry run: nothing changes
        return _answer({"revoked": False})
    state.revoke(record.token)
    return _answer({"revoked": True})


def users_info(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``users.info`` (https://api.slack.com/methods/users.info): the user ``auth.test`` named.
    Needs ``users:read``; without it Slack answers ``missing_scope`` with ``needed``/``provided``."""
    record, error = _caller(req, state)
    if error is not None:
        return _answer(error=error)
    if "users:read" not in record.scopes:
        body = {"ok": False, "error": "missing_scope", "needed": "users:read", "provided": ",".join(record.scopes)}
        return json_response(200, body, _scope_headers(record))
    if req.arg("user") != USER_ID:
        return _answer(error="user_not_found")
    user = {
        "id": USER_ID,
        "team_id": TEAM_ID,
        "name": record.identity,
        "deleted": False,
        "real_name": "Sandbox User",
        "is_admin": False,
        "is_owner": False,
        "is_bot": False,
        "profile": {"real_name": "Sandbox User", "display_name": record.identity, "team": TEAM_ID},
    }
    return _answer({"user": user}, headers=_scope_headers(record))


ROUTES = [
    ("POST", API_PATH + r"/auth\.test", auth_test),
    ("GET", API_PATH + r"/auth\.test", auth_test),
    ("POST", API_PATH + r"/auth\.revoke", auth_revoke),
    ("GET", API_PATH + r"/auth\.revoke", auth_revoke),
    ("POST", API_PATH + r"/users\.info", users_info),
    ("GET", API_PATH + r"/users\.info", users_info),
]
