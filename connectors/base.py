"""The vocabulary every provider speaks: levels, modes, grants, probe reports, action results.
The words a listing needs too (:class:`Level`, :class:`Mode`, :class:`Outcome`, :class:`Verb`,
:class:`Grant`) live in :mod:`connectors.terms` and are imported here.

A provider module subclasses :class:`Provider`, declares its base URL, key patterns and
scope-to-level table, and implements ``probe`` (always) and the switch actions its API allows.
Everything here is free of ``app`` and ``textual`` imports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from connectors.masking import remember
from connectors.terms import Grant, Level, Mode, Outcome, Verb  # noqa: F401 (Mode: re-exported for providers and callers)

if TYPE_CHECKING:  # annotations only: the inventory's views use these types without loading an HTTP stack
    from collections.abc import Mapping

    import httpx


class Secret:
    """A credential in memory. Its repr and str never show the value; only ``reveal()`` does.

    JSON encoders in this project refuse it (see ``app.services.audit``), so a secret cannot be
    written to the audit log or an export by accident.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        self._value = value
        remember(value)  # so that any text the process prints can still be masked (connectors.masking)

    def reveal(self) -> str:
        return self._value

    @property
    def last4(self) -> str:
        return self._value[-4:] if len(self._value) >= 8 else ""

    def masked(self) -> str:
        return f"••••{self.last4}" if self.last4 else "••••"

    def __repr__(self) -> str:
        return f"Secret({self.masked()})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        from hmac import compare_digest  # imported here: only comparisons need it, and it loads OpenSSL

        return isinstance(other, Secret) and compare_digest(other._value.encode(), self._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self):  # pickling would copy the value somewhere we do not control
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True)
class RefreshRequest:
    """A refresh at a provider's OAuth token endpoint: a form or a JSON body, and any headers
    (a client sent as HTTP Basic). Holds secrets: never logged, never stored."""

    form: dict[str, str] | None = None
    json: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # its values are secrets
        return "RefreshRequest(…)"


@dataclass(frozen=True)
class KeyPattern:
    """How a pasted key is recognised. ``kind`` names the credential type (e.g. "classic PAT")."""

    regex: str
    kind: str
    confidence: int = 2  # 2 = prefix is unique to the provider, 1 = shape only (ambiguous)

    def matches(self, text: str) -> bool:
        return re.fullmatch(self.regex, text) is not None


@dataclass
class RateLimitState:
    limit: int | None = None
    remaining: int | None = None
    reset_at: datetime | None = None
    retry_after_s: float | None = None


@dataclass
class ProbeReport:
    """What a probe learned. An unreachable provider is an outcome here, never an exception."""

    outcome: Outcome
    status: int | None = None
    identity: str = ""
    grants: list[Grant] = field(default_factory=list)
    expires_at: datetime | None = None
    rate_limit: RateLimitState = field(default_factory=RateLimitState)
    latency_ms: float = 0.0
    error: str = ""
    token_kind: str = ""
    deep: bool = False
    requests: int = 0  # HTTP requests this probe sent
    details: dict[str, Any] = field(default_factory=dict)  # provider facts (account, repos …); never a secret

    @property
    def live_level(self) -> Level | None:
        return max((g.level for g in self.grants), default=None)


@dataclass(frozen=True)
class SwitchCall:
    """How a provider carries out one :class:`Verb`, said before it is sent (the confirmation's text).

    ``request`` is the method and path under the provider's base URL (``{…}`` = an id Breaker looks
    up); ``requests`` the HTTP requests the action sends on its usual path (read the scopes then
    write them; look the key id up then delete it), which sizes its time limit.
    """

    request: str
    note: str = ""
    requests: int = 1


class ActionState(StrEnum):
    APPLIED = "applied"  # the provider accepted the change
    MANUAL = "manual"  # the provider has no API for it: the owner must follow manual_steps
    FAILED = "failed"  # the provider call failed; may be retried
    UNSUPPORTED = "unsupported"


