"""SendGrid: ``SG.<id>.<secret>`` keys whose scopes ``GET /v3/scopes`` reports.

Every switch works by API on the key's id, the middle segment of the key:
revoke ``DELETE /v3/api_keys/{id}``; restrict ``PUT /v3/api_keys/{id}`` with the scopes at or
below the ceiling; rotate = create a key with the same scopes (``POST /v3/api_keys``), check that it
works, then delete the old one. These calls need ``api_keys.*`` scopes: Breaker uses the
registered admin key (``cred.admin_secret``) when there is one, else the key itself (a Full Access
key may manage itself); if SendGrid refuses, the result asks for an admin key.
"""

from __future__ import annotations

import re

import httpx

from connectors.actions import action_failed, guard_action, needs_admin
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
from connectors.http import describe_transport_error, guard, json_body, outcome_for_status, rate_limit_state, strings

PSEUDO_SCOPES = frozenset({"2fa_required"})  # reported by /v3/scopes but not grantable (TH scopes.go)

# Classification by prefix, first match wins (https://www.twilio.com/docs/sendgrid/api-reference/api-key-permissions;
# the table follows TruffleHog's scopes.go).
_PREFIX_LEVELS: tuple[tuple[str, Level], ...] = (
    ("mail.send", Level.SEND),
    ("user.scheduled_sends", Level.SEND),
    ("mail.batch", Level.SEND),
    ("user.webhooks.", Level.SEND),
    ("api_keys.", Level.ADMIN),
    ("teammates.", Level.ADMIN),
    ("subusers.", Level.ADMIN),
    ("user.account.", Level.ADMIN),
    ("user.email.", Level.ADMIN),
    ("user.password.", Level.ADMIN),
    ("user.profile.", Level.ADMIN),
    ("user.username.", Level.ADMIN),
    ("user.multifactor_authentication.", Level.ADMIN),
    ("access_settings.", Level.ADMIN),
    ("credentials.", Level.ADMIN),
    ("billing.", Level.ADMIN),
    ("partner_settings.", Level.ADMIN),
    ("stats.", Level.READ),
    ("templates.", Level.WRITE),
    ("marketing.", Level.WRITE),
    ("asm.groups.", Level.WRITE),
    ("suppression.", Level.WRITE),
    ("mail_settings.", Level.WRITE),
    ("tracking_settings.", Level.WRITE),
    ("categories.", Level.WRITE),
    ("whitelabel.", Level.WRITE),
    ("ips.", Level.WRITE),
)


def key_id(key: str) -> str:
    """The ``api_key_id``: the middle segment of ``SG.<id>.<secret>`` (secondary source: TruffleHog's SendGrid analyzer)."""
    parts = key.split(".")
    return parts[1] if len(parts) == 3 else ""


