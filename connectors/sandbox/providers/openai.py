"""OpenAI in the sandbox (https://platform.openai.com/docs/api-reference; Admin API:
https://platform.openai.com/docs/api-reference/admin-api-keys, project API keys:
https://platform.openai.com/docs/api-reference/project-api-keys).

A record's ``scopes`` are the key's permissions (``models:read``, ``responses:write`` …); the
pseudo-scope ``organization`` makes ``GET /v1/organizations`` answer 200 (full access). Admin-API
calls need a record of kind ``admin``. A project key's project is ``meta["project_id"]``
(default ``proj_SANDBOX``). ``meta["rate_limited"]`` makes every call answer 429.
``meta["last_used_at"]`` (Unix seconds) is the key's last use as the Admin API lists it
(``last_used_at`` of the AdminAPIKey and ProjectApiKey objects): every answered call moves it on.
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
    json_response,
    sse_response,
)

PREFIX = "openai"
DEFAULT_PROJECT = "proj_SANDBOX"

PERMISSIONS = [
    "models:read",
    "model_capabilities:write",
    "assistants:read",
    "assistants:write",
    "threads:read",
    "threads:write",
    "fine_tuning:read",
    "fine_tuning:write",
    "files:read",
    "files:write",
    "evals:read",
    "evals:write",
    "responses:read",
    "responses:write",
]
KINDS = {
    "project": list(PERMISSIONS),
    "restricted": ["models:read", "files:read", "responses:read", "responses:write"],
    "service_account": list(PERMISSIONS),
    "legacy": [*PERMISSIONS, "organization"],
    "admin": ["admin_api_keys", "organization"],
}
_PREFIXES = {
    "project": "sk-proj-",
    "restricted": "sk-proj-",
    "service_account": "sk-svcacct-",
    "legacy": "sk-",
    "admin": "sk-admin-",
}
_MAGIC = "T3BlbkFJ"  # every OpenAI key carries it (TH)

# The scope name OpenAI's denial message names. Only model.request and api.responses.write are
# sourced (error texts quoted in continuedev/continue#10059 and microsoft/PowerToys#32989); the
# others follow the same pattern for the sandbox's sake.
_SCOPE_NAMES = {
    "model_capabilities:write": "model.request",
    "models:read": "api.model.read",
    "organization": "api.organization.read",
}


def _alnum(n: int) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(n))


def make_token(kind: str) -> str:
    prefix = _PREFIXES[kind]
    if kind == "admin":
        return f"{prefix}{_alnum(4)}SANDBOX{_alnum(47)}{_MAGIC}{_alnum(58)}"
    if kind == "legacy":
        return f"{prefix}{_alnum(4)}SANDBOX{_alnum(9)}{_MAGIC}{_alnum(20)}"
    return f"{prefix}{_alnum(6)}SANDBOX{_alnum(40)}{_MAGIC}{_alnum(60)}"


def key_id(record: TokenRecord) -> str:
    return record.key_id if record.key_id.startswith("key_") else f"key_{record.key_id}"


def redacted_value(token: str) -> str:
    return f"{token[:8]}...{token[-4:]}"  # ❓ the real format is not documented


# -- responses ------------------------------------------------------------------------------------


def _headers(record: TokenRecord | None = None) -> dict[str, str]:
    remaining = 4999 if record is None or not record.meta.get("rate_limited") else 0
    return {
        "x-ratelimit-limit-requests": "5000",
        "x-ratelimit-remaining-requests": str(remaining),
        "x-ratelimit-reset-requests": "12ms",
        "x-ratelimit-limit-tokens": "800000",
        "x-ratelimit-remaining-tokens": "799990",
        "x-ratelimit-reset-tokens": "6m0s",
    }


def _error(
    status: int,
    message: str,
    code: str | None = None,
    type_: str = "invalid_request_error",
    record: TokenRecord | None = None,
    extra: dict[str, str] | None = None,
) -> SandboxResponse:
    headers = {**_headers(record), **(extra or {})}
    return json_response(status, {"error": {"message": message, "type": type_, "param": None, "code": code}}, headers)


def _ok(body: object, record: TokenRecord, status: int = 200) -> SandboxResponse:
    response = json_response(status, body, _headers(record))
    # The key was used: its ``last_used_at`` (Unix seconds) moves on — after the answer is built, so a
    # listing shows the use before this request (❓ OpenAI does not say which one its listing shows).
    record.meta["last_used_at"] = int(time.time())
    return response


def _missing(scope: str, record: TokenRecord, status: int = 401) -> SandboxResponse:
    name = _SCOPE_NAMES.get(scope) or "api." + scope.replace(":", ".")
    return _error(
        status,
        "You have insufficient permissions for this operation. "
        f"Missing scopes: {name}. Check that you have the correct role in your organization.",
        record=record,
    )


def _caller(req: SandboxRequest, state: SandboxState) -> tuple[TokenRecord | None, SandboxResponse | None]:
    """The live record behind the bearer key, or the response that refuses it."""
    record = state.get(req.bearer(), PREFIX)
    if record is None or not record.live:
        return None, _error(
            401,
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )
    if record.meta.get("rate_limited"):
        return None, _error(
            429,
            "Rate limit reached for requests.",
            code="rate_limit_exceeded",
            type_="requests",
            record=record,
            extra={"retry-after": "2"},
        )
    return record, None


def _key_caller(req: SandboxRequest, state: SandboxState) -> tuple[TokenRecord | None, SandboxResponse | None]:
    record, refusal = _caller(req, state)
    if record is not None and record.kind == "admin":
        return None, _error(401, "Admin keys can only be used with the Admin API.", code="invalid_api_key")
    return record, refusal


def _admin(req: SandboxRequest, state: SandboxState) -> tuple[TokenRecord | None, SandboxResponse | None]:
    record, refusal = _caller(req, state)
    if record is not None and record.kind != "admin":
        return None, _missing("organization", record, status=403)
    return record, refusal


# -- verify -----------------------------------------------------------------------------------------


MODELS = [
    {"id": "gpt-sandbox-1", "object": "model", "created": 1700000000, "owned_by": "system"},
    {"id": "gpt-sandbox-mini", "object": "model", "created": 1700000001, "owned_by": "system"},
]


def models(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, refusal = _key_caller(req, state)
    if record is None:
        return refusal  # type: ignore[return-value]
    if "models:read" not in record.scopes:
        return _missing("models:read", record, status=403)
    return _ok({"object": "list", "data": list(MODELS)}, record)


def model(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``GET /v1/models/{model}`` (https://platform.openai.com/docs/api-reference/models/retrieve)."""
    record, refusal = _key_caller(req, state)
    if record is None:
        return refusal  # type: ignore[return-value]
    if "models:read" not in record.scopes:
        return _missing("models:read", record, status=403)
    found = next((m for m in MODELS if m["id"] == match["id"]), None)
    if found is None:
        return _error(404, f"The model '{match['id']}' does not exist", code="model_not_found", record=record)
    return _ok(found, record)


