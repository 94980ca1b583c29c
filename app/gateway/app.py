"""The gateway as an ASGI application: authenticate, classify, decide, forward — for every request.

``http://127.0.0.1:PORT/<connector>/<the provider's path>``: the first segment names the connector,
the rest is forwarded to the connector's upstream (fixed in the inventory, never taken from the
request) with the real key added and the agent's Breaker token removed. Each request reads the
token's route and the connector's mode afresh (:class:`app.services.gateway.Lookup`), so a switch
made anywhere applies to the very next request, on a reused connection too. Decisions come from
:mod:`app.services.enforcement`; levels from the provider's table in ``connectors/rules``.

Responses pass through as they come: ``text/event-stream`` chunk by chunk (never buffered,
never compressed: the upstream is asked for ``identity``), and an open stream is ended when its
connector's mode stops allowing it. Absolute URLs that point back at the provider (``Link``,
``Location``, and JSON bodies such as Graph's ``@odata.nextLink`` or HubSpot's paging links) are
rewritten to the gateway. Redirects are never followed here: the agent follows them itself,
without the real key.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import quote, unquote, urlsplit

import httpx

from app.gateway.oauth import Refresher, RefreshFailed
from app.services import enforcement, pinned
from app.services.binding import DestinationChanged
from app.services.enforcement import PROBLEM_CONTENT_TYPE, Decision
from app.services.gateway import (
    CHECK_HEADER,
    TOKEN_PREFIX,
    Lookup,
    Route,
    accepted_headers,
    check_header_valid,
    record_usage,
)
from app.store.snapshot import utcnow
from connectors import registry
from connectors.base import Level, Secret
from connectors.requests import Request

if TYPE_CHECKING:  # aiohttp is imported when the first transport is made (app.services.pinned), not here
    from app.services.aiotransport import Answer

log = logging.getLogger("breaker.gateway")

MAX_BODY = 32 << 20  # a request body larger than 32 MiB is refused (413)
MAX_REWRITE = 16 << 20  # JSON bodies up to 16 MiB are read whole to rewrite provider URLs
STREAM_WATCH_S = 0.02  # how often open streams re-read their connector's mode
# Usage rows are written behind the answers, in one transaction per batch: USAGE_FLUSH_S after the
# first row of a batch, or at once when USAGE_BATCH rows wait. A clean stop (Ctrl-C, SIGTERM, the
# panel's stop) writes what waits (GatewayApp.aclose, app.gateway.server's shutdown); a crash of the
# process (SIGKILL, power loss) loses at most the last USAGE_FLUSH_S seconds of usage rows — never a
# held request's decision or an audit event, which are written when they happen.
USAGE_FLUSH_S = 1.0
USAGE_BATCH = 500
SECRET_TTL_S = 5.0  # a key read from the keyring is reused this long (a rotation shows within it)
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers"}
    | {"transfer-encoding", "upgrade", "host", "content-length"}
)
SHARDS = 8  # upstream connection pools, used in turn (see GatewayApp.__init__)
SHARD_CONNECTIONS = 50  # connections per pool: 400 at most to the providers at once
SHARD_KEEPALIVE = 16  # idle connections kept per pool
UPSTREAM_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
TIMEOUT = UPSTREAM_TIMEOUT.as_dict()  # the transport's timeouts, as httpx's "timeout" extension gives them
CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key", "cookie"})
# What never goes upstream from the agent's request: hop-by-hop headers, its credentials (the
# Breaker token), its Accept-Encoding (the gateway asks for identity) and forwarding headers.
NOT_FORWARDED = HOP_BY_HOP | CREDENTIAL_HEADERS | {"accept-encoding", "x-forwarded-for", "forwarded"}
KEPT = 256  # host headers, providers and rewriters kept per gateway (each a handful in practice)
URLS_KEPT, URL_KEPT_LEN = 1024, 512  # upstream URLs kept parsed: how many, and up to what length
# Response headers never relayed to the agent: hop-by-hop ones (the gateway frames its own answer)
# and Set-Cookie (a provider's cookie is not the agent's to keep), as raw lower-case bytes.
NOT_RELAYED = frozenset(name.encode() for name in (*HOP_BY_HOP, "set-cookie"))
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})

Send = Callable[[dict], Awaitable[None]]
Receive = Callable[[], Awaitable[dict]]


def problem(status: int, title: str, detail: str, **extra) -> tuple[int, bytes]:
    body = {"type": enforcement.PROBLEM_TYPE + title.split(":")[0].lower().replace(" ", "-"), "title": title}
    body.update(status=status, detail=detail, refused_by="breaker-gateway", **extra)
    return status, json.dumps(body).encode()


_DATE: list = [0, b""]


def http_date() -> bytes:
    """The Date header of the gateway's own answers (RFC 9110 §6.6.1), made once a second."""
    now = int(time.time())
    if _DATE[0] != now:
        _DATE[:] = [now, formatdate(now, usegmt=True).encode()]
    return _DATE[1]


BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})  # httpx sends Content-Length: 0 with these when bodiless


class NotAscii(ValueError):
    """A request header the gateway would forward is not ASCII (httpx refuses to send one)."""


def upstream_headers(method: str, url: httpx.URL, headers: list[tuple[str, str]], body: bytes) -> list[tuple[str, str]]:
    """The header lines of ``httpx.Request(method, url, headers=headers, content=body)``, in its order
    and words (tests/gateway/test_forwarding.py compares them): Host first; Content-Length after the
    others, or 0 first for a bodiless POST/PUT/PATCH. Built as the transport sends them, so no httpx
    Request is made on the gateway's path (:meth:`AiohttpTransport.send`). A name or value that is
    not ASCII raises :class:`NotAscii`, as httpx's ``UnicodeEncodeError`` did."""
    for name, value in headers:
        if not (name.isascii() and value.isascii()):
            raise NotAscii(name)
    out = [("Host", url.netloc.decode("ascii"))]
    if body:
        out += headers
        out.append(("Content-Length", str(len(body))))
    else:
        if method.upper() in BODY_METHODS:
            out.append(("Content-Length", "0"))
        out += headers
    return out


def token_of(headers: dict[str, str]) -> str | None:
    """The Breaker token the agent sent, in whichever header its SDK uses for a key."""
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip().startswith(TOKEN_PREFIX):
        return value.strip()
    if scheme.lower() == "basic":  # Stripe's SDKs: the key as the user name
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            user = base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
            if user.startswith(TOKEN_PREFIX):
                return user
    for name in ("x-api-key", "x-goog-api-key"):
        value = headers.get(name, "").strip()
        if value.startswith(TOKEN_PREFIX):
            return value
    return None


