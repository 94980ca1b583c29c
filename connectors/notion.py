"""Notion: integration tokens (``ntn_…``, legacy ``secret_…``).

A normal probe reads the bot user (``GET /v1/users/me``). Capabilities have no introspection
endpoint for internal integrations, so a deep probe tries each one against ids that cannot exist
(400 = got past the capability check, 403 = capability missing; TruffleHog's scopes.json) and lists
users to see whether emails are visible. Access is also bounded by which pages were shared with
the integration, which no probe can see.

A public (OAuth) integration's token is revoked with ``POST /v1/oauth/revoke``, authenticated with
the client id (``cred.extra["client_id"]``) and client secret (``cred.admin_secret``). Internal
integration tokens are deleted or regenerated in Notion's integration settings (manual).
"""

from __future__ import annotations

import base64

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
    RefreshRequest,
    Secret,
    SwitchCall,
    Verb,
)
from connectors.http import (
    PermissionProbe,
    error_text,
    guard,
    json_body,
    obj,
    outcome_for_status,
    rate_limit_state,
    record_permission_run,
    run_permission_probes,
)

VERSION = "2022-06-28"
BOGUS_ID = "nonexistent-breaker-probe"  # not a UUID: Notion rejects it after the capability check

DEEP_PROBES: tuple[PermissionProbe, ...] = (
    PermissionProbe("read_content", "GET", f"/v1/pages/{BOGUS_ID}", (400,), denied=(403,)),
    PermissionProbe("update_content", "PATCH", f"/v1/pages/{BOGUS_ID}", (400,), denied=(403,), json={}),
    PermissionProbe("insert_content", "POST", "/v1/pages", (400,), denied=(403,), json={}),
    PermissionProbe("read_comments", "GET", "/v1/comments", (400,), denied=(403,)),  # no block_id: invalid
    PermissionProbe("insert_comments", "POST", "/v1/comments", (400,), denied=(403,), json={}),
)


