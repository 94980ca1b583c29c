"""A plain HTTP API in the sandbox, for the generic provider.

``GET /verify`` accepts the key as ``Authorization: Bearer …`` or ``X-Api-Key: …`` and answers
200 ``{"ok": true, "user": {"name": …}}`` or 401; ``GET /verify-204`` answers 204 for a valid key
(a provider whose "valid" status is not 200); ``GET /verify-admin`` answers 403 unless the record holds
the scope ``admin``. Standard ``X-RateLimit-*`` headers; ``meta["rate_limited"]``
makes calls 429 with ``Retry-After``.
"""

from __future__ import annotations

import secrets
import time

from connectors.sandbox.core import SandboxRequest, SandboxResponse, SandboxState, empty_response, json_response

PREFIX = "generic"
KINDS = {"bearer": ["declared"]}


def make_token(kind: str) -> str:
    return f"gen_SANDBOX{secrets.token_hex(16)}"  # the generic provider recognises no key shape


def _headers(remaining: int = 99) -> dict[str, str]:
    return {
        "x-ratelimit-limit": "100",
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": str(int(time.time()) + 60),
    }


def _check(req: SandboxRequest, state: SandboxState):
    record = state.get(req.bearer() or req.headers.get("x-api-key"), PREFIX)
    if record is None or not record.live:
        return None, json_response(401, {"error": "invalid token"}, _headers())
    if record.meta.get("rate_limited"):
        return None, json_response(429, {"error": "slow down"}, {**_headers(0), "retry-after": "5"})
    return record, None


def verify(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, refusal = _check(req, state)
    if record is None:
        return refusal
    return json_response(200, {"ok": True, "user": {"name": record.identity}}, _headers())


def verify_no_content(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, refusal = _check(req, state)
    return refusal if record is None else empty_response(204, _headers())


def verify_admin(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, refusal = _check(req, state)
    if record is None:
        return refusal
    if "admin" not in record.scopes:
        return json_response(403, {"error": "forbidden"}, _headers())
    return json_response(200, {"ok": True, "user": {"name": record.identity}}, _headers())


ROUTES = [
    ("GET", r"/verify", verify),
    ("GET", r"/verify-admin", verify_admin),
    ("GET", r"/verify-204", verify_no_content),
]
