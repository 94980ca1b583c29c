"""HubSpot: private-app tokens (``pat-na1-…``) and, by setting, OAuth tokens.

``cred.extra["token_type"]`` says which: ``private_app`` (default), ``oauth_access`` or
``oauth_refresh``. A private-app probe calls the usage endpoint TruffleHog uses for validity
(200 valid, 401 invalid, 403 valid without that scope), then the token-info POST for its scopes.
OAuth tokens are read with HubSpot's token-metadata GETs. HubSpot puts OAuth tokens in the URL
path there; Breaker never logs a URL, so they go nowhere else.

Only an OAuth refresh token can be revoked by API; private-app tokens are rotated or deleted in
HubSpot's settings (manual steps).

The v1 OAuth endpoints are sunset on 2027-02-16
(https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/v1/migration-guide).
With the app's client id (``extra["client_id"]``) and client secret (the connector's admin credential),
Breaker uses the current ones instead: ``POST /oauth/2026-03/token/introspect``
(https://developers.hubspot.com/docs/api-reference/2026-03/authentication/oauth-tokens/token-introspect)
and ``POST /oauth/2026-03/token/revoke``
(https://developers.hubspot.com/docs/api-reference/latest/authentication/oauth-tokens/revoke-token), form
bodies with the client credentials, the token and a ``token_type_hint``. Probes get no admin
credential, so an ordinary probe still reads the v1 metadata until the sunset; a switch's own
verification introspects.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx

from connectors.actions import call, guard_action
from connectors.base import (
    ActionResult,
    ActionState,
    Credential,
    KeyPattern,
    Level,
    Outcome,
    ProbeReport,
    Provider,
    RateLimitState,
    SwitchCall,
    Verb,
)
from connectors.http import (
    guard,
    json_body,
    json_or_none,
    outcome_for_status,
    provider_text,
    retry_after_seconds,
    strings,
)

# unconfirmed scope classes (https://developers.hubspot.com/docs/api/scopes does not say which send or administer)
_SEND = frozenset(
    {"transactional-email", "marketing-email", "automation", "conversations.write", "communication_preferences.write"}
)
_ADMIN = frozenset({"settings.users.write", "settings.users.teams.write", "account-info.security.read"})


def _rate_limit(headers: httpx.Headers) -> tuple[RateLimitState, dict]:
    """The interval limit as the state; the daily one (absent for OAuth calls) as a detail."""

    def number(name: str) -> int | None:
        value = headers.get(f"x-hubspot-ratelimit-{name}")
        return int(value) if value and value.isdigit() else None

    state = RateLimitState(
        limit=number("max"), remaining=number("remaining"), retry_after_s=retry_after_seconds(headers)
    )
    interval = number("interval-milliseconds")
    if interval is not None:
        state.reset_at = datetime.now(UTC) + timedelta(milliseconds=interval)
    daily = {
        k: v for k, v in (("daily", number("daily")), ("daily_remaining", number("daily-remaining"))) if v is not None
    }
    return state, daily


def _category(response: httpx.Response, cred: Credential) -> str:
    """HubSpot's error ``category`` (e.g. INVALID_AUTHENTICATION), secret-free; "" when there is none."""
    return provider_text(json_or_none(response), "category", cred=cred)


OAUTH_ACCESS_KIND = "OAuth access token"
OAUTH_REFRESH_KIND = "OAuth refresh token"
REFRESH_SHAPE = r"(?:na|eu|ap)\d-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}-[A-Za-z0-9]{12}"


