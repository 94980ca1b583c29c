"""A provider for any HTTP API, plus the small pieces the other providers' probes and switches share.

The generic provider knows nothing about the API behind it: the connector says which URL to call
(``cred.extra["url"]``), how to send the key (``cred.extra["auth_header"]``, e.g.
``"Authorization: Bearer {token}"``) and which status means "valid" (``cred.extra["valid_status"]``,
default ``"200"``; several as ``"200,204"``). It cannot introspect scopes, so the level it reports is
the one the owner declared (``cred.extra["level"]``, default ``write``). An optional
``cred.extra["identity_field"]`` (dotted path, e.g. ``"user.login"``) reads the identity from a JSON body.

Shared helpers (used by openai, anthropic, stripe, sendgrid, hubspot, notion):
``PermissionProbe``/``run_permission_probes`` (behavioural probes, providers.md §2.1),
``matches_redacted`` (match a pasted key against a provider's redacted hint),
``guard_action``/``action_failed``/``needs_admin`` (switch results that never raise).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from connectors.base import (
    ActionResult,
    ActionState,
    Credential,
    Grant,
    Level,
    Outcome,
    ProbeReport,
    Provider,
)
from connectors.http import MalformedBody, describe_transport_error, guard, json_body, outcome_for_status, rate_limit_state

# -- shared: behavioural permission probes ------------------------------------------------------


@dataclass(frozen=True)
class PermissionProbe:
    """One behavioural test: a request whose status says whether ``scope`` is held.

    ``permitted`` statuses mean the request got past the permission check (the provider then
    rejected the deliberately invalid body or the nonexistent id); ``denied`` means it did not.
    Anything else is unknown and recorded as such, never read as "no access" (providers.md §2.1).
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


async def run_permission_probes(client: httpx.AsyncClient, provider: Provider, cred: Credential,
                                probes: Iterable[PermissionProbe], headers: dict[str, str]) -> PermissionRun:
    """Run probes one after the other (gentle on rate limits); a transport error aborts the probe."""
    run = PermissionRun()
    for probe in probes:
        response = await client.request(probe.method, provider.url(cred, probe.path), headers=headers,
                                        json=probe.json)
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


def assumed_grant(provider: Provider, why: str) -> Grant:
    """Stand-in for permissions a normal probe cannot see: assume power, not safety."""
    return Grant("*", provider.default_level, note=f"assumed: {why}")


# -- shared: reading bodies whose nested parts may not have the documented type -----------------


