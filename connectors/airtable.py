"""Airtable: personal access tokens (PATs) and OAuth access tokens.

Sources: https://airtable.com/developers/web/api/get-user-id-scopes (whoami),
https://airtable.com/developers/web/api/scopes (scopes), https://airtable.com/developers/web/api/rate-limits
(rate limits), and TruffleHog's Airtable analyzers (the read probes). ``GET /v0/meta/whoami`` names the user; it lists scopes only for OAuth tokens. A PAT's
scopes are learnt by a deep probe (read-only GETs that need a given scope). Airtable answers a
denied scope and a missing object alike (INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND), so write scopes
cannot be tested against non-existent ids, and Breaker does not aim writes at real ones: a deep
probe says which write scopes stay unknown. No revoke or rotate API is known: manual steps.
"""

from __future__ import annotations

import re

import httpx

from connectors.base import Credential, KeyPattern, Level, Outcome, ProbeReport, Provider, Verb
from connectors.http import MalformedBody, error_text, guard, json_body, outcome_for_status, rate_limit_state, strings

R, W, S, A = Level.READ, Level.WRITE, Level.SEND, Level.ADMIN

RATE_LIMIT_WAIT_S = 30.0  # Airtable: after a 429, a mandatory 30-second wait

# https://airtable.com/developers/web/api/scopes: *:read ⇒ R, enterprise.* ⇒ A (see scope_patterns), and these.
SCOPE_LEVELS: dict[str, Level] = {
    **dict.fromkeys(
        (
            "data.records:write",
            "data.records:manage",
            "data.recordComments:write",
            "schema.bases:write",
            "workspacesAndBases:write",
            "hyperDB.records:write",
            "block:manage",
        ),
        W,
    ),
    "webhook:manage": S,  # unconfirmed: webhook:manage counted as send (webhooks send data out)
    **dict.fromkeys(("workspacesAndBases:manage", "workspacesAndBases.shares:manage"), A),
}
# block:manage has no probe either: GET meta/bases/{id}/blockInstallations needs workspacesAndBases:read,
# exists only on Enterprise plans and returns a bare array, so its 200 proves nothing about block:manage
# (https://airtable.com/developers/web/api/list-block-installations).
WRITE_SCOPES_UNTESTED = ("data.records:write", "data.recordComments:write", "schema.bases:write", "block:manage")