class HubSpot(Provider):
    name = "hubspot"
    title = "HubSpot"
    base_url = "https://api.hubapi.com"
    # Real tokens carry a hex UUID; TruffleHog's pattern admits any alphanumerics, and so do we.
    key_patterns = (
        KeyPattern(
            r"pat-(?:na|eu)1-[A-Za-z0-9]{8}-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}-"
            r"[A-Za-z0-9]{12}",
            "private-app token",
        ),
        # OAuth access tokens: base64url text, "up to 300 characters", e.g. "CJSP5qf1KhICAQEYs-gDIIGOBii1hQIy…"
        # (https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/v1/get-oauth-token-metadata,
        # https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/v1/refresh-oauth-token).
        # They start with "C" and a letter A–P (an encoded field header); a shape, not a unique prefix.
        KeyPattern(r"C[A-P][A-Za-z0-9_-]{40,298}", OAUTH_ACCESS_KIND, confidence=1),
        # OAuth refresh tokens: a region, then a UUID-shaped body, e.g. "na1-ab12-cd34-ef56-gh78-abcdef123456"
        # (https://developers.hubspot.com/changelog/additional-details-returned-when-generating-oauth-access-tokens).
        KeyPattern(REFRESH_SHAPE, OAUTH_REFRESH_KIND, confidence=1),
    )
    scope_levels = {**dict.fromkeys(_SEND, Level.SEND), **dict.fromkeys(_ADMIN, Level.ADMIN)}
    scope_patterns = ((r"^crm\.schemas\.[\w.]+\.write$", Level.ADMIN), (r"[.-]read$", Level.READ))
    default_level = Level.WRITE  # ".write" and legacy names such as "contacts", "forms"
    dashboard_url = "https://app.hubspot.com/"
    env_var = "HUBSPOT_ACCESS_TOKEN"
    request_table = "connectors.rules.simple:HUBSPOT"  # what the gateway allows, per request
    gateway_url = "https://api.hubapi.com"
    gateway_env = {"HUBSPOT_API_HOST": ""}  # see README "Routing a connector through the gateway"
    # The 2026-03 OAuth token endpoint (v1's is deprecated on 2027-02-16), refresh grant as a form with
    # the client in the body:
    # https://developers.hubspot.com/docs/api-reference/2026-03/authentication/oauth-tokens/refresh-oauth-token
    # (access tokens live 30 minutes: https://developers.hubspot.com/docs/api-reference/2026-03/authentication/manage-oauth-tokens).
    oauth_token_url = "https://api.hubapi.com/oauth/2026-03/token"
    refresh_kinds = frozenset({"OAuth refresh token"})
    deep_probe_requests = 0  # token info reports every scope
    # revoke() works by API only for an OAuth refresh token (token_type "oauth_refresh"); a private-app
    # token, the usual case, is manual — so the panel should not promise an API revoke
    can_revoke = False
    switch_calls = {
        Verb.REVOKE: SwitchCall(
            "POST /oauth/2026-03/token/revoke (OAuth refresh tokens only)",
            "with the app's client id and client secret; permanent; without them the v1 "
            "DELETE /oauth/v1/refresh-tokens/{token} (sunset 2027-02-16); private-app tokens have no revoke API",
        ),
    }

    def switch_call(self, verb: Verb, kind: str = "") -> SwitchCall | None:
        # Only a refresh token can be revoked by API: a private-app token or an access token has no call
        # (the plan and the panic journal then say manual steps, as revoke() answers).
        if verb is Verb.REVOKE and kind in ("private-app token", OAUTH_ACCESS_KIND):
            return None
        return super().switch_call(verb, kind)

    INTROSPECT = "/oauth/2026-03/token/introspect"
    REVOKE = "/oauth/2026-03/token/revoke"

    @staticmethod
    def _client(cred: Credential) -> dict[str, str] | None:
        """The app's client credentials as form fields, when the connector holds them."""
        if cred.admin_secret is None or not cred.extra.get("client_id"):
            return None
        return {"client_id": cred.extra["client_id"], "client_secret": cred.admin_secret.reveal()}

    @staticmethod
    def _token_type(cred: Credential) -> str:
        """``extra["token_type"]`` when the owner said; else from the key's shape (an OAuth access token
        is not a ``pat-`` private-app token)."""
        if cred.extra.get("token_type"):
            return cred.extra["token_type"]
        key = cred.secret.reveal()
        if not key.startswith("pat-") and re.fullmatch(r"C[A-P][A-Za-z0-9_-]{40,298}", key):
            return "oauth_access"
        if re.fullmatch(REFRESH_SHAPE, key):
            return "oauth_refresh"
        return "private_app"

    # -- probe ----------------------------------------------------------------------------
    async def probe(self, client: httpx.AsyncClient, cred: Credential, *, deep: bool = False) -> ProbeReport:
        if self._token_type(cred) in ("oauth_access", "oauth_refresh"):
            return await guard(lambda: self._probe_oauth(client, cred), deep=deep, cred=cred)
        return await guard(lambda: self._probe_private_app(client, cred), deep=deep, cred=cred)

    def _report(self, response: httpx.Response, kind: str, cred: Credential) -> ProbeReport:
        status = response.status_code
        state, daily = _rate_limit(response.headers)
        report = ProbeReport(outcome_for_status(status), status=status, rate_limit=state, token_kind=kind, requests=1)
        if daily:
            report.details["daily_limit"] = daily
        if report.outcome not in (Outcome.OK, Outcome.FORBIDDEN):
            report.error = _category(response, cred) or f"HTTP {status}"  # e.g. INVALID_AUTHENTICATION
        return report

    async def _probe_private_app(self, client: httpx.AsyncClient, cred: Credential) -> ProbeReport:
        token = cred.secret.reveal()
        headers = {"Authorization": f"Bearer {token}"}
        usage = await client.get(self.url(cred, "/account-info/v3/api-usage/daily/private-apps"), headers=headers)
        report = self._report(usage, "private-app token", cred)
        if usage.status_code not in (200, 403):
            return report
        report.outcome = Outcome.OK  # 403: valid, but this token may not read usage (TH)
        if usage.status_code == 200:
            results = json_body(usage).get("results")
            if isinstance(results, list) and results and isinstance(results[0], dict):
                report.details["daily_usage"] = {
                    k: results[0].get(k) for k in ("usageLimit", "currentUsage", "resetsAt")
                }
        # secondary source: token-info endpoint and shape known from HubSpot's private-apps page via an issue
        info = await client.post(
            self.url(cred, "/oauth/v2/private-apps/get/access-token-info"), headers=headers, json={"tokenKey": token}
        )
        report.requests += 1
        if info.status_code != 200:
            report.details["token_info_status"] = info.status_code
            report.grants = [self.assumed_grant("HubSpot did not report this token's scopes")]
            return report
        body = json_body(info)
        report.grants = self.grants_for(strings(body.get("scopes")))
        report.identity = f"hub {body['hubId']}" if body.get("hubId") else ""
        report.details |= {k: body[k] for k in ("hubId", "appId", "userId") if k in body}
        return report

    async def _introspect(self, client: httpx.AsyncClient, cred: Credential, form: dict[str, str]) -> ProbeReport:
        """The current introspection: ``{"active": false}`` is a dead token; an active one carries
        PublicAccessTokenInfoResponse / PublicRefreshTokenInfoResponse (scopes, hub_id, user, expires_in)."""
        refresh = self._token_type(cred) == "oauth_refresh"
        hint = "refresh_token" if refresh else "access_token"
        response = await client.post(
            self.url(cred, self.INTROSPECT), data={**form, "token": cred.secret.reveal(), "token_type_hint": hint}
        )
        report = self._report(response, "OAuth refresh token" if refresh else "OAuth access token", cred)
        report.details["introspection"] = "2026-03"
        if report.outcome is not Outcome.OK:
            if response.status_code in (401, 403):  # the app's credentials, not the token, were refused
                report.outcome, report.error = Outcome.ERROR, "HubSpot refused the app's client credentials"
            return report
        body = json_body(response)
        if body.get("active") is not True:
            report.outcome, report.error = Outcome.INVALID, "inactive (HubSpot's introspection)"
            return report
        self._oauth_facts(report, body)
        return report

    def _oauth_facts(self, report: ProbeReport, body: dict) -> None:
        report.grants = self.grants_for(strings(body.get("scopes")))
        report.identity = str(body.get("user") or (f"hub {body['hub_id']}" if body.get("hub_id") else ""))
        report.details |= {k: body[k] for k in ("hub_id", "hub_domain", "app_id", "user_id", "client_id") if k in body}
        if isinstance(body.get("expires_in"), int):
            report.expires_at = datetime.now(UTC) + timedelta(seconds=body["expires_in"])

    async def _probe_oauth(self, client: httpx.AsyncClient, cred: Credential) -> ProbeReport:
        form = self._client(cred)
        if form is not None:
            return await self._introspect(client, cred, form)
        refresh = self._token_type(cred) == "oauth_refresh"
        # unconfirmed: GET /oauth/v1/refresh-tokens/{token} (metadata, https://developers.hubspot.com/docs/api/oauth/tokens); the access-token
        # variant is documented (v1, deprecated on 2027-02-16)
        path = "refresh-tokens" if refresh else "access-tokens"
        response = await client.get(self.url(cred, f"/oauth/v1/{path}/{cred.secret.reveal()}"))
        report = self._report(response, "OAuth refresh token" if refresh else "OAuth access token", cred)
        if response.status_code in (400, 404):  # unconfirmed: how HubSpot answers an unknown or revoked token here
            report.outcome, report.error = Outcome.INVALID, _category(response, cred) or "unknown token"
        if report.outcome is not Outcome.OK:
            return report
        self._oauth_facts(report, json_body(response))
        report.details["v1_sunset"] = "2027-02-16: register the app's client secret to use the current API"
        return report

    # -- switches -------------------------------------------------------------------------
    async def revoke(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        if self._token_type(cred) != "oauth_refresh":
            return self.manual(Verb.REVOKE, "HubSpot has no API to revoke this token")
        form = self._client(cred)
        if form is not None:
            return await guard_action(Verb.REVOKE, lambda: self._revoke_current(client, cred, form), cred=cred)
        return await guard_action(Verb.REVOKE, lambda: self._revoke_refresh(client, cred), cred=cred)

    async def _revoke_current(self, client: httpx.AsyncClient, cred: Credential, form: dict[str, str]) -> ActionResult:
        response = await call(
            Verb.REVOKE,
            client.post(
                self.url(cred, self.REVOKE),
                data={**form, "token": cred.secret.reveal(), "token_type_hint": "refresh_token"},
            ),
            cred=cred,
            refused="HubSpot refused to revoke the refresh token",
            reason=_category,
            ok=(200, 204),
        )
        if isinstance(response, ActionResult):
            return response
        return ActionResult(
            Verb.REVOKE,
            ActionState.APPLIED,
            "refresh token revoked (its access tokens die with it)",
            status=response.status_code,
            irreversible=True,
        )

    async def _revoke_refresh(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        # The token sits in the URL path (HubSpot's design): failures are told by status only, never by URL.
        url = self.url(cred, f"/oauth/v1/refresh-tokens/{cred.secret.reveal()}")
        response = await call(
            Verb.REVOKE, client.delete(url), cred=cred, refused="HubSpot refused to revoke the refresh token"
        )
        if isinstance(
            response, ActionResult
        ):  # unconfirmed: success status (204 expected, https://developers.hubspot.com/docs/api/oauth/tokens)
            return response
        return ActionResult(
            Verb.REVOKE, ActionState.APPLIED, "refresh token revoked", status=response.status_code, irreversible=True
        )

    def manual_steps(self, action: Verb) -> list[str]:
        # unconfirmed: rotation and deletion of private-app tokens in the UI
        # (https://developers.hubspot.com/docs/api/private-apps)
        where = "In HubSpot open Settings → Integrations → Private Apps, and select the app"
        steps = {
            Verb.REVOKE: [
                where,
                "Delete the app (this kills its token) — or, for an OAuth app, uninstall it under Connected Apps.",
            ],
            Verb.ROTATE: [
                where,
                "Open the Auth tab and choose Rotate; paste the new token into Breaker (it probes it "
                "before swapping). The old token stops working.",
            ],
            Verb.RESTRICT: [where, "On the Scopes tab untick what the task does not need, and commit the change."],
        }.get(action)
        if steps is None:
            return super().manual_steps(action)
        return [*steps, "Come back to Breaker and probe the connector to verify."]
