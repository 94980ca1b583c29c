"""Anthropic: API keys and Admin keys; no scopes at all.

Sources: https://docs.anthropic.com/en/api/models-list (verify), https://docs.anthropic.com/en/api/errors
(statuses), https://docs.anthropic.com/en/api/admin-api/apikeys/update-api-key (status active/inactive).

An API key has full access within its workspace, so a live key is one ``send`` grant. A disabled
(inactive, archived) or revoked key answers the verify call ``GET /v1/models`` with 401
``authentication_error``, like an unknown key (https://docs.anthropic.com/en/api/errors): it is
read as invalid — the key no longer works, which is what verifies Breaker's own disable. An older
answer, 404 "api key is disabled or not found" (TruffleHog's detector), is still read as revoked.

Revoke and re-enable flip the key's status through the Admin API (reversible); that needs an
Admin key (``cred.admin_secret``). The key's id comes from ``cred.extra["key_id"]`` or by matching
the key against ``partial_key_hint`` in the key list. Create and delete are Console-only.
"""

from __future__ import annotations

from datetime import datetime

import httpx

from connectors.actions import call, guard_action, matches_redacted, needs_admin
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
    RateLimitState,
    Secret,
    SwitchCall,
    Verb,
)
from connectors.http import error_text, guard, json_body, outcome_for_status, retry_after_seconds

VERSION = "2023-06-01"
_ADMIN_PREFIX = "sk-ant-admin01-"  # Admin keys (sandbox ones too) start with this
_STATUS_FOR = {Verb.REVOKE: "inactive", Verb.REENABLE: "active"}


def _rate_limit(headers: httpx.Headers) -> RateLimitState:
    def number(name: str) -> int | None:
        value = headers.get(f"anthropic-ratelimit-requests-{name}")
        return int(value) if value and value.isdigit() else None

    reset_at = None
    if reset := headers.get("anthropic-ratelimit-requests-reset"):  # RFC 3339
        try:
            reset_at = datetime.fromisoformat(reset.replace("Z", "+00:00"))
        except ValueError:
            pass
    return RateLimitState(
        limit=number("limit"),
        remaining=number("remaining"),
        reset_at=reset_at,
        retry_after_s=retry_after_seconds(headers),
    )


def anthropic_error(response: httpx.Response, cred: Credential | None = None) -> str:
    """The error's ``type`` (e.g. authentication_error), secret-free; else the status."""
    return error_text(response, "error.type", cred=cred)


