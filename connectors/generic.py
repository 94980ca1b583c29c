"""A provider for any HTTP API.

The generic provider knows nothing about the API behind it: the connector says which URL to call
(``cred.extra["url"]``), how to send the key (``cred.extra["auth_header"]``, e.g.
``"Authorization: Bearer {token}"``) and which status means "valid" (``cred.extra["valid_status"]``,
default ``"200"``; several as ``"200,204"``). It cannot introspect scopes, so the level it reports is
the one the owner declared (``cred.extra["level"]``, default ``write``). An optional
``cred.extra["identity_field"]`` (dotted path, e.g. ``"user.login"``) reads the identity from a JSON body.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from connectors.base import Credential, Grant, Level, Outcome, ProbeReport, Provider, Verb
from connectors.http import field_text, guard, json_body, outcome_for_status, rate_limit_state


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
        return await guard(lambda: self._probe(client, cred, settings), deep=deep, cred=cred)

    async def _probe(self, client: httpx.AsyncClient, cred: Credential, settings: _Settings) -> ProbeReport:
        value = settings.header_template.replace("{token}", cred.secret.reveal())
        response = await client.get(settings.url, headers={settings.header_name: value})
        status = response.status_code
        report = ProbeReport(
            Outcome.OK if status in settings.valid else outcome_for_status(status),
            status=status,
            rate_limit=rate_limit_state(response.headers),
            requests=1,
            token_kind="API key",
        )
        if report.outcome is Outcome.OK and status not in settings.valid:
            report.outcome = Outcome.ERROR  # a 2xx the owner did not name as "valid"
        if report.outcome is not Outcome.OK:
            report.error = f"HTTP {status}"
            return report
        if settings.identity_field:
            report.identity = field_text(json_body(response), settings.identity_field)
        report.grants = [
            Grant("declared", settings.level, note="generic HTTP cannot introspect; level as declared on the connector")
        ]
        return report

    def manual_steps(self, action: Verb) -> list[str]:
        steps = super().manual_steps(action)
        steps[0] = "Open the dashboard of the service this key belongs to"
        return steps
