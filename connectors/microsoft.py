"""Microsoft Graph (Entra ID) access tokens.

Sources: https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference (claims),
https://learn.microsoft.com/en-us/graph/permissions-reference (permissions),
https://learn.microsoft.com/en-us/graph/api/oauth2permissiongrant-update (restrict),
https://learn.microsoft.com/en-us/graph/api/user-revokesigninsessions (revoke),
https://learn.microsoft.com/en-us/graph/api/serviceprincipal-update (an application's service principal
disabled with ``accountEnabled: false``, reversibly; Entra then issues no new token for the app:
https://learn.microsoft.com/en-us/entra/identity/enterprise-apps/disable-user-sign-in-portal),
https://learn.microsoft.com/en-us/graph/throttling (rate limits). A Graph access token is a JWT: its payload says what it can do (``scp`` for
delegated permissions, ``roles`` for application permissions). Breaker decodes it without
verifying the signature (the token is meant for Graph, not for us) and then asks Graph whether
the token is still accepted.

Mail.ReadWrite without Mail.Send is a real draft-only level: sending needs Mail.Send.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from connectors.actions import call, guard_action, needs_admin
from connectors.base import (
    ActionResult,
    ActionState,
    Credential,
    Grant,
    KeyPattern,
    Level,
    Outcome,
    ProbeReport,
    Provider,
    RefreshRequest,
    Secret,
    SwitchCall,
    Verb,
)
from connectors.http import (
    MalformedBody,
    guard,
    json_body,
    json_or_none,
    outcome_for_status,
    provider_text,
    rate_limit_state,
    strings,
)

R, D, W, S, A = Level.READ, Level.DRAFT, Level.WRITE, Level.SEND, Level.ADMIN

GRAPH_AUDIENCES = (
    "https://graph.microsoft.com",
    "https://graph.microsoft.com/",
    "00000003-0000-0000-c000-000000000000",
)

# https://learn.microsoft.com/en-us/graph/permissions-reference. Patterns below cover the *.Read / *.ReadWrite / *.Send families.
EXACT_LEVELS: dict[str, Level] = {
    **dict.fromkeys(("openid", "profile", "email", "offline_access", "User.Read"), R),
    # Drafts can be created and edited; sending (POST /me/messages/{id}/send) needs Mail.Send.
    **dict.fromkeys(("Mail.ReadWrite", "Mail.ReadWrite.Shared"), D),
    **dict.fromkeys(("Mail.Send", "Mail.Send.Shared"), S),
    # unconfirmed: Chat.Send / ChannelMessage.Send counted as send.
    **dict.fromkeys(("Chat.Send", "ChannelMessage.Send"), S),
    **dict.fromkeys(
        (
            "Directory.ReadWrite.All",
            "Application.ReadWrite.All",
            "AppRoleAssignment.ReadWrite.All",
            "RoleManagement.ReadWrite.Directory",
            "User.RevokeSessions.All",
        ),
        A,
    ),
    # Our own judgement, same reasons as the listed admin permissions: they manage credentials or
    # grants, or (mailbox rules) can forward mail outside.
    **dict.fromkeys(
        ("Application.ReadWrite.OwnedBy", "DelegatedPermissionGrant.ReadWrite.All", "MailboxSettings.ReadWrite"), A
    ),
}
PATTERN_LEVELS: tuple[tuple[re.Pattern[str], Level], ...] = (
    (re.compile(r"\.Send(\.|$)"), S),
    (re.compile(r"\.ReadWrite(\.|$)"), W),
    (re.compile(r"\.Read(Basic)?(\.|$)"), R),
)
NOTES = {"Mail.ReadWrite": "drafts only, unless Mail.Send is also granted"}


def jwt_claims(token: str) -> dict | None:
    """The JWT payload, decoded without verifying anything; None when the token is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def graph_error(response: httpx.Response, cred: Credential | None = None) -> str:
    """Graph's ``{"error": {"code", "message"}}`` as "code: message", short and secret-free."""
    body = json_or_none(response)
    parts = (provider_text(body, "error.code", cred=cred), provider_text(body, "error.message", cred=cred))
    return ": ".join(p for p in parts if p)[:200] or f"HTTP {response.status_code}"


def delegated_scopes(claims: dict) -> list[str]:
    return str(claims.get("scp") or "").split()


def app_roles(claims: dict) -> list[str]:
    return strings(claims.get("roles"))


REFRESH_KIND = "OAuth refresh token"
TENANT_SETTING = "tenant"  # the connector's setting: where its refresh token is redeemed
TENANT_WORDS = frozenset({"common", "organizations", "consumers"})
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