_ORG = {
    "object": "organization",
    "id": "org-SANDBOX",
    "title": "Sandbox Org",
    "name": "org-sandbox",
    "description": "Breaker sandbox organisation",
    "personal": False,
    "is_default": True,
    "role": "owner",
}


def organizations(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, refusal = _key_caller(req, state)
    if record is None:
        return refusal  # type: ignore[return-value]
    if "organization" not in record.scopes:
        return _missing("organization", record, status=403)
    return _ok({"object": "list", "data": [_ORG]}, record)


def me(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, refusal = _key_caller(req, state)
    if record is None:
        return refusal  # type: ignore[return-value]
    return _ok(
        {
            "object": "user",
            "id": "user-SANDBOX",
            "email": f"{record.identity}@sandbox.invalid",
            "name": record.identity,
            "phone_number": None,
            "mfa_flag_enabled": False,
            "created": 1700000000,
            "orgs": {"object": "list", "data": [_ORG]},
        },
        record,
    )


# -- deep-probe targets: permitted → the status TruffleHog expects; denied → 401 "Missing scopes" ------

_CAPABILITIES: dict[tuple[str, str], tuple[str, int]] = {
    ("POST", "/v1/images/generations"): ("model_capabilities:write", 400),
    ("GET", "/v1/assistants"): ("assistants:read", 400),  # 400 without OpenAI-Beta: assistants=v2
    ("POST", "/v1/assistants"): ("assistants:write", 400),
    ("GET", "/v1/threads/{id}"): ("threads:read", 400),
    ("POST", "/v1/threads"): ("threads:write", 400),
    ("GET", "/v1/fine_tuning/jobs"): ("fine_tuning:read", 200),
    ("POST", "/v1/fine_tuning/jobs"): ("fine_tuning:write", 400),
    ("GET", "/v1/files"): ("files:read", 200),
    ("POST", "/v1/files"): ("files:write", 415),
    ("GET", "/v1/evals"): ("evals:read", 200),
    ("POST", "/v1/evals"): ("evals:write", 400),
    ("GET", "/v1/responses/{id}"): ("responses:read", 400),
    ("POST", "/v1/responses"): ("responses:write", 400),
}


def capability(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, refusal = _key_caller(req, state)
    if record is None:
        return refusal  # type: ignore[return-value]
    scope, status = (
        _CAPABILITIES.get((req.method, req.path)) or _CAPABILITIES[(req.method, req.path.rsplit("/", 1)[0] + "/{id}")]
    )
    if scope not in record.scopes:
        return _missing(scope, record)
    if (req.method, req.path) == ("GET", "/v1/assistants"):
        # The Assistants API answers only with the beta header, as the official clients send it
        # (https://platform.openai.com/docs/assistants/migration: "OpenAI-Beta: assistants=v2").
        if req.headers.get("openai-beta", "").replace(" ", "") != "assistants=v2":
            return _error(
                400,
                "You must provide the 'OpenAI-Beta' header to access the Assistants API. "
                "Please try again by setting the header 'OpenAI-Beta: assistants=v2'.",
                code="invalid_beta",
                record=record,
            )
        status = 200
    if status == 200:
        return _ok({"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}, record)
    if status == 415:
        return _error(415, "Invalid Content-Type header, expected multipart/form-data.", record=record)
    return _error(400, "Invalid request: the sandbox never creates anything.", record=record)


# -- chat completions, streamed or not -----------------------------------------------------------------

REPLY = ("The ", "sandbox ", "answers ", "word ", "by ", "word; ", "nothing ", "was ", "sent.")


def chat_completions(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``POST /v1/chat/completions`` (https://platform.openai.com/docs/api-reference/chat/create);
    with ``"stream": true`` the answer is ``text/event-stream``: ``chat.completion.chunk`` objects,
    one ``data:`` event each, then ``data: [DONE]``
    (https://platform.openai.com/docs/api-reference/chat-streaming). The reply is a fixed sentence."""
    record, refusal = _key_caller(req, state)
    if record is None:
        return refusal  # type: ignore[return-value]
    if "model_capabilities:write" not in record.scopes:
        return _missing("model_capabilities:write", record)
    body = req.json()
    if not isinstance(body, dict) or not body.get("model") or not isinstance(body.get("messages"), list):
        return _error(400, "'model' and 'messages' are required properties.", record=record)
    ident, created, model = f"chatcmpl-SANDBOX{secrets.token_hex(8)}", 1733300000, str(body["model"])
    head = {"id": ident, "created": created, "model": model, "system_fingerprint": None}
    if not body.get("stream"):
        message = {"role": "assistant", "content": "".join(REPLY), "refusal": None}
        usage = {"prompt_tokens": 9, "completion_tokens": len(REPLY), "total_tokens": 9 + len(REPLY)}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        return _ok({**head, "object": "chat.completion", "choices": [choice], "usage": usage}, record)

    def chunk(delta: dict, finish: str | None = None) -> dict:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**head, "object": "chat.completion.chunk", "choices": [choice]}

    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [chunk({"content": word}) for word in REPLY]
    events.append(chunk({}, "stop"))
    return sse_response([(None, e) for e in events] + [(None, "[DONE]")], _headers(record))


# -- Admin API ----------------------------------------------------------------------------------------


def _project_key(record: TokenRecord) -> dict:
    return {
        "object": "organization.project.api_key",
        "id": key_id(record),
        "name": record.meta.get("name", "sandbox key"),
        "redacted_value": redacted_value(record.token),
        "created_at": int(record.created_at.timestamp()),
        "last_used_at": record.meta.get("last_used_at"),
        "owner": _owner(record),
        "owner_project_access": "active",
    }


DEFAULT_SERVICE_ACCOUNT = "svc_acct_SANDBOX"


def service_account_of(record: TokenRecord) -> str:
    return str(record.meta.get("service_account_id") or DEFAULT_SERVICE_ACCOUNT)


def _owner(record: TokenRecord) -> dict:
    """A ProjectApiKey's ``owner``: ``{type, user}`` or ``{type, service_account}``
    (https://platform.openai.com/docs/api-reference/project-api-keys/object)."""
    if record.kind == "service_account":
        account = {
            "object": "organization.project.service_account",
            "id": service_account_of(record),
            "name": record.identity,
            "role": "member",
            "created_at": 1700000000,
        }
        return {"type": "service_account", "service_account": account}
    user = {
        "id": "user-SANDBOX",
        "name": record.identity,
        "email": f"{record.identity}@sandbox.invalid",
        "role": "owner",
        "created_at": 1700000000,
    }
    return {"type": "user", "user": user}


def _admin_key(record: TokenRecord) -> dict:
    return {
        "object": "organization.admin_api_key",
        "id": key_id(record),
        "name": record.meta.get("name", "sandbox admin"),
        "redacted_value": redacted_value(record.token),
        "created_at": int(record.created_at.timestamp()),
        "last_used_at": record.meta.get("last_used_at"),
        "owner": {
            "type": "user",
            "object": "organization.user",
            "id": "user-SANDBOX",
            "name": record.identity,
            "created_at": 1700000000,
            "role": "owner",
        },
    }


def _page(items: list[dict]) -> dict:
    return {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": False,
    }


def _records(state: SandboxState, admin: bool, project: str | None = None) -> list[TokenRecord]:
    return [
        r
        for r in list(state.tokens.values())
        if r.provider == PREFIX
        and not r.revoked
        and (r.kind == "admin") == admin
        and (project is None or r.meta.get("project_id", DEFAULT_PROJECT) == project)
    ]


def list_project_keys(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    caller, refusal = _admin(req, state)
    if caller is None:
        return refusal  # type: ignore[return-value]
    return _ok(_page([_project_key(r) for r in _records(state, False, match.group("project"))]), caller)


def delete_project_key(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    caller, refusal = _admin(req, state)
    if caller is None:
        return refusal  # type: ignore[return-value]
    for record in _records(state, False, match.group("project")):
        if key_id(record) == match.group("key"):
            state.revoke(record.token)
            return _ok(
                {"object": "organization.project.api_key.deleted", "id": key_id(record), "deleted": True}, caller
            )
    return _error(404, f"No such API key: {match.group('key')}", record=caller)


def get_project_key(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``GET …/projects/{project_id}/api_keys/{key_id}`` (https://platform.openai.com/docs/api-reference/project-api-keys/retrieve)."""
    caller, refusal = _admin(req, state)
    if caller is None:
        return refusal  # type: ignore[return-value]
    for record in _records(state, False, match.group("project")):
        if key_id(record) == match.group("key"):
            return _ok(_project_key(record), caller)
    return _error(404, f"No such API key: {match.group('key')}", record=caller)


def create_service_account_key(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``POST …/projects/{project_id}/service_accounts/{service_account_id}/api_keys``
    (https://platform.openai.com/docs/api-reference/project-service-accounts): a new key for the
    service account, its value shown once; the account's other keys stay as they are."""
    caller, refusal = _admin(req, state)
    if caller is None:
        return refusal  # type: ignore[return-value]
    project, account = match.group("project"), match.group("account")
    keys = [
        r for r in _records(state, False, project) if r.kind == "service_account" and service_account_of(r) == account
    ]
    if not keys:
        return _error(404, f"No such service account: {account}", record=caller)
    body = req.json() if isinstance(req.json(), dict) else {}
    scopes = body.get("scopes") if isinstance(body.get("scopes"), list) else list(keys[0].scopes)
    name = str(body.get("name") or "Secret Key")
    fresh = state.add(
        TokenRecord(
            token=make_token("service_account"),
            provider=PREFIX,
            kind="service_account",
            identity=keys[0].identity,
            scopes=[str(x) for x in scopes],
            meta={"project_id": project, "service_account_id": account, "name": name},
        )
    )
    return _ok(
        {
            "object": "organization.project.service_account.api_key",
            "id": key_id(fresh),
            "name": name,
            "value": fresh.token,
            "created_at": int(fresh.created_at.timestamp()),
            "expires_at": None,
        },
        caller,
    )


def list_admin_keys(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    caller, refusal = _admin(req, state)
    if caller is None:
        return refusal  # type: ignore[return-value]
    return _ok(_page([_admin_key(r) for r in _records(state, True)]), caller)


def delete_admin_key(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    caller, refusal = _admin(req, state)
    if caller is None:
        return refusal  # type: ignore[return-value]
    for record in _records(state, True):
        if key_id(record) == match.group("key"):
            state.revoke(record.token)
            return _ok({"object": "organization.admin_api_key.deleted", "id": key_id(record), "deleted": True}, caller)
    return _error(404, f"No such admin key: {match.group('key')}", record=caller)


ROUTES = [
    ("POST", r"/v1/chat/completions", chat_completions),
    ("GET", r"/v1/models", models),
    ("GET", r"/v1/models/(?P<id>[^/]+)", model),
    ("GET", r"/v1/organizations", organizations),
    ("GET", r"/v1/me", me),
    *[(method, path.replace("{id}", r"[^/]+"), capability) for method, path in _CAPABILITIES],
    ("GET", r"/v1/organization/projects/(?P<project>[^/]+)/api_keys", list_project_keys),
    ("GET", r"/v1/organization/projects/(?P<project>[^/]+)/api_keys/(?P<key>[^/]+)", get_project_key),
    ("DELETE", r"/v1/organization/projects/(?P<project>[^/]+)/api_keys/(?P<key>[^/]+)", delete_project_key),
    (
        "POST",
        r"/v1/organization/projects/(?P<project>[^/]+)/service_accounts/(?P<account>[^/]+)/api_keys",
        create_service_account_key,
    ),
    ("GET", r"/v1/organization/admin_api_keys", list_admin_keys),
    ("DELETE", r"/v1/organization/admin_api_keys/(?P<key>[^/]+)", delete_admin_key),
]
