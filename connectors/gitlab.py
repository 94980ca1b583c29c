"""GitLab personal access tokens (gitlab.com or self-managed through a base-URL override).

Sources: https://docs.gitlab.com/ee/api/personal_access_tokens.html (self, revoke, rotate),
https://docs.gitlab.com/ee/user/profile/personal_access_tokens.html#personal-access-token-scopes
(scopes). The token describes itself at
``GET /personal_access_tokens/self`` (scopes, revoked, active, expires_at), revokes itself with
``DELETE`` on the same path, and rotates itself with ``POST …/self/rotate``.
"""

from __future__ import annotations

from datetime import UTC, datetime

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
    Secret,
    SwitchCall,
    Verb,
)
from connectors.http import (
    MalformedBody,
    error_text,
    guard,
    json_body,
    json_or_none,
    outcome_for_status,
    rate_limit_state,
)

R, W, S, A = Level.READ, Level.WRITE, Level.SEND, Level.ADMIN

SELF = "/personal_access_tokens/self"
# Scopes that let GET /user answer (TH gitlab v1 detector: 403 otherwise).
USER_READING = ("api", "read_api", "read_user")
# An optional instance prefix (self-managed, e.g. "SIE-glpat-…", secondary source: gitlab issue 388379) before glpat-.
INSTANCE = r"(?:[A-Za-z0-9]{1,20}-)?"


