"""Types shared by the sandbox server and its per-provider route modules.

A route module in ``connectors/sandbox/providers/`` defines ``PREFIX`` (the path prefix the
provider is served under, e.g. ``"github"`` → ``http://127.0.0.1:PORT/github/user``) and
``ROUTES``. The prefix stands for the provider's *host*, not its API root: below it come the same
paths as on the real host, so a client given the provider's documented base URL with only the host
swapped works unchanged (GitLab ``https://gitlab.com/api/v4`` → ``http://127.0.0.1:PORT/gitlab/api/v4``).
``API_PATH`` (default "") is the path of the documented base URL on that host (GitLab "/api/v4",
Graph "/v1.0", Slack "/api"), so ``base_url`` can hand a connector the same base URL the real
provider documents, host swapped. ``ROUTES``: a list of ``(method, path_regex, handler)``. A handler receives the request, the shared
:class:`SandboxState` and the regex match, and returns a :class:`SandboxResponse`. Handlers are
synchronous and fast; latency and faults are injected by the server, not by handlers.

Optional, for the server's ``mint``: ``KINDS`` (token kind → default scopes), ``make_token(kind)``
(which may also take ``scopes=`` and ``identity=`` when the token embeds them), and
``key_id_of(token)`` / ``identity_of(token)`` when the record's key id or identity can be read
back from the token itself.
"""

from __future__ import annotations

import json
import secrets as _secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs


@dataclass
class SandboxRequest:
    method: str
    path: str  # below the provider prefix, always starting with "/"
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    prefix: str = ""  # the provider prefix the request came in under, e.g. "gitlab"

    def url(self, path: str) -> str:
        """An absolute URL on this sandbox, below the request's provider prefix (``path`` starts
        with "/"), for the links a provider puts in its answers (``url``, ``next``, ``Link``)."""
        host = self.headers.get("host") or "127.0.0.1"
        return f"http://{host}/{self.prefix}{path}"

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode("utf-8", "replace")).items()}

    def arg(self, name: str) -> str | None:
        """A query or form parameter (Slack and Google accept both)."""
        if name in self.query:
            return self.query[name][-1]
        if self.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return self.form().get(name)
        return None

    def bearer(self) -> str | None:
        auth = self.headers.get("authorization", "")
        for scheme in ("bearer ", "token "):
            if auth.lower().startswith(scheme):
                return auth[len(scheme) :].strip()
        return None


@dataclass
class SandboxResponse:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # A streamed answer (text/event-stream): the server sends each event as its own chunk, with
    # ``event_gap_s`` between them; ``body`` holds them all for in-process transports.
    events: tuple[bytes, ...] = ()
    event_gap_s: float = 0.0


EVENT_GAP_S = 0.01  # between the events of a streamed answer (a model writing token by token)


def sse_response(events: list[tuple[str | None, Any]], headers: dict[str, str] | None = None) -> SandboxResponse:
    """A ``text/event-stream`` answer (https://html.spec.whatwg.org/multipage/server-sent-events.html):
    each ``(event name or None, data)`` becomes one event; data that is not a string is JSON."""
    out = []
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        out.append(((f"event: {name}\n" if name else "") + f"data: {text}\n\n").encode())
    hdrs = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
    hdrs.update(headers or {})
    return SandboxResponse(200, b"".join(out), hdrs, tuple(out), EVENT_GAP_S)


def json_response(status: int, obj: Any, headers: dict[str, str] | None = None) -> SandboxResponse:
    hdrs = {"content-type": "application/json; charset=utf-8"}
    hdrs.update(headers or {})
    return SandboxResponse(status, json.dumps(obj).encode(), hdrs)


def empty_response(status: int = 204, headers: dict[str, str] | None = None) -> SandboxResponse:
    return SandboxResponse(status, b"", dict(headers or {}))


