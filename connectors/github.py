"""GitHub: classic and fine-grained PATs, OAuth-app tokens and GitHub App tokens.

Sources: https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/scopes-for-oauth-apps (classic
scopes), https://docs.github.com/en/rest/authentication/permissions-required-for-fine-grained-personal-access-tokens
(fine-grained permissions), https://docs.github.com/en/rest/credentials/revoke (revoke),
https://docs.github.com/en/rest/apps/installations (installation tokens),
https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api (rate limits), and
TruffleHog's GitHub analyzers (the permission probes).

* Classic PATs and OAuth-app tokens report their scopes in ``X-OAuth-Scopes`` on any call.
* Fine-grained PATs and App tokens have no scope header: a normal probe learns the identity and
  how many repositories the token reaches; only a deep probe (opt-in) learns permissions, with
  TruffleHog's read GETs and deliberately invalid writes aimed at names that do not exist.
* Installation tokens (``ghs_``) verify with ``GET /installation/repositories``.
"""

from __future__ import annotations

import secrets as _secrets
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime

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

    def switch_call(self, verb: Verb, kind: str = "") -> SwitchCall | None:
        if verb is Verb.REVOKE and "installation" in kind.lower():
            return self.installation_revoke
        return super().switch_call(verb, kind)

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


def error_message(response: httpx.Response, cred: Credential | None = None) -> str:
    """GitHub's own error text ("message", or OAuth-style "error_description"), short and secret-free."""
    return error_text(response, "message", "error_description", "error", cred=cred)
