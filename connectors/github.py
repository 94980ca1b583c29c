"""GitHub: classic and fine-grained PATs, OAuth-app tokens and GitHub App tokens.

Sources: https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/scopes-for-oauth-apps (classic
scopes), https://docs.github.com/en/rest/authentication/permissions-required-for-fine-grained-personal-access-tokens
(fine-grained permissions), https://docs.github.com/en/rest/credentials/revoke (revoke),
https://docs.github.com/en/rest/apps/installations (installation tokens),
https://docs.github.com/en/rest/apps/apps#suspend-an-app-installation (suspend / unsuspend an
installation, as the app: a JWT signed with the app's private key,
https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app),
https://docs.github.com/en/rest/apps/oauth-applications#delete-an-app-token (an OAuth app's token
revoked with the app's client id and secret),
https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api (rate limits), and
TruffleHog's GitHub analyzers (the permission probes).

* Classic PATs and OAuth-app tokens report their scopes in ``X-OAuth-Scopes`` on any call.
* Fine-grained PATs and App tokens have no scope header: a normal probe learns the identity and
  how many repositories the token reaches; only a deep probe (opt-in) learns permissions, with
  TruffleHog's read GETs and deliberately invalid writes aimed at names that do not exist.
* Installation tokens (``ghs_``) verify with ``GET /installation/repositories``.
"""

from __future__ import annotations

import base64
import secrets as _secrets
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

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
    SwitchCall,
    Verb,
)
from connectors.http import MalformedBody, error_text, guard, json_body, outcome_for_status, rate_limit_state

R, W, S, A = Level.READ, Level.WRITE, Level.SEND, Level.ADMIN

API_VERSION = "2022-11-28"

# Prefix → (kind shown to people, model). "classic" tokens carry X-OAuth-Scopes; "fine" ones do not.
TOKEN_KINDS: dict[str, tuple[str, str]] = {
    "ghp_": ("classic PAT", "classic"),
    "gho_": ("OAuth app token", "classic"),
    "github_pat_": ("fine-grained PAT", "fine"),
    "ghu_": ("GitHub App user token", "fine"),
    "ghs_": ("GitHub App installation token", "installation"),
    "ghr_": ("GitHub App refresh token", "refresh"),
}

# Kinds POST /credentials/revoke accepts (docs.github.com/rest/credentials/revoke, dotcom docs).
REVOCABLE_BY_LIST = ("ghp_", "github_pat_", "gho_", "ghu_", "ghr_")

# Classic scope hierarchy: a parent grants its children (TH classic/classictoken.go SCOPE_TO_SUB_SCOPE).
IMPLIED: dict[str, tuple[str, ...]] = {
    "repo": ("repo:status", "repo_deployment", "public_repo", "repo:invite", "security_events"),
    "admin:org": ("write:org",),
    "write:org": ("read:org",),
    "admin:repo_hook": ("write:repo_hook",),
    "write:repo_hook": ("read:repo_hook",),
    "user": ("read:user", "user:email", "user:follow"),
    "write:packages": ("read:packages",),
    "write:discussion": ("read:discussion",),
    "project": ("read:project",),
    "codespace": ("codespace:secrets",),
    "copilot": ("manage_billing:copilot",),
    "admin:enterprise": ("manage_runners:enterprise", "manage_billing:enterprise"),
    "manage_billing:enterprise": ("read:enterprise",),
    "audit_log": ("read:audit_log",),
    "admin:public_key": ("write:public_key",),
    "write:public_key": ("read:public_key",),
    "admin:gpg_key": ("write:gpg_key",),
    "write:gpg_key": ("read:gpg_key",),
    "admin:ssh_signing_key": ("write:ssh_signing_key",),
    "write:ssh_signing_key": ("read:ssh_signing_key",),
}

