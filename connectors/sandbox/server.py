"""The loopback sandbox server: HTTP/1.1 on asyncio streams, parsed and framed by h11.

Every request below ``/<prefix>/`` goes through :mod:`connectors.sandbox.dispatch` to the route
module serving that provider; faults (:mod:`connectors.sandbox.faults`) are injected here, not in
the handlers. ``/_sandbox/`` is a small JSON admin API (mint tokens, set faults, read the request
log, reset) for the demo, ``breaker sandbox`` and tests; the same operations exist as methods.

Each connection is its own task and latency is an ``asyncio.sleep``, so slow or hanging requests
never hold up other connections. Connections are kept alive between requests (httpx reuses them).

The request log keeps only time, method, provider prefix and path: never headers, query strings
or bodies, which may carry credentials; a path segment that is a sandbox token is masked too.
Admin calls are not provider traffic and are not recorded.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from email.utils import formatdate
from http import HTTPStatus
from types import ModuleType
from typing import Any, NamedTuple

import h11

from connectors.sandbox import dispatch as _dispatch
from connectors.sandbox.core import SandboxRequest, SandboxResponse, SandboxState, TokenRecord, json_response
from connectors.sandbox.faults import Fault, FaultTable

log = logging.getLogger(__name__)

ADMIN_PREFIX = "_sandbox"
MAX_BODY = 1 << 20  # sandbox requests are small; refuse anything bigger than 1 MiB
READ_CHUNK = 64 * 1024
MASK = "[token]"


class RecordedRequest(NamedTuple):
    """One provider request as the server saw it. Deliberately nothing that could hold a secret."""

    time: float  # epoch seconds
    method: str
    prefix: str  # the provider prefix, e.g. "github"
    path: str  # below the prefix, without the query, e.g. "/user"

    @property
    def full_path(self) -> str:
        return f"/{self.prefix}{self.path}"


class _BodyTooLarge(Exception):
    pass


class SandboxServer:
    """The sandbox on one loopback port. ``start``/``stop`` run on the caller's event loop."""

    def __init__(
        self, state: SandboxState | None = None, host: str = "127.0.0.1", port: int = 0, *, max_log: int = 10_000
    ) -> None:
        self.state = state if state is not None else SandboxState()
        self.faults = FaultTable()
        self.host = host
        self.port = port
        self._log: deque[RecordedRequest] = deque(maxlen=max_log)
        self._log_lock = threading.Lock()  # tests read the log from another thread than the server's
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self.connections_opened = 0  # lets tests see that keep-alive reuses connections

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> SandboxServer:
        if self._server is not None:
            raise RuntimeError("the sandbox server is already running")
        self._server = await asyncio.start_server(self._serve_connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.debug("sandbox listening on %s", self.url)
        return self

    async def stop(self) -> None:
        """Stop listening and end every open connection, hanging ones included."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
        log.debug("sandbox on port %s stopped", self.port)

    async def __aenter__(self) -> SandboxServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def host_url(self, prefix: str) -> str:
        """The sandbox's stand-in for the provider's host, e.g. ``http://127.0.0.1:PORT/gitlab``
        (what python-gitlab takes as the instance URL)."""
        return f"{self.url}/{prefix}"

    def base_url(self, prefix: str) -> str:
        """The base URL to give a connector for ``prefix``: the provider's documented base URL with
        the host swapped, e.g. ``http://127.0.0.1:PORT/github``, ``http://127.0.0.1:PORT/gitlab/api/v4``."""
        return _dispatch.base_url(self.url, prefix)

    # -- request log ----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._log_lock:
            return list(self._log)

    def calls(self, prefix: str | None = None) -> list[tuple[str, str]]:
        """``(method, "/prefix/path")`` pairs, like :attr:`SandboxTransport.calls`."""
        return [(r.method, r.full_path) for r in self.requests if prefix is None or r.prefix == prefix]

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    def _record(self, method: str, prefix: str, path: str) -> None:
        entry = RecordedRequest(time.time(), method, prefix, path)
        with self._log_lock:
            self._log.append(entry)

    def _mask(self, path: str) -> str:
        """Mask path segments that are tokens (a provider may put a key id or token in a path)."""
        if "SANDBOX" not in path and not any(seg in self.state.tokens for seg in path.split("/") if seg):
            return path
        return "/".join(
            MASK if seg and ("SANDBOX" in seg or seg in self.state.tokens) else seg for seg in path.split("/")
        )

    # -- Python admin API -----------------------------------------------------------------------

    def mint(
        self,
        provider: str,
        kind: str | None = None,
        scopes: list[str] | None = None,
        identity: str | None = None,
        token: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> TokenRecord:
        """Create a token through the provider's route module (or register ``token``) and return it.

        The module's ``make_token`` gets ``scopes=``/``identity=`` when it takes them (a token that
        embeds its grant); its optional ``key_id_of(token)``/``identity_of(token)`` set the record's.
        ``meta`` is the record's provider facts (a Notion client secret's ``client_id``, the HubSpot
        refresh token an access token came from, ``rate_limited``), over the module's
        ``default_meta(kind)`` when it has one.
        """
        if meta is not None and (
            not isinstance(meta, dict) or not all(isinstance(v, (str, int, float, bool)) for v in meta.values())
        ):
            raise ValueError("meta must be an object of plain values")
        module = _dispatch.route_modules().get(provider)
        if module is None:
            known = ", ".join(sorted(_dispatch.route_modules())) or "none"
            raise ValueError(f"the sandbox serves no provider {provider!r}; known: {known}")
        kinds: dict[str, list[str]] = dict(getattr(module, "KINDS", None) or {})
        if kind is None:
            kind = next(iter(kinds), "")
        elif kinds and kind not in kinds:
            raise ValueError(f"unknown kind {kind!r} for {provider}; known: {', '.join(kinds)}")
        scopes = list(scopes if scopes is not None else kinds.get(kind, []))
        if token is None:
            token = _make_token(module, provider, kind, scopes, identity)
        if "SANDBOX" not in token:
            raise ValueError("sandbox tokens must contain the word SANDBOX")
        defaults = module.default_meta(kind) if hasattr(module, "default_meta") else {}
        record = TokenRecord(
            token=token,
            provider=getattr(module, "PROVIDER", provider),
            kind=kind,
            scopes=scopes,
            meta={**defaults, **(meta or {})},
        )
        # The record mirrors what the token itself says, where the route module can read it back.
        identity = identity if identity is not None else _read_back(module, "identity_of", token)
        if identity:
            record.identity = identity
        if key_id := _read_back(module, "key_id_of", token):
            record.key_id = key_id  # e.g. SendGrid's api_key_id is the token's middle segment
        return self.state.add(record)

    def tokens(self) -> list[dict[str, Any]]:
        """Every known token, described without its value (last four characters only)."""
        return [token_info(record) for record in list(self.state.tokens.values())]

    def providers(self) -> dict[str, dict[str, list[str]]]:
        """The prefixes served, each with its token kinds and their default scopes."""
        return {
            prefix: {kind: list(scopes) for kind, scopes in (getattr(module, "KINDS", None) or {}).items()}
            for prefix, module in sorted(_dispatch.route_modules().items())
        }

    def reset(self) -> None:
        """Forget every token, fault and logged request."""
        self.state.tokens.clear()
        self.faults.clear()
        self.clear_requests()

    # -- connections ----------------------------------------------------------------------------

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self.connections_opened += 1
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
        try:
            while await self._serve_one(conn, reader, writer):
                conn.start_next_cycle()
        except h11.RemoteProtocolError as exc:
            await self._send_error(conn, writer, exc.error_status_hint, "malformed HTTP request")
        except _BodyTooLarge:
            await self._send_error(conn, writer, 413, "request body too large for the sandbox")
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away; nothing to answer
        except asyncio.CancelledError:
            # stop() cancels open connections. Ending quietly (not re-raising) is fine for this
            # top-level task and keeps Python 3.11's stream callback from logging a bogus error.
            pass
        except Exception as exc:  # never let one connection's failure reach the event loop
            log.debug("sandbox connection failed: %s", type(exc).__name__)
        finally:
            self._connections.discard(task)
            writer.close()

    async def _serve_one(
        self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Read one request and answer it. True when the connection may carry another request."""
        event = await _next_event(conn, reader)
        if not isinstance(event, h11.Request):
            return False  # ConnectionClosed: the client closed an idle keep-alive connection
        if conn.they_are_waiting_for_100_continue:
            writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
        body = await _read_body(conn, reader)
        method = event.method.decode("ascii")
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in event.headers}
        prefix, request = _dispatch.request_from_parts(method, event.target.decode("latin-1"), headers, body)

        if prefix == ADMIN_PREFIX:
            response: SandboxResponse | None = self._admin(request)
        else:
            self._record(request.method, prefix, self._mask(request.path))
            response = await self._provider_answer(prefix, request, self.faults.take(prefix), reader)
        if response is None:  # hang or drop: close without an answer
            return False
        await _send(conn, writer, response, head=request.method == "HEAD")
        return conn.our_state is h11.DONE and conn.their_state is h11.DONE

    async def _provider_answer(
        self, prefix: str, request: SandboxRequest, fault: Fault | None, reader: asyncio.StreamReader
    ) -> SandboxResponse | None:
        if fault is not None:
            if fault.latency_ms:
                await asyncio.sleep(fault.latency_ms / 1000)
            if fault.hang:
                await _wait_for_hangup(reader)
                return None
            if fault.drop:
                return None
            status = fault.answer_status
            if status is not None:
                return _fault_response(fault, status, prefix)
        try:
            return _dispatch.dispatch(self.state, prefix, request)
        except Exception as exc:  # a bug in a route module must not take the server down
            log.debug("sandbox handler for /%s%s raised %s", prefix, self._mask(request.path), type(exc).__name__)
            return json_response(500, {"message": "sandbox handler error", "error": type(exc).__name__})

    async def _send_error(self, conn: h11.Connection, writer: asyncio.StreamWriter, status: int, message: str) -> None:
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        try:
            await _send(conn, writer, json_response(status, {"message": message}, {"connection": "close"}), head=False)
        except (ConnectionError, h11.LocalProtocolError):
            pass

    # -- HTTP admin API -------------------------------------------------------------------------

    def _admin(self, request: SandboxRequest) -> SandboxResponse:
        route = (request.method, request.path.rstrip("/") or "/")
        try:
            if route == ("GET", "/"):
                return json_response(200, {"url": self.url, "providers": self.providers()})
            if route == ("GET", "/providers"):
                return json_response(200, {"providers": self.providers()})
            if route == ("POST", "/tokens"):
                fields = _fields(
                    request, required={"provider"}, optional={"kind", "scopes", "identity", "token", "meta"}
                )
                record = self.mint(**fields)
                # A sandbox token is not a credential; handing it back is what the admin API is for.
                return json_response(201, {**token_info(record), "token": record.token})
            if route == ("GET", "/tokens"):
                return json_response(200, {"tokens": self.tokens()})
            if route == ("GET", "/faults"):
                return json_response(200, {"faults": self.faults.snapshot()})
            if route == ("POST", "/faults"):
                fields = _fields(
                    request,
                    required={"provider"},
                    optional={"latency_ms", "status", "retry_after", "hang", "drop", "times"},
                )
                fault = self.faults.set(fields.pop("provider"), **fields)
                return json_response(201, {"fault": fault.as_dict()})
            if route == ("DELETE", "/faults"):
                body = request.json()
                provider = request.arg("provider") or (body.get("provider") if isinstance(body, dict) else None)
                self.faults.clear(provider)
                return json_response(200, {"faults": self.faults.snapshot()})
            if route == ("GET", "/requests"):
                return json_response(200, {"requests": [r._asdict() for r in self.requests]})
            if route == ("DELETE", "/requests"):
                self.clear_requests()
                return json_response(200, {"requests": []})
            if route == ("POST", "/reset"):
                self.reset()
                return json_response(200, {"reset": True})
        except (ValueError, TypeError) as exc:
            return json_response(400, {"message": str(exc)})
        return json_response(404, {"message": f"no sandbox admin endpoint {route[0]} /_sandbox{request.path}"})


def _make_token(module: ModuleType, provider: str, kind: str, scopes: list[str], identity: str | None) -> str:
    """A fresh token from the route module. A token that embeds its grant (Microsoft's JWT claims)
    is made with the record's scopes and identity, so the two cannot disagree."""
    make = getattr(module, "make_token", None)
    if make is None:
        return SandboxState.new_token(f"{provider}_")
    wanted = {"scopes": scopes, "identity": identity}
    return make(kind, **{name: value for name, value in wanted.items() if value is not None and _accepts(make, name)})


def _accepts(function: Callable[..., Any], name: str) -> bool:
    """Whether ``function`` takes the keyword argument ``name``."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # a builtin or C function without a signature
        return False
    return any(
        p.kind is p.VAR_KEYWORD or (p.name == name and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        for p in parameters
    )


def _read_back(module: ModuleType, hook: str, token: str) -> str | None:
    """What the module's optional ``hook(token)`` (``key_id_of``, ``identity_of``) reads from a token."""
    read = getattr(module, hook, None)
    return (read(token) or None) if callable(read) else None


def token_info(record: TokenRecord) -> dict[str, Any]:
    """A token described for listings: everything but its value."""
    return {
        "provider": record.provider,
        "kind": record.kind,
        "key_id": record.key_id,
        "identity": record.identity,
        "scopes": list(record.scopes),
        "revoked": record.revoked,
        "status": record.status,
        "last4": record.token[-4:],
        "expires_at": record.expires_at.isoformat() if record.expires_at else None,
    }


# -- HTTP plumbing ------------------------------------------------------------------------------


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        conn.receive_data(await reader.read(READ_CHUNK))  # b"" tells h11 the peer closed


async def _read_body(conn: h11.Connection, reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        event = await _next_event(conn, reader)
        if isinstance(event, h11.EndOfMessage):
            return b"".join(chunks)
        if isinstance(event, h11.Data):
            size += len(event.data)
            if size > MAX_BODY:
                raise _BodyTooLarge
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.ConnectionClosed):
            raise ConnectionResetError("client closed mid-request")


async def _send(conn: h11.Connection, writer: asyncio.StreamWriter, response: SandboxResponse, *, head: bool) -> None:
    bodiless = response.status in (204, 304)
    headers = [
        (name, value)
        for name, value in response.headers.items()
        if name.lower() not in ("content-length", "transfer-encoding", "date", "server")
    ]
    if response.events and not head:
        await _send_events(conn, writer, response, headers)
        return
    if not bodiless:
        headers.append(("content-length", str(len(response.body))))
    headers += [("date", formatdate(usegmt=True)), ("server", "breaker-sandbox")]
    # The status line carries the standard reason phrase (RFC 9110 §15, https://www.rfc-editor.org/rfc/rfc9110#section-15):
    # clients build their error messages from it ("404 Not Found"), h11 alone sends none.
    out = conn.send(h11.Response(status_code=response.status, headers=headers, reason=_reason(response.status)))
    if response.body and not (head or bodiless):
        out += conn.send(h11.Data(data=response.body))
    out += conn.send(h11.EndOfMessage())
    writer.write(out)  # one write per response: fewer syscalls, no Nagle pause between head and body
    await writer.drain()


async def _send_events(
    conn: h11.Connection, writer: asyncio.StreamWriter, response: SandboxResponse, headers: list
) -> None:
    """A streamed answer: no content-length (h11 frames it chunked), each event written and flushed
    on its own, ``event_gap_s`` apart, as a provider streams a model's output."""
    headers = [*headers, ("date", formatdate(usegmt=True)), ("server", "breaker-sandbox")]
    writer.write(conn.send(h11.Response(status_code=response.status, headers=headers, reason=_reason(response.status))))
    for i, event in enumerate(response.events):
        if i and response.event_gap_s:
            await asyncio.sleep(response.event_gap_s)
        writer.write(conn.send(h11.Data(data=event)))
        await writer.drain()
    writer.write(conn.send(h11.EndOfMessage()))
    await writer.drain()


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


async def _wait_for_hangup(reader: asyncio.StreamReader) -> None:
    """Hold a hung request until the client gives up (EOF) or the server stops (cancellation)."""
    while await reader.read(READ_CHUNK):
        pass


def _fault_response(fault: Fault, status: int, prefix: str = "") -> SandboxResponse:
    """The injected answer. A rate limit (429, or ``retry_after`` alone) comes in the provider's own
    shape, so the probes are tested on what they will really read:

    - Slack: ``{"ok": false, "error": "ratelimited"}`` with ``Retry-After``, on 429 — or on 200 when the
      fault's status is 200 (https://api.slack.com/docs/rate-limits);
    - GitHub: a secondary rate limit, 403 with its message and ``Retry-After``
      (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits);
    - SendGrid: 429 with an ``errors`` list and the ``X-RateLimit-*`` headers
      (https://www.twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/rate-limits).
    """
    headers = {}
    if fault.retry_after_header() is not None:
        headers["retry-after"] = fault.retry_after_header()
    limited = status == 429 or (prefix == "slack" and status == 200 and fault.retry_after is not None)
    if limited and prefix == "slack":
        return json_response(status, {"ok": False, "error": "ratelimited"}, headers)
    if limited and prefix == "github":
        body = {
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
            "If you reach out to GitHub Support for help, please include the request ID SANDBOX.",
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
            "status": "403",
        }
        return json_response(403, body, {"x-ratelimit-remaining": "4999", **headers})
    if limited and prefix == "sendgrid":
        reset = str(int(time.time()) + int(fault.retry_after or 1))
        rate = {"x-ratelimit-limit": "600", "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
        return json_response(429, {"errors": [{"field": None, "message": "too many requests"}]}, {**rate, **headers})
    message = "rate limited (sandbox fault)" if status == 429 else f"HTTP {status} (sandbox fault)"
    return json_response(status, {"error": {"type": "sandbox_fault", "message": message}}, headers)


def _fields(request: SandboxRequest, *, required: set[str], optional: set[str]) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object body")
    unknown = set(body) - required - optional
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    missing = required - set(body)
    if missing:
        raise ValueError(f"missing fields: {', '.join(sorted(missing))}")
    return body


# -- running it ---------------------------------------------------------------------------------


class ThreadedSandbox:
    """A :class:`SandboxServer` on its own event loop in a background thread.

    For the demo (the panel owns the main thread's loop) and for sync or async tests.
    ``with ThreadedSandbox() as server:`` yields the started :class:`SandboxServer`; its ``mint``,
    ``faults``, ``requests`` and ``state`` are thread-safe to use from the caller's thread.
    """

    def __init__(self, state: SandboxState | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = SandboxServer(state, host, port)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout: float = 10.0) -> SandboxServer:
        if self._thread is not None:
            raise RuntimeError("the sandbox thread is already running")
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name="breaker-sandbox", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the sandbox server did not start in time")
        if self._error is not None:
            self._thread.join(timeout)
            self._thread = None
            raise self._error
        return self.server

    def stop(self, timeout: float = 5.0) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:  # the loop already ended
                pass
        thread.join(timeout)
        if thread.is_alive():
            log.debug("sandbox thread did not stop within %.1fs", timeout)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def state(self) -> SandboxState:
        return self.server.state

    @property
    def faults(self) -> FaultTable:
        return self.server.faults

    def base_url(self, prefix: str) -> str:
        return self.server.base_url(prefix)

    def host_url(self, prefix: str) -> str:
        return self.server.host_url(prefix)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # report start-up failures (port in use …) to start()
            if not self._ready.is_set():
                self._error = exc
                self._ready.set()
            else:
                log.debug("sandbox thread ended with %s", type(exc).__name__)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        await self.server.start()
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await self.server.stop()


def serve_forever(
    state: SandboxState | None = None,
    port: int = 0,
    on_ready: Callable[[SandboxServer], None] | None = None,
    *,
    host: str = "127.0.0.1",
) -> None:
    """Run the sandbox in the foreground until interrupted (Ctrl-C). ``on_ready`` gets the started server."""

    async def main() -> None:
        server = SandboxServer(state, host, port)
        await server.start()
        try:
            if on_ready is not None:
                on_ready(server)
            await asyncio.Event().wait()
        finally:
            await server.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
