"""Anthropic in the sandbox (https://docs.anthropic.com/en/api/overview, Admin API:
https://docs.anthropic.com/en/api/admin-api/apikeys/list-api-keys).

API keys are records of kind ``api``; the Admin key is a record of kind ``admin``. A record's
``status`` is the Admin API status (active/inactive/archived): anything but active answers 401
authentication_error, as the error documentation says for a disabled or revoked key
(https://docs.anthropic.com/en/api/errors). ``meta["rate_limited"]`` makes calls 429.
"""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime, timedelta

from connectors.sandbox.core import (
    SandboxRequest,
    SandboxResponse,
    SandboxState,
    TokenRecord,
    json_response,
    sse_response,
)

PREFIX = "anthropic"
KINDS: dict[str, list[str]] = {"api": [], "admin": []}  # Anthropic keys have no scopes
_PREFIXES = {"api": "sk-ant-api03-", "admin": "sk-ant-admin01-"}  # sandbox tokens start like real ones
STATUSES = ("active", "inactive", "archived")


def _word(n: int) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits + "_-") for _ in range(n))


def make_token(kind: str) -> str:
    # random characters first, so that the redacted hint (first 16, last 4) tells keys apart
    return f"{_PREFIXES[kind]}{_word(3)}SANDBOX{_word(83)}AA"


def api_key_id(record: TokenRecord) -> str:
    return record.key_id if record.key_id.startswith("apikey_") else f"apikey_{record.key_id}"


def partial_key_hint(token: str) -> str:
    return f"{token[:16]}...{token[-4:]}"  # the documented example: "sk-ant-api03-R2D...igAA"


def _headers() -> dict[str, str]:
    reset = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {"request-id": f"req_SANDBOX{secrets.token_hex(6)}"}
    for bucket, limit in (
        ("requests", "50"),
        ("tokens", "40000"),
        ("input-tokens", "30000"),
        ("output-tokens", "8000"),
    ):
        headers |= {
            f"anthropic-ratelimit-{bucket}-limit": limit,
            f"anthropic-ratelimit-{bucket}-remaining": limit,
            f"anthropic-ratelimit-{bucket}-reset": reset,
        }
    return headers


def _error(status: int, type_: str, message: str, extra: dict[str, str] | None = None) -> SandboxResponse:
    body = {
        "type": "error",
        "error": {"type": type_, "message": message},
        "request_id": f"req_SANDBOX{secrets.token_hex(6)}",
    }
    return json_response(status, body, {**_headers(), **(extra or {})})


def _key(req: SandboxRequest) -> str | None:
    """The key as ``x-api-key`` (https://docs.anthropic.com/en/api/overview#authentication) or as
    ``Authorization: Bearer``, which the API accepts too and the Python SDK sends since 2.0
    (anthropic-sdk-python ``Anthropic._api_key_auth``)."""
    return req.headers.get("x-api-key") or req.bearer()


def _caller(req: SandboxRequest, state: SandboxState, kind: str) -> tuple[TokenRecord | None, SandboxResponse | None]:
    record = state.get(_key(req), PREFIX)
    if record is None or record.revoked:
        return None, _error(401, "authentication_error", "invalid x-api-key")
    if record.kind != kind:
        return None, _error(
            401 if kind == "api" else 403,
            "authentication_error" if kind == "api" else "permission_error",
            "this key cannot be used for this endpoint",
        )
    if record.status != "active":
        # a disabled (inactive, archived) key is refused like any bad key (https://docs.anthropic.com/en/api/errors)
        return None, _error(401, "authentication_error", "invalid x-api-key")
    if record.meta.get("rate_limited"):
        return None, _error(
            429, "rate_limit_error", "Number of requests has exceeded your rate limit.", {"retry-after": "3"}
        )
    return record, None


MODELS = [
    {
        "type": "model",
        "id": "claude-sandbox-1",
        "display_name": "Claude Sandbox",
        "created_at": "2025-02-19T00:00:00Z",
    }
]