# Classic scopes → level (https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/scopes-for-oauth-apps). `repo` is both W and S there: S wins,
# because it can dispatch workflows and post comments that notify people.
CLASSIC_LEVELS: dict[str, Level] = {
    **dict.fromkeys(
        (
            "read:org",
            "read:user",
            "read:packages",
            "read:discussion",
            "read:project",
            "read:audit_log",
            "read:enterprise",
            "read:public_key",
            "read:gpg_key",
            "read:repo_hook",
            "read:ssh_signing_key",
            "user:email",
            "notifications",
        ),
        R,
    ),
    **dict.fromkeys(
        (
            "public_repo",
            "repo:status",
            "repo_deployment",
            "repo:invite",
            "write:org",
            "write:packages",
            "write:discussion",
            "write:repo_hook",
            "write:public_key",
            "write:gpg_key",
            "write:ssh_signing_key",
            "gist",
            "project",
            "user",
            "user:follow",
            "codespace",
        ),
        W,
    ),
    **dict.fromkeys(("repo", "workflow"), S),
    **dict.fromkeys(
        (
            "admin:org",
            "admin:repo_hook",
            "admin:org_hook",
            "admin:public_key",
            "admin:gpg_key",
            "admin:ssh_signing_key",
            "admin:enterprise",
            "delete_repo",
            "delete:packages",
            "manage_runners:org",
            "manage_runners:enterprise",
            "manage_billing:enterprise",
            "manage_billing:copilot",
            "copilot",
            "audit_log",
            "codespace:secrets",
            "site_admin",
        ),
        A,
    ),
    # unconfirmed: security_events counted as admin. GitHub describes it
    # as read/write access to code-scanning events, and `repo` implies it, so A would make every `repo`
    # token "admin"; we count it as W until someone confirms otherwise.
    "security_events": W,
}

# Fine-grained permission:access → level, where it differs from the plain read=R / write=W / admin=A rule.
FINE_GRAINED_SPECIAL: dict[str, Level] = {
    "actions:write": S,  # runs workflows
    "workflows:write": S,  # changes what workflows run
    "issues:write": S,  # write or send: comments notify watchers, so assume the higher
    "administration:write": A,
    "secrets:write": A,
    "organization_administration:write": A,
    "members:write": A,
}


def token_kind(token: str) -> tuple[str, str]:
    """(kind shown to people, model) from the prefix; a bare 40-hex legacy token is classic."""
    for prefix, kind in TOKEN_KINDS.items():
        if token.startswith(prefix):
            return kind
    return ("legacy token", "classic")


def expand_scopes(scopes: list[str]) -> list[tuple[str, str]]:
    """Each granted scope plus every child it implies, as (scope, parent or "")."""
    seen: dict[str, str] = {s: "" for s in scopes}
    stack = list(scopes)
    while stack:
        parent = stack.pop()
        for child in IMPLIED.get(parent, ()):
            if child not in seen:
                seen[child] = seen[parent] or parent
                stack.append(child)
    return list(seen.items())


def parse_expiry(value: str | None) -> datetime | None:
    """``github-authentication-token-expiration``: classic "2006-01-02 15:04:05 UTC", others "… -0700"."""
    if not value:
        return None
    text = value.strip()
    if text.endswith(" UTC"):
        text = text[:-4] + " +0000"
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z").astimezone(UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class DeepCheck:
    """One TruffleHog-style permission check on one repository the token already reaches.

    Writes aim at a random name that does not exist (a label, a workflow, a file path), so a
    permitted write fails validation instead of changing anything.
    """

    permission: str
    access: str  # "read" or "write"
    method: str
    path: str  # {repo} = owner/name, {bogus} = a random non-existent name
    permitted: tuple[int, ...]
    body: dict | None = None