@dataclass
class TokenRecord:
    """One credential the sandbox knows. ``scopes`` are the provider's own scope names."""

    token: str
    provider: str
    kind: str = ""
    identity: str = "sandbox-user"
    scopes: list[str] = field(default_factory=list)
    revoked: bool = False
    status: str = "active"  # provider-specific status (Anthropic: active/inactive; SendGrid …)
    key_id: str = ""  # the provider's id for the key (SendGrid api_key_id, Anthropic apikey_…)
    expires_at: datetime | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def live(self) -> bool:
        return not self.revoked and self.status == "active"


Handler = Callable[[SandboxRequest, "SandboxState", Any], SandboxResponse]
Route = tuple[str, str, Handler]


class SandboxState:
    """Tokens and their fate. Thread-safe: the demo runs the server in a thread beside the panel."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.tokens: dict[str, TokenRecord] = {}
        self.objects: dict[str, Any] = {}  # what the sandbox's providers keep between calls (a Gmail mailbox …)

    def kept(self, name: str, make: Callable[[], Any]) -> Any:
        """The object kept under ``name``, made by ``make()`` on first use."""
        with self._lock:
            return self.objects.setdefault(name, make())

    def add(self, record: TokenRecord) -> TokenRecord:
        with self._lock:
            if not record.key_id:
                record.key_id = _secrets.token_hex(6)
            self.tokens[record.token] = record
            return record

    def successor(self, record: TokenRecord, token: str, meta: dict[str, Any] | None = None) -> TokenRecord:
        """A new token of the same kind, account and scopes as ``record`` (a refresh token that a
        provider rotates on refresh); ``meta`` defaults to a copy of the old token's."""
        return self.add(
            TokenRecord(
                token=token,
                provider=record.provider,
                kind=record.kind,
                identity=record.identity,
                scopes=list(record.scopes),
                meta=dict(record.meta) if meta is None else meta,
            )
        )

    def get(self, token: str | None, provider: str | None = None) -> TokenRecord | None:
        if not token:
            return None
        with self._lock:
            record = self.tokens.get(token)
        if record is None or (provider is not None and record.provider != provider):
            return None
        return record

    def by_key_id(self, provider: str, key_id: str) -> TokenRecord | None:
        with self._lock:
            for record in self.tokens.values():
                if record.provider == provider and record.key_id == key_id:
                    return record
        return None

    def revoke(self, token: str) -> bool:
        with self._lock:
            record = self.tokens.get(token)
            if record is None or record.revoked:
                return False
            record.revoked = True
            return True

    def replace(self, old: TokenRecord, new_token: str, **changes: Any) -> TokenRecord:
        """Rotate: a new token with the same identity and scopes; the old one is revoked."""
        with self._lock:
            fresh = TokenRecord(
                token=new_token,
                provider=old.provider,
                kind=old.kind,
                identity=old.identity,
                scopes=list(old.scopes),
                meta=dict(old.meta),
            )
            for key, value in changes.items():
                setattr(fresh, key, value)
            old.revoked = True
            return self.add(fresh)

    @staticmethod
    def new_token(prefix: str, length: int = 36) -> str:
        """A fresh sandbox token. It always carries the word SANDBOX so nobody mistakes it for a real one."""
        body = _secrets.token_hex(length)[: max(8, length - 7)]
        return f"{prefix}SANDBOX{body}"


def state_to_json(state: SandboxState) -> dict[str, Any]:
    """The sandbox's tokens as plain JSON, so a demo home keeps revoked keys revoked across runs."""
    with state._lock:
        return {
            "tokens": [
                {
                    **{k: v for k, v in r.__dict__.items() if k not in ("created_at", "expires_at")},
                    "created_at": r.created_at.isoformat(),
                    "expires_at": r.expires_at.isoformat() if r.expires_at else None,
                }
                for r in state.tokens.values()
            ]
        }


def state_from_json(data: dict[str, Any]) -> SandboxState:
    state = SandboxState()
    for raw in data.get("tokens", []):
        raw = dict(raw)
        raw["created_at"] = datetime.fromisoformat(raw["created_at"])
        raw["expires_at"] = datetime.fromisoformat(raw["expires_at"]) if raw.get("expires_at") else None
        state.add(TokenRecord(**raw))
    return state