@dataclass
class ActionResult:
    """The answer of a switch action at the provider (revoke, restrict, rotate)."""

    action: Verb
    state: ActionState
    message: str = ""
    status: int | None = None
    new_secret: Secret | None = None  # rotate: the replacement, to be stored in the keyring at once
    manual_steps: list[str] = field(default_factory=list)
    retryable: bool = False
    irreversible: bool = False
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Credential:
    """What a provider call needs: the secret, where to send it, and provider-specific extras.

    ``base_url`` is the connector's override (GitHub Enterprise, self-managed GitLab, the sandbox)
    or ``None`` for the provider's public API. ``extra`` holds non-secret settings such as a
    generic provider's auth header template, or an admin key id.
    """

    secret: Secret
    base_url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    admin_secret: Secret | None = None  # an organisation admin key, for providers whose revoke needs one


class ProviderError(Exception):
    """A provider could not do what was asked. Its message never contains a secret."""


class Provider:
    """Base of every provider. Subclasses are declarative where they can be.

    Subclasses set the class attributes and implement :meth:`probe`. Switch actions default to
    "no API": they return manual steps, and the honest state stays "applied — not verified"
    until a probe confirms the change.
    """

    name: ClassVar[str]  # registry key, e.g. "github"
    title: ClassVar[str]  # shown to people, e.g. "GitHub"
    base_url: ClassVar[str]  # public API root
    key_patterns: ClassVar[tuple[KeyPattern, ...]] = ()
    scope_levels: ClassVar[dict[str, Level]] = {}
    # Scopes the table does not name, by pattern (the first that ``re.search`` finds wins): families
    # such as Graph's "*.ReadWrite" or Google's "*.readonly" that no table can list in full.
    scope_patterns: ClassVar[tuple[tuple[str | re.Pattern[str], Level], ...]] = ()
    default_level: ClassVar[Level] = Level.WRITE  # for a scope the table does not know: assume power, not safety
    dashboard_url: ClassVar[str] = ""
    env_var: ClassVar[str] = ""  # suggested variable name for `breaker exec`
    # The gateway (connectors/requests.py): "module:NAME" of this provider's request → level table,
    # and the API root it forwards to unless the connector's route names another.
    request_table: ClassVar[str] = ""
    gateway_url: ClassVar[str] = ""
    # OAuth: the provider's token endpoint, and the credential kinds that are refresh tokens. A routed
    # connector holding one has the gateway trade it for access tokens (app/gateway/oauth.py).
    oauth_token_url: ClassVar[str] = ""
    default_tenant: ClassVar[str | None] = None  # the tenant a token URL names when the connector sets none
    refresh_kinds: ClassVar[frozenset[str]] = frozenset()
    # `breaker exec` on a routed connector: variable → path below the gateway prefix, the base URL
    # that the provider's SDKs (or the agent's code) read. The token goes in ``env_var``.
    gateway_env: ClassVar[dict[str, str]] = {}
    # The path(s) of the provider's documented base URL that its clients' request paths already start
    # with (Slack's "/api", Graph's "/v1.0" and "/beta", GitLab's "/api/v4"); the request tables
    # expect them. A connector's base URL ends with one (its probes need it), so the gateway's upstream
    # is that base URL without it: :meth:`gateway_upstream`.
    api_paths: ClassVar[tuple[str, ...]] = ()
    deep_probe_requests: ClassVar[int] = 0  # how many requests a deep probe sends (said before it runs)
    can_revoke: ClassVar[bool] = False
    can_restrict: ClassVar[bool] = False
    can_rotate: ClassVar[bool] = False
    revoke_reversible: ClassVar[bool] = False
    revoke_needs_admin: ClassVar[bool] = False
    # The provider calls behind each verb Breaker makes by API (see :class:`SwitchCall`). A verb not
    # listed has no call: the owner gets manual steps.
    switch_calls: ClassVar[dict[Verb, SwitchCall]] = {}

    def switch_call(self, verb: Verb, kind: str = "") -> SwitchCall | None:
        """The call behind ``verb`` for a credential of ``kind`` (a provider may differ by token kind)."""
        return self.switch_calls.get(verb)

    def reversible(self, kind: str = "") -> bool:
        """Whether this provider's switch-off of a key of ``kind`` can be undone by API (a status set
        back, a suspension lifted) rather than deleting the key for good."""
        return self.revoke_reversible

    def admin_needed(self, verb: Verb, kind: str = "") -> str:
        """The credential besides the key itself that the call for ``verb`` needs ("" none): an
        organisation admin key, an app's client secret or private key. Without it the provider
        answers manual steps (or a weaker fallback, which the call's note names)."""
        if self.revoke_needs_admin and verb in (Verb.REVOKE, Verb.REENABLE, Verb.ROTATE):
            return "an organisation admin key"
        return ""

    def has_api(self, verb: Verb, kind: str = "") -> bool:
        """Whether Breaker calls the provider for ``verb`` on a key of ``kind`` (else: manual steps only)."""
        call = self.switch_call(verb, kind)
        if verb in self.switch_calls and call is None:
            return False  # the provider has calls for this verb, but not for this kind of key (an Anthropic admin key)
        flag = {
            Verb.REVOKE: self.can_revoke,
            Verb.RESTRICT: self.can_restrict,
            Verb.ROTATE: self.can_rotate,
            Verb.REENABLE: self.reversible(kind),
        }[verb]
        # A provider whose call works only for some kinds of key (HubSpot OAuth tokens, Notion public
        # apps, OpenAI service-account keys) keeps the flag False and names the call for those kinds.
        return flag or call is not None

    def requests_for(self, verb: Verb, kind: str = "") -> int:
        """How many HTTP requests ``verb`` sends (1 unless the provider says more)."""
        call = self.switch_call(verb, kind)
        return max(1, call.requests) if call is not None else 1

    # -- helpers shared by providers ------------------------------------------------------
    def root(self, cred: Credential) -> str:
        return (cred.base_url or self.base_url).rstrip("/")

    def url(self, cred: Credential, path: str) -> str:
        return f"{self.root(cred)}/{path.lstrip('/')}"

    def level_of(self, scope: str) -> Level:
        """Level of one scope from the provider's table, then its patterns; others count as ``default_level``."""
        if scope in self.scope_levels:
            return self.scope_levels[scope]
        return next((level for pattern, level in self.scope_patterns if re.search(pattern, scope)), self.default_level)

    def grants_for(self, scopes: list[str] | tuple[str, ...]) -> list[Grant]:
        return [Grant(s, self.level_of(s)) for s in scopes if s]

    def assumed_grant(self, why: str) -> Grant:
        """Stand-in for permissions a normal probe cannot see: assume power, not safety."""
        return Grant("*", self.default_level, note=f"assumed: {why}")

    def manual(self, action: Verb, message: str, steps: list[str] | None = None) -> ActionResult:
        """A switch the owner does by hand: ``steps`` (default this provider's manual steps)."""
        return ActionResult(action, ActionState.MANUAL, message, manual_steps=steps or self.manual_steps(action))

    def oauth_tenant(self, value: str) -> str:
        """``value`` as this provider's OAuth tenant (the connector's setting ``tenant``, which
        :meth:`token_url` puts in the token URL), or ValueError: only some providers have tenants."""
        raise ValueError(f"{self.title} has no OAuth tenant to choose")

    def token_url(self, base_url: str | None = None, settings: Mapping[str, Any] | None = None) -> str:
        """The OAuth token endpoint; with a base URL override (the sandbox, a proxy) its path on that host.
        ``settings``: the connector's own (sealed with its destination), e.g. a tenant."""
        if base_url and self.oauth_token_url:
            return base_url.rstrip("/") + urlsplit(self.oauth_token_url).path
        return self.oauth_token_url

    def refresh_request(self, refresh: Secret, client_id: str, client_secret: Secret) -> RefreshRequest:
        """The token-endpoint request that trades ``refresh`` for an access token. By default the
        standard refresh (RFC 6749 §6, https://www.rfc-editor.org/rfc/rfc6749#section-6) as a form,
        the client's id and secret in the body (RFC 6749 §2.3.1): what Google and HubSpot document."""
        return RefreshRequest(
            form={
                "grant_type": "refresh_token",
                "refresh_token": refresh.reveal(),
                "client_id": client_id,
                "client_secret": client_secret.reveal(),
            }
        )

    def gateway_upstream(self, url: str) -> str:
        """Where the gateway forwards for a connector whose base URL (or chosen upstream) is ``url``:
        ``url`` without a trailing slash and without the provider's API path at its end
        (``https://slack.com/api`` → ``https://slack.com``; the sandbox's ``…/slack/api`` →
        ``…/slack``), since the path an agent's client sends already starts with it. Any prefix
        before the API path is kept (a self-managed GitLab under ``/gitlab/api/v4``)."""
        url = url.rstrip("/")
        for path in self.api_paths:
            if url.lower().endswith(path.lower()):
                return url[: -len(path)]
        return url

    def gateway_auth(self, secret: Secret) -> dict[str, str]:
        """The header(s) the gateway adds to a forwarded request: the real key, as the provider wants it."""
        return {"authorization": f"Bearer {secret.reveal()}"}

    def recognise(self, key: str) -> KeyPattern | None:
        for pattern in self.key_patterns:
            if pattern.matches(key):
                return pattern
        return None

    # -- the contract ---------------------------------------------------------------------
    async def probe(self, client: httpx.AsyncClient, cred: Credential, *, deep: bool = False) -> ProbeReport:
        raise NotImplementedError

    async def revoke(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        return self.manual(Verb.REVOKE, "no API to revoke this key")

    async def restrict(self, client: httpx.AsyncClient, cred: Credential, ceiling: Level) -> ActionResult:
        return self.manual(Verb.RESTRICT, "no API to reduce this key's scopes")

    async def rotate(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        return self.manual(Verb.ROTATE, "no API to rotate this key")

    async def reenable(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        return self.manual(Verb.REENABLE, "re-enabling needs a new key")

    # -- recognising a key at the provider (a rotation cut off mid-way) ---------------------------------
    KEY_IDENTITY_FIELDS: ClassVar[tuple[str, ...]] = ("id", "name", "created_at")

    def key_identity(self, report: ProbeReport) -> dict[str, Any]:
        """What identifies the probed key at the provider (its id, name, creation date, expiry), from
        a probe's details; journalled before a rotation so a kill after the provider answered still
        lets Breaker say which key the provider made. Never a secret."""
        out = {k: report.details[k] for k in self.KEY_IDENTITY_FIELDS if report.details.get(k) is not None}
        if report.expires_at is not None:
            out["expires_at"] = report.expires_at.date().isoformat()
        return out

    async def find_replacement(
        self, client: httpx.AsyncClient, cred: Credential, old: dict[str, Any], since: str
    ) -> list[dict[str, Any]] | None:
        """The keys the provider made in place of ``old`` since ``since`` (ISO time), looked up with
        ``cred`` (another working key of the same account). None: this provider cannot list them."""
        return None

    def manual_steps(self, action: Verb) -> list[str]:
        where = self.dashboard_url or f"the {self.title} dashboard"
        verbs = {
            Verb.REVOKE: "revoke (delete) this key",
            Verb.RESTRICT: "reduce this key's permissions, or create a narrower key and register it as the reduced credential",
            Verb.ROTATE: "create a new key, then paste it into Breaker (it probes it before swapping), then revoke the old one",
            Verb.REENABLE: "create a new key and register it",
        }
        return [
            f"Open {where}",
            f"{verbs.get(action, action).capitalize()}.",
            "Come back to Breaker and probe the connector to verify.",
        ]