# Fine-grained permissions (https://docs.github.com/en/rest/authentication/permissions-required-for-fine-grained-personal-access-tokens;
# the probes are TruffleHog's finegrained.go). The pull-request write probe
# (POST /pulls {}) is left out on purpose: it targets the real repository, not a bogus id.
DEEP_CHECKS: tuple[DeepCheck, ...] = (
    DeepCheck("contents", "read", "GET", "/repos/{repo}/commits?per_page=1", (200, 409)),
    DeepCheck("contents", "write", "PUT", "/repos/{repo}/contents/{bogus}", (400, 422), {}),
    DeepCheck("issues", "read", "GET", "/repos/{repo}/issues?per_page=1", (200,)),
    DeepCheck("issues", "write", "PATCH", "/repos/{repo}/labels/{bogus}", (404,), {}),
    DeepCheck("pull_requests", "read", "GET", "/repos/{repo}/pulls?per_page=1", (200,)),
    DeepCheck("actions", "read", "GET", "/repos/{repo}/actions/artifacts?per_page=1", (200,)),
    DeepCheck(
        "actions",
        "write",
        "POST",
        "/repos/{repo}/actions/workflows/{bogus}/dispatches",
        (404,),
        {"ref": "breaker-deep-probe"},
    ),
    DeepCheck("administration", "read", "GET", "/repos/{repo}/actions/permissions", (200,)),
)
DENIED = (401, 403)


def is_enterprise_server(cred: Credential) -> bool:
    """A GitHub Enterprise Server connector: its REST API lives at ``https://HOST/api/v3``
    (https://docs.github.com/en/enterprise-server@latest/rest/quickstart); github.com's at api.github.com."""
    base = (cred.base_url or "").rstrip("/")
    return base.endswith("/api/v3")


