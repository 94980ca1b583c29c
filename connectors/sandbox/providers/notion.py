"""Notion in the sandbox (https://developers.notion.com/reference/intro,
https://developers.notion.com/reference/get-self, https://developers.notion.com/reference/revoke-token,
capability probes as in TruffleHog's notion analyzer).

A record's ``scopes`` are the integration's capabilities (``read_content``, ``insert_comments``,
``read_user_with_email`` …). Kind ``public`` is an OAuth token of a public integration (its bot is
owned by a user); the integration's client secret is a record of kind ``admin`` whose
``meta["client_id"]`` names the client, used by ``POST /v1/oauth/revoke``. ``meta["rate_limited"]``
makes calls 429.
"""

from __future__ import annotations

import base64
import re
import secrets
import string
import uuid

from connectors.sandbox.core import SandboxRequest, SandboxResponse, SandboxState, TokenRecord, json_response

PREFIX = "notion"
_ALL = ["read_content", "update_content", "insert_content", "read_comments", "insert_comments", "read_user_with_email"]
KINDS = {
    "internal": list(_ALL),
    "read_only": ["read_content", "read_comments", "read_user_without_email"],
    "public": list(_ALL),
    "legacy": list(_ALL),
    "admin": [],
    # A public connection's refresh token: POST /v1/oauth/token trades it for an access token (kind
    # public) and a new refresh token; the old one is then dead.
    "refresh": list(_ALL),
}
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")


def default_meta(kind: str) -> dict[str, str]:
    """A client secret names its public integration's client, so the admin API can mint one."""
    return {"client_id": "sandbox-client"} if kind == "admin" else {}


def _alnum(n: int) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(n))


def make_token(kind: str) -> str:
    if kind in ("legacy", "admin"):
        return f"secret_SANDBOX{_alnum(36)}"
    if kind == "refresh":
        return f"refresh_SANDBOX{_alnum(40)}"
    return "ntn_" + "".join(secrets.choice(string.digits) for _ in range(11)) + "SANDBOX" + _alnum(28)


def _error(status: int, code: str, message: str, extra: dict[str, str] | None = None) -> SandboxResponse:
    body = {"object": "error", "status": status, "code": code, "message": message, "request_id": str(uuid.uuid4())}
    return json_response(status, body, extra)


def _caller(req: SandboxRequest, state: SandboxState, capability: str | None = None):
    if "notion-version" not in req.headers:
        return None, _error(
            400,
            "missing_version",
            "Notion-Version header failed validation: Notion-Version should be defined, instead was `undefined`.",
        )
    record = state.get(req.bearer(), PREFIX)
    if record is None or not record.live or record.kind in ("admin", "refresh"):
        return None, _error(401, "unauthorized", "API token is invalid.")
    if record.meta.get("rate_limited"):
        return None, _error(
            429, "rate_limited", "You have been rate limited. Please try again in a few minutes.", {"retry-after": "1"}
        )
    if capability is not None and capability not in record.scopes:
        return None, _error(403, "restricted_resource", "Insufficient permissions for this endpoint.")
    return record, None


def _user_id(record: TokenRecord) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-notion-{record.key_id}"))