class Anthropic(Provider):
    name = "anthropic"
    title = "Anthropic"
    base_url = "https://api.anthropic.com"
    key_patterns = (
        KeyPattern(r"sk-ant-admin01-[\w\-]{93}AA", "admin key"),  # TH regexes; sandbox keys fit them too
        KeyPattern(r"sk-ant-api03-[\w\-]{93}AA", "API key"),
    )
    scope_levels = {"api": Level.SEND, "organization": Level.ADMIN}
    dashboard_url = "https://console.anthropic.com/settings/keys"
    admin_keys_url = "https://console.anthropic.com/settings/admin-keys"
    env_var = "ANTHROPIC_API_KEY"
    request_table = "connectors.rules.anthropic:TABLE"  # what the gateway allows, per request
    gateway_url = "https://api.anthropic.com"
    gateway_env = {"ANTHROPIC_BASE_URL": ""}  # see README "Routing a connector through the gateway"
    deep_probe_requests = 0  # nothing to learn beyond the normal probe: keys have no scopes
    can_revoke = True
    revoke_reversible = True
    revoke_needs_admin = True
    switch_calls = {
        Verb.REVOKE: SwitchCall(
            'POST /v1/organizations/api_keys/{key_id} {"status": "inactive"}',
            "with the organisation's admin key; reversible (status active again)",
            requests=2,
        ),
        Verb.REENABLE: SwitchCall(
            'POST /v1/organizations/api_keys/{key_id} {"status": "active"}',
            "with the organisation's admin key",
            requests=2,
        ),
    }

    def switch_call(self, verb: Verb, kind: str = "") -> SwitchCall | None:
        # An admin key has no call: the Admin API's key endpoints act on API keys (apikey_…) only;
        # admin keys are created and disabled in the Console
        # (https://platform.claude.com/docs/en/manage-claude/admin-api-keys). The plan then says manual
        # steps ("waiting for you"), as _set_status answers.
        if "admin" in kind.lower():
            return None
        return super().switch_call(verb, kind)

    @staticmethod
    def _headers(key: str) -> dict[str, str]:
        return {"x-api-key": key, "anthropic-version": VERSION}

    # -- probe ----------------------------------------------------------------------------
    def gateway_auth(self, secret: Secret) -> dict[str, str]:
        return {"x-api-key": secret.reveal()}  # https://docs.anthropic.com/en/api/overview#authentication

    async def probe(self, client: httpx.AsyncClient, cred: Credential, *, deep: bool = False) -> ProbeReport:
        return await guard(lambda: self._probe(client, cred), deep=deep, cred=cred)

    async def _probe(self, client: httpx.AsyncClient, cred: Credential) -> ProbeReport:
        key = cred.secret.reveal()
        admin = key.startswith(_ADMIN_PREFIX)
        path = "/v1/organizations/api_keys" if admin else "/v1/models"
        response = await client.get(self.url(cred, path), headers=self._headers(key), params={"limit": 1})
        status = response.status_code
        report = ProbeReport(
            outcome_for_status(status),
            status=status,
            rate_limit=_rate_limit(response.headers),
            token_kind="admin key" if admin else "API key",
            requests=1,
        )
        if status == 404:
            report.outcome = Outcome.REVOKED
            report.error = "disabled or not found (Anthropic answers 404 for both)"
            return report
        if report.outcome is not Outcome.OK:
            report.error = anthropic_error(response, cred)
            return report
        body = json_body(response)
        if not isinstance(body.get("data"), list):
            report.outcome, report.error = Outcome.ERROR, "malformed response: no data list"
            return report
        if admin:
            report.grants = [Grant("organization", Level.ADMIN, note="Admin API: users, workspaces, API keys")]
        else:
            report.grants = [
                Grant("api", Level.SEND, note="Anthropic keys have no scopes: full access in their workspace")
            ]
        return report

    # -- revoke / re-enable (Admin API, reversible) ------------------------------------------
    async def revoke(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        return await self._set_status(client, cred, Verb.REVOKE)

    async def reenable(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        return await self._set_status(client, cred, Verb.REENABLE)

    async def _set_status(self, client: httpx.AsyncClient, cred: Credential, action: Verb) -> ActionResult:
        if cred.secret.reveal().startswith(_ADMIN_PREFIX):
            # unconfirmed: the Admin API documents status changes for API keys only, not for admin keys
            return self.manual(action, "the Admin API cannot change admin keys; use the Console")
        if cred.admin_secret is None:
            return needs_admin(
                self,
                action,
                "an Anthropic Admin key (sk-ant-admin…)",
                "https://console.anthropic.com/settings/admin-keys",
            )
        return await guard_action(action, lambda: self._post_status(client, cred, action), cred=cred)

    async def _post_status(self, client: httpx.AsyncClient, cred: Credential, action: Verb) -> ActionResult:
        headers = self._headers(cred.admin_secret.reveal())  # type: ignore[union-attr]
        key_id = cred.extra.get("key_id") or await self._find_key_id(client, cred, headers, action)
        if isinstance(key_id, ActionResult):
            return key_id
        wanted = _STATUS_FOR[action]
        response = await call(
            action,
            client.post(
                self.url(cred, f"/v1/organizations/api_keys/{key_id}"), headers=headers, json={"status": wanted}
            ),
            cred=cred,
            refused=f"Anthropic refused to set the key {wanted}",
            reason=anthropic_error,
            ok=(200,),
        )
        if isinstance(response, ActionResult):
            return response
        if json_body(response).get("status") != wanted:
            return ActionResult(action, ActionState.FAILED, f"Anthropic did not confirm status {wanted}", status=200)
        return ActionResult(
            action, ActionState.APPLIED, f"key set {wanted}", status=200, irreversible=False, details={"key_id": key_id}
        )

    async def _find_key_id(
        self, client: httpx.AsyncClient, cred: Credential, headers: dict[str, str], action: Verb
    ) -> str | ActionResult:
        """Page through the key list and match ``partial_key_hint`` (documented for this purpose)."""
        key = cred.secret.reveal()
        matches: list[str] = []
        params: dict[str, str | int] = {"limit": 1000}
        for _ in range(10):
            response = await call(
                action,
                client.get(self.url(cred, "/v1/organizations/api_keys"), headers=headers, params=params),
                cred=cred,
                refused="could not list the organisation's keys",
                reason=anthropic_error,
                ok=(200,),
            )
            if isinstance(response, ActionResult):
                return response
            page = json_body(response)
            items = [i for i in page.get("data") or [] if isinstance(i, dict)]
            matches += [i["id"] for i in items if "id" in i and matches_redacted(key, i.get("partial_key_hint") or "")]
            if not page.get("has_more") or not page.get("last_id"):
                break
            params["after_id"] = page["last_id"]
        if len(matches) != 1:
            why = "no key in the organisation matches this one" if not matches else "several keys match this one's hint"
            steps = [
                "Set the connector's key_id (apikey_…) from the Console, then try again;",
                *self.manual_steps(action),
            ]
            return self.manual(action, why, steps)
        return matches[0]

    def manual_steps(self, action: Verb) -> list[str]:
        where = f"Open {self.dashboard_url}"
        steps = {
            Verb.REVOKE: [
                f"{where} (an admin key: {self.admin_keys_url})",
                "Find the key by its hint and choose Disable (it can be re-enabled later).",
            ],
            Verb.REENABLE: [where, "Find the key and choose Enable."],
            Verb.ROTATE: [
                where,
                "Create a key in the same workspace; paste it into Breaker (it probes it before "
                "swapping); then disable the old key.",
            ],
            Verb.RESTRICT: [
                where,
                "Anthropic keys have no scopes: move the task to a workspace with spend limits, or disable the key.",
            ],
        }.get(action)
        if steps is None:
            return super().manual_steps(action)
        return [*steps, "Come back to Breaker and probe the connector to verify."]