def models(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, refusal = _caller(req, state, "api")
    if record is None:
        return refusal  # type: ignore[return-value]
    data = list(MODELS)
    return json_response(
        200, {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}, _headers()
    )


def model(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``GET /v1/models/{model_id}`` (https://docs.anthropic.com/en/api/models)."""
    record, refusal = _caller(req, state, "api")
    if record is None:
        return refusal  # type: ignore[return-value]
    found = next((m for m in MODELS if m["id"] == match["id"]), None)
    if found is None:
        return _error(404, "not_found_error", f"model: {match['id']}")
    return json_response(200, found, _headers())


def _key_object(record: TokenRecord) -> dict:
    return {
        "id": api_key_id(record),
        "type": "api_key",
        "name": record.meta.get("name", "sandbox key"),
        "partial_key_hint": partial_key_hint(record.token),
        "status": record.status,
        "workspace_id": record.meta.get("workspace_id"),
        "created_at": record.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "created_by": {"id": "user_SANDBOX", "type": "user"},
        "expires_at": record.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ") if record.expires_at else None,
    }


def _api_keys(state: SandboxState) -> list[TokenRecord]:
    return [r for r in list(state.tokens.values()) if r.provider == PREFIX and r.kind == "api" and not r.revoked]


def _find(state: SandboxState, key_id: str) -> TokenRecord | None:
    return next((r for r in _api_keys(state) if api_key_id(r) == key_id), None)


def list_keys(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    admin, refusal = _caller(req, state, "admin")
    if admin is None:
        return refusal  # type: ignore[return-value]
    wanted = req.query.get("status", [None])[-1]
    items = [_key_object(r) for r in _api_keys(state) if wanted in (None, r.status)]
    after = req.query.get("after_id", [None])[-1]
    if after:
        ids = [i["id"] for i in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    limit = int(req.query.get("limit", ["20"])[-1])
    page = items[:limit]
    return json_response(
        200,
        {
            "data": page,
            "has_more": len(items) > limit,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
        },
        _headers(),
    )


def get_key(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    admin, refusal = _caller(req, state, "admin")
    if admin is None:
        return refusal  # type: ignore[return-value]
    record = _find(state, match.group("id"))
    if record is None:
        return _error(404, "not_found_error", "API key not found")
    return json_response(200, _key_object(record), _headers())


def update_key(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """The kill switch: ``{"status": "inactive"}`` disables a key, ``"active"`` re-enables it."""
    admin, refusal = _caller(req, state, "admin")
    if admin is None:
        return refusal  # type: ignore[return-value]
    record = _find(state, match.group("id"))
    if record is None:
        return _error(404, "not_found_error", "API key not found")
    body = req.json() if isinstance(req.json(), dict) else {}
    status = body.get("status")
    if status is not None and status not in STATUSES:
        return _error(400, "invalid_request_error", "status: must be one of active, inactive, archived")
    if status is not None:
        record.status = status
    if isinstance(body.get("name"), str):
        record.meta["name"] = body["name"]
    return json_response(200, _key_object(record), _headers())


REPLY = ("The ", "sandbox ", "answers ", "word ", "by ", "word; ", "nothing ", "was ", "sent.")


def messages(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``POST /v1/messages`` (https://docs.anthropic.com/en/api/messages); with ``"stream": true``
    the documented event flow — message_start, content_block_start, ping, content_block_delta …,
    content_block_stop, message_delta, message_stop
    (https://docs.anthropic.com/en/docs/build-with-claude/streaming). The reply is a fixed sentence."""
    record, refusal = _caller(req, state, "api")
    if record is None:
        return refusal  # type: ignore[return-value]
    body = req.json()
    if not isinstance(body, dict) or not body.get("model") or not isinstance(body.get("messages"), list):
        return _error(400, "invalid_request_error", "model and messages: Field required")
    if not isinstance(body.get("max_tokens"), int):
        return _error(400, "invalid_request_error", "max_tokens: Field required")
    message = {
        "id": f"msg_SANDBOX{secrets.token_hex(8)}",
        "type": "message",
        "role": "assistant",
        "model": str(body["model"]),
        "content": [{"type": "text", "text": "".join(REPLY)}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 9, "output_tokens": len(REPLY)},
    }
    if not body.get("stream"):
        return json_response(200, message, _headers())
    start = {**message, "content": [], "stop_reason": None, "usage": {"input_tokens": 9, "output_tokens": 1}}
    events: list[tuple[str | None, object]] = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        ("ping", {"type": "ping"}),
    ]
    for word in REPLY:
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word}}
        events.append(("content_block_delta", delta))
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": len(REPLY)},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return sse_response(events, _headers())


ROUTES = [
    ("POST", r"/v1/messages", messages),
    ("GET", r"/v1/models", models),
    ("GET", r"/v1/models/(?P<id>[^/]+)", model),
    ("GET", r"/v1/organizations/api_keys", list_keys),
    ("GET", r"/v1/organizations/api_keys/(?P<id>[^/]+)", get_key),
    ("POST", r"/v1/organizations/api_keys/(?P<id>[^/]+)", update_key),
]