class GitHub(Provider):
    name = "github"
    title = "GitHub"
    base_url = "https://api.github.com"
    key_patterns = (
        KeyPattern(r"ghp_[A-Za-z0-9_]{36,255}", "classic PAT"),
        KeyPattern(r"github_pat_[A-Za-z0-9_]{36,255}", "fine-grained PAT"),
        KeyPattern(r"gho_[A-Za-z0-9_]{36,255}", "OAuth app token"),
        KeyPattern(r"ghu_[A-Za-z0-9_]{36,255}", "GitHub App user token"),
        # The stateless ghs_APPID_JWT format (2026) has dots and dashes and no fixed length.
        KeyPattern(r"ghs_[A-Za-z0-9_.\-]{36,2048}", "GitHub App installation token"),
        KeyPattern(r"ghr_[A-Za-z0-9_]{36,255}", "GitHub App refresh token"),
        KeyPattern(r"[0-9a-f]{40}", "legacy token", confidence=1),
    )
    scope_levels = CLASSIC_LEVELS
    dashboard_url = "https://github.com/settings/tokens"
    env_var = "GITHUB_TOKEN"
    request_table = "connectors.rules.github:TABLE"  # what the gateway allows, per request
    gateway_url = "https://api.github.com"
    gateway_env = {"GITHUB_API_URL": ""}  # see README "Routing a connector through the gateway"
    # GET /user + GET /user/repos + one request per DeepCheck (fine-grained and App tokens only).
    deep_probe_requests = 2 + len(DEEP_CHECKS)
    can_revoke = True
    can_rotate = False  # unconfirmed: no PAT rotation API is documented; manual steps instead
    revoke_reversible = False
    switch_calls = {
        Verb.REVOKE: SwitchCall(
            "POST /credentials/revoke",
            "unauthenticated; GitHub allows 60 such calls per hour; the token's owner is e-mailed; "
            "permanent — GitHub cannot reactivate a revoked token",
        ),
    }
    installation_revoke = SwitchCall("DELETE /installation/token", "authenticated with the token itself; permanent")
    # A GitHub App installation: suspended as the app, which blocks every token of the installation;
    # undone by DELETE on the same path (https://docs.github.com/en/rest/apps/apps#suspend-an-app-installation).
    installation_suspend = SwitchCall(
        "PUT /app/installations/{installation_id}/suspended",
        "as the app (a 10-minute JWT signed with the app's private key, kept in the keyring as this "
        "connector's admin credential); reversible: `breaker enable` lifts the suspension; without the "
        "private key Breaker deletes this token only (DELETE /installation/token, permanent)",
        requests=3,  # the installation id may be looked up: the token's first repository, then the app's view of it
    )
    installation_unsuspend = SwitchCall(
        "DELETE /app/installations/{installation_id}/suspended",
        "as the app (JWT from the app's private key)",
        requests=3,
    )
    # An OAuth app's (or a GitHub App's user) token, revoked by the app that issued it
    # (https://docs.github.com/en/rest/apps/oauth-applications#delete-an-app-token).
    app_token_revoke = SwitchCall(
        "DELETE /applications/{client_id}/token",
        "with the app's client id and client secret (Basic auth; the secret is this connector's admin "
        "credential); permanent; without the client secret Breaker uses POST /credentials/revoke",
    )

    def switch_call(self, verb: Verb, kind: str = "") -> SwitchCall | None:
        k = kind.lower()
        if "installation" in k:
            return {Verb.REVOKE: self.installation_suspend, Verb.REENABLE: self.installation_unsuspend}.get(verb)
        if verb is Verb.REVOKE and k in ("oauth app token", "github app user token"):
            return self.app_token_revoke
        return super().switch_call(verb, kind)

    def reversible(self, kind: str = "") -> bool:
        return "installation" in kind.lower() or self.revoke_reversible

    def admin_needed(self, verb: Verb, kind: str = "") -> str:
        k = kind.lower()
        if "installation" in k and verb in (Verb.REVOKE, Verb.REENABLE):
            return "the GitHub App's private key (admin credential) and its app id (extra app_id)"
        if verb is Verb.REVOKE and k in ("oauth app token", "github app user token"):
            return "the app's client secret (admin credential) and its client id (extra client_id)"
        return ""

    # -- levels -------------------------------------------------------------------------------
    def level_of(self, scope: str) -> Level:
        if scope in CLASSIC_LEVELS:
            return CLASSIC_LEVELS[scope]
        if ":" in scope:  # fine-grained "permission:access", or a classic family we do not list
            head, _, tail = scope.partition(":")
            if scope in FINE_GRAINED_SPECIAL:
                return FINE_GRAINED_SPECIAL[scope]
            if tail in ("read", "write", "admin"):
                return {"read": R, "write": W, "admin": A}[tail]
            if head.startswith("read"):
                return R
            if head.startswith("admin") or head.startswith("manage"):
                return A
        return self.default_level

    def classic_grants(self, scopes: list[str]) -> list[Grant]:
        return [
            Grant(scope, self.level_of(scope), f"implied by {parent}" if parent else "")
            for scope, parent in expand_scopes(scopes)
        ]

    # -- HTTP ---------------------------------------------------------------------------------
    def headers(self, cred: Credential | None) -> dict[str, str]:
        """GitHub's recommended headers; with ``cred`` None, deliberately no Authorization."""
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
        if cred is not None:
            headers["Authorization"] = f"Bearer {cred.secret.reveal()}"
        return headers

    def outcome(self, response: httpx.Response) -> Outcome:
        """Primary and secondary rate limits come as 403 or 429
        (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api)."""
        if response.status_code in (403, 429):
            if response.headers.get("x-ratelimit-remaining") == "0" or "rate limit" in response.text.lower():
                return Outcome.RATE_LIMITED
        if response.status_code == 403 and "installation has been suspended" in response.text.lower():
            # unconfirmed: the exact answer to a suspended installation's token (GitHub: "blocks the
            # app from accessing the account's resources"); the token can do nothing while it lasts.
            return Outcome.REVOKED
        return outcome_for_status(response.status_code)

    def base_report(self, response: httpx.Response, kind: str, cred: Credential) -> ProbeReport:
        report = ProbeReport(
            self.outcome(response),
            status=response.status_code,
            token_kind=kind,
            rate_limit=rate_limit_state(response.headers),
        )
        if (
            report.outcome is Outcome.RATE_LIMITED
            and report.rate_limit.retry_after_s is None
            and report.rate_limit.reset_at is None
        ):
            report.rate_limit.retry_after_s = 60.0  # GitHub: without a hint, wait at least a minute
        if response.headers.get("x-ratelimit-resource"):
            report.details["rate_limit_resource"] = response.headers["x-ratelimit-resource"]
        report.expires_at = parse_expiry(response.headers.get("github-authentication-token-expiration"))
        if report.outcome is not Outcome.OK:
            report.error = error_message(response, cred)
        return report

    # -- probe --------------------------------------------------------------------------------
    async def probe(self, client: httpx.AsyncClient, cred: Credential, *, deep: bool = False) -> ProbeReport:
        return await guard(lambda: self._probe(client, cred, deep), deep=deep, cred=cred)

    async def _probe(self, client: httpx.AsyncClient, cred: Credential, deep: bool) -> ProbeReport:
        kind, model = token_kind(cred.secret.reveal())
        if model == "installation":
            return await self._probe_installation(client, cred, kind, deep)
        if model == "refresh":
            return ProbeReport(
                Outcome.ERROR,
                token_kind=kind,
                error="a refresh token cannot call the API; register the access token it mints",
            )
        response = await client.get(self.url(cred, "/user"), headers=self.headers(cred))
        report = self.base_report(response, kind, cred)
        report.requests = 1
        if report.outcome is not Outcome.OK:
            return report
        user = json_body(response)
        report.identity = str(user.get("login", ""))
        report.details.update(user_type=user.get("type"), site_admin=bool(user.get("site_admin")))
        scope_header = response.headers.get("x-oauth-scopes")
        if scope_header is not None:  # classic PAT / OAuth token (TH checkFineGrained)
            if model != "classic":
                report.token_kind = "classic token"
            scopes = [s.strip() for s in scope_header.split(",") if s.strip()]
            report.grants = self.classic_grants(scopes) or [
                Grant("(no scopes)", R, "a classic token without scopes reads public data only")
            ]
            if deep:
                report.details["deep"] = "not needed: classic scopes come from X-OAuth-Scopes"
            return report
        if model == "classic":
            report.token_kind = "fine-grained token"
        repos = await self._list_repos(client, cred, report, "/user/repos?per_page=100&sort=pushed")
        await self._maybe_deep(
            client, cred, report, repos, deep, "not reported for fine-grained tokens; a deep probe tests them"
        )
        return report

    async def _probe_installation(
        self, client: httpx.AsyncClient, cred: Credential, kind: str, deep: bool
    ) -> ProbeReport:
        response = await client.get(
            self.url(cred, "/installation/repositories?per_page=100"), headers=self.headers(cred)
        )
        report = self.base_report(response, kind, cred)
        report.requests = 1
        if report.outcome is not Outcome.OK:
            return report
        body = json_body(response)
        repos = [r.get("full_name", "") for r in body.get("repositories") or [] if isinstance(r, dict)]
        owners = sorted({name.split("/")[0] for name in repos if "/" in name})
        report.identity = f"app installation ({', '.join(owners)})" if owners else "app installation"
        report.details.update(
            accessible_repos=body.get("total_count", len(repos)), repository_selection=body.get("repository_selection")
        )
        await self._maybe_deep(
            client, cred, report, repos, deep, "known from the token-creation response only; a deep probe tests them"
        )
        return report

    async def _maybe_deep(
        self,
        client: httpx.AsyncClient,
        cred: Credential,
        report: ProbeReport,
        repos: list[str],
        deep: bool,
        why_not: str,
    ) -> None:
        if not deep:
            report.details["permissions"] = why_not
        elif repos:
            await self._deep(client, cred, report, repos[0])
        else:
            report.details["deep_note"] = "no repository reachable: no permission to test"

    async def _list_repos(
        self, client: httpx.AsyncClient, cred: Credential, report: ProbeReport, path: str
    ) -> list[str]:
        response = await client.get(self.url(cred, path), headers=self.headers(cred))
        report.requests += 1
        if response.status_code != 200:
            report.details["repos_error"] = f"HTTP {response.status_code}"
            return []
        try:
            data = response.json()
        except ValueError:
            raise MalformedBody(f"HTTP {response.status_code}: the repository list is not JSON") from None
        repos = [r.get("full_name", "") for r in data if isinstance(r, dict)] if isinstance(data, list) else []
        report.details["accessible_repos"] = len(repos)
        report.details["repos_truncated"] = 'rel="next"' in response.headers.get("link", "")
        return [r for r in repos if r]

    async def _deep(self, client: httpx.AsyncClient, cred: Credential, report: ProbeReport, repo: str) -> None:
        """Run DEEP_CHECKS on one repository; keep the highest access found per permission."""
        best: dict[str, str] = {}
        unknown: list[str] = []
        for check in DEEP_CHECKS:
            path = check.path.format(repo=repo, bogus=f"breaker-deep-probe-{_secrets.token_hex(6)}")
            response = await client.request(
                check.method, self.url(cred, path), headers=self.headers(cred), json=check.body
            )
            report.requests += 1
            if response.status_code in check.permitted:
                if check.access == "write" or check.permission not in best:
                    best[check.permission] = check.access
            elif response.status_code not in DENIED and not (check.access == "read" and response.status_code == 404):
                unknown.append(f"{check.permission}:{check.access} → HTTP {response.status_code}")
        report.grants = [
            Grant(f"{perm}:{access}", self.level_of(f"{perm}:{access}"), f"on {repo}") for perm, access in best.items()
        ]
        report.details["deep_repo"] = repo
        report.details["deep_not_tested"] = "pull_requests:write (no safe bogus-id probe)"
        if unknown:
            report.details["deep_unknown"] = unknown

    # -- switches -----------------------------------------------------------------------------
    async def revoke(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        token = cred.secret.reveal()
        if token.startswith("ghs_") and app_key(cred) is not None:
            return await guard_action(Verb.REVOKE, lambda: self._suspend(client, cred, suspend=True), cred=cred)
        if token.startswith(("gho_", "ghu_")) and cred.admin_secret is not None and cred.extra.get("client_id"):
            return await guard_action(Verb.REVOKE, lambda: self._revoke_app_token(client, cred), cred=cred)
        if token.startswith("ghs_"):
            # Authenticated with the installation token itself. unconfirmed: the 204 status.
            return await guard_action(
                Verb.REVOKE,
                lambda: self._revoke(
                    cred,
                    client.delete(self.url(cred, "/installation/token"), headers=self.headers(cred)),
                    ok=(200, 202, 204),
                    applied="GitHub revoked the installation token",
                ),
                cred=cred,
            )
        if not token.startswith(REVOCABLE_BY_LIST):
            return self.manual(Verb.REVOKE, "GitHub's revoke API does not take this kind of token")
        # github.com: deliberately unauthenticated — it answers 403 to authenticated calls
        # (https://docs.github.com/en/rest/credentials/revoke). GitHub Enterprise Server: the same
        # endpoint requires authentication (https://docs.github.com/en/enterprise-server@latest/rest/credentials/revoke),
        # so there the token revokes itself. 60 calls/hour, the owner is notified, irreversible.
        return await guard_action(
            Verb.REVOKE,
            lambda: self._revoke(
                cred,
                client.post(
                    self.url(cred, "/credentials/revoke"),
                    headers=self.headers(cred if is_enterprise_server(cred) else None),
                    json={"credentials": [token]},
                ),
                ok=(202,),
                applied="GitHub accepted the revocation; the token's owner is notified by e-mail",
            ),
            cred=cred,
        )

    async def reenable(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        if not cred.secret.reveal().startswith("ghs_"):
            return self.manual(Verb.REENABLE, "a revoked GitHub token cannot come back")
        if app_key(cred) is None:
            return self.manual(
                Verb.REENABLE,
                "lifting an installation's suspension needs the app's private key",
                [
                    "Open https://github.com/settings/installations (or the organisation's Settings ▸ "
                    "GitHub Apps), pick the app and choose Unsuspend.",
                    "Come back to Breaker and probe the connector to verify.",
                ],
            )
        return await guard_action(Verb.REENABLE, lambda: self._suspend(client, cred, suspend=False), cred=cred)

    async def _revoke_app_token(self, client: httpx.AsyncClient, cred: Credential) -> ActionResult:
        """``DELETE /applications/{client_id}/token`` with Basic client_id:client_secret and the token
        in the body; 204 when revoked, 422 when GitHub does not know it for this app
        (https://docs.github.com/en/rest/apps/oauth-applications#delete-an-app-token)."""
        client_id = cred.extra["client_id"]
        response = await call(
            Verb.REVOKE,
            client.request(
                "DELETE",
                self.url(cred, f"/applications/{quote(client_id, safe='')}/token"),
                headers=self.headers(None),
                auth=httpx.BasicAuth(client_id, cred.admin_secret.reveal()),  # type: ignore[union-attr]
                json={"access_token": cred.secret.reveal()},
            ),
            cred=cred,
            refused="GitHub refused to revoke the app's token",
            reason=error_message,
            ok=(204,),
        )
        if isinstance(response, ActionResult):
            return response
        return ActionResult(
            Verb.REVOKE,
            ActionState.APPLIED,
            "GitHub revoked the token through the app that issued it",
            status=response.status_code,
            irreversible=True,
        )

    async def _suspend(self, client: httpx.AsyncClient, cred: Credential, *, suspend: bool) -> ActionResult:
        """``PUT`` (suspend) or ``DELETE`` (unsuspend) ``/app/installations/{id}/suspended`` as the app:
        204 either way (https://docs.github.com/en/rest/apps/apps#suspend-an-app-installation)."""
        verb = Verb.REVOKE if suspend else Verb.REENABLE
        jwt_headers = {**self.headers(None), "Authorization": f"Bearer {app_jwt(cred)}"}
        installation = cred.extra.get("installation_id") or await self._installation_id(client, cred, jwt_headers)
        if isinstance(installation, ActionResult):
            return installation
        response = await call(
            verb,
            client.request(
                "PUT" if suspend else "DELETE",
                self.url(cred, f"/app/installations/{quote(str(installation), safe='')}/suspended"),
                headers=jwt_headers,
            ),
            cred=cred,
            refused=f"GitHub refused to {'suspend' if suspend else 'unsuspend'} the app's installation",
            reason=error_message,
            ok=(204,),
        )
        if isinstance(response, ActionResult):
            return response
        return ActionResult(
            verb,
            ActionState.APPLIED,
            f"GitHub suspended the app's installation {installation}: none of its tokens works until "
            "the suspension is lifted"
            if suspend
            else f"GitHub lifted the suspension of the app's installation {installation}",
            status=response.status_code,
            details={"installation_id": str(installation)},
        )

    async def _installation_id(
        self, client: httpx.AsyncClient, cred: Credential, jwt_headers: dict[str, str]
    ) -> str | ActionResult:
        """The installation behind the token: one repository it reaches (``GET /installation/repositories``),
        then the app's installation on that repository (``GET /repos/{owner}/{repo}/installation``,
        https://docs.github.com/en/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app)."""
        verb = Verb.REVOKE
        listed = await call(
            verb,
            client.get(self.url(cred, "/installation/repositories?per_page=1"), headers=self.headers(cred)),
            cred=cred,
            refused="could not read the installation's repositories to find its id",
            reason=error_message,
            ok=(200,),
        )
        if isinstance(listed, ActionResult):
            if listed.status == 403 and "suspended" in listed.message.lower():
                return await self._suspended_installation(client, cred, jwt_headers)
            return listed
        repos = [r.get("full_name") for r in json_body(listed).get("repositories") or [] if isinstance(r, dict)]
        if not repos or not repos[0]:
            return self.manual(
                verb, "the installation reaches no repository, so its id cannot be looked up: set extra installation_id"
            )
        found = await call(
            verb,
            client.get(self.url(cred, f"/repos/{repos[0]}/installation"), headers=jwt_headers),
            cred=cred,
            refused="GitHub did not name the app's installation",
            reason=error_message,
            ok=(200,),
        )
        if isinstance(found, ActionResult):
            return found
        installation = json_body(found).get("id")
        if not isinstance(installation, int) or isinstance(installation, bool):
            raise MalformedBody("HTTP 200: the installation has no id")
        return str(installation)

    async def _suspended_installation(
        self, client: httpx.AsyncClient, cred: Credential, jwt_headers: dict[str, str]
    ) -> str | ActionResult:
        """A suspended installation's token reads nothing, so its id comes from the app's own list
        (``GET /app/installations``, https://docs.github.com/en/rest/apps/apps#list-installations-for-the-authenticated-app):
        the one installation with ``suspended_at`` set. Several: the owner must name it."""
        found = await call(
            Verb.REENABLE,
            client.get(self.url(cred, "/app/installations?per_page=100"), headers=jwt_headers),
            cred=cred,
            refused="GitHub did not list the app's installations",
            reason=error_message,
            ok=(200,),
        )
        if isinstance(found, ActionResult):
            return found
        items = found.json() if isinstance(found.json(), list) else []
        suspended = [i.get("id") for i in items if isinstance(i, dict) and i.get("suspended_at")]
        if len(suspended) != 1 or not isinstance(suspended[0], int):
            return self.manual(
                Verb.REENABLE,
                f"the app has {len(suspended)} suspended installations: set the connector's extra installation_id",
            )
        return str(suspended[0])

    @staticmethod
    async def _revoke(
        cred: Credential, send: Awaitable[httpx.Response], *, ok: tuple[int, ...], applied: str
    ) -> ActionResult:
        response = await call(
            Verb.REVOKE, send, cred=cred, refused="GitHub refused to revoke the token", reason=error_message, ok=ok
        )
        if isinstance(response, ActionResult):
            return response
        return ActionResult(Verb.REVOKE, ActionState.APPLIED, applied, status=response.status_code, irreversible=True)

    def manual_steps(self, action: Verb) -> list[str]:
        steps = {
            Verb.REVOKE: "Delete the token (classic: Settings ▸ Developer settings ▸ Personal access tokens ▸ Tokens "
            "(classic); fine-grained: ▸ Fine-grained tokens; App installations: "
            "https://github.com/settings/installations).",
            Verb.RESTRICT: "Scopes of an existing token cannot be reduced: create a narrower token (fine-grained, "
            "read-only repository permissions) and register it as the reduced credential.",
            Verb.ROTATE: "Use 'Regenerate token' on the token's page, paste the new token into Breaker "
            "(it probes it before swapping); the old value stops working at once.",
            Verb.REENABLE: "Create a new token and register it.",
        }
        return [
            "Open https://github.com/settings/tokens (classic) or "
            "https://github.com/settings/personal-access-tokens (fine-grained).",
            steps.get(action, action),
            "Come back to Breaker and probe the connector to verify.",
        ]


def app_key(cred: Credential):
    """The GitHub App's private key, when this connector holds one as its admin credential and names
    the app (extra ``app_id``, or its ``client_id``, which GitHub also takes as the JWT issuer).

    The keyring holds the key as one line (a stored key has no spaces or line breaks): the base64 body
    of the ``.pem`` file GitHub hands out, without its BEGIN/END lines (PKCS#1 or PKCS#8 DER)."""
    raw = cred.admin_secret.reveal() if cred.admin_secret is not None else ""
    if not raw.startswith("MII") or not (cred.extra.get("app_id") or cred.extra.get("client_id")):
        return None
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    try:
        return load_der_private_key(base64.b64decode(raw, validate=True), password=None)
    except (ValueError, TypeError):
        return None


def app_jwt(cred: Credential, now: float | None = None) -> str:
    """A JWT that authenticates as the GitHub App: RS256, issued 60 s in the past (clock drift), valid
    10 minutes at most, ``iss`` the app's client id or app id
    (https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app).
    Made in memory for one call; never stored."""
    import jwt  # PyJWT, with cryptography for RS256; imported here: only an app's switch needs it

    key = app_key(cred)
    if key is None:
        raise ValueError("no GitHub App private key")
    issued = int(now if now is not None else time.time()) - 60
    issuer = cred.extra.get("client_id") or cred.extra["app_id"]
    return jwt.encode({"iat": issued, "exp": issued + 600, "iss": issuer}, key, algorithm="RS256")


def error_message(response: httpx.Response, cred: Credential | None = None) -> str:
    """GitHub's own error text ("message", or OAuth-style "error_description"), short and secret-free."""
    return error_text(response, "message", "error_description", "error", cred=cred)
