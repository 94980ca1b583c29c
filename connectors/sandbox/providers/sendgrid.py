"""SendGrid in the sandbox (https://www.twilio.com/docs/sendgrid/api-reference/api-keys,
https://www.twilio.com/docs/sendgrid/api-reference/api-key-permissions).

A key's ``api_key_id`` is the middle segment of ``SG.<id>.<secret>``; handlers derive it from the
token itself, so a record seeded without ``key_id`` still works. Key management
(``/v3/api_keys``) checks the caller's own scopes (``api_keys.read|create|update|delete``), whether
the caller is the key itself or a separate ``admin`` record. A ``billing`` key (SendGrid's "Billing
Access" type) answers 403 on ``/v3/scopes`` — the "valid but lacks scope" case TruffleHog reads (❓ which
key types get it is not documented). ``meta["rate_limited"]`` makes calls 429.
"""

from __future__ import annotations

import secrets
import string
import time

from connectors.sandbox.core import (
    SandboxRequest,
    SandboxResponse,
    SandboxState,
    TokenRecord,
    empty_response,
    json_response,
)

PREFIX = "sendgrid"
_API_KEYS = ["api_keys.create", "api_keys.delete", "api_keys.read", "api_keys.update"]
_FULL = [
    "mail.send",
    "mail.batch.read",
    "templates.read",
    "templates.create",
    "templates.update",
    "stats.read",
    "suppression.read",
    "marketing.read",
    "marketing.send",
    "user.profile.read",
    "user.profile.update",
    *_API_KEYS,
]
KINDS = {
    "full_access": _FULL,
    "restricted": ["mail.send", "templates.read", "stats.read"],
    "read_only": ["templates.read", "stats.read", "suppression.read"],
    "admin": [*_API_KEYS, "user.profile.read"],
    "billing": ["billing.read", "billing.update"],
}


def _segment(n: int) -> str:
    return "SANDBOX" + "".join(secrets.choice(string.ascii_letters + string.digits + "_-") for _ in range(n - 7))


def make_token(kind: str) -> str:
    return f"SG.{_segment(22)}.{_segment(43)}"


def key_id_of(token: str) -> str:
    parts = token.split(".")
    return parts[1] if len(parts) == 3 else ""


def _headers() -> dict[str, str]:
    return {"x-ratelimit-limit": "600", "x-ratelimit-remaining": "599", "x-ratelimit-reset": str(int(time.time()) + 60)}


def _errors(status: int, message: str, field: str | None = None) -> SandboxResponse:
    return json_response(status, {"errors": [{"field": field, "message": message}]}, _headers())


def _caller(req: SandboxRequest, state: SandboxState, scope: str | None = None):
    record = state.get(req.bearer(), PREFIX)
    if record is None or not record.live:
        return None, _errors(401, "authorization required")
    if record.meta.get("rate_limited"):
        return None, json_response(
            429,
            {"errors": [{"field": None, "message": "too many requests"}]},
            {**_headers(), "x-ratelimit-remaining": "0"},
        )
    if scope is not None and scope not in record.scopes:
        return None, _errors(403, "access forbidden")
    return record, None


def _find(state: SandboxState, ident: str) -> TokenRecord | None:
    return next(
        (
            r
            for r in list(state.tokens.values())
            if r.provider == PREFIX and not r.revoked and key_id_of(r.token) == ident
        ),
        None,
    )


def _key(record: TokenRecord) -> dict:
    return {
        "api_key_id": key_id_of(record.token),
        "name": record.meta.get("name", "sandbox key"),
        "scopes": list(record.scopes),
    }


def scopes(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, refusal = _caller(req, state)
    if record is None:
        return refusal
    if record.kind == "billing":
        return _errors(403, "access forbidden")
    return json_response(200, {"scopes": list(record.scopes)}, _headers())


def profile(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, refusal = _caller(req, state, "user.profile.read")
    if record is None:
        return refusal
    return json_response(
        200,
        {
            "address": "1 Sandbox Way",
            "address2": "",
            "city": "Sandbox",
            "company": "Sandbox Co",
            "country": "US",
            "first_name": record.identity,
            "last_name": "",
            "phone": "",
            "state": "",
            "website": "",
            "zip": "",
        },
        _headers(),
    )


def get_key(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    caller, refusal = _caller(req, state, "api_keys.read")
    if caller is None:
        return refusal
    record = _find(state, match.group("id"))
    if record is None:
        return _errors(404, "unable to find API Key")
    return json_response(200, _key(record), _headers())


def create_key(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    caller, refusal = _caller(req, state, "api_keys.create")
    if caller is None:
        return refusal
    body = req.json() if isinstance(req.json(), dict) else {}
    if not isinstance(body.get("name"), str) or not body["name"]:
        return _errors(400, "missing required argument", field="name")
    wanted = [s for s in body.get("scopes") or [] if isinstance(s, str)]
    token = make_token("restricted")
    record = state.add(
        TokenRecord(
            token=token,
            provider=PREFIX,
            kind="restricted",
            identity=caller.identity,
            scopes=wanted or ["mail.send"],
            key_id=key_id_of(token),
            meta={"name": body["name"]},
        )
    )
    return json_response(201, {"api_key": token, **_key(record)}, _headers())


def update_key(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``PUT`` replaces name and scopes: the in-place downgrade switch."""
    caller, refusal = _caller(req, state, "api_keys.update")
    if caller is None:
        return refusal
    record = _find(state, match.group("id"))
    if record is None:
        return _errors(404, "unable to find API Key")
    body = req.json() if isinstance(req.json(), dict) else {}
    if not isinstance(body.get("name"), str) or not isinstance(body.get("scopes"), list):
        return _errors(400, "name and scopes are required", field="scopes")
    record.scopes = [s for s in body["scopes"] if isinstance(s, str)]
    record.meta["name"] = body["name"]
    return json_response(200, _key(record), _headers())


def delete_key(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    caller, refusal = _caller(req, state, "api_keys.delete")
    if caller is None:
        return refusal
    record = _find(state, match.group("id"))
    if record is None:
        return _errors(404, "unable to find API Key")
    state.revoke(record.token)
    return empty_response(204, _headers())


ROUTES = [
    ("GET", r"/v3/scopes", scopes),
    ("GET", r"/v3/user/profile", profile),
    ("POST", r"/v3/api_keys", create_key),
    ("GET", r"/v3/api_keys/(?P<id>[^/]+)", get_key),
    ("PUT", r"/v3/api_keys/(?P<id>[^/]+)", update_key),
    ("DELETE", r"/v3/api_keys/(?P<id>[^/]+)", delete_key),
]
