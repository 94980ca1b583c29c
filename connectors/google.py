"""Google: OAuth access tokens (Gmail, Drive, Calendar …) and Gemini API keys.

Sources: https://developers.google.com/identity/protocols/oauth2/web-server#tokenrevoke (revoke),
https://developers.google.com/gmail/api/auth/scopes (Gmail scopes), and Google's own Node client library
(googleapis/google-auth-library-nodejs, src/auth/oauth2client.ts: ``getTokenInfo`` POSTs to
``https://oauth2.googleapis.com/tokeninfo`` with the token in an ``Authorization: Bearer`` header,
``revokeToken`` POSTs to ``https://oauth2.googleapis.com/revoke``).

The token goes in a header or a form body, never in a URL query: addresses end up in logs.
Gmail has no draft-only scope: ``gmail.compose`` can send, so it counts as ``send``.
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
    Grant,
    KeyPattern,
    Level,
    Outcome,
    ProbeReport,
    Provider,
    Secret,
    SwitchCall,
    Verb,
)
from connectors.http import error_text, guard, json_body, outcome_for_status, rate_limit_state

R, W, S, A = Level.READ, Level.WRITE, Level.SEND, Level.ADMIN

G = "https://www.googleapis.com/auth/"
GEMINI_BASE = "https://generativelanguage.googleapis.com"

# https://developers.google.com/gmail/api/auth/scopes, plus identity scopes. Unlisted ".readonly" scopes are R (pattern below).
SCOPE_LEVELS: dict[str, Level] = {
    **dict.fromkeys(
        (
            G + "gmail.readonly",
            G + "gmail.metadata",
            G + "userinfo.email",
            G + "userinfo.profile",
            "openid",
            "email",
            "profile",
        ),
        R,
    ),
    # "Create, read, update, and delete drafts. Send messages and drafts." ⇒ send, not draft.
    G + "gmail.compose": S,
    G + "gmail.send": S,
    **dict.fromkeys(
        (
            G + "gmail.modify",
            G + "gmail.labels",
            G + "gmail.insert",
            G + "gmail.settings.basic",
            G + "drive",
            G + "drive.file",
            G + "calendar",
            G + "calendar.events",
        ),
        W,
    ),
    "https://mail.google.com/": A,  # full mailbox, including permanent delete
    G + "gmail.settings.sharing": A,  # forwarding rules and aliases: a common exfiltration path
}
READONLY = re.compile(r"\.readonly$")  # unlisted read-only scopes (drive.readonly, calendar.readonly …)
SCOPE_NOTES = {G + "gmail.compose": "can send mail: Gmail has no draft-only scope"}


def parse_expiry(info: dict) -> datetime | None:
    """tokeninfo gives ``exp`` (epoch seconds, as a string) and ``expires_in`` (seconds left).

    unconfirmed: ``expires_in`` (like ``aud``/``azp``) is "commonly present" only; ``exp``
    is the field TruffleHog reads, so it comes first.
    """
    for key, base in (("exp", 0.0), ("expires_in", None)):
        try:
            value = float(info[key])
        except (KeyError, TypeError, ValueError):
            continue
        if base is None:
            return datetime.now(UTC) + timedelta(seconds=value)
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def google_error(response: httpx.Response, cred: Credential | None = None) -> str:
    """The API-style ``error.message``, or OAuth-style ``error_description``/``error``; short, secret-free."""
    return error_text(response, "error.message", "error.status", "error_description", "error", cred=cred)


def is_rate_limited(response: httpx.Response) -> bool:
    # unconfirmed: Google's rate-limit signals; 429, or 403 with rateLimitExceeded
    # (https://developers.google.com/gmail/api/guides/handle-errors).
    return response.status_code == 429 or (
        response.status_code == 403 and "ratelimitexceeded" in response.text.lower().replace("_", "")
    )


class Google(Provider):
    name = "google"
    title = "Google"
    base_url = "https://oauth2.googleapis.com"
    key_patterns = (
        KeyPattern(r"ya29\.[0-9A-Za-z_\-.]{20,}", "OAuth access token"),
        KeyPattern(r"AIza[0-9A-Za-z_\-]{35}", "API key"),
        KeyPattern(r"1//[0-9A-Za-z_\-]{20,}", "OAuth refresh token"),
    )
    scope_levels = SCOPE_LEVELS
    scope_patterns = ((READONLY, R),)
    dashboard_url = "https://myaccount.google.com/permissions"
    env_var = "GOOGLE_OAUTH_ACCESS_TOKEN"
    request_table = "connectors.rules.google:TABLE"  # what the gateway allows, per request
    gateway_url = "https://gmail.googleapis.com"
    # https://developers.google.com/identity/protocols/oauth2/web-server#offline
    oauth_token_url = "https://oauth2.googleapis.com/token"
    refresh_kinds = frozenset({"OAuth refresh token"})
    gateway_env = {"GMAIL_API_ENDPOINT": ""}  # see README "Routing a connector through the gateway"
    deep_probe_requests = 1  # tokeninfo lists the scopes: a deep probe sends nothing more
    can_revoke = True
    can_rotate = False  # access tokens are refreshed by the client; unconfirmed: the API Keys API was not researched
    revoke_reversible = False
    switch_calls = {
        Verb.REVOKE: SwitchCall("POST /revoke (form token=…)", "permanent; the matching refresh token dies too"),
    }

    def grants_for(self, scopes: list[str] | tuple[str, ...]) -> list[Grant]:
        return [Grant(s, self.level_of(s), SCOPE_NOTES.get(s, "")) for s in scopes if s]

    def gateway_auth(self, secret: Secret) -> dict[str, str]:
        if secret.reveal().startswith("AIza"):  # an API key: https://ai.google.dev/api#authentication
            return {"x-goog-api-key": secret.reveal()}
        return {"authorization": f"Bearer {secret.reveal()}"}

    @staticmethod
    def is_api_key(cred: Credential) -> bool:
        return cred.secret.reveal().startswith("AIza")

    # -- probe --------------------------------------------------------------------------------
    async def probe(self, client: httpx.AsyncClient, cred: Credential, *, deep: bool = False) -> ProbeReport:
        run = self._probe_api_key if self.is_api_key(cred) else self._probe_token
        return await guard(lambda: run(client, cred), deep=deep, cred=cred)

    @staticmethod
    def _report(response: httpx.Response, kind: str, cred: Credential, *, invalid: bool) -> ProbeReport:
        """The outcome of either verify call; Google says "invalid" with a 400 and a body to read."""
        report = ProbeReport(
            outcome_for_status(response.status_code),
            status=response.status_code,
            token_kind=kind,
            requests=1,
            rate_limit=rate_limit_state(response.headers),
        )
        if invalid:
            report.outcome = Outcome.INVALID
        if is_rate_limited(response):
            report.outcome = Outcome.RATE_LIMITED
        if report.outcome is not Outcome.OK:
            report.error = google_error(response, cred)
        return report

    async def _probe_token(self, client: httpx.AsyncClient, cred: Credential) -> ProbeReport:
        # The documented introspection call, as Google's client library makes it (see module doc).
        response = await client.post(
            self.url(cred, "/tokeninfo"),
            headers={
                "Authorization": f"Bearer {cred.secret.reveal()}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        # 400 {"error": "invalid_token", …}: unknown, expired or revoked
        report = self._report(response, "OAuth access token", cred, invalid=response.status_code == 400)
        if report.outcome is not Outcome.OK:
            return report
        info = json_body(response)
        report.grants = self.grants_for(str(info.get("scope") or "").split())
        report.expires_at = parse_expiry(info)
        report.identity = str(info.get("email") or info.get("sub") or info.get("azp") or "")
        report.details.update({k: info[k] for k in ("azp", "aud", "access_type", "email_verified") if k in info})
        return report

    async def _probe_api_key(self, client: httpx.AsyncClient, cred: Credential) -> ProbeReport:
        # TH googlegemini: list models with the key in a header. Under an override, the same path.
        root = self.root(cred) if cred.base_url else GEMINI_BASE
        response = await client.get(
            f"{root}/v1/models", params={"pageSize": "1"}, headers={"x-goog-api-key": cred.secret.reveal()}
        )
        invalid = response.status_code == 400 and "api_key_invalid" in response.text.lower()
        report = self._report(response, "API key", cred, invalid=invalid)
        if report.outcome is not Outcome.OK:
            return report
        json_body(response)  # the documented shape, or MalformedBody
        report.identity = "Gemini API key"
        # An API key has no scopes: whatever APIs its project enables. Calling models spends money.
        report.grants = [Grant("generativelanguage", S, "calls Gemini models: spends the project's quota and money")]
        report.details["note"] = "API key restrictions are visible only in the Cloud console"
        return report

    # -- switches -----------------------------------------------------------------------------
    async def revoke(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        if self.is_api_key(cred):
            return self.manual(Verb.REVOKE, "API keys are deleted in the Cloud console")
        return await guard_action(Verb.REVOKE, lambda: self._revoke(client, cred), cred=cred)

    async def _revoke(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        # https://developers.google.com/identity/protocols/oauth2/web-server#tokenrevoke: form body token=…;
        # 200 on success, 400 on error.
        response = await call(
            Verb.REVOKE,
            client.post(self.url(cred, "/revoke"), data={"token": cred.secret.reveal()}),
            cred=cred,
            refused="Google refused to revoke the token",
            reason=google_error,
            ok=(200,),
        )
        if isinstance(response, ActionResult):
            return response
        # revoking an access token also revokes its refresh token (same page).
        return ActionResult(
            Verb.REVOKE,
            ActionState.APPLIED,
            "Google revoked the token (and its refresh token)",
            status=200,
            irreversible=True,
        )

    def manual_steps(self, action: Verb) -> list[str]:
        steps = {
            Verb.REVOKE: "OAuth grant: open the app under Third-party apps & services and click 'Delete all "
            "connections'. API key: https://console.cloud.google.com/apis/credentials ▸ the key ▸ Delete.",
            Verb.RESTRICT: "OAuth scopes cannot be reduced in place: re-authorise the app with fewer scopes (Gmail has "
            "no draft-only scope) and register the new token. API key: add API restrictions in "
            "https://console.cloud.google.com/apis/credentials.",
            Verb.ROTATE: "OAuth access tokens expire within an hour and are refreshed by the client. API key: create a "
            "new key in https://console.cloud.google.com/apis/credentials, register it, delete the old.",
            Verb.REENABLE: "Re-authorise the app (or create a new API key) and register the new credential.",
        }
        return [
            f"Open {self.dashboard_url}",
            steps.get(action, action),
            "Come back to Breaker and probe the connector to verify.",
        ]
