"""Sandbox Airtable: whoami and the read-only metadata/records calls a deep probe makes.

Shapes follow https://airtable.com/developers/web/api (get-user-id-scopes, list bases, get base
schema, list records, list webhooks): scopes are listed only for OAuth tokens
(https://airtable.com/developers/web/api/get-user-id-scopes); a denied scope and a missing object
both answer 403 INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND.
"""

from __future__ import annotations

import secrets
import string

from connectors.sandbox.core import SandboxRequest, SandboxResponse, SandboxState, TokenRecord, json_response

PREFIX = "airtable"

KINDS: dict[str, list[str]] = {
    "pat": ["data.records:read", "data.records:write", "schema.bases:read"],
    "oauth": ["data.records:read", "schema.bases:read", "user.email:read"],
}
# Ids without the word SANDBOX: the server masks path segments that carry it, as if they were tokens.
BASE, TABLE, RECORD = "appSandboxBase001", "tblSandboxTable01", "recSandboxRec0001"
USER = "usrSandboxUser001"
_ALNUM = string.ascii_letters + string.digits


def make_token(kind: str) -> str:
    rand = lambda n: "".join(secrets.choice(_ALNUM) for _ in range(n))  # noqa: E731
    if kind == "oauth":  # <alnum>.v1.<payload>.<hex>
        return f"oaaSANDBOX{rand(8)}.v1.SANDBOX{rand(40)}.{secrets.token_hex(32)}"
    return f"patSANDBOX{rand(7)}.{secrets.token_hex(32)}"  # pat + 14 alnum + . + 64 hex


def _error(status: int, kind: str, message: str) -> SandboxResponse:
    return json_response(status, {"error": {"type": kind, "message": message}})


NOT_AUTHENTICATED = ("AUTHENTICATION_REQUIRED", "Authentication required")
DENIED = (
    "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
    "Invalid permissions, or the requested model was not found. Check "
    "that both your user and your token have the required permissions, and that the model names and/or ids "
    "are correct.",
)


def _caller(req: SandboxRequest, state: SandboxState) -> TokenRecord | None:
    record = state.get(req.bearer(), PREFIX)
    return record if record is not None and record.live else None


def _bases(record: TokenRecord) -> list[str]:
    return list(record.meta.get("bases") or [BASE])


def whoami(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record = _caller(req, state)
    if record is None:
        return _error(401, *NOT_AUTHENTICATED)
    body: dict = {"id": USER}
    if "user.email:read" in record.scopes:
        body["email"] = f"{record.identity}@sandbox.example"
    if not record.token.startswith("pat"):  # scopes are returned for OAuth tokens only
        body["scopes"] = list(record.scopes)
    return json_response(200, body)


def _guarded(scope: str, answer):
    """A route that needs ``scope`` and, when the path names a base, access to that base."""

    def handler(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
        record = _caller(req, state)
        if record is None:
            return _error(401, *NOT_AUTHENTICATED)
        base = match.groupdict().get("base")
        if scope not in record.scopes or (base is not None and base not in _bases(record)):
            return _error(403, *DENIED)
        return json_response(200, answer(record, match))

    return handler


def _list_bases(record: TokenRecord, match) -> dict:
    return {"bases": [{"id": b, "name": "Sandbox base", "permissionLevel": "create"} for b in _bases(record)]}


def _schema(record: TokenRecord, match) -> dict:
    field = {"id": "fldSandboxField01", "name": "Name", "type": "singleLineText"}
    view = {"id": "viwSandboxView001", "name": "Grid view", "type": "grid"}
    return {
        "tables": [{"id": TABLE, "name": "Tasks", "primaryFieldId": field["id"], "fields": [field], "views": [view]}]
    }


def _records(record: TokenRecord, match) -> dict:
    return {"records": [{"id": RECORD, "createdTime": "2024-01-01T00:00:00.000Z", "fields": {"Name": "Sandbox task"}}]}


ROUTES = [
    ("GET", r"/v0/meta/whoami", whoami),
    ("GET", r"/v0/meta/bases", _guarded("schema.bases:read", _list_bases)),
    ("GET", r"/v0/meta/bases/(?P<base>app[A-Za-z0-9]+)/tables", _guarded("schema.bases:read", _schema)),
    # Enterprise only, needs workspacesAndBases:read, a bare JSON array
    # (https://airtable.com/developers/web/api/list-block-installations).
    (
        "GET",
        r"/v0/meta/bases/(?P<base>app[A-Za-z0-9]+)/blockInstallations",
        _guarded("workspacesAndBases:read", lambda r, m: []),
    ),
    ("GET", r"/v0/bases/(?P<base>app[A-Za-z0-9]+)/webhooks", _guarded("webhook:manage", lambda r, m: {"webhooks": []})),
    ("GET", r"/v0/(?P<base>app[A-Za-z0-9]+)/(?P<table>[^/]+)", _guarded("data.records:read", _records)),
]
