"""HTTP plumbing shared by provider probes: statuses, rate limits, bodies, secret-free text, guard.

Probing must never raise for a network problem or a garbled answer: :func:`guard` turns transport
failures, timeouts and malformed bodies into a :class:`ProbeReport` with a reason, and scrubs the
credential's secrets out of everything the report says. Provider error text is read with
:func:`error_text`, which scrubs before it shortens (a cut token would still leak its head).
Behavioural permission probes (a request that needs one permission) live here too: they are probes made of requests.
Switch actions have the same plumbing in :mod:`connectors.actions`.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx

from connectors.base import Credential, Grant, Outcome, ProbeReport, Provider, RateLimitState, Secret
from connectors.masking import MASK, mask, may_hold  # noqa: F401  (MASK re-exported: callers have always found it here)
from connectors.textsafe import plain

log = logging.getLogger(__name__)

ERROR_TEXT_LIMIT = 200  # provider error text is a hint for a person, not a document

# -- statuses and rate limits -------------------------------------------------------------------


def outcome_for_status(status: int) -> Outcome:
    """The default reading of an HTTP status. Providers override where they document otherwise."""
    if 200 <= status < 300:
        return Outcome.OK
    if status == 401:
        return Outcome.INVALID
    if status == 403:
        return Outcome.FORBIDDEN
    if status == 429:
        return Outcome.RATE_LIMITED
    return Outcome.ERROR


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """``Retry-After`` as seconds: either a number or an HTTP date."""
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def rate_limit_state(
    headers: httpx.Headers,
    *,
    limit: str = "x-ratelimit-limit",
    remaining: str = "x-ratelimit-remaining",
    reset: str = "x-ratelimit-reset",
) -> RateLimitState:
    """Read the common limit/remaining/reset(epoch seconds) trio plus Retry-After."""
    reset_at = None
    reset_epoch = _int(headers.get(reset))
    if reset_epoch is not None and reset_epoch > 1_000_000_000:
        reset_at = datetime.fromtimestamp(reset_epoch, tz=UTC)
    return RateLimitState(
        limit=_int(headers.get(limit)),
        remaining=_int(headers.get(remaining)),
        reset_at=reset_at,
        retry_after_s=retry_after_seconds(headers),
    )


# -- bodies -------------------------------------------------------------------------------------


class MalformedBody(Exception):
    """The provider answered with something that is not the documented shape."""


# No answer Breaker reads is more than a few kilobytes (a token's scopes, a page of keys): a body
# larger than this is not read, so a hostile or broken endpoint cannot fill the memory.
BODY_LIMIT = 2 * 1024 * 1024
ACCEPT_IDENTITY = {"accept-encoding": "identity"}  # no compressed bodies: a small gzip can inflate a thousandfold


class BodyTooLarge(MalformedBody):
    pass


class _CappedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, limit: int) -> None:
        self.inner, self.limit = inner, limit

    async def __aiter__(self):
        total = 0
        async for chunk in self.inner:
            total += len(chunk)
            if total > self.limit:
                raise BodyTooLarge(f"the body is larger than {self.limit // (1024 * 1024)} MB; it was not read")
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


async def cap_body(response: httpx.Response, limit: int | None = None) -> None:
    """An httpx response hook: refuse a body over :data:`BODY_LIMIT` before it is read, and never
    inflate a compressed one (Breaker asks for none: :data:`ACCEPT_IDENTITY`)."""
    limit = limit or BODY_LIMIT
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        await response.aclose()
        raise BodyTooLarge(f"the body is larger than {limit // (1024 * 1024)} MB; it was not read")
    if response.headers.get("content-encoding", "identity").lower() not in ("", "identity"):
        del response.headers["content-encoding"]  # read as it came: a JSON parser then calls it malformed
    if isinstance(response.stream, httpx.AsyncByteStream):
        response.stream = _CappedStream(response.stream, limit)


def json_body(response: httpx.Response) -> dict:
    """The body as a JSON object, or :class:`MalformedBody` (caught by :func:`guard`)."""
    data = json_or_none(response, strict=True)
    if not isinstance(data, dict):
        raise MalformedBody(f"HTTP {response.status_code}: expected a JSON object")
    return data


def json_or_none(response: httpx.Response, *, strict: bool = False) -> Any:
    """The parsed body, or None when it is not JSON (error bodies are often HTML from a proxy)."""
    try:
        return response.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        if strict:
            raise MalformedBody(f"HTTP {response.status_code}: the body is not JSON") from None
        return None


def obj(value: Any) -> dict:
    """``value`` if it is a JSON object, else {}: nested parts may not have the documented type."""
    return value if isinstance(value, dict) else {}


def strings(value: Any) -> list[str]:
    """The strings of a JSON list, else []."""
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def field_text(data: Any, path: str) -> str:
    """The scalar at a dotted path (``"error.message"``) as text; "" when absent or not a scalar."""
    for part in path.split("."):
        data = obj(data).get(part)
    return "" if data is None or isinstance(data, (dict, list)) else str(data)


# -- text without secrets -----------------------------------------------------------------------


def secrets_of(cred: Credential | None, *more: Secret | None) -> tuple[Secret, ...]:
    """Every secret a text about ``cred`` must not show."""
    found = (cred.secret, cred.admin_secret) if cred is not None else ()
    return tuple(s for s in (*found, *more) if s is not None)


def scrub(text: str, secrets: Iterable[Secret]) -> str:
    """``text`` with every secret masked in every form it may be echoed in (see :mod:`connectors.masking`):
    as typed, URL-encoded, base64, hex, in any case, or cut short."""
    if not text:  # most report fields are empty (probe-all hot path)
        return text
    return mask(text, (s.reveal() for s in secrets))


def provider_text(data: Any, *paths: str, cred: Credential | None = None) -> str:
    """The first non-empty field at ``paths`` of a parsed body: scrubbed, then shortened."""
    text = next((t for t in (field_text(data, p) for p in paths) if t), "")
    return plain(scrub(text, secrets_of(cred)))[:ERROR_TEXT_LIMIT]


def error_text(response: httpx.Response, *paths: str, cred: Credential | None = None) -> str:
    """A provider's own error text from the first of ``paths`` present, else ``HTTP <status>``."""
    return provider_text(json_or_none(response), *paths, cred=cred) or f"HTTP {response.status_code}"


