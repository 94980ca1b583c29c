"""OpenAI: project, service-account, legacy and admin keys.

Sources: https://platform.openai.com/docs/api-reference/project-api-keys (list, delete),
https://platform.openai.com/docs/api-reference/admin-api-keys (admin keys), and TruffleHog's OpenAI
analyzer (the permission probes).

A normal probe sends three GETs: ``/v1/models`` (validity; 403 = restricted key without Models
read), ``/v1/organizations`` (TruffleHog's full-access heuristic) and ``/v1/me`` (identity; an
undocumented endpoint TruffleHog relies on). Restricted-key permissions have no introspection
endpoint: only a deep probe learns them, with TruffleHog's deliberately invalid requests.
Revocation deletes the project key through the Admin API and needs an ``sk-admin-`` key.
A service-account key is rotated by API: the Admin API creates a new key for the same service
account (https://platform.openai.com/docs/api-reference/project-service-accounts, "Create API key
for a service account": ``POST /v1/organization/projects/{project_id}/service_accounts/{service_account_id}/api_keys``,
answering ``{id, name, value, created_at, expires_at}``); Breaker stores it, probes it, and then
deletes the old key like a revoke. User-owned project keys cannot be made by API: guided rotation.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

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
from connectors.http import (
    MalformedBody,
    PermissionProbe,
    error_text,
    field_text,
    guard,
    json_body,
    json_or_none,
    obj,
    outcome_for_status,
    record_permission_run,
    retry_after_seconds,
    run_permission_probes,
)

_INVALID_BODY = {"speed": 1}  # deliberately invalid: the API rejects it after the permission check (TH scopes.go)

# TruffleHog's probe table (its OpenAI analyzer). Ids are TH's placeholder "1", never a real object.
DEEP_PROBES: tuple[PermissionProbe, ...] = (
    PermissionProbe("model_capabilities:write", "POST", "/v1/images/generations", (400,), json=_INVALID_BODY),
    PermissionProbe("assistants:read", "GET", "/v1/assistants", (400,)),
    PermissionProbe("assistants:write", "POST", "/v1/assistants", (400,), json=_INVALID_BODY),
    PermissionProbe("threads:read", "GET", "/v1/threads/1", (400,)),
    PermissionProbe("threads:write", "POST", "/v1/threads", (400,), json=_INVALID_BODY),
    PermissionProbe("fine_tuning:read", "GET", "/v1/fine_tuning/jobs", (200,)),
    PermissionProbe("fine_tuning:write", "POST", "/v1/fine_tuning/jobs", (400,), json=_INVALID_BODY),
    PermissionProbe("files:read", "GET", "/v1/files", (200,)),
    PermissionProbe("files:write", "POST", "/v1/files", (415,), json=_INVALID_BODY),  # JSON instead of multipart
    PermissionProbe("evals:read", "GET", "/v1/evals", (200,)),
    PermissionProbe("evals:write", "POST", "/v1/evals", (400,), json=_INVALID_BODY),
    PermissionProbe("responses:read", "GET", "/v1/responses/1", (400,)),
    PermissionProbe("responses:write", "POST", "/v1/responses", (400,), json=_INVALID_BODY),
)
_SHALLOW_REQUESTS = 3

_MISSING_SCOPES = re.compile(r"Missing scopes:\s*(.+?)(?:\.\s|\.?$)")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_DURATION_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def missing_scopes(response: httpx.Response) -> list[str]:
    """Scope names from a denial such as "... Missing scopes: api.responses.write." (secondary source: TruffleHog's analyzer)."""
    found = _MISSING_SCOPES.search(field_text(json_or_none(response), "error.message"))
    return [s for s in re.split(r"[,\s]+", found.group(1)) if s] if found else []


def openai_error(response: httpx.Response, cred: Credential | None = None) -> str:
    """The error's ``code`` (e.g. invalid_api_key): its ``message`` may quote part of the key, so it is not shown."""
    return error_text(response, "error.code", cred=cred)


def _seconds(duration: str | None) -> float | None:
    """OpenAI's reset headers are durations such as ``6m0s`` or ``12ms``."""
    parts = _DURATION.findall(duration or "")
    return sum(float(n) * _DURATION_UNIT[unit] for n, unit in parts) if parts else None


def _rate_limit(headers: httpx.Headers) -> RateLimitState:
    def number(name: str) -> int | None:
        value = headers.get(name)
        return int(value) if value and value.isdigit() else None

    reset = _seconds(headers.get("x-ratelimit-reset-requests"))
    return RateLimitState(
        limit=number("x-ratelimit-limit-requests"),
        remaining=number("x-ratelimit-remaining-requests"),
        reset_at=datetime.now(UTC) + timedelta(seconds=reset) if reset is not None else None,
        retry_after_s=retry_after_seconds(headers),
    )


ADMIN_PAGE = 100  # the admin-key list's page (https://platform.openai.com/docs/api-reference/admin-api-keys/list)


def own_key(items: object, cred: Credential) -> dict | None:
    """The listed key object that is ``cred``'s key: by the connector's key_id, else the one listed
    key whose ``redacted_value`` fits it (unconfirmed: redacted_value is not documented as a match
    key); None when neither finds exactly one."""
    keys = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    wanted = cred.extra.get("key_id")
    if wanted:
        found = [i for i in keys if i.get("id") == wanted]
    else:
        secret = cred.secret.reveal()
        found = [i for i in keys if matches_redacted(secret, str(i.get("redacted_value") or ""))]
    return found[0] if len(found) == 1 else None


class OpenAI(Provider):
    name = "openai"
    title = "OpenAI"
    base_url = "https://api.openai.com"
    key_patterns = (
        KeyPattern(r"sk-admin-[A-Za-z0-9_-]{58}T3BlbkFJ[A-Za-z0-9_-]{58}", "admin key"),
        KeyPattern(r"sk-(?:svcacct|service)-[A-Za-z0-9_-]+T3BlbkFJ[A-Za-z0-9_-]+", "service-account key"),
        KeyPattern(r"sk-proj-[A-Za-z0-9_-]+T3BlbkFJ[A-Za-z0-9_-]+", "project key"),
        KeyPattern(r"sk-[A-Za-z0-9]+T3BlbkFJ[A-Za-z0-9]+", "legacy user key"),
    )
    scope_levels = {
        "models:read": Level.READ,
        "assistants:read": Level.READ,
        "threads:read": Level.READ,
        "fine_tuning:read": Level.READ,
        "files:read": Level.READ,
        "evals:read": Level.READ,
        "responses:read": Level.READ,
        "assistants:write": Level.WRITE,
        "threads:write": Level.WRITE,
        "fine_tuning:write": Level.WRITE,
        "files:write": Level.WRITE,
        "evals:write": Level.WRITE,
        # spends money and can drive agent actions
        "model_capabilities:write": Level.SEND,
        "model.request": Level.SEND,
        "responses:write": Level.SEND,
        "api.responses.write": Level.SEND,
        "organization": Level.ADMIN,
        "admin_api_keys": Level.ADMIN,
    }
    default_level = Level.SEND  # a key that reaches the API can, unless restricted, spend money
    dashboard_url = "https://platform.openai.com/api-keys"
    env_var = "OPENAI_API_KEY"
    request_table = "connectors.rules.openai:TABLE"  # what the gateway allows, per request
    gateway_url = "https://api.openai.com"
    gateway_env = {"OPENAI_BASE_URL": "/v1"}  # see README "Routing a connector through the gateway"
    deep_probe_requests = _SHALLOW_REQUESTS + len(DEEP_PROBES)
    can_revoke = True
    revoke_needs_admin = True
    switch_calls = {
        Verb.REVOKE: SwitchCall(
            "DELETE /v1/organization/projects/{project_id}/api_keys/{key_id}",
            "with the organisation's admin key; permanent",
            requests=2,  # the key id is looked up (one page) when the connector has none registered
        ),
    }
    # Only a service account's key can be made by API (the Admin API "does not allow issuing keys for
    # users"): https://platform.openai.com/docs/api-reference/project-service-accounts.
    service_account_rotate = SwitchCall(
        "POST /v1/organization/projects/{project_id}/service_accounts/{service_account_id}/api_keys",
        "with the organisation's admin key: a new key for the same service account, stored at once and "
        "probed; then the old key is deleted (DELETE …/api_keys/{key_id})",
        requests=2,  # one page of the project's keys (finds the service account), then the create
    )

    def switch_call(self, verb: Verb, kind: str = "") -> SwitchCall | None:
        if verb is Verb.ROTATE:
            return self.service_account_rotate if "service-account" in kind.lower() else None
        return super().switch_call(verb, kind)

    # -- probe ----------------------------------------------------------------------------
    async def probe(self, client: httpx.AsyncClient, cred: Credential, *, deep: bool = False) -> ProbeReport:
        return await guard(lambda: self._probe(client, cred, deep), deep=deep, cred=cred)

    async def _probe(self, client: httpx.AsyncClient, cred: Credential, deep: bool) -> ProbeReport:
        key = cred.secret.reveal()
        pattern = self.recognise(key)
        kind = pattern.kind if pattern else "API key"
        headers = {"Authorization": f"Bearer {key}"}
        if key.startswith("sk-admin-"):
            return await self._probe_admin(client, cred, headers, kind)

        models = await client.get(self.url(cred, "/v1/models"), headers=headers)
        report = self._report(models, kind, cred)
        if models.status_code not in (200, 403):
            return report
        report.outcome, report.error = Outcome.OK, ""  # 403 = valid restricted key without Models read (TH)
        if models.status_code == 200:
            data = json_body(models).get("data")
            if not isinstance(data, list):
                raise MalformedBody("HTTP 200: no model list")
            report.details["models"] = len(data)
            report.grants.append(Grant("models:read", Level.READ))
        else:
            report.details["denied"] = ["models:read"]

        # unconfirmed: 200 from /v1/organizations means admin/full access — TruffleHog's heuristic, not a documented contract
        orgs = await client.get(self.url(cred, "/v1/organizations"), headers=headers)
        full_access = orgs.status_code == 200
        if full_access:
            report.grants.append(
                Grant("organization", Level.ADMIN, note="GET /v1/organizations answered 200 (heuristic)")
            )
        # unconfirmed: /v1/me is undocumented; best effort, used for identity only
        me = await client.get(self.url(cred, "/v1/me"), headers=headers)
        report.requests += 2
        if me.status_code == 200:
            profile = json_body(me)
            report.identity = profile.get("email") or profile.get("name") or profile.get("id") or ""
            orgs_data = obj(profile.get("orgs")).get("data")
            report.details["organizations"] = [obj(o).get("id") for o in orgs_data or [] if obj(o)]

        if full_access:
            return report
        if not deep:
            report.grants.append(self.assumed_grant("restricted-key permissions are only known after a deep probe"))
            return report
        run = await run_permission_probes(client, self, cred, DEEP_PROBES, headers)
        record_permission_run(report, self, run)
        missing = sorted({s for r in run.denials for s in missing_scopes(r)})
        if missing:
            report.details["missing_scopes"] = missing
        return report

    async def _probe_admin(
        self, client: httpx.AsyncClient, cred: Credential, headers: dict[str, str], kind: str
    ) -> ProbeReport:
        # One page of the organisation's admin keys (limit up to 100). Each AdminAPIKey object has
        # ``last_used_at``, "the Unix timestamp (in seconds) of when the API key was last used"
        # (https://platform.openai.com/docs/api-reference/admin-api-keys/list): this key's, when it is
        # on that page and found by its id or its redacted value, is the provider's last-used date.
        response = await client.get(
            self.url(cred, "/v1/organization/admin_api_keys"), headers=headers, params={"limit": ADMIN_PAGE}
        )
        report = self._report(response, kind, cred)
        if report.outcome is Outcome.OK:
            page = json_body(response)
            report.grants.append(Grant("admin_api_keys", Level.ADMIN, note="organization admin key"))
            this = own_key(page.get("data"), cred)
            if this is not None:
                report.details["key_id"] = str(this.get("id", ""))[:80]
                used = this.get("last_used_at")
                if isinstance(used, int) and not isinstance(used, bool):
                    report.details["last_used_at"] = used
        return report

    @staticmethod
    def _report(response: httpx.Response, kind: str, cred: Credential) -> ProbeReport:
        status = response.status_code
        report = ProbeReport(
            outcome_for_status(status),
            status=status,
            rate_limit=_rate_limit(response.headers),
            token_kind=kind,
            requests=1,
        )
        if report.outcome is not Outcome.OK:
            report.error = openai_error(response, cred)  # e.g. invalid_api_key, insufficient_quota
        return report

    # -- revoke (Admin API) -----------------------------------------------------------------
    async def revoke(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        if cred.admin_secret is None:
            return needs_admin(
                self,
                Verb.REVOKE,
                "an OpenAI admin key (sk-admin-…)",
                "https://platform.openai.com/settings/organization/admin-keys",
            )
        return await guard_action(Verb.REVOKE, lambda: self._revoke(client, cred), cred=cred)

    # -- rotate (service-account keys, Admin API) ----------------------------------------------
    async def rotate(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        if not cred.secret.reveal().startswith(("sk-svcacct-", "sk-service-")):
            return self.manual(Verb.ROTATE, "only a service account's key can be made by OpenAI's API")
        if cred.admin_secret is None:
            return needs_admin(
                self,
                Verb.ROTATE,
                "an OpenAI admin key (sk-admin-…)",
                "https://platform.openai.com/settings/organization/admin-keys",
            )
        if not cred.extra.get("project_id"):
            return self.manual(
                Verb.ROTATE,
                "the key's project is unknown",
                [
                    "Set the connector's project_id (proj_…, shown in the OpenAI dashboard), then rotate again;",
                    *self.manual_steps(Verb.ROTATE),
                ],
            )
        return await guard_action(Verb.ROTATE, lambda: self._rotate(client, cred), cred=cred)

    async def _rotate(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        headers = {"Authorization": f"Bearer {cred.admin_secret.reveal()}"}  # type: ignore[union-attr]
        project = cred.extra["project_id"]
        collection = f"/v1/organization/projects/{project}/api_keys"
        account = cred.extra.get("service_account_id")
        old: dict = {}
        if not account:
            found = await self._own_listed_key(client, cred, collection, headers)
            if isinstance(found, ActionResult):
                return found
            old = found
            owner = obj(old.get("owner"))
            account = obj(owner.get("service_account")).get("id") if owner.get("type") == "service_account" else None
            if not account:
                return self.manual(
                    Verb.ROTATE,
                    "OpenAI does not list this key as a service account's key",
                    [
                        "Set the connector's service_account_id (svc_acct_…), then rotate again;",
                        *self.manual_steps(Verb.ROTATE),
                    ],
                )
        name = str(old.get("name") or "breaker")[:60]
        response = await call(
            Verb.ROTATE,
            client.post(
                self.url(cred, f"/v1/organization/projects/{project}/service_accounts/{account}/api_keys"),
                headers=headers,
                json={"name": f"{name} (rotated by Breaker)"},
            ),
            cred=cred,
            refused="OpenAI refused to create the new key",
            reason=openai_error,
            ok=(200, 201),
        )
        if isinstance(response, ActionResult):
            return response
        body = json_body(response)
        value = body.get("value")
        if not isinstance(value, str) or not value:
            return ActionResult(Verb.ROTATE, ActionState.FAILED, "OpenAI answered without the new key", status=200)
        details = {"key_id": str(body.get("id", ""))[:80], "service_account_id": str(account)[:80]}
        if old.get("id"):
            details["old_key_id"] = str(old["id"])[:80]
        return ActionResult(
            Verb.ROTATE,
            ActionState.APPLIED,
            "OpenAI made a new key for the same service account; the old key is deleted once the new one works",
            status=response.status_code,
            new_secret=Secret(value),
            irreversible=True,
            details=details,
        )

    async def _own_listed_key(
        self, client: httpx.AsyncClient, cred: Credential, collection: str, headers: dict[str, str]
    ) -> dict | ActionResult:
        """This key's object in the project's key list (one page, ``owner_project_access=any`` so
        service accounts' keys are listed: https://platform.openai.com/docs/api-reference/project-api-keys/list)."""
        response = await call(
            Verb.ROTATE,
            client.get(
                self.url(cred, collection), headers=headers, params={"limit": 100, "owner_project_access": "any"}
            ),
            cred=cred,
            refused="could not list the project's keys to find this one",
            reason=openai_error,
            ok=(200,),
        )
        if isinstance(response, ActionResult):
            return response
        found = own_key(json_body(response).get("data"), cred)
        if found is None:
            return self.manual(
                Verb.ROTATE,
                "no listed key of the project matches this one",
                [
                    "Set the connector's service_account_id (svc_acct_…), then rotate again;",
                    *self.manual_steps(Verb.ROTATE),
                ],
            )
        return found

    async def _revoke(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        headers = {"Authorization": f"Bearer {cred.admin_secret.reveal()}"}  # type: ignore[union-attr]
        if cred.secret.reveal().startswith("sk-admin-"):
            collection = "/v1/organization/admin_api_keys"
        elif cred.extra.get("project_id"):
            collection = f"/v1/organization/projects/{cred.extra['project_id']}/api_keys"
        else:
            return self.manual(
                Verb.REVOKE,
                "the key's project is unknown",
                [
                    "Set the connector's project_id (proj_…, shown in the OpenAI dashboard), then revoke again;",
                    *self.manual_steps(Verb.REVOKE),
                ],
            )
        key_id = cred.extra.get("key_id") or await self._find_key_id(client, cred, collection, headers)
        if isinstance(key_id, ActionResult):
            return key_id
        if cred.extra.get("key_id") and not await self._is_this_key(client, cred, collection, key_id, headers):
            # The registered key_id names another key (a rotation replaced this connector's key): find it.
            key_id = await self._find_key_id(client, cred, collection, headers)
            if isinstance(key_id, ActionResult):
                return key_id
        response = await call(
            Verb.REVOKE,
            client.delete(self.url(cred, f"{collection}/{key_id}"), headers=headers),
            cred=cred,
            refused="OpenAI refused to delete the key",
            reason=openai_error,
            ok=(200,),
        )
        if isinstance(response, ActionResult):
            return response
        if json_body(response).get("deleted") is not True:
            return ActionResult(Verb.REVOKE, ActionState.FAILED, "OpenAI did not confirm the deletion", status=200)
        return ActionResult(
            Verb.REVOKE, ActionState.APPLIED, "key deleted", status=200, irreversible=True, details={"key_id": key_id}
        )

    async def _is_this_key(
        self, client: httpx.AsyncClient, cred: Credential, collection: str, key_id: str, headers: dict[str, str]
    ) -> bool:
        """Whether ``key_id`` is this key: its redacted value fits (a key OpenAI does not show, or whose
        value is hidden, counts as this key: the registered id stands)."""
        response = await client.get(self.url(cred, f"{collection}/{key_id}"), headers=headers)
        if response.status_code != 200:
            return response.status_code != 404
        hint = str(json_body(response).get("redacted_value") or "")
        return not hint or matches_redacted(cred.secret.reveal(), hint)

    async def _find_key_id(
        self, client: httpx.AsyncClient, cred: Credential, collection: str, headers: dict[str, str]
    ) -> str | ActionResult:
        """Match the key against each listed key's ``redacted_value``."""
        # unconfirmed: redacted_value is not documented as a match key
        # (https://platform.openai.com/docs/api-reference/project-api-keys)
        key = cred.secret.reveal()
        matches: list[str] = []
        params: dict[str, str | int] = {"limit": 100}
        if "/projects/" in collection:
            # https://platform.openai.com/docs/api-reference/project-api-keys/list: without
            # owner_project_access=any, keys of some owners (service accounts) can be missed.
            params["owner_project_access"] = "any"
        for _ in range(20):  # at most 2,000 keys: a bound, not a real limit
            response = await call(
                Verb.REVOKE,
                client.get(self.url(cred, collection), headers=headers, params=params),
                cred=cred,
                refused="could not list the keys to find this one",
                reason=openai_error,
                ok=(200,),
            )
            if isinstance(response, ActionResult):
                return response
            page = json_body(response)
            items = [i for i in page.get("data") or [] if isinstance(i, dict)]
            matches += [i["id"] for i in items if matches_redacted(key, i.get("redacted_value") or "") and "id" in i]
            if not page.get("has_more") or not items:
                break
            params["after"] = page.get("last_id") or items[-1].get("id", "")
        if len(matches) != 1:
            why = "no listed key matches this one" if not matches else "several listed keys match this one"
            return self.manual(
                Verb.REVOKE,
                why,
                [
                    "Set the connector's key_id (key_…) from the OpenAI dashboard, then revoke again;",
                    *self.manual_steps(Verb.REVOKE),
                ],
            )
        return matches[0]

    def manual_steps(self, action: Verb) -> list[str]:
        if action == Verb.ROTATE:
            return [
                f"Open {self.dashboard_url}",
                "Create a new secret key with the same project and permissions.",
                "Paste it into Breaker (it probes it before swapping), then delete the old key.",
                "Come back to Breaker and probe the connector to verify.",
            ]
        if action == Verb.RESTRICT:
            return [
                f"Open {self.dashboard_url}",
                "Edit the key: set Permissions to Restricted and untick what the "
                "task does not need (OpenAI has no API for this).",
                "Come back to Breaker and run a deep probe to verify.",
            ]
        return super().manual_steps(action)