class GatewayApp:
    """One gateway over one open inventory. ``await app.aclose()`` when done."""

    def __init__(self, services, *, queue=None, on_event: Callable[[str], None] | None = None) -> None:
        self.services = services
        self.lookup = Lookup(services)
        self.queue = queue  # app.gateway.queue.HoldQueue, or None: "ask" is then refused
        self.on_event = on_event or (lambda text: log.info(text))
        # Agents' requests go straight to the transports (connection pools, AiohttpTransport.send:
        # header lines in, the raw answer out, no httpx Request or Response): no client-side
        # cookie jar (a provider's Set-Cookie must never ride along on another agent's request), no
        # redirect or auth handling (the gateway never follows redirects), and a fraction of the
        # per-request interpreter work of AsyncClient.send. Several small pools taken in turn, not
        # one big one: httpcore's pool walks all its connections (a socket poll for each idle one)
        # on every request and every release (encode/httpcore#1035), so at 100 concurrent agents
        # one pool of 100 connections spent most of the gateway's time there. Every pool, and the
        # client kept for OAuth refreshes, connects only to checked addresses (DNS rebinding:
        # app.services.pinned).
        limits = httpx.Limits(max_connections=SHARD_CONNECTIONS, max_keepalive_connections=SHARD_KEEPALIVE)
        self.transports = tuple(pinned.transport(limits, verify=True) for _ in range(SHARDS))
        self._turn = itertools.count()
        self.http = httpx.AsyncClient(
            timeout=UPSTREAM_TIMEOUT,
            follow_redirects=False,
            trust_env=False,
            transport=pinned.transport(httpx.Limits(max_connections=10), verify=True),
        )
        self._secrets: dict[str, tuple[float, Secret]] = {}
        self._sealed: dict[tuple, float] = {}  # (connector, key, upstream) → when its seal was last checked
        self.settings: dict[int, dict] = {}  # connector id → its settings, as its seal last held them
        self.oauth = Refresher(services, self.http, self._rotated)
        self._streams: dict[asyncio.Task, tuple[int, Level]] = {}
        self._watcher: asyncio.Task | None = None
        self._usage: list[dict] = []
        self._flusher: asyncio.Task | None = None
        # Per-request work that depends only on what rarely changes, computed once: whether a Host
        # header names loopback, the provider object of a route, a route's URL rewriter.
        self._hosts: dict[str, bool] = {}
        self._providers: dict[str, object] = {}
        self._rewriters: dict[tuple, Rewriter] = {}
        self._urls: dict[str, httpx.URL] = {}

    async def aclose(self) -> None:
        for task in list(self._streams):
            task.cancel()
        if self._watcher is not None:
            self._watcher.cancel()
        if self._flusher is not None:
            self._flusher.cancel()
        await self.flush_usage()
        await self.http.aclose()
        for transport in self.transports:
            await transport.aclose()
        self.lookup.close()

    # -- ASGI -----------------------------------------------------------------------------------
    async def __call__(self, scope: dict, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        try:
            await self.handle(scope, receive, send)
        except httpx.HTTPError as exc:
            status, body = problem(502, "Bad gateway: the provider did not answer", type(exc).__name__)
            with contextlib.suppress(Exception):
                await self.respond(send, status, body)
        except RefreshFailed as exc:
            self.on_event(str(exc))
            status, body = problem(502, "Bad gateway: no access token", str(exc))
            with contextlib.suppress(Exception):
                await self.respond(send, status, body)
        except NotAscii:
            status, body = problem(400, "Bad request", "a request header is not ASCII; nothing was sent")
            with contextlib.suppress(Exception):
                await self.respond(send, status, body)
        except DestinationChanged as exc:  # audited by binding (key.refused); nothing was sent
            self.on_event(str(exc))
            status, body = problem(502, "Refused: where the key would go has changed", str(exc))
            with contextlib.suppress(Exception):
                await self.respond(send, status, body)

    async def respond(self, send: Send, status: int, body: bytes, content_type: str = PROBLEM_CONTENT_TYPE) -> None:
        headers = [
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"date", http_date()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def handle(self, scope: dict, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if not self.loopback_host(host):
            # DNS rebinding, or a client using the gateway as a forward proxy: refused.
            await self.respond(send, *problem(421, "Unknown host", "the gateway answers on loopback only"))
            return
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if not raw_path.startswith("/"):
            await self.respond(send, *problem(400, "Unknown host", "absolute-form request targets are refused"))
            return
        first, _, rest = raw_path[1:].partition("/")
        name = unquote(first)
        if name in ("", "_breaker"):
            body = json.dumps({"gateway": "breaker", "ok": True}).encode()
            await self.respond(send, 200, body, "application/json")
            return
        if CHECK_HEADER in headers:
            await self.check(name, headers, "/" + rest, scope, receive, send)
            return
        token = token_of(headers)
        route = self.lookup.route(token) if token else None
        if route is None or route.connector != name:
            await self.respond(
                send,
                *problem(401, "Unauthorized", "send the Breaker token issued for this connector (breaker token NAME)"),
            )
            return
        body = await self.read_body(receive)
        if body is None:
            await self.respond(send, *problem(413, "Request too large", f"bodies over {MAX_BODY} bytes are refused"))
            return
        path = "/" + rest
        request = Request(
            scope["method"], route.rules_host, path, scope.get("query_string", b"").decode(), headers, body
        )
        verdict = enforcement.check(route.connector, route.provider, route.mode, request, route.on_above)
        if verdict.decision is Decision.ASK and self.queue is not None:
            result = await self.queue.run(
                route, request, verdict, lambda: self.forward_buffered(route, request), self.send_upstream
            )
            if not isinstance(result, enforcement.Verdict):
                self.use(route, request, verdict, result.status)
                await send({"type": "http.response.start", "status": result.status, "headers": result.headers})
                await send({"type": "http.response.body", "body": result.body})
                return
            verdict = result
        elif verdict.decision is Decision.ASK:
            verdict = self.no_queue(verdict)
        if verdict.decision is not Decision.ALLOW:
            self.use(route, request, verdict, 403)
            self.on_event(f"refused {route.connector} {verdict.template or request.method} ({verdict.reason})")
            await self.respond(send, 403, json.dumps(verdict.problem(403)).encode())
            return
        await self.forward(scope, route, request, verdict, send)

    def loopback_host(self, host: str) -> bool:
        """Whether a Host header names this machine's loopback (any port); kept per header value."""
        known = self._hosts.get(host)
        if known is None:
            try:
                hostname = urlsplit(f"//{host}").hostname or ""
            except ValueError:
                hostname = ""
            known = hostname in LOOPBACK_HOSTS or f"[{hostname}]" in LOOPBACK_HOSTS
            if len(self._hosts) >= KEPT:
                self._hosts.clear()
            self._hosts[host] = known
        return known

    def provider(self, name: str):
        found = self._providers.get(name)
        if found is None:
            found = self._providers[name] = registry.get(name)  # stateless instances (connectors.registry)
        return found

    async def check(self, name: str, headers: dict, path: str, scope: dict, receive: Receive, send: Send) -> None:
        """A switch check (``app.services.gateway_check``): decided exactly like an agent's request
        on the connector's route and current mode, then answered — never forwarded, never recorded
        as use. Signed with a per-install key from the keyring; anything else is refused."""
        if not check_header_valid(self.services.secrets, name, headers[CHECK_HEADER]):
            await self.respond(send, *problem(401, "Unauthorized", "the check is not signed by this installation"))
            return
        route = await asyncio.to_thread(self.lookup.route_by_name, name)
        if route is None:
            await self.respond(send, *problem(404, "Not routed", f"{name} is not routed through this gateway"))
            return
        body = await self.read_body(receive) or b""
        request = Request(
            scope["method"], route.rules_host, path, scope.get("query_string", b"").decode(), headers, body
        )
        verdict = enforcement.check(route.connector, route.provider, route.mode, request, route.on_above)
        if verdict.decision is Decision.ASK and self.queue is None:
            verdict = self.no_queue(verdict)
        if verdict.decision is Decision.REFUSE:
            await self.respond(send, 403, json.dumps(verdict.problem(403)).encode())
            return
        would = "hold for the owner's answer" if verdict.decision is Decision.ASK else "forward"
        answer = {"check": would, "connector": name, "mode": route.mode.value, "level": verdict.level_label}
        status = 202 if verdict.decision is Decision.ASK else 200
        await self.respond(send, status, json.dumps(answer).encode(), "application/json")

    @staticmethod
    def no_queue(verdict: enforcement.Verdict) -> enforcement.Verdict:
        return enforcement.Verdict(
            Decision.REFUSE,
            verdict.connector,
            verdict.mode,
            verdict.level,
            verdict.template,
            verdict.reason + "; no decision queue is running, so it is refused",
        )

    @staticmethod
    async def read_body(receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        return b"".join(chunks)

    # -- forwarding -----------------------------------------------------------------------------
    async def secret(self, ref: str | None) -> Secret | None:
        """The key at ``ref``, read from the keyring at most every SECRET_TTL_S seconds — in a thread:
        the OS keyring answers over D-Bus (or asks to be unlocked), and the loop serves every agent."""
        if ref is None:
            return None
        now = time.monotonic()
        cached = self._secrets.get(ref)
        if cached is not None and now - cached[0] < SECRET_TTL_S:
            return cached[1]
        value = await asyncio.to_thread(self.services.secrets.get, ref)
        newer = self._secrets.get(ref)
        if newer is not None and newer[0] > now:  # a refresh token rotated while this read ran: it wins
            return newer[1]
        if value is not None:
            self._secrets[ref] = (now, value)
        return value

    def _rotated(self, ref: str, new: Secret) -> None:
        self._secrets[ref] = (time.monotonic(), new)

    async def sealed(self, route: Route) -> None:
        """Raise ``binding.DestinationChanged`` (audited) unless the route's upstream is where its
        connector's seal lets the key go (``binding.check_upstream``); checked again after SECRET_TTL_S."""
        key = (route.connector_id, route.keyring_ref, route.upstream)
        now = time.monotonic()
        if now - self._sealed.get(key, -SECRET_TTL_S) < SECRET_TTL_S:
            return

        def check() -> None:
            from app.services import binding

            view = self.services.inventory.get(route.connector)
            cred = next((c for c in view.credentials if c.keyring_ref == route.keyring_ref), None)
            if cred is None:
                raise binding.DestinationChanged(
                    f"refused: {route.connector}: its key is not recorded. Nothing was sent."
                )
            binding.check_upstream(self.services, view, cred, route.upstream)
            self.settings[route.connector_id] = dict(view.extra)  # as sealed: e.g. the OAuth tenant

        await asyncio.to_thread(check)
        self._sealed[key] = now

    async def send_upstream(self, route: Route, request: Request) -> Answer | None:
        """The request as forwarded: the agent's headers without its token, the real key added (for an
        OAuth refresh token: an access token the gateway got with it, :mod:`app.gateway.oauth`)."""
        # The key and the seal check as kept (each at most SECRET_TTL_S old), read here without a
        # coroutine each; when either is older, the awaited path below reads it again.
        now = time.monotonic()
        cached = self._secrets.get(route.keyring_ref)  # type: ignore[arg-type]
        if cached is not None and now - cached[0] < SECRET_TTL_S:
            secret: Secret | None = cached[1]
        else:
            secret = await self.secret(route.keyring_ref)
            if secret is None:
                return None
        seal = (route.connector_id, route.keyring_ref, route.upstream)
        if now - self._sealed.get(seal, -SECRET_TTL_S) >= SECRET_TTL_S:
            await self.sealed(route)  # where the key goes is the owner's, not the database's
        if self.oauth.wants(route):
            secret = await self.oauth.access_token(route, secret, self.settings.get(route.connector_id))
        out = [(k, v) for k, v in request.headers.items() if k not in NOT_FORWARDED]
        out.append(("accept-encoding", "identity"))
        out.extend(self.provider(route.provider).gateway_auth(secret).items())
        url = self.upstream_url(route.upstream + request.path + (f"?{request.query}" if request.query else ""))
        headers = upstream_headers(request.method, url, out, request.body)
        transport = self.transports[next(self._turn) % SHARDS]
        return await transport.send(request.method.upper(), url, headers, request.body, TIMEOUT)

    def upstream_url(self, text: str) -> httpx.URL:
        """``httpx.URL(text)``, kept for the URLs agents ask for again and again (httpx's parser
        checks and encodes every component: ~16 µs a URL). The object is immutable."""
        found = self._urls.get(text)
        if found is None:
            found = httpx.URL(text)
            if len(text) <= URL_KEPT_LEN:
                if len(self._urls) >= URLS_KEPT:
                    self._urls.clear()
                self._urls[text] = found
        return found

    def rewriter(self, route: Route, request: Request) -> Rewriter:
        host = request.headers.get("host", "127.0.0.1")
        key = (route.connector, route.upstream, route.provider, host)
        found = self._rewriters.get(key)
        if found is None:
            own = f"http://{host}/{quote(route.connector, safe='')}"
            found = Rewriter(own, (route.upstream, self.provider(route.provider).gateway_url))
            if len(self._rewriters) >= KEPT:
                self._rewriters.clear()
            self._rewriters[key] = found
        return found

    @staticmethod
    def relayed(response: Answer, rewrite: Rewriter) -> Relayed:
        """The provider's response headers as the agent gets them, in one pass over the raw bytes
        (no decoding and re-encoding of each): hop-by-hop headers and Set-Cookie dropped, provider
        URLs rewritten; beside them the content type, the length and the X-Accepted-* headers."""
        out: list[tuple[bytes, bytes]] = []
        ctype = b""
        length = 0
        accepted: list[tuple[str, str]] = []
        for key, value in response.raw_headers:
            lower = key.lower()
            if lower in NOT_RELAYED:
                if lower == b"content-length":  # the gateway frames its own answer; the length says how
                    with contextlib.suppress(ValueError):
                        length = int(value)
                continue
            if lower == b"content-type":
                ctype = value.lower()
            elif lower.startswith(b"x-accepted-"):
                accepted.append((lower.decode("latin-1"), value.decode("latin-1")))
            out.append((key, rewrite.raw(value)))
        return Relayed(out, ctype, length, accepted_headers(accepted) if accepted else "{}")

    async def forward_buffered(self, route: Route, request: Request):
        """Forward once and read the whole answer (a held request: every joined caller gets a copy)."""
        from app.gateway.queue import Buffered

        response = await self.send_upstream(route, request)
        if response is None:
            status, body = problem(502, "No key", f"the keyring holds no key for {route.connector}")
            return Buffered(status, [(b"content-type", PROBLEM_CONTENT_TYPE.encode())], body)
        try:
            rewrite = self.rewriter(route, request)
            body = rewrite.body(await response.read())
            headers = self.relayed(response, rewrite).headers
            headers.append((b"content-length", str(len(body)).encode()))
            return Buffered(response.status_code, headers, body)
        finally:
            await response.aclose()

    async def forward(
        self, scope: dict, route: Route, request: Request, verdict: enforcement.Verdict, send: Send
    ) -> None:
        response = await self.send_upstream(route, request)
        if response is None:
            self.use(route, request, verdict, 502)
            await self.respond(send, *problem(502, "No key", f"the keyring holds no key for {route.connector}"))
            return
        streamed = False
        accepted = "{}"
        try:
            rewrite = self.rewriter(route, request)
            resp_headers, ctype, length, accepted = self.relayed(response, rewrite)
            if ctype.startswith(b"text/event-stream"):
                streamed = True  # recorded when it starts: a stream may last minutes
                self.use(route, request, verdict, response.status_code, accepted)
                await self.stream(route, verdict, response, resp_headers, send)
            elif ctype.find(b"json") >= 0 and length <= MAX_REWRITE:
                body = rewrite.body(await response.read())
                resp_headers.append((b"content-length", str(len(body)).encode()))
                await send({"type": "http.response.start", "status": response.status_code, "headers": resp_headers})
                await send({"type": "http.response.body", "body": body})
            else:
                await send({"type": "http.response.start", "status": response.status_code, "headers": resp_headers})
                async for chunk in response.chunks():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
        finally:  # after the answer: recorded as used, the connection back to the pool
            if not streamed:
                self.use(route, request, verdict, response.status_code, accepted)
            await response.aclose()

    async def stream(self, route: Route, verdict, response: Answer, headers: list, send: Send) -> None:
        """Pass a stream on chunk by chunk; end it when the connector's mode stops allowing it."""
        headers = [*headers, (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})

        async def pump() -> None:
            async for chunk in response.chunks():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})

        task = asyncio.create_task(pump())
        self._streams[task] = (route.connector_id, verdict.level)
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self.watch_streams())
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.cancelled():  # the handler itself was cancelled (client gone, shutdown)
                task.cancel()
                raise
            self.on_event(f"ended a stream of {route.connector}: its mode no longer allows {verdict.level.label}")
            with contextlib.suppress(Exception):
                await send({"type": "http.response.body", "body": self.ended_event(route), "more_body": True})
        finally:
            self._streams.pop(task, None)
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b""})

    def ended_event(self, route: Route) -> bytes:
        """The last event of a stream the gateway ends: an error event, so the SDK raises instead of
        taking the truncated stream for a finished one (Anthropic's SDKs raise on ``event: error``,
        OpenAI's on a ``data`` object with an ``error`` member)."""
        modes = self.lookup.modes([route.connector_id])
        mode = modes[route.connector_id]
        detail = f"{route.connector} is now {mode.value}: Breaker's gateway ended this stream"
        error = {"type": "breaker_gateway_refused", "message": detail}
        payload = {"type": "error", "error": error, "connector": route.connector, "mode": mode.value}
        name = "event: error\n" if route.provider == "anthropic" else ""
        return f"{name}data: {json.dumps(payload)}\n\n".encode()

    async def watch_streams(self) -> None:
        """While streams are open, re-read their connectors' modes every STREAM_WATCH_S seconds."""
        while self._streams:
            await asyncio.sleep(STREAM_WATCH_S)
            open_now = dict(self._streams)
            modes = await asyncio.to_thread(self.lookup.modes, {cid for cid, _ in open_now.values()})
            for task, (cid, level) in open_now.items():
                if not modes[cid].allows(level) and not task.done():
                    task.cancel()

    # -- usage ----------------------------------------------------------------------------------
    def use(self, route: Route, request: Request, verdict, status: int, accepted: str = "{}") -> None:
        self._usage.append(
            {
                "at": utcnow(),
                "connector_id": route.connector_id,
                "client": route.client,
                "method": request.method.upper(),
                "template": verdict.template,
                "level": int(verdict.level) if verdict.level is not None else None,
                "decision": verdict.decision.value,
                "status": status,
                "accepted_json": accepted,
            }
        )
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon())
        elif len(self._usage) == USAGE_BATCH:  # once when a batch fills, not again for each row after it
            self._flusher.cancel()
            self._flusher = asyncio.create_task(self.flush_usage())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(USAGE_FLUSH_S)
        await self.flush_usage()

    async def flush_usage(self) -> None:
        rows, self._usage = self._usage, []
        if rows:
            try:
                await asyncio.to_thread(record_usage, self.services, rows)
            except Exception as exc:  # the store is busy or gone: say so, never fail the agent's request
                self.on_event(f"usage records could not be written ({type(exc).__name__}); {len(rows)} lost")