def obj(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


# -- shared: redacted key hints -----------------------------------------------------------------

_REDACTION = re.compile(r"(?:\.{3,}|…|\*+)")


def matches_redacted(key: str, hint: str) -> bool:
    """Whether ``key`` fits a provider's redacted form.

    Anthropic's documented example is ``sk-ant-api03-R2D...igAA``. The visible parts must appear
    in order, the first at the start and the last at the end, and at
    least eight characters must be visible: a hint that hides everything matches nothing.
    """
    parts = _REDACTION.split(hint)
    if len(parts) < 2 or sum(len(p) for p in parts) < 8:
        return False
    if not key.startswith(parts[0]) or not key.endswith(parts[-1]):
        return False
    position = len(parts[0])
    for middle in parts[1:-1]:
        found = key.find(middle, position)
        if found < 0:
            return False
        position = found + len(middle)
    return position <= len(key) - len(parts[-1])


# -- shared: switch results ---------------------------------------------------------------------


def action_failed(action: str, response: httpx.Response, what: str) -> ActionResult:
    """A provider said no. 429 and 5xx may pass; anything else needs a person."""
    status = response.status_code
    return ActionResult(action, ActionState.FAILED, f"{what}: HTTP {status}", status=status,
                        retryable=status == 429 or status >= 500)


async def guard_action(action: str, run: Callable[[], Awaitable[ActionResult]]) -> ActionResult:
    """Run one switch call; a network problem or garbled answer becomes a FAILED result, never an exception."""
    try:
        return await run()
    except httpx.TransportError as exc:
        return ActionResult(action, ActionState.FAILED, describe_transport_error(exc), retryable=True)
    except MalformedBody as exc:
        return ActionResult(action, ActionState.FAILED, f"malformed response: {exc}")
    except httpx.HTTPError as exc:
        return ActionResult(action, ActionState.FAILED, type(exc).__name__)


def needs_admin(provider: Provider, action: str, admin_key: str, get_it_at: str) -> ActionResult:
    """The provider's API can do this, but only with an admin credential that is not registered."""
    steps = [f"Register {admin_key} (from {get_it_at}) as this connector's admin credential in Breaker, "
             f"then run {action} again. Or do it by hand:", *provider.manual_steps(action)]
    return ActionResult(action, ActionState.MANUAL, f"{action} needs {admin_key}", manual_steps=steps)


def manual(provider: Provider, action: str, message: str, steps: list[str] | None = None) -> ActionResult:
    return ActionResult(action, ActionState.MANUAL, message, manual_steps=steps or provider.manual_steps(action))


# -- the generic provider -----------------------------------------------------------------------


class SettingsError(ValueError):
    """The connector's extra settings cannot make a request. The message never holds the token."""


@dataclass(frozen=True)
class _Settings:
    url: str
    header_name: str
    header_template: str
    valid: frozenset[int]
    level: Level
    identity_field: str


def _settings(provider: Provider, cred: Credential) -> _Settings:
    extra = cred.extra
    url = extra.get("url", "").strip()
    if not url:
        raise SettingsError("no verify URL: set extra 'url'")
    if not url.startswith(("http://", "https://")):
        if not cred.base_url:
            raise SettingsError("the verify URL is relative and no base URL is set")
        url = provider.url(cred, url)
    template = extra.get("auth_header", "Authorization: Bearer {token}")
    name, sep, value = template.partition(":")
    if not sep or not name.strip() or "{token}" not in value or any(c in template for c in "\r\n"):
        raise SettingsError("auth_header must look like 'Header-Name: ... {token} ...' on one line")
    try:
        valid = frozenset(int(s) for s in extra.get("valid_status", "200").split(",") if s.strip())
    except ValueError:
        raise SettingsError("valid_status must be numbers, e.g. '200,204'") from None
    if not valid:
        raise SettingsError("valid_status is empty")
    try:
        level = Level.parse(extra.get("level", "write"))
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    return _Settings(url, name.strip(), value.strip(), valid, level, extra.get("identity_field", "").strip())


def _dig(data: Any, dotted: str) -> str:
    for part in dotted.split("."):
        if not isinstance(data, dict):
            return ""
        data = data.get(part)
    return "" if data is None or isinstance(data, (dict, list)) else str(data)


class GenericHTTP(Provider):
    name = "generic"
    title = "Generic HTTP"
    base_url = ""
    key_patterns = ()  # any string can be a key for some API: never claim to recognise one
    env_var = "API_KEY"
    can_revoke = can_restrict = can_rotate = False

    async def probe(self, client: httpx.AsyncClient, cred: Credential, *, deep: bool = False) -> ProbeReport:
        try:
            settings = _settings(self, cred)
        except SettingsError as exc:
            return ProbeReport(Outcome.ERROR, error=f"settings: {exc}", deep=deep)
        return await guard(lambda: self._probe(client, cred, settings), deep=deep)

    async def _probe(self, client: httpx.AsyncClient, cred: Credential, settings: _Settings) -> ProbeReport:
        value = settings.header_template.replace("{token}", cred.secret.reveal())
        response = await client.get(settings.url, headers={settings.header_name: value})
        status = response.status_code
        report = ProbeReport(Outcome.OK if status in settings.valid else outcome_for_status(status), status=status,
                             rate_limit=rate_limit_state(response.headers), requests=1, token_kind="API key")
        if report.outcome is Outcome.OK and status not in settings.valid:
            report.outcome = Outcome.ERROR  # a 2xx the owner did not name as "valid"
        if report.outcome is not Outcome.OK:
            report.error = f"HTTP {status}"
            return report
        if settings.identity_field:
            report.identity = _dig(json_body(response), settings.identity_field)
        report.grants = [Grant("declared", settings.level,
                               note="generic HTTP cannot introspect; level as declared on the connector")]
        return report

    def manual_steps(self, action: str) -> list[str]:
        steps = super().manual_steps(action)
        steps[0] = "Open the dashboard of the service this key belongs to"
        return steps
