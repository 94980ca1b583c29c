"""httpx's transport interface on aiohttp's client: every key-sending client's connections
(probes, switches, the gateway's upstream), made through :func:`app.services.pinned.transport`.

Why: httpx's own transport (httpcore + h11 + anyio) spent 550-620 µs of CPU per request on this
machine, aiohttp's client 310-350 µs (3,000 sequential GETs to a loopback server); httpcore's pool
also walks every connection, polling each idle one, on each request and release
(encode/httpcore#1035), where aiohttp's connector keeps a queue of idle connections per host.
Figures: docs/benchmarks.md, "Session 7, upstream". The callers keep httpx's Request/Response
types, clients, hooks and exceptions; only the bytes on the wire go through aiohttp.

A module of its own rather than PyPI's ``httpx-aiohttp`` (0.2): that package maps
``ClientConnectionError`` (a server that hung up mid-answer) to ``ConnectTimeout``, passes aiohttp's
exception text on (``"Cannot connect to host … ssl:default …"``, which
:func:`connectors.http.describe_transport_error` would read as a TLS failure), lets aiohttp add its
own headers, keeps a cookie jar and resolves names itself. What this one guarantees, each held by a
test in tests/unit/test_aiotransport.py or tests/hardening/test_rebinding.py:

* **addresses**: names are resolved by :class:`PinnedResolver` (aiohttp's resolver interface), so
  a connection goes only to an address :mod:`app.services.pinned` accepted (DNS rebinding, issue 10);
  IP literals are connected as they are (aiohttp never asks a resolver for them);
* **the caller's bytes**: the request's headers as httpx built them, nothing added (aiohttp's
  User-Agent, Accept, Accept-Encoding and Content-Type are skipped), no cookie jar
  (``DummyCookieJar``: a provider's Set-Cookie never rides on another agent's request), no
  redirect followed, no decompression, the URL sent as encoded (no re-quoting), request bodies
  streamed when httpx streams them, no retry of a request on a dropped keep-alive connection
  (aiohttp retries idempotent methods once; the gateway forwards a request at most once);
* **TLS** verified with the caller's context, against the URL's host name (aiohttp's SNI);
* **limits**: ``max_connections`` and ``keepalive_expiry`` as given; aiohttp keeps every idle
  connection up to the limit (it has no separate idle cap), and ``max_keepalive_connections=0``
  closes each connection after its answer. TCP_NODELAY is set on every connection (aiohttp's own);
* **timeouts** from the request's ``timeout`` extension: connect (and the wait for a pool slot),
  read (each socket read, headers and body). aiohttp has no write timeout: a send that stalls is
  bounded by the read timeout of the answer that follows, or the caller's deadline;
* **errors** as httpx's (:func:`mapped`), with Breaker's own one-line text: never the URL.

The gateway calls :meth:`AiohttpTransport.send` (header lines in, :class:`Answer` out) instead of
building httpx's Request and Response for each forwarded request; it goes through the same
``_send`` as ``handle_async_request``, so each guarantee above, tested through the latter, holds for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import ssl
import typing

import aiohttp
import httpx
from aiohttp import client_exceptions as ce
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from app.services import pinned

# aiohttp adds these unless told not to; httpx's client has already set what the caller wants.
SKIP_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")
# h11 (httpx's parser) takes a header block up to 16 KiB; aiohttp's defaults are 8,190 bytes a line
# and 128 headers. At least as much as before, so no provider answer that passed now fails.
MAX_LINE = 16384
MAX_HEADERS = 256
URLS_KEPT = 1024  # parsed upstream URLs kept (callers send the same few URLs again and again)
TIMEOUTS_KEPT = 64
NUMERIC = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV


class PinnedResolver(AbstractResolver):
    """aiohttp's resolver interface over :func:`app.services.pinned.addresses`: a checked name's
    pinned addresses, a name no check pinned looked up once and checked; this machine's names as
    the system answers them. A refusal is an ``OSError`` (:class:`pinned.Refused`): aiohttp wraps it
    in ``ClientConnectorDNSError``, and :func:`mapped` gives its sentence back as ``httpx.ConnectError``."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[ResolveResult]:
        found = await pinned.addresses(host)
        if found is None:  # this machine's name (the loopback sandbox): as the system answers it
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM, family=family, flags=socket.AI_ADDRCONFIG
            )
            found = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
        return [
            {
                "hostname": host,  # TLS verifies the URL's host name (aiohttp takes SNI from the URL)
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": socket.IPPROTO_TCP,
                "flags": NUMERIC,
            }
            for address in found
        ]

    async def close(self) -> None:
        return None


@functools.cache
def httpx_default_context() -> ssl.SSLContext:
    """httpx's verified default (certifi's CA bundle), made once: each costs ~25 ms of CPU, and the
    gateway makes nine transports at start (its eight upstream pools and its OAuth client)."""
    return httpx.create_ssl_context(verify=True)