class MicrosoftGraph(Provider):
    name = "microsoft"
    title = "Microsoft Graph"
    base_url = "https://graph.microsoft.com/v1.0"
    # A JWT shape alone is ambiguous; recognise() also checks that the audience is Graph.
    key_patterns = (KeyPattern(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*", "Graph access token (JWT)"),)
    scope_levels = EXACT_LEVELS
    scope_patterns = PATTERN_LEVELS
    dashboard_url = "https://entra.microsoft.com"
    env_var = "MS_GRAPH_TOKEN"
    request_table = "connectors.rules.microsoft:TABLE"  # what the gateway allows, per request
    gateway_url = "https://graph.microsoft.com"
    gateway_env = {"MS_GRAPH_BASE_URL": "/v1.0"}  # see README "Routing a connector through the gateway"
    # Requests are https://graph.microsoft.com/{version}/{resource}, version v1.0 or beta
    # (https://learn.microsoft.com/en-us/graph/use-the-api): the path sent holds the version.
    api_paths = ("/v1.0", "/beta")
    # The Microsoft identity platform's token endpoint, refresh grant as documented at
    # https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token
    # ("common": work, school and personal accounts; a single-tenant app's refresh token is redeemed
    # at its own tenant: the connector's setting ``tenant``, see oauth_tenant). Every answer carries a
    # new refresh token, kept at once.
    oauth_token_url = "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    default_tenant = "common"
    refresh_kinds = frozenset({REFRESH_KIND})
    refresh_scope = "https://graph.microsoft.com/.default offline_access"
    deep_probe_requests = 2  # the verify call, plus the permission grant when its id is registered
    can_revoke = True
    can_restrict = True
    revoke_reversible = False
    revoke_needs_admin = True  # revokeSignInSessions needs User.RevokeSessions.All
    switch_calls = {
        Verb.REVOKE: SwitchCall(
            "POST /users/{id}/revokeSignInSessions",
            "refresh tokens die at once; access tokens already issued work until they expire (≤ 1 h)",
        ),
        Verb.RESTRICT: SwitchCall(
            "PATCH /oauth2PermissionGrants/{grant_id}",
            "after reading the grant (GET, same path), keeps the scopes at or under the ceiling; delegated "
            "grants only; issued access tokens keep their scopes until they expire",
            requests=2,
        ),
    }

    # An application token (app-only: ``roles``, no ``scp``) is the app's own: its service principal is
    # disabled (PATCH accountEnabled false) and enabled again the same way. Access tokens already
    # issued cannot be revoked; they work until they expire, so the switch is verified only then.
    application_kind = "Graph application token (JWT)"
    sp_disable = SwitchCall(
        "PATCH /servicePrincipals(appId='{appid}') {\"accountEnabled\": false}",
        "with the organisation's admin token (Application.ReadWrite.All); reversible; Entra issues no new "
        "token for the app, and a token already issued works until it expires (≤ 1 h): verified then",
    )
    sp_enable = SwitchCall(
        "PATCH /servicePrincipals(appId='{appid}') {\"accountEnabled\": true}",
        "with the organisation's admin token (Application.ReadWrite.All)",
    )

    def switch_call(self, verb: Verb, kind: str = "") -> SwitchCall | None:
        if "application" in kind.lower():
            return {Verb.REVOKE: self.sp_disable, Verb.REENABLE: self.sp_enable}.get(verb)
        return super().switch_call(verb, kind)

    def reversible(self, kind: str = "") -> bool:
        return "application" in kind.lower() or self.revoke_reversible

    def admin_needed(self, verb: Verb, kind: str = "") -> str:
        if "application" in kind.lower() and verb in (Verb.REVOKE, Verb.REENABLE):
            return "an Entra admin token with Application.ReadWrite.All"
        return super().admin_needed(verb, kind)

    def oauth_tenant(self, value: str) -> str:
        """The ``{tenant}`` of the token URL, as the identity platform documents it
        (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token):
        ``common``, ``organizations``, ``consumers``, the tenant's ID (a GUID) or one of its domain names
        (``contoso.onmicrosoft.com``) — lower-cased. Anything else (a slash, ``..``, ``@``, a port, an IP
        address) is refused: it could move the refresh token to another path or host."""
        tenant = value.strip().lower()
        if tenant in TENANT_WORDS or _GUID.fullmatch(tenant):
            return tenant
        labels = tenant.split(".")
        if (
            len(tenant) <= 253
            and len(labels) >= 2
            and all(_LABEL.fullmatch(label) for label in labels)
            and not labels[-1].isdigit()
        ):
            return tenant
        raise ValueError(
            f"{value.strip()[:80]!r} is not a Microsoft tenant: give common, organizations, consumers, the "
            "tenant ID (a GUID) or a domain name of the tenant (e.g. contoso.onmicrosoft.com)"
        )

    def token_url(self, base_url: str | None = None, settings: Mapping[str, Any] | None = None) -> str:
        """The token endpoint of the connector's tenant (``settings['tenant']``, else ``common``). With
        a base URL override on another host (the sandbox, a proxy standing for both hosts), the token
        path on that host without Graph's version segment; Graph's own host never serves it."""
        tenant = self.oauth_tenant(str((settings or {}).get(TENANT_SETTING) or self.default_tenant))
        path = f"/{quote(tenant, safe='')}/oauth2/v2.0/token"
        if base_url and urlsplit(base_url).hostname != urlsplit(self.gateway_url).hostname:
            root = re.sub(r"/(?:v1\.0|beta)/?$", "", base_url.rstrip("/"))
            return root + path
        return "https://login.microsoftonline.com" + path

    def refresh_request(self, refresh: Secret, client_id: str, client_secret: Secret) -> RefreshRequest:
        """The documented refresh (link above): a form with ``scope``, which the endpoint asks for;
        ``.default`` is every Graph permission the app was granted, ``offline_access`` keeps a
        refresh token coming."""
        request = super().refresh_request(refresh, client_id, client_secret)
        assert request.form is not None
        return RefreshRequest(form={**request.form, "scope": self.refresh_scope})

    def recognise(self, key: str) -> KeyPattern | None:
        pattern = super().recognise(key)
        if pattern is None:
            return None
        claims = jwt_claims(key) or {}
        if claims.get("aud") not in GRAPH_AUDIENCES:
            return None
        if app_roles(claims) and not delegated_scopes(claims):
            return KeyPattern(pattern.regex, self.application_kind, pattern.confidence)
        return pattern

    @staticmethod
    def headers(secret: Secret) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret.reveal()}", "Accept": "application/json"}

    # -- probe --------------------------------------------------------------------------------
    async def probe(self, client: httpx.AsyncClient, cred: Credential, *, deep: bool = False) -> ProbeReport:
        return await guard(lambda: self._probe(client, cred), deep=deep, cred=cred)

    async def _probe(self, client: httpx.AsyncClient, cred: Credential) -> ProbeReport:
        claims = jwt_claims(cred.secret.reveal())
        report = ProbeReport(Outcome.ERROR, token_kind="opaque token (not a JWT)")
        app_only = False
        if claims is not None:
            scopes, roles = delegated_scopes(claims), app_roles(claims)
            app_only = bool(roles) and not scopes
            report.token_kind = "application token" if app_only else "delegated token"
            report.grants = [Grant(s, self.level_of(s), NOTES.get(s, "")) for s in (roles if app_only else scopes)]
            if isinstance(claims.get("exp"), (int, float)):
                report.expires_at = datetime.fromtimestamp(claims["exp"], tz=UTC)
            report.identity = str(
                claims.get("upn")
                or claims.get("preferred_username")
                or claims.get("unique_name")
                or claims.get("app_displayname")
                or claims.get("appid")
                or ""
            )
            report.details.update(
                {k: claims[k] for k in ("aud", "tid", "appid", "azp", "app_displayname", "azpacr") if k in claims}
            )
            if claims.get("aud") not in GRAPH_AUDIENCES:
                report.details["warning"] = "this token is not meant for Microsoft Graph (aud)"
        # unconfirmed: GET /me verifies a delegated token, GET /organization an
        # application token.
        path = "/organization" if app_only else "/me"
        response = await client.get(self.url(cred, path), headers=self.headers(cred.secret))
        report.status, report.requests = response.status_code, 1
        report.rate_limit = rate_limit_state(response.headers)
        report.outcome = outcome_for_status(response.status_code)
        if report.outcome is not Outcome.OK:
            report.error = graph_error(response, cred)
            if report.expires_at is not None and report.expires_at <= datetime.now(UTC):
                report.error = f"expired at {report.expires_at:%Y-%m-%d %H:%M} UTC; {report.error}"
            if report.outcome is Outcome.FORBIDDEN:  # accepted, but not allowed to read itself
                report.details["verify"] = f"Graph accepted the token but refused GET {path}"
            return report
        body = json_body(response)
        if app_only:
            orgs = body.get("value") or []
            name = orgs[0].get("displayName") if orgs and isinstance(orgs[0], dict) else None
            report.identity = f"{report.identity} ({name})" if name else report.identity
        else:
            report.identity = str(body.get("userPrincipalName") or body.get("mail") or report.identity)
            report.details["user_id"] = body.get("id")
        grant_id = cred.extra.get("grant_id")
        if grant_id and not app_only:
            await self._grant_facts(client, cred, grant_id, report)
        return report

    async def _grant_facts(
        self, client: httpx.AsyncClient, cred: Credential, grant_id: str, report: ProbeReport
    ) -> None:
        """The consented grant behind the token: after a restrict it is narrower than the token."""
        response = await client.get(
            self.url(cred, f"/oauth2PermissionGrants/{quote(grant_id, safe='')}"),
            headers=self.headers(cred.admin_secret or cred.secret),
        )
        report.requests += 1
        if response.status_code != 200:
            report.details["grant_error"] = graph_error(response, cred)
            return
        granted = set(str(json_body(response).get("scope") or "").split())
        report.details["grant_scope"] = " ".join(sorted(granted))
        report.grants = [
            g
            if g.scope in granted
            else Grant(g.scope, g.level, "removed from the grant; this token keeps it until it expires")
            for g in report.grants
        ]

    # -- switches -----------------------------------------------------------------------------
    async def restrict(self, client: httpx.AsyncClient, cred: Credential, ceiling: Level) -> ActionResult:
        """Narrow the delegated grant (PATCH oauth2PermissionGrants/{id}) to scopes at or below ``ceiling``."""
        claims = jwt_claims(cred.secret.reveal()) or {}
        if app_roles(claims) and not delegated_scopes(claims):
            # unconfirmed: application permissions go by deleting app-role assignments.
            return self.manual(
                Verb.RESTRICT,
                "application permissions are removed in Entra (app-role assignments), not through a delegated grant",
            )
        if not cred.extra.get("grant_id"):
            return self.manual(
                Verb.RESTRICT, "register the oauth2PermissionGrant id (extra 'grant_id') to let Breaker reduce it"
            )
        return await guard_action(Verb.RESTRICT, lambda: self._restrict(client, cred, ceiling), cred=cred)

    async def _restrict(self, client: httpx.AsyncClient, cred: Credential, ceiling: Level) -> ActionResult:
        url = self.url(cred, f"/oauth2PermissionGrants/{quote(cred.extra['grant_id'], safe='')}")
        headers = self.headers(cred.admin_secret or cred.secret)  # needs DelegatedPermissionGrant.ReadWrite.All
        response = await call(
            Verb.RESTRICT,
            client.get(url, headers=headers),
            cred=cred,
            refused="Graph refused to read the grant",
            reason=graph_error,
        )
        if isinstance(response, ActionResult):
            return response
        try:
            current = str(json_body(response).get("scope") or "").split()
        except MalformedBody:
            return ActionResult(
                Verb.RESTRICT, ActionState.FAILED, "Graph's grant is not JSON", status=200, retryable=True
            )
        keep = [s for s in current if self.level_of(s) <= ceiling]
        removed = [s for s in current if s not in keep]
        if not removed:
            return ActionResult(
                Verb.RESTRICT,
                ActionState.APPLIED,
                "the grant is already within the ceiling",
                status=response.status_code,
                details={"kept": keep, "removed": []},
            )
        response = await call(
            Verb.RESTRICT,
            client.patch(url, headers=headers, json={"scope": " ".join(keep)}),
            cred=cred,
            refused="Graph refused to narrow the grant",
            reason=graph_error,
        )
        if isinstance(response, ActionResult):
            return response
        return ActionResult(
            Verb.RESTRICT,
            ActionState.APPLIED,
            f"removed {', '.join(removed)} from the grant; access tokens already issued keep their "
            "scopes until they expire",
            status=response.status_code,
            details={"kept": keep, "removed": removed},
        )

    async def reenable(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        claims = jwt_claims(cred.secret.reveal()) or {}
        if not (app_roles(claims) and not delegated_scopes(claims)):
            return self.manual(Verb.REENABLE, "revoked sessions cannot come back: sign in again")
        return await self._service_principal(client, cred, claims, enabled=True)

    async def _service_principal(
        self, client: httpx.AsyncClient, cred: Credential, claims: dict, *, enabled: bool
    ) -> ActionResult:
        verb = Verb.REENABLE if enabled else Verb.REVOKE
        if cred.admin_secret is None:
            return needs_admin(
                self,
                verb,
                "an Entra admin token with Application.ReadWrite.All",
                "https://entra.microsoft.com (an administrator's Graph token)",
            )
        app = cred.extra.get("service_principal_id")
        appid = str(claims.get("appid") or claims.get("azp") or "")
        if not app and not appid:
            return self.manual(verb, "the token names no application (appid)")
        # https://learn.microsoft.com/en-us/graph/api/serviceprincipal-update: PATCH
        # /servicePrincipals/{id} or /servicePrincipals(appId='{appId}'), 204 No Content.
        path = (
            f"/servicePrincipals/{quote(app, safe='')}"
            if app
            else f"/servicePrincipals(appId='{quote(appid, safe='')}')"
        )
        return await guard_action(verb, lambda: self._patch_sp(client, cred, path, enabled, claims), cred=cred)

    async def _patch_sp(
        self, client: httpx.AsyncClient, cred: Credential, path: str, enabled: bool, claims: dict
    ) -> ActionResult:
        verb = Verb.REENABLE if enabled else Verb.REVOKE
        response = await call(
            verb,
            client.patch(
                self.url(cred, path), headers=self.headers(cred.admin_secret), json={"accountEnabled": enabled}
            ),  # type: ignore[arg-type]
            cred=cred,
            refused=f"Graph refused to {'enable' if enabled else 'disable'} the app's service principal",
            reason=graph_error,
            ok=(204, 200),
        )
        if isinstance(response, ActionResult):
            return response
        if enabled:
            return ActionResult(
                verb,
                ActionState.APPLIED,
                "Entra enabled the app's service principal again",
                status=response.status_code,
            )
        until = (
            f" (this one until {datetime.fromtimestamp(claims['exp'], tz=UTC):%Y-%m-%d %H:%M} UTC)"
            if isinstance(claims.get("exp"), (int, float))
            else ""
        )
        return ActionResult(
            verb,
            ActionState.APPLIED,
            "Entra disabled the app's service principal: no new token is issued for it; access tokens already "
            f"issued work until they expire{until}",
            status=response.status_code,
        )

    async def revoke(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        """Delegated: revoke the user's sign-in sessions (refresh tokens die; issued access tokens live
        until ``exp``). Application: disable the app's service principal (reversible)."""
        claims = jwt_claims(cred.secret.reveal()) or {}
        if app_roles(claims) and not delegated_scopes(claims):
            return await self._service_principal(client, cred, claims, enabled=False)
        user = cred.extra.get("user_id") or claims.get("oid")
        if not user:
            return self.manual(Verb.REVOKE, "the token names no user to revoke sessions for")
        return await guard_action(Verb.REVOKE, lambda: self._revoke(client, cred, str(user), claims), cred=cred)

    async def _revoke(self, client: httpx.AsyncClient, cred: Credential, user: str, claims: dict) -> ActionResult:
        url = self.url(cred, f"/users/{quote(user, safe='')}/revokeSignInSessions")
        response = await call(
            Verb.REVOKE,
            client.post(url, headers=self.headers(cred.admin_secret or cred.secret)),
            cred=cred,
            refused="Graph refused to revoke the sessions",
            reason=graph_error,
        )
        if isinstance(response, ActionResult):
            return response
        until = (
            f" (this one until {datetime.fromtimestamp(claims['exp'], tz=UTC):%Y-%m-%d %H:%M} UTC)"
            if isinstance(claims.get("exp"), (int, float))
            else ""
        )
        return ActionResult(
            Verb.REVOKE,
            ActionState.APPLIED,
            "Graph revoked the user's sign-in sessions and refresh tokens; access tokens already "
            f"issued may work until they expire{until}",
            status=response.status_code,
            irreversible=True,
        )

    def manual_steps(self, action: Verb) -> list[str]:
        steps = {
            Verb.REVOKE: "Users ▸ the user ▸ Revoke sessions; for an app: App registrations ▸ the app ▸ Certificates & "
            "secrets ▸ delete its client secret, or Enterprise applications ▸ the app ▸ Delete.",
            Verb.RESTRICT: "Enterprise applications ▸ the app ▸ Permissions: remove permissions above the ceiling "
            "(for draft-only keep Mail.ReadWrite and remove Mail.Send).",
            Verb.ROTATE: "App registrations ▸ the app ▸ Certificates & secrets ▸ New client secret; register it, then "
            "delete the old secret.",
            Verb.REENABLE: "Sign in again (delegated) or grant the permissions again, and register the new token.",
        }
        return [
            f"Open {self.dashboard_url}",
            steps.get(action, action),
            "Come back to Breaker and probe the connector to verify.",
        ]