def me(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, refusal = _caller(req, state)
    if record is None:
        return refusal
    return json_response(200, {**_bot(record), "request_id": str(uuid.uuid4())})


def _bot(record: TokenRecord) -> dict:
    if record.kind == "public":
        owner = {
            "type": "user",
            "user": {
                "object": "user",
                "id": "5389a034-0000-4000-8000-00000000a11c",
                "name": record.identity,
                "avatar_url": None,
                "type": "person",
                "person": {"email": f"{record.identity}@sandbox.invalid"},
            },
        }
    else:
        owner = {"type": "workspace", "workspace": True}
    return {
        "object": "user",
        "id": _user_id(record),
        "name": record.meta.get("name", "Sandbox Bot"),
        "avatar_url": None,
        "type": "bot",
        "bot": {"owner": owner, "workspace_name": "Sandbox Workspace"},
    }


def _people(record: TokenRecord) -> list[dict]:
    person = {"email": "ada@sandbox.invalid"} if "read_user_with_email" in record.scopes else {}
    return [
        {
            "object": "user",
            "id": "6794760a-0000-4000-8000-0000000000ad",
            "name": "Ada Sandbox",
            "avatar_url": None,
            "type": "person",
            "person": person,
        }
    ]


def user(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``GET /v1/users/{user_id}`` (https://developers.notion.com/reference/get-user): the bot
    ``users/me`` named, or a person of the workspace; needs a user-information capability."""
    record, refusal = _caller(req, state)
    if record is None:
        return refusal
    if not {"read_user_with_email", "read_user_without_email"} & set(record.scopes):
        return _error(403, "restricted_resource", "Insufficient permissions for this endpoint.")
    wanted = match["id"].replace("-", "")
    found = next((u for u in [_bot(record), *_people(record)] if u["id"].replace("-", "") == wanted), None)
    if found is None:
        return _error(404, "object_not_found", f"Could not find user with ID: {match['id']}.")
    return json_response(200, {**found, "request_id": str(uuid.uuid4())})


def users(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, refusal = _caller(req, state)
    if record is None:
        return refusal
    if not {"read_user_with_email", "read_user_without_email"} & set(record.scopes):
        return _error(403, "restricted_resource", "Insufficient permissions for this endpoint.")
    people = _people(record)
    return json_response(
        200,
        {
            "object": "list",
            "results": people,
            "next_cursor": None,
            "has_more": False,
            "type": "user",
            "user": {},
            "request_id": str(uuid.uuid4()),
        },
    )


def _invalid(message: str) -> SandboxResponse:
    return _error(400, "validation_error", message)


def page(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    capability = "read_content" if req.method == "GET" else "update_content"
    record, refusal = _caller(req, state, capability)
    if record is None:
        return refusal
    page_id = match.group("id")
    if not _UUID.fullmatch(page_id):
        return _invalid(f'path failed validation: path.page_id should be a valid uuid, instead was `"{page_id}"`.')
    return _error(
        404,
        "object_not_found",
        f"Could not find page with ID: {page_id}. Make sure the relevant pages and "
        "databases are shared with your integration.",
    )


def create_page(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, refusal = _caller(req, state, "insert_content")
    if record is None:
        return refusal
    return _invalid("body failed validation: body.parent should be defined, instead was `undefined`.")


def comments(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    capability = "read_comments" if req.method == "GET" else "insert_comments"
    record, refusal = _caller(req, state, capability)
    if record is None:
        return refusal
    if req.method == "GET" and req.query.get("block_id"):
        return json_response(
            200,
            {
                "object": "list",
                "results": [],
                "next_cursor": None,
                "has_more": False,
                "type": "comment",
                "comment": {},
                "request_id": str(uuid.uuid4()),
            },
        )
    field = "query.block_id" if req.method == "GET" else "body.parent"
    return _invalid(f"body failed validation: {field} should be defined, instead was `undefined`.")


def _client(req: SandboxRequest, state: SandboxState) -> TokenRecord | None:
    """The public integration named by ``Authorization: Basic client_id:client_secret``, or None."""
    auth = req.headers.get("authorization", "")
    client_id = secret = ""
    if auth.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            pass
    client = state.get(secret, PREFIX)
    if client is None or client.kind != "admin" or client.meta.get("client_id") != client_id:
        return None
    return client


def revoke(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``POST /v1/oauth/revoke``: Basic client_id:client_secret, body ``{"token": …}``."""
    if _client(req, state) is None:
        return _error(401, "unauthorized", "Invalid client credentials.")
    body = req.json() if isinstance(req.json(), dict) else {}
    if not isinstance(body.get("token"), str):
        return _invalid("body failed validation: body.token should be defined, instead was `undefined`.")
    record = state.get(body["token"], PREFIX)
    if record is not None and record.kind == "public":
        state.revoke(record.token)
    return json_response(200, {"request_id": str(uuid.uuid4())})


def refresh(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``POST /v1/oauth/token`` with ``grant_type: refresh_token`` (https://developers.notion.com/reference/refresh-a-token):
    Basic client credentials, a JSON body; a new access token and a new refresh token, the old one dead."""
    client = _client(req, state)
    if client is None:
        return json_response(401, {"error": "invalid_client", "error_description": "Invalid client credentials."})
    body = req.json() if isinstance(req.json(), dict) else {}
    if body.get("grant_type") != "refresh_token":
        return json_response(400, {"error": "unsupported_grant_type"})
    record = state.get(body.get("refresh_token") if isinstance(body.get("refresh_token"), str) else None, PREFIX)
    if record is None or not record.live or record.kind != "refresh":
        return json_response(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
    access = state.add(
        TokenRecord(
            token=make_token("public"),
            provider=PREFIX,
            kind="public",
            identity=record.identity,
            scopes=list(record.scopes),
        )
    )
    rotated = state.successor(record, make_token("refresh"))
    state.revoke(record.token)
    answer = {
        "access_token": access.token,
        "token_type": "bearer",
        "refresh_token": rotated.token,
        "bot_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-notion-bot-{client.meta.get('client_id')}")),
        "workspace_name": "Sandbox workspace",
        "workspace_icon": None,
        "workspace_id": str(uuid.uuid5(uuid.NAMESPACE_URL, "sandbox-notion-workspace")),
        "owner": {"type": "workspace", "workspace": True},
        "duplicated_template_id": None,
        "request_id": str(uuid.uuid4()),
    }
    return json_response(200, answer)


ROUTES = [
    ("POST", r"/v1/oauth/token", refresh),
    ("GET", r"/v1/users/me", me),
    ("GET", r"/v1/users", users),
    ("GET", r"/v1/users/(?P<id>[0-9a-fA-F-]{32,36})", user),
    ("GET", r"/v1/pages/(?P<id>[^/]+)", page),
    ("PATCH", r"/v1/pages/(?P<id>[^/]+)", page),
    ("POST", r"/v1/pages", create_page),
    ("GET", r"/v1/comments", comments),
    ("POST", r"/v1/comments", comments),
    ("POST", r"/v1/oauth/revoke", revoke),
]