class _Body(httpx.AsyncByteStream):
    """A response body as it arrives (an SSE event is passed on when it comes, never gathered)."""

    __slots__ = ("_response", "_request")

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request | None) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> typing.AsyncIterator[bytes]:
        content = self._response.content
        try:
            while chunk := await content.readany():
                yield chunk
        except Exception as exc:
            raise (mapped(exc, self._request) or exc) from None

    async def aclose(self) -> None:
        # A body read to its end has already handed its connection back; one left unread closes it
        # (aiohttp never reuses a connection with unread bytes).
        self._response.release()


class Answer:
    """A provider's answer as :meth:`AiohttpTransport.send` gives it: the status, the raw header
    lines and the body as it arrives, without an ``httpx.Response`` built around them (the gateway
    relays the raw lines as they are). Errors while reading are httpx's, as through httpx."""

    __slots__ = ("status_code", "raw_headers", "_response")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.status_code: int = response.status
        self.raw_headers: tuple[tuple[bytes, bytes], ...] = response.raw_headers
        self._response = response

    def chunks(self) -> typing.AsyncIterator[bytes]:
        """The body chunk by chunk, as it arrives (an SSE event when it comes)."""
        return _Body(self._response, None).__aiter__()

    async def read(self) -> bytes:
        """The whole body (its connection goes back to the pool once it is read to its end)."""
        try:
            return await self._response.content.read()
        except Exception as exc:
            raise (mapped(exc, None) or exc) from None

    async def aclose(self) -> None:
        self._response.release()  # as _Body.aclose: unread bytes close the connection


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp connection pool (a ``ClientSession`` made on first use, in the running loop)."""

    def __init__(self, limits: httpx.Limits, verify: ssl.SSLContext | bool | None = True) -> None:
        self.limits = limits
        if isinstance(verify, ssl.SSLContext):
            self.ssl: ssl.SSLContext | bool = verify
        elif verify is False:
            self.ssl = False
        else:  # True (or None): httpx's default verified context, as httpx's transport made it
            self.ssl = httpx_default_context()
        self.session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._urls: dict[str, URL] = {}
        self._objects: dict[int, tuple[httpx.URL, URL]] = {}
        self._timeouts: dict[tuple, aiohttp.ClientTimeout] = {}

    def _open(self) -> aiohttp.ClientSession:
        limits = self.limits
        keep = limits.max_keepalive_connections != 0
        connector = aiohttp.TCPConnector(
            limit=limits.max_connections or 0,
            limit_per_host=0,
            resolver=PinnedResolver(),
            use_dns_cache=False,  # every new connection asks the resolver: the pin may have moved
            ssl=self.ssl,
            force_close=not keep,
            **({"keepalive_timeout": limits.keepalive_expiry} if keep and limits.keepalive_expiry else {}),
        )
        session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=SKIP_AUTO_HEADERS,
            auto_decompress=False,
            trust_env=False,
            timeout=aiohttp.ClientTimeout(total=None),
            max_line_size=MAX_LINE,
            max_field_size=MAX_LINE,
            max_headers=MAX_HEADERS,
        )
        session._retry_connection = False  # see the module docstring (tests/unit/test_aiotransport.py)
        self._loop = asyncio.get_running_loop()
        self.session = session
        return session

    def _url(self, url: httpx.URL) -> URL:
        kept = self._objects.get(id(url))
        if kept is not None and kept[0] is url:  # the very object again (the gateway keeps its URLs)
            return kept[1]
        text = str(url)  # httpx renders its URL anew on each str(): ~1 µs
        found = self._urls.get(text)
        if found is None:
            if url.userinfo:  # httpx's client has turned it into an Authorization header already
                text = str(url.copy_with(username=None, password=None))
            found = URL(text, encoded=True)  # as httpx encoded it: sent byte for byte
            if len(self._urls) >= URLS_KEPT:
                self._urls.clear()
            self._urls[str(url)] = found
        if len(self._objects) >= URLS_KEPT:
            self._objects.clear()
        self._objects[id(url)] = (url, found)  # the object is held, so its id is not reused while kept
        return found

    def _timeout(self, given: dict | None) -> aiohttp.ClientTimeout:
        given = given or {}
        key = (given.get("connect"), given.get("read"), given.get("pool"))
        found = self._timeouts.get(key)
        if found is None:
            connect, read, pool = key
            found = aiohttp.ClientTimeout(
                total=None,
                # aiohttp's ``connect`` is the wait for a pool slot and the connection together
                connect=None if connect is None or pool is None else connect + pool,
                sock_connect=connect,
                sock_read=read,
            )
            if len(self._timeouts) >= TIMEOUTS_KEPT:
                self._timeouts.clear()
            self._timeouts[key] = found
        return found

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        data: typing.Any
        try:
            data = request.content or None
        except httpx.RequestNotRead:  # a streamed body: aiohttp frames it (chunked) itself
            data = request.stream
            headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
        response = await self._send(
            request.method, request.url, headers, data, request.extensions.get("timeout"), request
        )
        extensions = {"http_version": b"HTTP/%d.%d" % tuple(response.version)}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("latin-1", "replace")
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            extensions=extensions,
        )

    async def send(
        self, method: str, url: httpx.URL, headers: list[tuple[str, str]], body: bytes, timeout: dict | None
    ) -> Answer:
        """The gateway's path: a request given as its parts — the method, httpx's parsed URL, the
        header lines exactly as :meth:`handle_async_request` would pass them on (every one the caller
        wants, in order, ASCII; nothing is added to them) and the whole body — answered without
        httpx's Request and Response objects around it (about 10 % of a gateway request's
        instructions: docs/benchmarks.md, "Session 8, gateway CPU"). The same session, pool,
        resolver, TLS context, timeouts, no-retry and error mapping as ``handle_async_request``,
        which goes through the same :meth:`_send`."""
        return Answer(await self._send(method, url, headers, body or None, timeout, None))

    async def _send(
        self,
        method: str,
        url: httpx.URL,
        headers: list[tuple[str, str]],
        data: typing.Any,
        timeout: dict | None,
        request: httpx.Request | None,
    ) -> aiohttp.ClientResponse:
        session = self.session
        if session is None or self._loop is not asyncio.get_running_loop():
            if session is not None:
                _abandon(session)
            session = self._open()
        try:
            return await session._request(
                method,
                self._url(url),
                headers=headers,
                data=data,
                allow_redirects=False,
                timeout=self._timeout(timeout),
            )
        except Exception as exc:
            raise (mapped(exc, request) or exc) from None

    async def aclose(self) -> None:
        session, self.session = self.session, None
        if session is not None and not session.closed:
            if self._loop is asyncio.get_running_loop():
                await session.close()
            else:
                _abandon(session)


def _abandon(session: aiohttp.ClientSession) -> None:
    """Drop a session made in an event loop that is no longer the running one (a client used from
    two ``asyncio.run`` calls): its sockets belong to that loop; close what can be, warn of nothing."""
    with contextlib.suppress(Exception):
        session.connector._close()
    session._connector = None


def mapped(exc: BaseException, request: httpx.Request | None) -> httpx.TransportError | None:
    """The httpx exception for an aiohttp one (None: not a transport failure, raised as it is).
    The text is Breaker's: aiohttp's names the host, port and ``ssl:default`` and may quote a URL."""
    if isinstance(exc, ce.ClientConnectorDNSError):
        inner = exc.os_error
        if isinstance(inner, pinned.Refused):
            return httpx.ConnectError(str(inner), request=request)  # the guard's own sentence
        return httpx.ConnectError(f"DNS lookup failed (getaddrinfo): {type(inner).__name__}", request=request)
    if isinstance(exc, ce.ClientSSLError):
        return httpx.ConnectError(f"TLS handshake failed: certificate or ssl ({type(exc).__name__})", request=request)
    if isinstance(exc, ce.ClientConnectorError):
        return httpx.ConnectError(f"connection failed ({type(exc.os_error).__name__})", request=request)
    if isinstance(exc, ce.ConnectionTimeoutError):
        return httpx.ConnectTimeout("timed out connecting", request=request)
    if isinstance(exc, (ce.ServerTimeoutError, asyncio.TimeoutError)):
        return httpx.ReadTimeout("timed out reading", request=request)
    if isinstance(exc, ce.ServerDisconnectedError):
        return httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
    if isinstance(exc, ce.ClientPayloadError):
        return httpx.RemoteProtocolError("the body ended before its length (or was malformed)", request=request)
    if isinstance(exc, ce.ClientResponseError):  # an answer that is not HTTP
        return httpx.RemoteProtocolError(f"malformed response ({type(exc).__name__})", request=request)
    if isinstance(exc, (ce.NonHttpUrlClientError, ce.InvalidURL)):
        return httpx.UnsupportedProtocol(f"not an http(s) URL ({type(exc).__name__})", request=request)
    if isinstance(exc, (ce.ClientConnectionError, ConnectionError)):  # reset, broken pipe, closed
        return httpx.ReadError(f"connection lost ({type(exc).__name__})", request=request)
    if isinstance(exc, ValueError):  # a header aiohttp will not send as given (e.g. a line break)
        return httpx.LocalProtocolError(f"the request cannot be sent as given ({type(exc).__name__})", request=request)
    return None