T = TypeVar("T")


def scrubbed(value: T, secrets: tuple[Secret, ...]) -> T:
    """A copy of a report part (text, list, dict, grant) with the secrets masked everywhere in it, and
    every character a terminal would act on shown as a visible escape (connectors.textsafe)."""
    if isinstance(value, str):
        return plain(scrub(value, secrets))  # type: ignore[return-value]
    if isinstance(value, (list, tuple)):
        return type(value)(scrubbed(v, secrets) for v in value)  # type: ignore[return-value]
    if isinstance(value, dict):
        return {scrubbed(k, secrets): scrubbed(v, secrets) for k, v in value.items()}  # type: ignore[return-value]
    if isinstance(value, Grant):
        scope, note = plain(scrub(value.scope, secrets)), plain(scrub(value.note, secrets))
        if scope == value.scope and note == value.note:
            return value  # frozen: nothing to change, nothing to copy
        return replace(value, scope=scope, note=note)  # type: ignore
    return value


def texts_of(value: Any) -> Iterable[str]:
    """Every text in a report part, where :func:`scrubbed` looks (strings, list and dict items and
    keys, a grant's scope and note)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from texts_of(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from texts_of(k)
            yield from texts_of(v)
    elif isinstance(value, Grant):
        yield value.scope
        yield value.note


# -- failures -----------------------------------------------------------------------------------

# What reading an unexpected body raises: a missing key, a None where a dict was documented, a
# string where a number was. The exception text may quote the body, so it is never shown.
PARSE_ERRORS = (LookupError, TypeError, AttributeError, ValueError)  # LookupError: KeyError, IndexError
HANDLED = (httpx.HTTPError, httpx.InvalidURL, MalformedBody, *PARSE_ERRORS)
_PARSE_REASONS = (
    (LookupError, "a documented field is missing"),
    ((TypeError, AttributeError), "a field has an unexpected type"),
    (ValueError, "a value could not be read"),
)


def describe_transport_error(exc: Exception) -> str:
    """A one-line reason for a transport failure. It never quotes ``str(exc)``, which can hold the URL."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        if str(exc).startswith("refused: ") and str(exc).endswith("Nothing was sent."):
            return str(exc)  # the address guard's own sentence (a host name and an address, no URL)
        text = str(exc).lower()
        if "name or service" in text or "nodename" in text or "getaddrinfo" in text or "resolve" in text:
            return "DNS lookup failed"
        if "ssl" in text or "certificate" in text or "tls" in text:
            return "TLS handshake failed"
        return "connection refused or unreachable"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection dropped by the server"
    if isinstance(exc, httpx.NetworkError):
        return "network error"
    return type(exc).__name__