def parse_day(value: object) -> datetime | None:
    """GitLab's ``expires_at`` is a date ("YYYY-MM-DD"); take the start of that day, UTC, to be safe."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.strptime(value[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


class GitLab(Provider):
    name = "gitlab"
    title = "GitLab"
    base_url = "https://gitlab.com/api/v4"
    key_patterns = (
        KeyPattern(INSTANCE + r"glpat-[A-Za-z0-9\-=_]{20,22}", "personal access token"),
        KeyPattern(INSTANCE + r"glpat-[A-Za-z0-9\-=_]{27,300}\.[0-9a-z]{2}\.[a-z0-9]{9}", "personal access token"),
    )
    # Scopes: https://docs.gitlab.com/ee/user/profile/personal_access_tokens.html#personal-access-token-scopes.
    # `api` can write and trigger: send wins (pipelines, notes).
    scope_levels = {
        **dict.fromkeys(
            (
                "read_api",
                "read_user",
                "read_repository",
                "read_registry",
                "read_service_ping",
                "openid",
                "profile",
                "email",
            ),
            R,
        ),
        **dict.fromkeys(("write_repository", "write_registry"), W),
        # self_rotate only renews the token's own value (same scopes): counted as W, not admin.
        "self_rotate": W,
        **dict.fromkeys(("api", "k8s_proxy"), S),
        "ai_features": S,  # unconfirmed: counted as send
        **dict.fromkeys(("sudo", "admin_mode", "create_runner", "manage_runner"), A),
    }
    dashboard_url = "https://gitlab.com/-/user_settings/personal_access_tokens"
    env_var = "GITLAB_TOKEN"
    request_table = "connectors.rules.simple:GITLAB"  # what the gateway allows, per request
    gateway_url = "https://gitlab.com"
    gateway_env = {"GITLAB_URL": ""}  # see README "Routing a connector through the gateway"
    # The REST API is https://HOST/api/v4/... (https://docs.gitlab.com/api/rest/); python-gitlab takes
    # the instance URL and sends /api/v4 itself: the path sent holds it.
    api_paths = ("/api/v4",)
    deep_probe_requests = 2  # the token reports its own scopes: a deep probe is the normal probe
    can_revoke = True
    can_rotate = True
    revoke_reversible = False
    switch_calls = {
        Verb.REVOKE: SwitchCall("DELETE /personal_access_tokens/self", "permanent"),
        Verb.ROTATE: SwitchCall(
            "POST /personal_access_tokens/self/rotate",
            "the old token stops working at once; the new one keeps the old one's expiry date (else GitLab gives it a week)",
        ),
    }

    def headers(self, cred: Credential) -> dict[str, str]:
        return {"PRIVATE-TOKEN": cred.secret.reveal(), "Accept": "application/json"}

    # -- probe --------------------------------------------------------------------------------
    async def probe(self, client: httpx.AsyncClient, cred: Credential, *, deep: bool = False) -> ProbeReport:
        return await guard(lambda: self._probe(client, cred), deep=deep, cred=cred)

    async def _probe(self, client: httpx.AsyncClient, cred: Credential) -> ProbeReport:
        response = await client.get(self.url(cred, SELF), headers=self.headers(cred))
        report = ProbeReport(
            outcome_for_status(response.status_code),
            status=response.status_code,
            token_kind="personal access token",
            requests=1,
            rate_limit=rate_limit_state(
                response.headers, limit="ratelimit-limit", remaining="ratelimit-remaining", reset="ratelimit-reset"
            ),
        )
        if response.status_code == 401:
            # secondary source: seen in public issue threads: 401 {"error":"invalid_token","error_description":"Token was revoked. …"}
            report.error = error_message(response, cred)
            if "revoked" in report.error.lower():
                report.outcome = Outcome.REVOKED
            return report
        if report.outcome is not Outcome.OK:
            report.error = error_message(response, cred)
            return report
        token = json_body(response)
        scopes = [s for s in token.get("scopes") or [] if isinstance(s, str)]
        report.grants = self.grants_for(scopes)
        report.expires_at = parse_day(token.get("expires_at"))
        report.details.update(
            {
                k: token.get(k)
                for k in ("id", "name", "user_id", "created_at", "last_used_at")
                if token.get(k) is not None
            }
        )
        if token.get("revoked"):
            report.outcome, report.error = Outcome.REVOKED, "GitLab reports this token as revoked"
        elif token.get("active") is False:
            report.outcome, report.error = Outcome.INVALID, "GitLab reports this token as inactive (expired)"
        report.identity = f"user #{token.get('user_id')}" if token.get("user_id") is not None else ""
        if report.outcome is Outcome.OK and any(s in scopes for s in USER_READING):
            await self._identity(client, cred, report)
        return report

    async def _identity(self, client: httpx.AsyncClient, cred: Credential, report: ProbeReport) -> None:
        response = await client.get(self.url(cred, "/user"), headers=self.headers(cred))
        report.requests += 1
        if response.status_code != 200:
            report.details["user_error"] = f"HTTP {response.status_code}"
            return
        user = json_body(response)
        report.identity = str(user.get("username") or report.identity)
        if user.get("is_admin"):
            report.details["is_admin"] = True  # an admin's `api` token reaches the whole instance
        if user.get("state") and user.get("state") != "active":
            report.details["user_state"] = user.get("state")

    # -- switches -----------------------------------------------------------------------------
    async def revoke(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        return await guard_action(Verb.REVOKE, lambda: self._revoke(client, cred), cred=cred)

    async def _revoke(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        # unconfirmed: the success status of DELETE …/self (204 expected; any 2xx accepted).
        response = await call(
            Verb.REVOKE,
            client.delete(self.url(cred, SELF), headers=self.headers(cred)),
            cred=cred,
            refused="GitLab refused to revoke the token",
            reason=error_message,
        )
        if isinstance(response, ActionResult):
            return response
        return ActionResult(
            Verb.REVOKE, ActionState.APPLIED, "GitLab revoked the token", status=response.status_code, irreversible=True
        )

    async def rotate(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        """The old token dies at once; the new one (default expiry one week, secondary source) must be stored at once."""
        return await guard_action(Verb.ROTATE, lambda: self._rotate(client, cred), cred=cred)

    async def _rotate(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        # Keep the token's lifetime: `expires_at` (YYYY-MM-DD, GitLab 16.6+), else GitLab gives the new
        # token one week (https://docs.gitlab.com/api/personal_access_tokens/#rotate-a-personal-access-token).
        keep = cred.extra.get("keep_expires_at") or ""
        body = {"expires_at": keep} if parse_day(keep) and parse_day(keep) > datetime.now(UTC) else None
        response = await call(
            Verb.ROTATE,
            client.post(self.url(cred, SELF + "/rotate"), headers=self.headers(cred), json=body),
            cred=cred,
            refused="GitLab refused to rotate the token",
            reason=error_message,
        )
        if isinstance(response, ActionResult):
            if response.status in (401, 403):
                # secondary source: rotating needs the `api` scope (or `self_rotate` on newer GitLab).
                response.message += " (rotating needs a token with the api or self_rotate scope)"
            return response
        try:
            body = json_body(response)
        except MalformedBody:
            body = {}
        new = body.get("token")
        if not isinstance(new, str) or not new:
            return ActionResult(
                Verb.ROTATE,
                ActionState.FAILED,
                "GitLab answered without a new token; the old token may already be revoked: check GitLab",
                status=response.status_code,
            )
        return ActionResult(
            Verb.ROTATE,
            ActionState.APPLIED,
            "GitLab issued a new token and revoked the old one; "
            f"the new token expires {body.get('expires_at') or 'never'}",
            status=response.status_code,
            new_secret=Secret(new),
            details={"expires_at": body.get("expires_at"), "token_id": body.get("id")},
        )

    async def find_replacement(
        self, client: httpx.AsyncClient, cred: Credential, old: dict, since: str
    ) -> list[dict] | None:
        """Active tokens named like ``old`` created since ``since``: GitLab's rotate keeps the name and
        scopes (https://docs.gitlab.com/api/personal_access_tokens/#list-all-personal-access-tokens;
        a non-admin lists their own tokens)."""
        params = {"state": "active", "created_after": since}
        if old.get("name"):
            params["search"] = str(old["name"])
        try:
            response = await client.get(
                self.url(cred, "/personal_access_tokens"), headers=self.headers(cred), params=params
            )
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        items = json_or_none(response)
        if not isinstance(items, list):
            return None
        fields = ("id", "name", "created_at", "expires_at", "scopes")
        return [
            {k: i.get(k) for k in fields}
            for i in items
            if isinstance(i, dict)
            and i.get("id") != old.get("id")
            and (not old.get("name") or i.get("name") == old["name"])
        ]

    def manual_steps(self, action: Verb) -> list[str]:
        steps = {
            Verb.REVOKE: "Find the token by name and click Revoke.",
            Verb.RESTRICT: "Scopes cannot be edited: create a token with fewer scopes (e.g. read_api) and register "
            "it as the reduced credential, then revoke the old one.",
            Verb.ROTATE: "Click Rotate next to the token, paste the new value into Breaker.",
            Verb.REENABLE: "Create a new token and register it.",
        }
        return [
            f"Open {self.dashboard_url} (self-managed: https://YOUR-HOST/-/user_settings/personal_access_tokens)",
            steps.get(action, action),
            "Come back to Breaker and probe the connector to verify.",
        ]


def error_message(response: httpx.Response, cred: Credential | None = None) -> str:
    """GitLab's own error text ("message", or OAuth-style "error_description"), short and secret-free."""
    return error_text(response, "error_description", "message", "error", cred=cred)
