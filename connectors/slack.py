"""Slack: bot, user and app tokens through the Web API.

Sources: https://api.slack.com/methods/auth.test, https://api.slack.com/methods/auth.revoke,
https://api.slack.com/authentication/token-types, https://api.slack.com/scopes,
https://api.slack.com/docs/rate-limits.

Slack answers HTTP 200 for most failures, with ``{"ok": false, "error": …}``: the body decides
the outcome, not the status. Scopes come in the ``x-oauth-scopes`` response header.
"""

from __future__ import annotations

import re

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
    SwitchCall,
    Verb,
)
from connectors.http import MalformedBody, guard, json_body, outcome_for_status, provider_text, rate_limit_state

R, W, S, A = Level.READ, Level.WRITE, Level.SEND, Level.ADMIN

# auth.test / auth.revoke error codes → outcome (https://api.slack.com/methods/auth.test, https://api.slack.com/methods/auth.revoke).
ERROR_OUTCOMES: dict[str, Outcome] = {
    "invalid_auth": Outcome.INVALID,
    "not_authed": Outcome.INVALID,
    "token_expired": Outcome.INVALID,
    "token_revoked": Outcome.REVOKED,
    "account_inactive": Outcome.REVOKED,  # deleted user or workspace
    "ratelimited": Outcome.RATE_LIMITED,
}

# Prefix → kind shown to people. Refresh tokens cannot call auth.test.
TOKEN_KINDS = {
    "xoxb-": "bot token",
    "xoxp-": "user token",
    "xoxa-": "workspace access token",
    "xoxr-": "workspace refresh token",
    "xoxe.xoxb-": "rotating bot token",  # https://api.slack.com/authentication/rotation
    "xoxe.": "app configuration token",
    "xoxe-": "configuration refresh token",
    "xapp-": "app-level token",
}
REFRESH_PREFIXES = ("xoxr-", "xoxe-")

# Scope → level where a pattern below would get it wrong or the table names it (https://api.slack.com/scopes).
EXACT_LEVELS: dict[str, Level] = {
    **dict.fromkeys(("users:read.email", "identify", "openid", "profile", "email"), R),
    **dict.fromkeys(
        (
            "files:write",
            "reactions:write",
            "pins:write",
            "bookmarks:write",
            "channels:manage",
            "channels:join",
            "channels:write.invites",
            "channels:write.topic",
            "groups:write",
            "im:write",
            "mpim:write",
            "usergroups:write",
            "users.profile:write",
            "users:write",
            "reminders:write",
            "dnd:write",
            "calls:write",
            "commands",
            "remote_files:read",
            "remote_files:write",
            "remote_files:share",
        ),
        W,
    ),
    **dict.fromkeys(
        ("chat:write", "chat:write.customize", "links:write", "workflow.steps:execute", "incoming-webhook"), S
    ),
    "chat:write.public": S,  # unconfirmed: counted as send
    "triggers:write": S,  # unconfirmed: counted as send
    "admin": A,
    "team.billing:read": A,  # unconfirmed: counted as admin
}
PATTERN_LEVELS: tuple[tuple[re.Pattern[str], Level], ...] = (
    (re.compile(r"^admin\."), A),
    (re.compile(r"^identity\."), R),  # Sign in with Slack
    (re.compile(r":(read|history)(\.|$)"), R),
)