def describe_failure(exc: Exception) -> tuple[Outcome, str]:
    """Outcome and a secret-free one-line reason for an exception in :data:`HANDLED`."""
    if isinstance(exc, httpx.TransportError):
        return Outcome.UNREACHABLE, describe_transport_error(exc)
    if isinstance(exc, MalformedBody):
        return Outcome.ERROR, f"malformed response: {exc}"  # our own words, never the body's
    if isinstance(exc, (httpx.HTTPError, httpx.InvalidURL)):
        return Outcome.ERROR, type(exc).__name__  # e.g. an invalid URL; its text would show the URL
    _log_parse_failure(exc)
    reason = next(text for kinds, text in _PARSE_REASONS if isinstance(exc, kinds))
    return Outcome.ERROR, f"malformed response: {reason} ({type(exc).__name__})"


def _log_parse_failure(exc: Exception) -> None:
    """Where a body could not be read, for whoever debugs a provider: a place, never the message."""
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        log.debug(
            "provider body not understood: %s at %s:%s", type(exc).__name__, frames[-1].filename, frames[-1].lineno
        )


async def guard(
    run: Callable[[], Awaitable[ProbeReport]], *, deep: bool = False, cred: Credential | None = None
) -> ProbeReport:
    """Run one provider probe; time it; turn every failure into an outcome with a reason.

    With ``cred``, the report's texts, details and grants are scrubbed of its secrets as well, so a
    provider that echoes a token anywhere cannot carry it into the panel, the store or the audit log.
    """
    started = time.perf_counter()
    try:
        report = await run()
    except HANDLED as exc:
        outcome, reason = describe_failure(exc)
        report = ProbeReport(outcome, error=reason)
    report.latency_ms = round((time.perf_counter() - started) * 1000, 1)
    report.deep = deep
    secrets = secrets_of(cred)
    parts = ("error", "identity", "token_kind", "details", "grants")
    if secrets and not may_hold(texts_of([getattr(report, name) for name in parts]), (s.reveal() for s in secrets)):
        secrets = ()  # no form of a key anywhere in it (most reports): only made safe to show
    for name in parts:
        setattr(report, name, scrubbed(getattr(report, name), secrets))
    return report


# -- behavioural permission probes -----------------------------------------


@dataclass(frozen=True)
class PermissionProbe:
    """One behavioural test: a request whose status says whether ``scope`` is held.

    ``permitted`` statuses mean the request got past the permission check (the provider then
    rejected the deliberately invalid body or the nonexistent id); ``denied`` means it did not.
    Anything else is unknown and recorded as such, never read as "no access".
    """

    scope: str
    method: str
    path: str
    permitted: tuple[int, ...]
    denied: tuple[int, ...] = (401, 403)
    json: Any = None


@dataclass
class PermissionRun:
    granted: list[str] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)
    unknown: dict[str, int] = field(default_factory=dict)
    denials: list[httpx.Response] = field(default_factory=list)  # bodies of denials, for "missing scope" text
    requests: int = 0


async def run_permission_probes(
    client: httpx.AsyncClient,
    provider: Provider,
    cred: Credential,
    probes: Iterable[PermissionProbe],
    headers: dict[str, str],
) -> PermissionRun:
    """Run probes one after the other (gentle on rate limits); a transport error aborts the probe."""
    run = PermissionRun()
    for probe in probes:
        response = await client.request(probe.method, provider.url(cred, probe.path), headers=headers, json=probe.json)
        run.requests += 1
        if response.status_code in probe.permitted:
            run.granted.append(probe.scope)
        elif response.status_code in probe.denied:
            run.denied.append(probe.scope)
            run.denials.append(response)
        else:
            run.unknown[probe.scope] = response.status_code
    return run


def record_permission_run(report: ProbeReport, provider: Provider, run: PermissionRun) -> None:
    """Fold a permission run into a report: granted scopes become grants, the rest details."""
    report.grants.extend(provider.grants_for(run.granted))
    report.requests += run.requests
    if run.denied:
        report.details["denied"] = sorted(set(report.details.get("denied", [])) | set(run.denied))
    if run.unknown:
        report.details["unknown"] = run.unknown