class SendGrid(Provider):
    name = "sendgrid"
    title = "SendGrid"
    base_url = "https://api.sendgrid.com"
    key_patterns = (KeyPattern(r"SG\.[\w\-]{22}\.[\w\-]{43}", "API key"),)
    scope_levels = {"2fa_required": Level.READ}
    # A read scope is a read, whatever its category (TH: ".read" ⇒ read, other verbs ⇒ read-write).
    scope_patterns = ((r"\.read$", Level.READ), *((f"^{re.escape(prefix)}", level) for prefix, level in _PREFIX_LEVELS))
    dashboard_url = "https://app.sendgrid.com/settings/api_keys"
    env_var = "SENDGRID_API_KEY"
    request_table = "connectors.rules.simple:SENDGRID"  # what the gateway allows, per request
    gateway_url = "https://api.sendgrid.com"
    gateway_env = {"SENDGRID_API_HOST": ""}  # see README "Routing a connector through the gateway"
    deep_probe_requests = 0  # /v3/scopes already tells everything
    can_revoke = can_restrict = can_rotate = True
    switch_calls = {
        Verb.REVOKE: SwitchCall("DELETE /v3/api_keys/{api_key_id}", "permanent"),
        Verb.RESTRICT: SwitchCall(
            "PUT /v3/api_keys/{api_key_id}",
            "after reading its scopes (GET, same path), keeps those at or under the ceiling; "
            "scopes can be added back later by the same call",
            requests=2,
        ),
        Verb.ROTATE: SwitchCall(
            "POST /v3/api_keys",
            "the new key is probed (GET /v3/scopes); the old key is deleted (DELETE /v3/api_keys/{old id}) "
            "only after the new one answers",
            requests=4,  # GET the key, POST the new key, GET /v3/scopes with it, DELETE the old key
        ),
    }

    @staticmethod
    def _headers(secret: Secret) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret.reveal()}"}

    # -- probe ----------------------------------------------------------------------------
    async def probe(self, client: httpx.AsyncClient, cred: Credential, *, deep: bool = False) -> ProbeReport:
        return await guard(lambda: self._probe(client, cred), deep=deep, cred=cred)

    async def _probe(self, client: httpx.AsyncClient, cred: Credential) -> ProbeReport:
        headers = self._headers(cred.secret)
        response = await client.get(self.url(cred, "/v3/scopes"), headers=headers)
        status = response.status_code
        report = ProbeReport(
            outcome_for_status(status),
            status=status,
            rate_limit=rate_limit_state(response.headers),
            token_kind="API key",
            requests=1,
            details={"api_key_id": key_id(cred.secret.reveal())},
        )
        if report.outcome is not Outcome.OK:  # 403: valid but may not read its own scopes
            report.error = f"HTTP {status}"
            return report
        scopes = json_body(response).get("scopes")
        if not isinstance(scopes, list):
            report.outcome, report.error = Outcome.ERROR, "malformed response: no scopes list"
            return report
        report.grants = self.grants_for(strings(scopes))
        if "user.profile.read" in scopes:
            profile = await client.get(self.url(cred, "/v3/user/profile"), headers=headers)
            report.requests += 1
            if profile.status_code == 200:
                body = json_body(profile)
                person = " ".join(p for p in (body.get("first_name"), body.get("last_name")) if p)
                report.identity = body.get("company") or person
        return report

    # -- switches -------------------------------------------------------------------------
    def _caller(self, cred: Credential) -> dict[str, str]:
        return self._headers(cred.admin_secret or cred.secret)

    def _refused(self, cred: Credential, action: Verb, response: httpx.Response, what: str) -> ActionResult:
        if response.status_code in (401, 403) and cred.admin_secret is None:
            return needs_admin(self, action, "a SendGrid key with API Keys (api_keys.*) access", self.dashboard_url)
        return action_failed(action, response, what)

    async def revoke(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        return await guard_action(Verb.REVOKE, lambda: self._revoke(client, cred), cred=cred)

    async def _revoke(self, client: httpx.AsyncClient, cred: Credential, action: Verb = Verb.REVOKE) -> ActionResult:
        ident = key_id(cred.secret.reveal())
        response = await client.delete(self.url(cred, f"/v3/api_keys/{ident}"), headers=self._caller(cred))
        if response.status_code == 404:
            return ActionResult(
                action,
                ActionState.APPLIED,
                "SendGrid has no key with this id (already deleted)",
                status=404,
                irreversible=True,
            )
        if not response.is_success:
            return self._refused(cred, action, response, "SendGrid refused to delete the key")
        return ActionResult(action, ActionState.APPLIED, "key deleted", status=response.status_code, irreversible=True)

    async def _current(
        self, client: httpx.AsyncClient, cred: Credential, action: Verb
    ) -> tuple[str, list[str]] | ActionResult:
        """The key's name and scopes, from ``GET /v3/api_keys/{id}``.

        https://www.twilio.com/docs/sendgrid/api-reference/api-keys/retrieve-an-existing-api-key: the
        published spec wraps the key in ``{"result": [{api_key_id, name, scopes}]}``; the flat shape is
        accepted too. Fails closed: no readable scope list means nothing is changed (an empty list is
        not "no change", and a key created without ``scopes`` gets full access)."""
        ident = key_id(cred.secret.reveal())
        response = await client.get(self.url(cred, f"/v3/api_keys/{ident}"), headers=self._caller(cred))
        if response.status_code != 200:
            return self._refused(cred, action, response, "could not read the key's scopes")
        body = json_body(response)
        wrapped = body.get("result")
        if isinstance(wrapped, list):
            body = next((k for k in wrapped if isinstance(k, dict)), {})
        scopes = [s for s in strings(body.get("scopes")) if s not in PSEUDO_SCOPES]
        if not scopes:
            return ActionResult(
                action,
                ActionState.FAILED,
                "SendGrid did not say which scopes the key holds; nothing was changed",
                status=response.status_code,
                manual_steps=self.manual_steps(action),
            )
        return str(body.get("name") or "breaker"), scopes

    async def restrict(self, client: httpx.AsyncClient, cred: Credential, ceiling: Level) -> ActionResult:
        return await guard_action(Verb.RESTRICT, lambda: self._restrict(client, cred, ceiling), cred=cred)

    async def _restrict(self, client: httpx.AsyncClient, cred: Credential, ceiling: Level) -> ActionResult:
        current = await self._current(client, cred, Verb.RESTRICT)
        if isinstance(current, ActionResult):
            return current
        name, scopes = current
        kept = [s for s in scopes if self.level_of(s) <= ceiling]
        removed = sorted(set(scopes) - set(kept))
        if not removed:
            return ActionResult(
                Verb.RESTRICT,
                ActionState.APPLIED,
                f"already at or below {ceiling.label}",
                status=200,
                details={"kept": kept, "removed": []},
            )
        if not kept:  # SendGrid needs at least one scope; nothing is left under this ceiling
            return ActionResult(
                Verb.RESTRICT,
                ActionState.FAILED,
                f"no scope of this key is at or below {ceiling.label}; disable the key instead",
                details={"removed": removed},
            )
        response = await client.put(
            self.url(cred, f"/v3/api_keys/{key_id(cred.secret.reveal())}"),
            headers=self._caller(cred),
            json={"name": name, "scopes": kept},
        )
        if response.status_code != 200:
            return self._refused(cred, Verb.RESTRICT, response, "SendGrid refused the new scope list")
        if any(self.level_of(s) > ceiling for s in strings(json_body(response).get("scopes"))):
            return ActionResult(Verb.RESTRICT, ActionState.FAILED, "SendGrid kept scopes above the ceiling", status=200)
        return ActionResult(
            Verb.RESTRICT,
            ActionState.APPLIED,
            f"scopes reduced to {ceiling.label} and below",
            status=200,
            details={"kept": kept, "removed": removed},
        )

    async def rotate(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        return await guard_action(Verb.ROTATE, lambda: self._rotate(client, cred), cred=cred)

    async def _rotate(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        """Create, check, then delete. Whenever a new key exists, the result carries it: it must be stored."""
        current = await self._current(client, cred, Verb.ROTATE)
        if isinstance(current, ActionResult):
            return current
        name, scopes = current
        created = await client.post(
            self.url(cred, "/v3/api_keys"),
            headers=self._caller(cred),
            json={"name": f"{name} (rotated by Breaker)", "scopes": scopes},
        )
        if created.status_code not in (200, 201):
            return self._refused(cred, Verb.ROTATE, created, "SendGrid refused to create the new key")
        new_key = json_body(created).get("api_key")
        if not isinstance(new_key, str) or not key_id(new_key):
            return ActionResult(
                Verb.ROTATE, ActionState.FAILED, "SendGrid's answer held no usable new key", status=created.status_code
            )
        new_secret = Secret(new_key)
        try:
            return await self._swap(client, cred, new_secret)
        except httpx.TransportError as exc:  # the new key exists: never lose it
            return ActionResult(
                Verb.ROTATE,
                ActionState.FAILED,
                f"new key created, then {describe_transport_error(exc)}; "
                "store the new key, probe it, and revoke the old one",
                new_secret=new_secret,
                details={"old_key_alive": True},
            )

    async def _swap(self, client: httpx.AsyncClient, cred: Credential, new_secret: Secret) -> ActionResult:
        """The new key must answer its probe before the old one is deleted."""
        new_id = key_id(new_secret.reveal())
        check = await client.get(self.url(cred, "/v3/scopes"), headers=self._headers(new_secret))
        if check.status_code != 200:
            # the new key does not work: remove it and keep the old one alive
            await client.delete(self.url(cred, f"/v3/api_keys/{new_id}"), headers=self._caller(cred))
            return action_failed(Verb.ROTATE, check, "the new key did not pass its probe; the old key stays")
        old_gone = await self._revoke(client, cred, action=Verb.ROTATE)
        if old_gone.state is not ActionState.APPLIED:
            return ActionResult(
                Verb.ROTATE,
                ActionState.FAILED,
                "new key works, but the old key could not be deleted; store the new key and revoke the old one",
                status=old_gone.status,
                new_secret=new_secret,
                retryable=old_gone.retryable,
                details={"old_key_alive": True},
            )
        return ActionResult(
            Verb.ROTATE,
            ActionState.APPLIED,
            "new key created and checked; old key deleted",
            status=old_gone.status,
            new_secret=new_secret,
            irreversible=True,
            details={"new_key_id": new_id},
        )