class Notion(Provider):
    name = "notion"
    title = "Notion"
    base_url = "https://api.notion.com"
    key_patterns = (
        KeyPattern(
            r"ntn_[0-9]{11}[A-Za-z0-9]{35}", "integration token"
        ),  # secondary source: prefix from Airbyte docs; TH v2 regex
        KeyPattern(r"secret_[A-Za-z0-9]{43}", "integration token (legacy)"),
    )
    scope_levels = {
        "read_content": Level.READ,
        "read_comments": Level.READ,
        "read_user_with_email": Level.READ,
        "read_user_without_email": Level.READ,
        "insert_content": Level.WRITE,
        "update_content": Level.WRITE,
        "insert_comments": Level.SEND,  # unconfirmed: a comment can notify mentioned people
    }
    dashboard_url = "https://www.notion.so/profile/integrations"
    env_var = "NOTION_TOKEN"
    request_table = "connectors.rules.simple:NOTION"  # what the gateway allows, per request
    gateway_url = "https://api.notion.com"
    gateway_env = {"NOTION_BASE_URL": ""}  # see README "Routing a connector through the gateway"
    # Public connections' tokens: POST /v1/oauth/token with the client as HTTP Basic and a JSON body
    # gives a new access token and a new refresh token
    # (https://developers.notion.com/reference/refresh-a-token).
    oauth_token_url = "https://api.notion.com/v1/oauth/token"
    refresh_kinds = frozenset({"OAuth refresh token"})
    deep_probe_requests = 1 + len(DEEP_PROBES) + 1
    # revoke() works by API only for public integrations with registered client credentials
    can_revoke = False
    switch_calls = {
        Verb.REVOKE: SwitchCall(
            "POST /v1/oauth/revoke (public integrations, with the client id and secret)",
            "permanent; internal-integration tokens have no revoke API",
        ),
    }

    def refresh_request(self, refresh: Secret, client_id: str, client_secret: Secret) -> RefreshRequest:
        """Notion's shape (link above): ``Authorization: Basic`` client id and secret, JSON body."""
        basic = base64.b64encode(f"{client_id}:{client_secret.reveal()}".encode()).decode()
        return RefreshRequest(
            json={"grant_type": "refresh_token", "refresh_token": refresh.reveal()},
            headers={"authorization": f"Basic {basic}"},
        )

    @staticmethod
    def _headers(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "Notion-Version": VERSION}

    async def probe(self, client: httpx.AsyncClient, cred: Credential, *, deep: bool = False) -> ProbeReport:
        return await guard(lambda: self._probe(client, cred, deep), deep=deep, cred=cred)

    async def _probe(self, client: httpx.AsyncClient, cred: Credential, deep: bool) -> ProbeReport:
        headers = self._headers(cred.secret.reveal())
        response = await client.get(self.url(cred, "/v1/users/me"), headers=headers)
        status = response.status_code
        report = ProbeReport(
            outcome_for_status(status),
            status=status,
            rate_limit=rate_limit_state(response.headers),
            token_kind="integration token",
            requests=1,
        )
        if report.outcome is not Outcome.OK:
            report.error = error_text(response, "code", cred=cred)  # unauthorized, rate_limited, service_overload …
            return report
        bot = json_body(response)
        if bot.get("object") != "user" or bot.get("type") != "bot":
            report.outcome, report.error = Outcome.ERROR, "malformed response: not a bot user"
            return report
        details = obj(bot.get("bot"))
        owner = obj(details.get("owner")).get("type", "")
        workspace = details.get("workspace_name") or ""
        report.identity = f"{bot.get('name') or bot.get('id', '')}" + (f" ({workspace})" if workspace else "")
        report.details |= {"bot_id": bot.get("id"), "owner": owner}
        # unconfirmed: a user-owned bot means a public (OAuth) integration; a workspace-owned one an internal one
        report.token_kind = "public integration token" if owner == "user" else "internal integration token"
        if not deep:
            report.grants.append(self.assumed_grant("capabilities are only known after a deep probe"))
            return report
        run = await run_permission_probes(client, self, cred, DEEP_PROBES, headers)
        record_permission_run(report, self, run)
        await self._probe_users(client, cred, headers, report)
        return report

    async def _probe_users(
        self, client: httpx.AsyncClient, cred: Credential, headers: dict[str, str], report: ProbeReport
    ) -> None:
        """User capability: 200 with emails ⇒ with email, 200 without ⇒ without, 403 ⇒ none (TH notion.go)."""
        response = await client.get(self.url(cred, "/v1/users"), headers=headers, params={"page_size": 100})
        report.requests += 1
        if response.status_code == 200:
            people = json_body(response).get("results")
            with_email = isinstance(people, list) and any(obj(obj(u).get("person")).get("email") for u in people)
            report.grants += self.grants_for(["read_user_with_email" if with_email else "read_user_without_email"])
        elif response.status_code == 403:
            report.details.setdefault("denied", []).append("read_users")
        else:
            report.details.setdefault("unknown", {})["read_users"] = response.status_code

    # -- revoke (public integrations) -------------------------------------------------------
    async def revoke(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        if not cred.extra.get("client_id") or cred.admin_secret is None:
            return self.manual(
                Verb.REVOKE,
                "revoking by API needs a public integration's client credentials",
                [
                    "For a public (OAuth) integration: set the connector's client_id and register the integration's "
                    "client secret as its admin credential in Breaker, then revoke again.",
                    "For an internal integration, do it by hand:",
                    *self.manual_steps(Verb.REVOKE),
                ],
            )
        return await guard_action(Verb.REVOKE, lambda: self._revoke(client, cred), cred=cred)

    async def _revoke(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        auth = httpx.BasicAuth(cred.extra["client_id"], cred.admin_secret.reveal())  # type: ignore[union-attr]
        response = await call(
            Verb.REVOKE,
            client.post(
                self.url(cred, "/v1/oauth/revoke"),
                auth=auth,
                headers={"Notion-Version": VERSION},
                json={"token": cred.secret.reveal()},
            ),
            cred=cred,
            refused="Notion refused to revoke the token",
            ok=(200,),
        )
        if isinstance(response, ActionResult):
            return response
        json_body(response)
        return ActionResult(Verb.REVOKE, ActionState.APPLIED, "token revoked", status=200, irreversible=True)

    def manual_steps(self, action: Verb) -> list[str]:
        # unconfirmed: whether internal-integration tokens can be revoked by API
        # (https://developers.notion.com/reference/revoke-token covers public integrations)
        where = f"Open {self.dashboard_url} and select the integration"
        steps = {
            Verb.REVOKE: [where, "Delete the integration, or refresh its secret and do not hand out the new one."],
            Verb.ROTATE: [
                where,
                "Refresh the secret (Configuration → Internal integration secret) and paste the new one "
                "into Breaker (it probes it before swapping).",
            ],
            Verb.RESTRICT: [
                where,
                "Under Capabilities untick what the task does not need (e.g. keep only Read "
                "content), and remove pages it should not see from the integration's access.",
            ],
        }.get(action)
        if steps is None:
            return super().manual_steps(action)
        return [*steps, "Come back to Breaker and probe the connector to verify."]