class Slack(Provider):
    name = "slack"
    title = "Slack"
    base_url = "https://slack.com/api"
    key_patterns = (
        KeyPattern(r"xoxb-[0-9]{10,13}-[0-9]{10,13}[A-Za-z0-9-]*", "bot token"),
        KeyPattern(r"xoxp-[0-9]{10,13}-[0-9]{10,13}[A-Za-z0-9-]*", "user token"),
        KeyPattern(r"xoxa-[0-9]{10,13}-[0-9]{10,13}[A-Za-z0-9-]*", "workspace access token"),
        KeyPattern(r"xoxr-[0-9]{10,13}-[0-9]{10,13}[A-Za-z0-9-]*", "workspace refresh token"),
        # https://api.slack.com/authentication/rotation: xoxe.xoxb- is a rotating bot token;
        # xoxe.xoxp- an app configuration (or rotating user) token.
        KeyPattern(r"xoxe\.xoxb-[A-Za-z0-9-]{20,}", "rotating bot token"),
        KeyPattern(r"xoxe\.xoxp-[A-Za-z0-9-]{20,}", "app configuration token"),
        KeyPattern(r"xoxe-[A-Za-z0-9-]{20,}", "configuration refresh token"),
        # secondary source only: the xapp- shape (https://api.slack.com/authentication/token-types names the prefix).
        KeyPattern(r"xapp-[0-9]+-[A-Za-z0-9]+-[0-9]+-[A-Za-z0-9]+", "app-level token"),
    )
    scope_levels = EXACT_LEVELS
    scope_patterns = PATTERN_LEVELS
    dashboard_url = "https://api.slack.com/apps"
    env_var = "SLACK_BOT_TOKEN"
    request_table = "connectors.rules.slack:TABLE"  # what the gateway allows, per request
    gateway_url = "https://slack.com"
    gateway_env = {"SLACK_API_URL": "/api/"}  # see README "Routing a connector through the gateway"
    # Web API methods are https://slack.com/api/METHOD (https://api.slack.com/web#basics): the path sent holds /api.
    api_paths = ("/api",)
    deep_probe_requests = 1  # scopes come with auth.test: a deep probe sends nothing more
    can_revoke = True
    # unconfirmed: non-rotating xoxb-/xoxp- tokens have no rotate API (https://api.slack.com/authentication/rotation); rotation with
    # refresh tokens needs the app's client secret, which Breaker does not hold.
    can_rotate = False
    revoke_reversible = False
    switch_calls = {Verb.REVOKE: SwitchCall("POST /auth.revoke", "permanent; reinstall the app to get a new token")}

    def headers(self, cred: Credential) -> dict[str, str]:
        return {"Authorization": f"Bearer {cred.secret.reveal()}", "Content-Type": "application/x-www-form-urlencoded"}

    @staticmethod
    def kind_of(token: str) -> str:
        return next((kind for prefix, kind in TOKEN_KINDS.items() if token.startswith(prefix)), "token")

    # -- probe --------------------------------------------------------------------------------
    async def probe(self, client: httpx.AsyncClient, cred: Credential, *, deep: bool = False) -> ProbeReport:
        return await guard(lambda: self._probe(client, cred), deep=deep, cred=cred)

    async def _probe(self, client: httpx.AsyncClient, cred: Credential) -> ProbeReport:
        kind = self.kind_of(cred.secret.reveal())
        if cred.secret.reveal().startswith(REFRESH_PREFIXES):
            return ProbeReport(
                Outcome.ERROR,
                token_kind=kind,
                error="a refresh token cannot call the Web API; register the access token it mints",
            )
        # auth.test is Slack's documented identity check (a POST, but it changes nothing).
        response = await client.post(self.url(cred, "/auth.test"), headers=self.headers(cred))
        report = ProbeReport(
            outcome_for_status(response.status_code),
            status=response.status_code,
            token_kind=kind,
            requests=1,
            rate_limit=rate_limit_state(response.headers),
        )
        if response.status_code != 200:
            report.error = f"HTTP {response.status_code}"
            return report
        body = json_body(response)
        if not body.get("ok"):
            error = provider_text(body, "error", cred=cred) or "unknown_error"
            report.outcome, report.error = ERROR_OUTCOMES.get(error, Outcome.ERROR), error
            return report
        user, team = body.get("user") or body.get("user_id") or "", body.get("team") or body.get("team_id") or ""
        report.identity = f"{user} @ {team}" if team else str(user)
        # unconfirmed: the enterprise flag's name (TH reads is_enterprise, Slack's SDK is_enterprise_install).
        report.details.update(
            {
                k: body[k]
                for k in (
                    "team",
                    "team_id",
                    "user_id",
                    "bot_id",
                    "url",
                    "enterprise_id",
                    "is_enterprise",
                    "is_enterprise_install",
                    "app_id",
                    "app_name",
                )
                if k in body
            }
        )
        header = response.headers.get("x-oauth-scopes")
        if header is None:
            report.details["scopes"] = "Slack sent no x-oauth-scopes header"
        report.grants = self.grants_for([s.strip() for s in (header or "").split(",") if s.strip()])
        return report

    # -- switches -----------------------------------------------------------------------------
    async def revoke(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        return await guard_action(Verb.REVOKE, lambda: self._revoke(client, cred), cred=cred)

    async def _revoke(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        response = await call(
            Verb.REVOKE,
            client.post(self.url(cred, "/auth.revoke"), headers=self.headers(cred)),
            cred=cred,
            refused="Slack refused to revoke the token",
            ok=(200,),
        )
        if isinstance(response, ActionResult):
            return response
        try:
            body = json_body(response)
        except MalformedBody:
            return ActionResult(
                Verb.REVOKE, ActionState.FAILED, "Slack's answer is not JSON", status=200, retryable=True
            )
        if body.get("ok") and body.get("revoked"):
            return ActionResult(
                Verb.REVOKE, ActionState.APPLIED, "Slack revoked the token", status=200, irreversible=True
            )
        error = provider_text(body, "error", cred=cred) or "not revoked"
        if error == "token_revoked":  # already dead: the goal is reached
            return ActionResult(
                Verb.REVOKE, ActionState.APPLIED, "the token was already revoked", status=200, irreversible=True
            )
        return ActionResult(Verb.REVOKE, ActionState.FAILED, error, status=200, retryable=error == "ratelimited")

    def manual_steps(self, action: Verb) -> list[str]:
        steps = {
            Verb.REVOKE: "Open the app ▸ OAuth & Permissions ▸ Revoke tokens (or remove the app from the workspace).",
            Verb.RESTRICT: "Remove scopes under OAuth & Permissions ▸ Scopes, reinstall the app, and register the new "
            "token as the reduced credential.",
            Verb.ROTATE: "Reinstall the app (or regenerate the token) under OAuth & Permissions, paste the new token "
            "into Breaker; Slack token rotation via API needs the app's client secret.",
            Verb.REENABLE: "Reinstall the app and register the new token.",
        }
        return [
            f"Open {self.dashboard_url} and pick the app",
            steps.get(action, action),
            "Come back to Breaker and probe the connector to verify.",
        ]
