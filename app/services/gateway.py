"""The gateway's inventory side: routes, Breaker-issued tokens, usage records (issue 13).

A *route* says a connector is handed to agents through the gateway instead of as its key: where
its requests go (the upstream, fixed here and never taken from a request), which provider host's
request table applies, and whether requests above the mode are refused or held for the owner.
A *token* is issued per connector and client: random, shown once, kept only as its SHA-256,
revocable. Every change here is audited; no token or key is ever written anywhere but the answer
to the one call that issues it.

:class:`Lookup` is the per-request read the gateway makes (token → connector, mode, route,
credential): on its own connection, outside any long transaction, read again whenever anything
was committed to the store since the last request, so a switch made by another process is seen by
the very next request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets as _secrets
import sqlite3
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import insert, text
from sqlmodel import col, select

from app.services import binding
from app.services.enforcement import AboveCeiling
from app.services.vocabulary import JobState
from app.store.db import session_scope, writer
from app.store.models import Connector, Credential, GatewayRoute, GatewayToken, GatewayUse, SwitchJob
from app.store.snapshot import parse_time, utcnow
from connectors import registry
from connectors.base import Level, Mode, Secret
from connectors.requests import table_for

TOKEN_PREFIX = "brk_"
DEFAULT_PORT = 8791
TENANT = "tenant"  # a connector's setting: the OAuth tenant its refresh token is redeemed at (Microsoft)
LOOPBACK = ("127.0.0.1", "::1", "localhost")
# A switch check (app.services.gateway_check): a request Breaker itself sends to prove the gateway
# refuses what the new mode forbids. It carries this header instead of a token, is decided like any
# request and is never forwarded (nor recorded as use).
CHECK_HEADER = "x-breaker-check"
CHECK_KEY = "gateway-check"  # the per-install key (in the keyring) the check header is signed with
CHECK_WINDOW_S = 120


def check_header(secrets, connector: str, now: float | None = None) -> str:
    """The value of :data:`CHECK_HEADER` for a check of ``connector``: a time and its HMAC."""
    stamp = str(int(time.time() if now is None else now))
    mac = hmac.new(secrets.install_key(CHECK_KEY), f"{connector}\n{stamp}".encode(), hashlib.sha256).hexdigest()
    return f"{stamp}.{mac}"


def check_header_valid(secrets, connector: str, value: str) -> bool:
    stamp, _, mac = value.strip().partition(".")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > CHECK_WINDOW_S:
        return False
    want = check_header(secrets, connector, int(stamp)).partition(".")[2]
    return hmac.compare_digest(want, mac)


class GatewayError(Exception):
    """A route or token cannot be made as asked. One line, no secret."""


class GatewayInputError(GatewayError):
    """What was asked cannot be used as given (an unknown connector, a bad URL, host, tenant or client
    name): a usage error, exit code 2 at the command line."""


def base_url() -> str:
    """Where agents reach the gateway: ``BREAKER_GATEWAY_URL``, else loopback on the default port."""
    url = os.environ.get("BREAKER_GATEWAY_URL", "").rstrip("/") or f"http://127.0.0.1:{DEFAULT_PORT}"
    if urlsplit(url).hostname not in LOOPBACK:
        raise GatewayError("BREAKER_GATEWAY_URL must be a loopback address (the gateway listens on loopback only)")
    return url


BREAKER, OTHER, NOBODY = "breaker", "other", ""  # who_answers(): who is at the gateway's address


def who_answers(host: str, port: int, timeout: float = 0.5) -> str:
    """Who listens at ``host:port``, asked cheaply (one connection, one small GET of the gateway's
    own status path, which a Breaker gateway answers itself without a token and without the store):
    :data:`BREAKER` (a Breaker gateway), :data:`OTHER` (another program accepts connections there,
    or answers nothing in time) or :data:`NOBODY` (nothing listens: the connection is refused)."""
    import http.client

    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        try:
            conn.connect()
        except OSError:
            return NOBODY
        try:
            conn.request("GET", "/_breaker", headers={"Host": f"127.0.0.1:{port}"})
            answer = conn.getresponse()
            body = json.loads(answer.read(200) or b"{}") if answer.status == 200 else {}
        except (OSError, ValueError, http.client.HTTPException):
            return OTHER
        return BREAKER if isinstance(body, dict) and body.get("gateway") == "breaker" else OTHER
    finally:
        conn.close()


def not_running_warning(url: str) -> str:
    """What ``breaker exec`` says on stderr when no Breaker gateway answers at ``url`` (its base URL), or ""."""
    split = urlsplit(url)
    port = split.port or (443 if split.scheme == "https" else 80)
    who = who_answers(split.hostname or "127.0.0.1", port)
    if who == BREAKER:
        return ""
    if who == OTHER:
        return (
            f"another program, not Breaker's gateway, answers at {url}: the agent's requests will not reach the "
            "provider — start the gateway on a free port (`breaker gateway --port N`) and set "
            "BREAKER_GATEWAY_URL=http://127.0.0.1:N for `breaker exec`"
        )
    return (
        f"the gateway is not running (nothing answers at {url}): start it with `breaker gateway` or press G in "
        'the panel — until then the agent\'s requests fail with "connection refused"'
    )


def port_taken_message(host: str, port: int, *, for_panel: bool = False) -> str:
    """Why the gateway could not listen on ``host:port`` (already in use) and what to do instead."""
    where = f"{host}:{port}"
    elsewhere = (
        "to run this one on another port, set BREAKER_GATEWAY_URL=http://127.0.0.1:N (a free port N) before "
        "opening the panel"
        if for_panel
        else "to run one more, choose another port: `breaker gateway --port N` (and set "
        "BREAKER_GATEWAY_URL=http://127.0.0.1:N for `breaker exec`)"
    )
    if who_answers(host, port) == BREAKER:
        return (
            f"the gateway could not listen on {where}: another Breaker gateway is already listening there "
            f"(`breaker gateway` in another terminal, or a panel's G); agents can use that one if it serves this "
            f"inventory — {elsewhere}"
        )
    return f"the gateway could not listen on {where}: another program (not Breaker's gateway) is listening there — {elsewhere}"


def new_token() -> str:
    return TOKEN_PREFIX + _secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class RouteView:
    connector: str
    provider: str
    upstream: str
    rules_host: str
    on_above: AboveCeiling
    tokens: int  # live (unrevoked) tokens
    tenant: str | None = None  # where its refresh token is redeemed, for a provider with tenants (Microsoft)


@dataclass(frozen=True)
class TokenView:
    id: int
    connector: str
    client: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class Issued:
    """A new token: ``token`` is shown once and then exists only as its hash."""

    id: int
    connector: str
    client: str
    token: str


@dataclass(frozen=True)
class Handout:
    """How ``breaker exec`` hands a connector out: ``via`` "key" (the key itself) or "gateway" (a
    Breaker token and the gateway's address). ``can_route`` is False, with ``why_not``, when the
    gateway has no request table for its provider."""

    connector: str
    provider_title: str
    via: str
    can_route: bool
    why_not: str = ""
    route: RouteView | None = None

    @property
    def label(self) -> str:
        if self.route is None:
            return "as its key"
        above = "held for your answer" if self.route.on_above is AboveCeiling.ASK else "refused"
        return f"through the gateway ({self.route.tokens} token(s); requests above the mode {above})"

    def plan(self) -> str:
        """The confirmation of switching to the other way, in the owner's words."""
        name, title = self.connector, self.provider_title
        if self.via == "key":
            return "\n".join(
                [
                    f"Hand out {name} through Breaker's gateway",
                    "",
                    "In Breaker, at once:",
                    f"  • `breaker exec {name}` gives the agent a Breaker token and the gateway's address, "
                    "never the key: the key stays in Breaker",
                    f"  • every request is checked against {name}'s mode; requests above it are refused",
                    f"  • switches of {name} take effect at the gateway on the next request and are verified there, "
                    f"without a call to {title}",
                    "What will stop working:",
                    f"  • nothing at once; agents now need the gateway running (`breaker gateway`) to reach {title}",
                    f"⚠ an agent that already holds the key itself still reaches {title} directly: rotate the key "
                    "to take it back",
                    "Undo: press h again to hand it out as its key",
                ]
            )
        tokens = self.route.tokens if self.route else 0
        return "\n".join(
            [
                f"Hand out {name} as its key again",
                "",
                "In Breaker, at once:",
                f"  • `breaker exec {name}` gives the key itself to the agent again",
                f"  • switches of {name} go to {title} again (its API, or steps for you)",
                "What will stop working:",
                f"  • the {tokens} gateway token(s) of {name} are revoked: agents using them are refused"
                if tokens
                else f"  • nothing now: no agent holds a gateway token of {name}",
                "Undo: press h again to route it through the gateway (new tokens are issued per run)",
            ]
        )


@dataclass
class UseByLevel:
    """Gateway use per level: ``counts[level][week] = [forwarded, refused or held]``, week 0 the
    last seven days; ``last_used[level]`` the last forwarded request of that level."""

    weeks: int
    counts: dict[str, list[list[int]]] = field(default_factory=dict)
    last_used: dict[str, datetime] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.counts


class Gateway:
    """Routes and tokens, for the CLI, the panel and ``breaker exec``."""

    def __init__(self, services) -> None:
        self.services = services

    # -- routes -------------------------------------------------------------------------------------
    def route(
        self, name: str, *, upstream: str | None = None, rules_host: str | None = None, on_above: str | None = None
    ) -> RouteView:
        """Hand ``name`` out through the gateway (or change its route). Audited."""
        with session_scope(self.services.engine) as s:
            c = self._connector(s, name)
            provider = registry.get(c.provider)
            table = table_for(provider)
            if table is None or not provider.gateway_url:
                raise GatewayError(f"the gateway has no request table for {provider.title} yet: {name} stays a key")
            row = s.get(GatewayRoute, c.id)
            old = _route_dict(row) if row else None
            sealed = binding.sealed_upstreams(c.provider, c.base_url, c.extra_json)
            kept = (row.upstream if row else "").rstrip("/")
            kept = kept if kept in sealed else ""  # an upstream changed outside Breaker is not kept
            # Without the provider's API path: the agent's client sends it (…/slack/api → …/slack).
            up = provider.gateway_upstream(upstream or kept or c.base_url or provider.gateway_url)
            split = urlsplit(up)
            if split.scheme not in ("http", "https") or not split.hostname or split.query or split.fragment:
                raise GatewayInputError(f"upstream {up!r} is not an http(s) URL")
            if split.scheme == "http" and split.hostname not in LOOPBACK:
                raise GatewayInputError("a plain-http upstream is allowed on loopback only (the sandbox)")
            host = (rules_host or (row.rules_host if row else "") or split.hostname or "").lower()
            if host not in table.hosts:
                if rules_host is None and not row and split.hostname in LOOPBACK:
                    host = urlsplit(provider.gateway_url).hostname or ""
                else:
                    hosts = ", ".join(sorted(table.hosts))
                    raise GatewayInputError(
                        f"{host!r} is not one of {provider.title}'s API hosts ({hosts}); if it serves the same API "
                        f"(a self-managed or Enterprise server), say whose rules apply: --rules-host "
                        f"{sorted(table.hosts)[0]}"
                    )
            if up not in sealed:  # the owner chose another upstream: sealed with the rest of its destination
                self._seal_upstream(s, c, up)
            choice = AboveCeiling(on_above) if on_above else AboveCeiling(row.on_above if row else "refuse")
            if row is None:
                row = GatewayRoute(connector_id=c.id, upstream=up, rules_host=host, on_above=choice.value)
            else:
                row.upstream, row.rules_host, row.on_above = up, host, choice.value
            s.add(row)
            self.services.audit.record(s, "gateway.route", name, old=old, new=_route_dict(row))
            tokens = self._live_tokens(s, c.id)
            return RouteView(name, c.provider, row.upstream, row.rules_host, choice, tokens)

    def _seal_upstream(self, s, c: Connector, up: str) -> None:
        """Keep ``up`` in the connector's settings and seal its keys to it — only while their seals
        hold (a destination changed outside Breaker is never sealed here: binding.check_upstream)."""
        self._seal_setting(s, c, binding.GATEWAY_UPSTREAM, up)

    def set_tenant(self, name: str, tenant: str) -> str:
        """The OAuth tenant whose token endpoint redeems ``name``'s refresh token (Microsoft:
        ``login.microsoftonline.com/{tenant}/oauth2/v2.0/token``), kept in the connector's settings and
        sealed with its destination: it decides where the refresh token goes. Validated by the provider
        (never a path or a host); audited as ``connector.edit``. Returns the tenant as kept."""
        with session_scope(self.services.engine) as s:
            c = self._connector(s, name)
            try:
                tenant = registry.get(c.provider).oauth_tenant(tenant)
            except ValueError as exc:
                raise GatewayInputError(str(exc)) from None
            try:
                old = json.loads(c.extra_json or "{}").get(TENANT)
            except (ValueError, AttributeError):
                old = None
            self._seal_setting(s, c, TENANT, tenant)
            self.services.audit.record(s, "connector.edit", name, old={TENANT: old}, new={TENANT: tenant})
        return tenant

    def _seal_setting(self, s, c: Connector, key: str, value: str) -> None:
        """Set one of the connector's settings and seal its keys to the new destination — only while
        their seals hold (a destination changed outside Breaker is never sealed here)."""
        secrets = self.services.secrets
        creds = list(
            s.exec(select(Credential).where(Credential.connector_id == c.id, col(Credential.revoked_at).is_(None)))
        )
        dest = binding.of_row(c)
        if not all(binding.matches(secrets, k.keyring_ref, dest, k.binding or "") for k in creds):
            raise GatewayError(
                f"{c.name}'s destination no longer matches what was set in Breaker: check it with `breaker list "
                f"{c.name} --json`, confirm it with `breaker edit {c.name} --confirm-destination`, then try again"
            )
        try:
            extra = json.loads(c.extra_json or "{}")
        except ValueError:
            extra = {}
        extra[key] = value
        c.extra_json = json.dumps(extra)
        s.add(c)
        binding.seal_rows(secrets, s, c, creds)

    def unroute(self, name: str) -> bool:
        """Hand ``name`` out as its key again; its tokens are revoked. Audited. False if it was not routed."""
        with session_scope(self.services.engine) as s:
            c = self._connector(s, name)
            row = s.get(GatewayRoute, c.id)
            if row is None:
                return False
            revoked = self._revoke_all(s, c.id)
            s.delete(row)
            new: dict[str, object] = {"tokens_revoked": revoked}
            if _verified_only_here(s, c):
                # The switch held because the gateway refused what was above the mode; handed out as
                # its key, nothing does: the key at the provider was never reduced or revoked. "Waiting
                # for you" (MANUAL: nothing applied at the provider) puts it on the checklist, and a
                # probe that shows the key within the mode verifies it (app.services.probing).
                c.switch_state = JobState.MANUAL
                s.add(c)
                new["switch_state"] = JobState.MANUAL.value
            self.services.audit.record(s, "gateway.unroute", name, old=_route_dict(row), new=new)
            return True

    def unrouted_note(self, name: str) -> str:
        """After ``unroute``: what the owner must still do when the mode is no longer held anywhere
        ("" when the connector is at full, or its switch was verified at the provider)."""
        view = self.services.inventory.get(name)
        # VERIFIED: proven at the provider; APPLIED: the provider took the change, a probe is to come
        if view.mode is Mode.FULL or view.switch_state in (JobState.VERIFIED, JobState.APPLIED):
            return ""
        title = registry.get(view.provider).title
        command = "disable" if view.mode is Mode.DISABLED else view.mode.value
        return (
            f"{name} stays {view.mode.value} in Breaker, but its key at {title} was never changed (the gateway "
            f"held it to {view.mode.value}). Run `breaker {command} {name}` to do it at {title}."
        )

    def handout(self, name: str) -> Handout:
        """How ``name`` is handed out now, and whether it can go through the gateway."""
        route = self.get(name)
        view = self.services.inventory.get(name)
        provider = registry.get(view.provider)
        can = table_for(provider) is not None and bool(provider.gateway_url)
        why = "" if can else f"the gateway has no request table for {provider.title} yet"
        return Handout(name, provider.title, "gateway" if route else "key", can, why, route)

    def set_handout(self, name: str, via: str) -> Handout:
        """Hand ``name`` out ``via`` "key" or "gateway" (``route``/``unroute``, each audited)."""
        if via == "gateway":
            self.route(name)
        elif via == "key":
            self.unroute(name)
        else:
            raise GatewayInputError(f"hand out as 'key' or through the 'gateway', not {via!r}")
        return self.handout(name)

    def get(self, name: str) -> RouteView | None:
        with session_scope(self.services.engine) as s:
            c = self._connector(s, name)
            row = s.get(GatewayRoute, c.id)
            if row is None:
                return None
            return RouteView(
                name,
                c.provider,
                upstream_of(c.provider, row.upstream),
                row.rules_host,
                AboveCeiling(row.on_above),
                self._live_tokens(s, c.id),
            )

    def routes(self) -> list[RouteView]:
        with session_scope(self.services.engine) as s:
            rows = s.exec(select(GatewayRoute, Connector).where(GatewayRoute.connector_id == Connector.id)).all()
            return [
                RouteView(
                    c.name,
                    c.provider,
                    upstream_of(c.provider, r.upstream),
                    r.rules_host,
                    AboveCeiling(r.on_above),
                    self._live_tokens(s, c.id),
                    _tenant_of(c),
                )
                for r, c in sorted(rows, key=lambda rc: rc[1].name)
            ]

    def routed_names(self) -> set[str]:
        with self.services.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT c.name FROM gateway_route r JOIN connector c ON c.id = r.connector_id")
            ).all()
        return {r[0] for r in rows}

    # -- tokens -------------------------------------------------------------------------------------
    def issue(self, name: str, client: str) -> Issued:
        """A new token for ``name`` and ``client``; the connector must be routed. Audited without the token."""
        client = client.strip()[:80]
        if not client:
            raise GatewayInputError("name the client the token is for (e.g. --client 'invoice agent')")
        token = new_token()
        with session_scope(self.services.engine) as s:
            c = self._connector(s, name)
            if s.get(GatewayRoute, c.id) is None:
                raise GatewayError(f"{name} is not routed through the gateway (breaker route {name})")
            row = GatewayToken(connector_id=c.id, client=client, token_hash=token_hash(token))
            s.add(row)
            s.flush()
            self.services.audit.record(s, "gateway.token", name, new={"token_id": row.id, "client": client})
            return Issued(row.id, name, client, token)

    def revoke(self, name: str, token_id: int) -> bool:
        with session_scope(self.services.engine) as s:
            c = self._connector(s, name)
            row = s.get(GatewayToken, token_id)
            if row is None or row.connector_id != c.id or row.revoked_at is not None:
                return False
            row.revoked_at = utcnow()
            s.add(row)
            self.services.audit.record(s, "gateway.token.revoke", name, new={"token_id": row.id, "client": row.client})
            return True

    def tokens(self, name: str) -> list[TokenView]:
        with session_scope(self.services.engine) as s:
            c = self._connector(s, name)
            rows = s.exec(select(GatewayToken).where(GatewayToken.connector_id == c.id)).all()
            return [TokenView(r.id, name, r.client, r.created_at, r.revoked_at) for r in rows]

    # -- usage --------------------------------------------------------------------------------------
    def usage(self, name: str, limit: int = 1000) -> list[GatewayUse]:
        with session_scope(self.services.engine) as s:
            c = self._connector(s, name)
            q = (
                select(GatewayUse)
                .where(GatewayUse.connector_id == c.id)
                .order_by(GatewayUse.id.desc())  # type: ignore[union-attr]
                .limit(limit)
            )
            return list(s.exec(q).all())

    def use_by_level(self, name: str, weeks: int = 4, now: datetime | None = None) -> UseByLevel:
        """What the connector's agents did through the gateway, per level and week (newest first):
        requests forwarded, and requests refused or held, from ``gateway_use``."""
        now = now or utcnow()
        since = now - timedelta(weeks=weeks)
        with session_scope(self.services.engine) as s:
            c = self._connector(s, name)
            rows = s.exec(
                select(GatewayUse.at, GatewayUse.level, GatewayUse.decision).where(
                    GatewayUse.connector_id == c.id, GatewayUse.at >= since
                )
            ).all()
        found = UseByLevel(weeks=weeks)
        for at, level, decision in rows:
            at = parse_time(at)
            week = min(weeks - 1, max(0, int((now - at).total_seconds() // (7 * 86400))))
            label = Level(level).label if level is not None else "unknown"
            cell = found.counts.setdefault(label, [[0, 0] for _ in range(weeks)])
            cell[week][0 if decision == "allow" else 1] += 1
            if decision == "allow" and (label not in found.last_used or at > found.last_used[label]):
                found.last_used[label] = at
        return found

    # -- helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _connector(s, name: str) -> Connector:
        c = s.exec(select(Connector).where(Connector.name == name)).first()
        if c is None:
            from app.services.inventory import NotFound

            raise GatewayInputError(str(NotFound(name, s.exec(select(Connector.name)).all())))
        return c

    @staticmethod
    def _live_tokens(s, connector_id: int) -> int:
        rows = s.exec(
            select(GatewayToken).where(GatewayToken.connector_id == connector_id, GatewayToken.revoked_at.is_(None))  # type: ignore[union-attr]
        ).all()
        return len(rows)

    @staticmethod
    def _revoke_all(s, connector_id: int) -> int:
        rows = s.exec(
            select(GatewayToken).where(GatewayToken.connector_id == connector_id, GatewayToken.revoked_at.is_(None))  # type: ignore[union-attr]
        ).all()
        for r in rows:
            r.revoked_at = utcnow()
            s.add(r)
        return len(rows)


def _verified_only_here(s, c: Connector) -> bool:
    """A reduced or disabled connector whose switch was verified at the gateway (not at the provider)."""
    if c.mode == Mode.FULL or c.switch_state != JobState.VERIFIED:
        return False
    job = s.exec(select(SwitchJob).where(SwitchJob.connector_id == c.id).order_by(col(SwitchJob.id).desc())).first()
    if job is None:
        return False
    try:
        details = json.loads(job.details_json or "{}")
    except ValueError:
        return True  # unreadable: do not claim it verified
    return not isinstance(details, dict) or details.get("at") == "gateway"


def _route_dict(row: GatewayRoute) -> dict:
    return {"upstream": row.upstream, "rules_host": row.rules_host, "on_above": row.on_above}


def upstream_of(provider: str, stored: str) -> str:
    """The upstream a route forwards to: ``stored`` without the provider's API path at its end
    (Provider.gateway_upstream). Routes stored before Breaker stripped it (``…/slack/api``, whose
    forwarded paths came out ``/api/api/…``) are corrected here, on every read; the seal covers the
    corrected form because it is the sealed URL with only its API path removed
    (binding.sealed_upstreams). ``breaker route NAME`` stores it corrected (audited)."""
    try:
        return registry.get(provider).gateway_upstream(stored)
    except KeyError:
        return stored.rstrip("/")


# -- the per-request read ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """What one request needs to know, read fresh for that request."""

    connector_id: int
    connector: str
    provider: str
    mode: Mode
    upstream: str
    rules_host: str
    on_above: AboveCeiling
    client: str
    token_id: int
    keyring_ref: str | None  # the credential to add; None when the connector has no key
    kind: str = ""  # the credential's kind (an OAuth refresh token is traded for access tokens)
    base_url: str = ""  # the connector's base URL override (where its OAuth token endpoint is)


_CRED = """(SELECT k.{col} FROM credential k WHERE k.connector_id = c.id AND k.revoked_at IS NULL
        ORDER BY k.active DESC, k.tier != 'primary', k.id LIMIT 1)"""
_LOOKUP = (
    """
SELECT c.id, c.name, c.provider, c.mode, r.upstream, r.rules_host, r.on_above, t.client, t.id,
       """
    + _CRED.format(col="keyring_ref")
    + ", "
    + _CRED.format(col="kind")
    + """, c.base_url
FROM gateway_token t
JOIN connector c ON c.id = t.connector_id
JOIN gateway_route r ON r.connector_id = c.id
WHERE t.token_hash = {p} AND t.revoked_at IS NULL
"""
)
_BY_NAME = """
SELECT c.id, c.name, c.provider, c.mode, r.upstream, r.rules_host, r.on_above
FROM gateway_route r JOIN connector c ON c.id = r.connector_id
WHERE c.name = {p}
"""
_MODES = "SELECT id, mode FROM connector WHERE id IN ({ids})"


WAL_HEADER_BYTES = 96  # the two copies of the 48-byte wal-index header, at the start of "<db>-shm"
WAL_INDEX_VERSION = 3007000  # the header's iVersion since SQLite 3.7.0


def settled(header: bytes | None) -> bool:
    """Whether ``header`` is a whole wal-index header no writer is changing: both copies alike (a
    writer writes the second, then the first), initialised, of the known version."""
    return (
        header is not None
        and len(header) == WAL_HEADER_BYTES
        and header[:48] == header[48:]
        and int.from_bytes(header[:4], sys.byteorder) == WAL_INDEX_VERSION
        and header[12] == 1  # isInit
    )


def wal_index_fd(path) -> int | None:
    """SQLite's own open descriptor of ``path``'s wal-index (``<db>-shm``) in this process, found in
    /proc/self/fd; None when there is none (not in WAL mode, no /proc). SQLite keeps one descriptor
    per file and process, open while any connection to the database is: the caller's own connection
    keeps it open for as long as the caller reads through it. Never open the file separately: closing
    any descriptor of it drops every POSIX lock this process holds on it, SQLite's included."""
    if path is None:
        return None
    try:
        want = os.stat(f"{os.path.realpath(path)}-shm")
        names = os.listdir("/proc/self/fd")
    except OSError:
        return None
    for name in names:
        try:
            found = os.stat(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if (found.st_dev, found.st_ino) == (want.st_dev, want.st_ino):
            return int(name)
    return None


class Lookup:
    """Token → :class:`Route`, read on every request. SQLite: one autocommit connection of the
    standard library's driver, and the routes it read kept until the database changes: before each
    request it asks ``PRAGMA data_version``, which moves whenever any other connection — this
    process's store, the panel, a ``breaker disable`` in another process — commits to the file
    (https://www.sqlite.org/pragma.html#pragma_data_version). A switch, a revoked token or a new
    route is a commit, so the very next request reads again; between commits nothing a route holds
    can have changed. Any other database: a pooled SQLAlchemy connection per read, nothing kept.

    In WAL mode (the store's) the PRAGMA is asked only when the wal-index header has moved: SQLite
    itself decides that ``data_version`` moved by comparing this header with the one it saw last
    (https://www.sqlite.org/walformat.html, "The WAL-Index Header"; every commit rewrites it). The
    header is read with one ``pread`` on SQLite's own descriptor of the ``-shm`` file — never a
    descriptor of Breaker's own, whose close would drop this process's POSIX locks on the file
    (see :func:`wal_index_fd`) — instead of the PRAGMA's read transaction (two ``fcntl`` locks and
    SQLite's pager): 20–35 µs per request on the gateway's cold caches. Bytes that are not a settled
    header (the two copies differ, not initialised, another version) always ask the PRAGMA."""

    MAX_KEPT = 4096  # routes (and unknown tokens) kept between two commits; more empties the cache

    def __init__(self, services) -> None:
        self.engine = services.engine
        self._lock = threading.Lock()
        path = services.settings.db_path
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None
        self._kept: dict[str, Route | None] = {}
        self._path = path
        self._shm: int | None = None  # SQLite's descriptor of the wal-index, once found (WAL mode, Linux)
        self._looked = False  # whether it was looked for (once, after the first PRAGMA opened it)
        self._header: bytes | None = None  # the wal-index header as read before the last PRAGMA
        if path is not None:
            self._conn = sqlite3.connect(
                f"file:{path}?mode=rw", uri=True, isolation_level=None, check_same_thread=False, timeout=5
            )
            self._conn.execute("PRAGMA busy_timeout = 5000")

    def close(self) -> None:
        with self._lock:
            self._shm = None  # SQLite's, not ours: never closed here
            self._header = None
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _wal_header(self) -> bytes | None:
        """The wal-index header as it reads now, or None when it cannot be read (then the PRAGMA decides)."""
        fd = self._shm
        if fd is None:
            return None
        try:
            return os.pread(fd, WAL_HEADER_BYTES, 0)
        except OSError:
            self._shm = None
            return None

    def _rows(self, sql: str, params: tuple) -> list[tuple]:
        if self._conn is not None:
            with self._lock:
                return self._conn.execute(sql.format(p="?"), params).fetchall()
        names = {f"p{i}": v for i, v in enumerate(params)}
        marked = sql.format(p=":p0")
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(marked), names).all()]

    def route(self, token: str) -> Route | None:
        conn = self._conn
        if conn is None:
            return self._read_route(token_hash(token))
        with self._lock:
            header = self._wal_header()
            if header is None or header != self._header:  # moved (or unknown): SQLite decides
                version = conn.execute("PRAGMA data_version").fetchone()[0]
                if not self._looked:  # the PRAGMA has opened the wal-index, if the file is in WAL mode
                    self._looked = True
                    self._shm = wal_index_fd(self._path)
                # kept only when settled; read before the PRAGMA, so a commit between the two moves it again
                self._header = header if settled(header) else None
            else:  # not one commit since the PRAGMA that header was read before
                version = self._version
            if version != self._version or len(self._kept) >= self.MAX_KEPT:
                self._kept.clear()
                self._version = version
            elif token in self._kept:
                # Kept by the token as the agent sent it (this process's memory only, like the keys
                # it adds): its SHA-256, what the store holds, is computed only to read the store.
                return self._kept[token]
            found = self._kept[token] = self._read_route(token_hash(token), conn)
            return found

    def _read_route(self, digest: str, conn: sqlite3.Connection | None = None) -> Route | None:
        if conn is not None:
            rows = conn.execute(_LOOKUP.format(p="?"), (digest,)).fetchall()
        else:
            rows = self._rows(_LOOKUP, (digest,))
        if not rows:
            return None
        cid, name, provider, mode, upstream, host, above, client, tid, ref, kind, base = rows[0]
        return Route(
            cid,
            name,
            provider,
            Mode(mode),
            upstream_of(provider, upstream),
            host,
            AboveCeiling(above),
            client,
            tid,
            ref,
            kind or "",
            base or "",
        )

    def route_by_name(self, name: str) -> Route | None:
        """The route of ``name`` for a switch check (no token, no key: a check is never forwarded)."""
        rows = self._rows(_BY_NAME, (name,))
        if not rows:
            return None
        cid, name, provider, mode, upstream, host, above = rows[0]
        return Route(
            cid,
            name,
            provider,
            Mode(mode),
            upstream_of(provider, upstream),
            host,
            AboveCeiling(above),
            "breaker check",
            0,
            None,
        )

    def modes(self, connector_ids: Iterable[int]) -> dict[int, Mode]:
        """The current mode of each connector (a connector that is gone counts as disabled)."""
        ids = sorted({int(i) for i in connector_ids})
        if not ids:
            return {}
        found = {
            cid: Mode(mode) for cid, mode in self._rows(_MODES.replace("{ids}", ",".join(str(i) for i in ids)), ())
        }
        return {i: found.get(i, Mode.DISABLED) for i in ids}


# -- OAuth connectors (the gateway refreshes their access tokens) ------------------------------------


def _client_ref(keyring_ref: str) -> str:
    return f"oauth-client:{keyring_ref}"


def _tenant_of(c: Connector) -> str | None:
    """The tenant the gateway redeems ``c``'s refresh token at: its setting, else the provider's
    default (Microsoft: ``common``); None for a provider without tenants."""
    provider = registry.get(c.provider)
    try:
        kept = json.loads(c.extra_json or "{}").get(TENANT)
    except (ValueError, AttributeError):
        kept = None
    try:
        return provider.oauth_tenant(str(kept or provider.default_tenant or ""))
    except ValueError:
        return None


def set_oauth_client(services, name: str, client_id: str, client_secret: Secret) -> None:
    """The OAuth client a connector's refresh token belongs to: kept in the keyring beside the token
    (the secret never in the store). Audited with the client id only."""
    view = services.inventory.get(name)
    cred = view.credential
    if cred is None:
        raise GatewayError(f"{name} has no credential to attach an OAuth client to")
    client_id = client_id.strip()
    if not client_id or not client_secret.reveal():
        raise GatewayInputError("give both the OAuth client id and its secret")
    value = json.dumps({"client_id": client_id, "client_secret": client_secret.reveal()})
    services.secrets.set_value(_client_ref(cred.keyring_ref), value)
    with session_scope(services.engine) as s:
        services.audit.record(s, "credential.oauth_client", name, new={"client_id": client_id})


def oauth_client(services, keyring_ref: str) -> tuple[str, Secret] | None:
    """(client id, client secret) for the refresh token at ``keyring_ref``, or None."""
    raw = services.secrets.get_value(_client_ref(keyring_ref))
    if not raw:
        return None
    try:
        found = json.loads(raw)
        return str(found["client_id"]), Secret(str(found["client_secret"]))
    except (ValueError, KeyError, TypeError):
        return None


def store_rotated_refresh(services, connector_id: int, keyring_ref: str, new: Secret) -> None:
    """The provider rotated the refresh token (RFC 6749 §6: the old one must be discarded): the new
    one goes into the keyring under the same reference at once, then its fingerprint to the store,
    audited (fingerprints only)."""
    services.secrets.put(keyring_ref, new)
    fp = services.secrets.fingerprint(new)
    with session_scope(services.engine) as s:
        row = s.exec(select(Credential).where(Credential.keyring_ref == keyring_ref)).first()
        connector = s.get(Connector, connector_id)
        old = {"fingerprint": row.fingerprint, "last4": row.last4} if row else None
        if row is not None:
            row.fingerprint, row.last4, row.rotated_at = fp.digest, fp.last4, utcnow()
            s.add(row)
        services.audit.record(
            s,
            "credential.rotated",
            connector.name if connector else "",
            old=old,
            new={"fingerprint": fp.digest, "last4": fp.last4, "by": "the provider, on an OAuth refresh (gateway)"},
        )


def record_run(services, started: bool, url: str, where: str, how: str = "") -> None:
    """Audit the gateway starting or stopping (``gateway.started`` / ``gateway.stopped``); ``how`` says
    how it stopped when the gateway could not say so itself (it died, or was killed)."""
    new = {"url": url, "where": where} | ({"how": how} if how else {})
    with session_scope(services.engine) as s:
        services.audit.record(s, "gateway.started" if started else "gateway.stopped", new=new)


def record_usage(services, rows: list[dict]) -> None:
    """Write usage rows (dicts of :class:`GatewayUse` fields; ``at`` defaults to now) in one
    transaction, as one executemany of a Core INSERT on the store's write connection — no ORM
    session: the gateway writes these in a thread beside the requests it serves (holding the GIL),
    and a Session's begin/flush/commit cost more than the rows themselves (callgrind: 0.35 M
    instructions per request at 220 sequential requests, most of it per write, not per row)."""
    if not rows:
        return
    now = utcnow()
    values = [{"at": now, **r} for r in rows]
    with writer(services.engine).begin() as conn:  # BEGIN IMMEDIATE, as every write (app.store.db)
        conn.execute(insert(GatewayUse.__table__), values)  # type: ignore[arg-type]


def accepted_headers(headers: Iterable[tuple[str, str]]) -> str:
    """The provider's ``X-Accepted-*`` permission headers (GitHub sends them), as JSON."""
    found = {k.lower(): v[:500] for k, v in headers if k.lower().startswith("x-accepted-")}
    return json.dumps(found, sort_keys=True) if found else "{}"


def level_or_none(value: int | None) -> Level | None:
    return Level(value) if value is not None else None


__all__ = [
    "DEFAULT_PORT",
    "Gateway",
    "GatewayError",
    "GatewayInputError",
    "Handout",
    "Issued",
    "Lookup",
    "Route",
    "RouteView",
    "TokenView",
    "accepted_headers",
    "new_token",
    "parse_time",
    "record_run",
    "record_usage",
    "token_hash",
]
