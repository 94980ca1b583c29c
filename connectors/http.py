"""HTTP plumbing shared by providers: status → outcome, rate-limit headers, exceptions → outcomes.

Probing must never raise for a network problem: :func:`guard` turns transport failures,
timeouts and malformed bodies into a :class:`ProbeReport` with a reason.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import httpx

from connectors.base import Outcome, ProbeReport, RateLimitState


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
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def rate_limit_state(headers: httpx.Headers, *, limit: str = "x-ratelimit-limit",
                     remaining: str = "x-ratelimit-remaining", reset: str = "x-ratelimit-reset") -> RateLimitState:
    """Read the common limit/remaining/reset(epoch seconds) trio plus Retry-After."""
    reset_at = None
    reset_epoch = _int(headers.get(reset))
    if reset_epoch is not None and reset_epoch > 1_000_000_000:
        reset_at = datetime.fromtimestamp(reset_epoch, tz=timezone.utc)
    return RateLimitState(limit=_int(headers.get(limit)), remaining=_int(headers.get(remaining)),
                          reset_at=reset_at, retry_after_s=retry_after_seconds(headers))


def json_body(response: httpx.Response) -> dict:
    """The body as a JSON object, or :class:`MalformedBody` (caught by :func:`guard`)."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        raise MalformedBody(f"HTTP {response.status_code}: the body is not JSON") from None
    if not isinstance(data, dict):
        raise MalformedBody(f"HTTP {response.status_code}: expected a JSON object")
    return data


class MalformedBody(Exception):
    """The provider answered with something that is not the documented shape."""


def describe_transport_error(exc: Exception) -> str:
    """A one-line reason for a transport failure, with no URL query or header in it."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
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


async def guard(run: Callable[[], Awaitable[ProbeReport]], *, deep: bool = False) -> ProbeReport:
    """Run one provider probe; time it; turn every failure into an outcome with a reason."""
    started = time.perf_counter()
    try:
        report = await run()
    except httpx.TransportError as exc:
        report = ProbeReport(Outcome.UNREACHABLE, error=describe_transport_error(exc))
    except MalformedBody as exc:
        report = ProbeReport(Outcome.ERROR, error=f"malformed response: {exc}")
    except httpx.HTTPError as exc:  # e.g. invalid URL
        report = ProbeReport(Outcome.ERROR, error=type(exc).__name__)
    report.latency_ms = round((time.perf_counter() - started) * 1000, 1)
    report.deep = deep
    return report