class Airtable(Provider):
    name = "airtable"
    title = "Airtable"
    base_url = "https://api.airtable.com"
    key_patterns = (
        KeyPattern(r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}", "personal access token"),
        KeyPattern(r"[A-Za-z0-9]+\.v1\.[A-Za-z0-9_-]+\.[a-f0-9]+", "OAuth access token"),
    )
    scope_levels = SCOPE_LEVELS
    # enterprise.* before ":read": enterprise.auditLogs:read reads the whole organisation.
    scope_patterns = ((r"^enterprise\.", A), (r":read$", R))
    dashboard_url = "https://airtable.com/create/tokens"
    env_var = "AIRTABLE_API_KEY"
    request_table = "connectors.rules.simple:AIRTABLE"  # what the gateway allows, per request
    gateway_url = "https://api.airtable.com"
    gateway_env = {"AIRTABLE_ENDPOINT_URL": "/v0"}  # see README "Routing a connector through the gateway"
    # whoami, bases, tables, one record, webhooks, extension installations (all GETs).
    deep_probe_requests = 5
    # unconfirmed: no revoke or rotate API for PATs, no OAuth revoke endpoint is documented
    # known; every switch is manual.
    can_revoke = can_rotate = can_restrict = False

    @staticmethod
    def headers(cred: Credential) -> dict[str, str]:
        return {"Authorization": f"Bearer {cred.secret.reveal()}", "Accept": "application/json"}

    @staticmethod
    def is_pat(cred: Credential) -> bool:
        return cred.secret.reveal().startswith("pat")

    # -- probe --------------------------------------------------------------------------------
    async def probe(self, client: httpx.AsyncClient, cred: Credential, *, deep: bool = False) -> ProbeReport:
        return await guard(lambda: self._probe(client, cred, deep), deep=deep, cred=cred)

    async def _probe(self, client: httpx.AsyncClient, cred: Credential, deep: bool) -> ProbeReport:
        kind = "personal access token" if self.is_pat(cred) else "OAuth access token"
        response = await client.get(self.url(cred, "/v0/meta/whoami"), headers=self.headers(cred))
        report = ProbeReport(
            outcome_for_status(response.status_code),
            status=response.status_code,
            token_kind=kind,
            requests=1,
            rate_limit=rate_limit_state(response.headers),
        )
        if report.outcome is Outcome.RATE_LIMITED and report.rate_limit.retry_after_s is None:
            report.rate_limit.retry_after_s = RATE_LIMIT_WAIT_S
        if report.outcome is not Outcome.OK:
            report.error = airtable_error(response, cred)
            return report
        who = json_body(response)
        report.identity = str(who.get("email") or who.get("id") or "")
        report.details["user_id"] = who.get("id")
        scopes = who.get("scopes")
        if isinstance(scopes, list):  # OAuth tokens only
            report.grants = self.grants_for(strings(scopes))
        elif deep:
            await self._deep(client, cred, report)
        else:
            report.details["scopes"] = (
                "Airtable does not list a personal access token's scopes; a deep probe tests them"
            )
        return report

    async def _deep(self, client: httpx.AsyncClient, cred: Credential, report: ProbeReport) -> None:
        """TruffleHog's read probes (its Airtable analyzer): 200 ⇒ the scope is held."""
        found: list[str] = []

        async def get(path: str) -> httpx.Response:
            report.requests += 1
            return await client.get(self.url(cred, path), headers=self.headers(cred))

        bases = await get("/v0/meta/bases")
        base = table = None
        if bases.status_code == 200:
            found.append("schema.bases:read")
            base = first_id(bases, "bases")
        if base:
            tables = await get(f"/v0/meta/bases/{base}/tables")
            table = first_id(tables, "tables") if tables.status_code == 200 else None
            if table and (await get(f"/v0/{base}/{table}?maxRecords=1")).status_code == 200:
                found.append("data.records:read")
            if (await get(f"/v0/bases/{base}/webhooks")).status_code == 200:
                found.append("webhook:manage")
            report.details["deep_base"] = base
        else:
            report.details["deep_note"] = "no base reachable: per-base scopes were not tested"
        report.grants = self.grants_for(found)
        report.details["deep_untested"] = ", ".join(WRITE_SCOPES_UNTESTED) + " (no safe probe)"

    def manual_steps(self, action: Verb) -> list[str]:
        steps = {
            Verb.REVOKE: "Personal access token: find it by name and click Delete. OAuth integration: remove its access "
            "under your Airtable account's third-party integrations.",
            Verb.RESTRICT: "Edit the token: remove write scopes (data.records:write, schema.bases:write) and bases it "
            "does not need, then probe again.",
            Verb.ROTATE: "Click 'Regenerate' on the token, paste the new value into Breaker (it probes it before "
            "swapping); the old value stops working.",
            Verb.REENABLE: "Create a new token and register it.",
        }
        return [
            f"Open {self.dashboard_url}",
            steps.get(action, action),
            "Come back to Breaker and probe the connector to verify.",
        ]


def first_id(response: httpx.Response, key: str) -> str | None:
    """The id of the first item of a list answer ({"bases": [...]}, {"tables": [...]})."""
    try:
        items = json_body(response).get(key) or []
    except MalformedBody:
        return None
    item = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}
    value = item.get("id")
    return value if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9]+", value) else None


def airtable_error(response: httpx.Response, cred: Credential | None = None) -> str:
    """Airtable's ``{"error": {"type", "message"}}`` (or a bare ``{"error": "TYPE"}``), short and secret-free."""
    return error_text(response, "error.type", "error.message", "error", cred=cred)