class Relayed(NamedTuple):
    headers: list[tuple[bytes, bytes]]
    content_type: bytes  # lower-case, b"" when none
    length: int  # Content-Length as the provider sent it, 0 when none (or not a number)
    accepted: str  # the X-Accepted-* headers as JSON (app.services.gateway.accepted_headers)


class Rewriter:
    """Absolute provider URLs → the gateway's own prefix for this connector."""

    def __init__(self, own: str, roots: tuple[str, ...]) -> None:
        self.own = own
        self.roots = tuple(sorted({r.rstrip("/") for r in roots if r}, key=len, reverse=True))
        self._raw = tuple(
            (root.encode("latin-1"), own.encode("latin-1"))
            for root in self.roots
            if root.isascii()  # a URL as stored is ASCII; anything else could not be in a header
        )
        escaped = own.replace("/", "\\/")
        self._body = tuple(
            pair
            for root in self.roots
            for pair in ((root.encode(), own.encode()), (root.replace("/", "\\/").encode(), escaped.encode()))
        )

    def text(self, value: str) -> str:
        for root in self.roots:
            if root in value:
                value = value.replace(root, self.own)
        return value

    def raw(self, value: bytes) -> bytes:
        """:meth:`text` on a header's bytes as sent (Latin-1: byte for byte)."""
        for root, own in self._raw:
            value = value.replace(root, own)  # the same object back when ``root`` is not in it
        return value

    def body(self, data: bytes) -> bytes:
        """Provider URLs in a body, as written and JSON-escaped (``https:\\/\\/…``), rewritten.
        ``bytes.replace`` rather than ``root in data`` first: on bytes, ``in`` tries its operand as an
        integer before searching, raising and discarding a TypeError with a formatted message each
        time (CPython 3.11: ~1,800 instructions; 23 such tests per forwarded request, 4 % of them)."""
        for root, own in self._body:
            data = data.replace(root, own)
        return data
