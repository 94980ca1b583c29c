"""Sandbox GitHub: the REST calls Breaker makes, with GitHub's paths, headers and bodies.

Shapes follow https://docs.github.com/en/rest/users/users, …/rest/apps/installations,
…/rest/credentials/revoke and …/rest/repos/repos. API URLs in answers (``url``, ``repos_url``,
``owner.url`` …) point at the sandbox's own prefix, so clients that follow them (PyGithub completes
a lazy object from its ``url``) stay on the sandbox.
Classic tokens (ghp_, gho_) hold classic scope names; fine-grained and App tokens hold
"permission:access" names (e.g. "contents:write"), which drive the deep-probe routes.
"""

from __future__ import annotations

import base64
import secrets
import string
import time
import zlib
from datetime import UTC, datetime

from connectors.sandbox.core import (
    SandboxRequest,
    SandboxResponse,
    SandboxState,
    TokenRecord,
    empty_response,
    json_response,
)

PREFIX = "github"

KINDS: dict[str, list[str]] = {
    "classic": ["repo", "read:org"],
    "oauth": ["read:user", "public_repo"],
    "fine_grained": ["metadata:read", "contents:read", "issues:write"],
    "user_to_server": ["metadata:read", "contents:read"],
    "installation": ["metadata:read", "contents:write", "pull_requests:write"],
}
TOKEN_PREFIX = {
    "classic": "ghp_",
    "oauth": "gho_",
    "fine_grained": "github_pat_",
    "user_to_server": "ghu_",
    "installation": "ghs_",
}
CLASSIC_PREFIXES = ("ghp_", "gho_")
LIST_REVOCABLE = ("ghp_", "github_pat_", "gho_", "ghu_", "ghr_")
DOCS = "https://docs.github.com/rest"
_ALNUM = string.ascii_letters + string.digits


def _random(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def make_token(kind: str) -> str:
    prefix = TOKEN_PREFIX.get(kind, "ghp_")
    if prefix == "github_pat_":  # real shape: github_pat_<22>_<59>
        return f"{prefix}SANDBOX{_random(15)}_{_random(59)}"
    return f"{prefix}SANDBOX{_random(29)}"


SANDBOX_APP_ID = "1234"
SANDBOX_INSTALLATION = "4242"
SANDBOX_OAUTH_CLIENT = "Ov23SANDBOXclient"


def default_meta(kind: str) -> dict:
    """An installation token belongs to the sandbox app's installation; an OAuth token to its OAuth app."""
    if kind == "installation":
        return {"installation_id": SANDBOX_INSTALLATION, "app_id": SANDBOX_APP_ID}
    if kind in ("oauth", "user_to_server"):
        return {"client_id": SANDBOX_OAUTH_CLIENT}
    return {}


def register_oauth_app(state: SandboxState, client_id: str = SANDBOX_OAUTH_CLIENT) -> TokenRecord:
    """An OAuth app the sandbox knows; the record's token is its client secret."""
    return state.add(
        TokenRecord(
            token=f"SANDBOX{secrets.token_hex(16)}",
            provider=PREFIX,
            kind="oauth_app",
            identity=f"oauth-app-{client_id}",
            meta={"client_id": client_id},
        )
    )


# -- helpers ----------------------------------------------------------------------------------


def _num(text: str, modulo: int) -> int:
    """A stable numeric id for a name (GitHub ids are integers)."""
    return zlib.crc32(text.encode()) % modulo


def _error(status: int, message: str, **extra: object) -> SandboxResponse:
    return json_response(status, {"message": message, "documentation_url": DOCS, "status": str(status), **extra})


def _is_classic(record: TokenRecord) -> bool:
    return record.token.startswith(CLASSIC_PREFIXES)


def _rate_headers(record: TokenRecord) -> dict[str, str]:
    used = int(record.meta.get("rate_used", 0)) + 1
    record.meta["rate_used"] = used
    reset = (int(time.time()) // 3600 + 1) * 3600
    headers = {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": str(max(0, 5000 - used)),
        "x-ratelimit-used": str(used),
        "x-ratelimit-reset": str(reset),
        "x-ratelimit-resource": "core",
        "x-github-api-version-selected": "2022-11-28",
    }
    if record.expires_at is not None:
        fmt = "%Y-%m-%d %H:%M:%S UTC" if _is_classic(record) else "%Y-%m-%d %H:%M:%S +0000"
        headers["github-authentication-token-expiration"] = record.expires_at.astimezone(UTC).strftime(fmt)
    return headers


def _live(req: SandboxRequest, state: SandboxState) -> TokenRecord | None:
    """The calling token, if GitHub would accept it (known, not revoked, not expired, its app
    installation not suspended)."""
    record = state.get(req.bearer(), PREFIX)
    if record is None or not record.live or record.kind in ("app", "oauth_app"):
        return None
    if record.expires_at is not None and record.expires_at <= datetime.now(UTC):
        return None
    if _suspended(state, record):
        return None
    return record


def _bad_credentials() -> SandboxResponse:
    return _error(401, "Bad credentials")


def _refused(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    """Why the calling token is not accepted: a token of a suspended installation gets a 403 (❓ the
    exact text is not documented; https://docs.github.com/en/rest/apps/apps#suspend-an-app-installation:
    a suspension "blocks the app from accessing the account's resources"), anything else 401."""
    record = state.get(req.bearer(), PREFIX)
    if record is not None and record.live and _suspended(state, record):
        return _error(403, "This installation has been suspended")
    return _bad_credentials()


# -- GitHub Apps and OAuth apps -----------------------------------------------------------------
# An app is a record of kind "app" (its token a handle, not a secret): meta app_id, client_id, the
# public half of its private key (public_key, PEM), and the installations it suspended
# (suspended: "id,id"). An installation token's meta says its installation_id and app_id. An OAuth
# app is a record of kind "oauth_app" whose token is its client secret (meta client_id); its
# gho_/ghu_ tokens carry meta client_id.


def register_app(
    state: SandboxState, public_pem: str, app_id: str = SANDBOX_APP_ID, client_id: str = ""
) -> TokenRecord:
    """A GitHub App the sandbox knows (tests and the demo make its key pair)."""
    return state.add(
        TokenRecord(
            token=f"app-SANDBOX-{app_id}",
            provider=PREFIX,
            kind="app",
            identity=f"sandbox-app-{app_id}",
            meta={"app_id": str(app_id), "client_id": client_id or f"Iv23SANDBOX{app_id}", "public_key": public_pem},
        )
    )


def _apps(state: SandboxState) -> list[TokenRecord]:
    return [r for r in list(state.tokens.values()) if r.provider == PREFIX and r.kind == "app"]


def _suspended(state: SandboxState, record: TokenRecord) -> bool:
    installation = str(record.meta.get("installation_id") or "")
    if not installation or not record.token.startswith("ghs_"):
        return False
    return any(installation in str(app.meta.get("suspended") or "").split(",") for app in _apps(state))


def _as_app(req: SandboxRequest, state: SandboxState) -> TokenRecord | None:
    """The app a ``Bearer <JWT>`` authenticates: RS256 over its public key, ``iss`` its app id or client
    id, at most 10 minutes between ``iat`` and ``exp``
    (https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app)."""
    import jwt  # PyJWT

    token = req.bearer() or ""
    try:
        issuer = str(jwt.decode(token, options={"verify_signature": False}).get("iss", ""))
    except jwt.PyJWTError:
        return None
    for app in _apps(state):
        if issuer not in (app.meta.get("app_id"), app.meta.get("client_id")):
            continue
        try:
            claims = jwt.decode(
                token, app.meta["public_key"], algorithms=["RS256"], options={"require": ["iat", "exp"]}
            )
        except jwt.PyJWTError:
            return None
        return app if int(claims["exp"]) - int(claims["iat"]) <= 660 else None
    return None


def _installations(state: SandboxState, app: TokenRecord) -> list[TokenRecord]:
    return [
        r
        for r in list(state.tokens.values())
        if r.provider == PREFIX and r.token.startswith("ghs_") and str(r.meta.get("app_id")) == app.meta["app_id"]
    ]


def suspend_installation(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``PUT`` (suspend) / ``DELETE`` (unsuspend) ``/app/installations/{id}/suspended``: 204
    (https://docs.github.com/en/rest/apps/apps#suspend-an-app-installation)."""
    app = _as_app(req, state)
    if app is None:
        return _error(401, "A JSON web token could not be decoded")
    installation = match["id"]
    if not any(str(r.meta.get("installation_id")) == installation for r in _installations(state, app)):
        return _error(404, "Not Found")
    suspended = {i for i in str(app.meta.get("suspended") or "").split(",") if i}
    if req.method == "PUT":
        suspended.add(installation)
    else:
        suspended.discard(installation)
    app.meta["suspended"] = ",".join(sorted(suspended))
    return empty_response(204)


def _installation_object(app: TokenRecord, record: TokenRecord) -> dict:
    installation = int(record.meta["installation_id"])
    owner = _repos(record)[0].partition("/")[0] if _repos(record) else "sandbox-org"
    suspended = str(installation) in str(app.meta.get("suspended") or "").split(",")
    return {
        "id": installation,
        "account": {"login": owner, "type": "Organization"},
        "app_id": int(app.meta["app_id"]),
        "target_type": "Organization",
        "repository_selection": record.meta.get("repository_selection", "selected"),
        "suspended_at": "2026-01-01T00:00:00Z" if suspended else None,
    }


def list_app_installations(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``GET /app/installations`` as the app, a bare array
    (https://docs.github.com/en/rest/apps/apps#list-installations-for-the-authenticated-app)."""
    app = _as_app(req, state)
    if app is None:
        return _error(401, "A JSON web token could not be decoded")
    seen: dict[str, dict] = {}
    for record in _installations(state, app):
        seen.setdefault(str(record.meta["installation_id"]), _installation_object(app, record))
    return json_response(200, list(seen.values()))


def get_repo_installation(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``GET /repos/{owner}/{repo}/installation`` as the app
    (https://docs.github.com/en/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app)."""
    app = _as_app(req, state)
    if app is None:
        return _error(401, "A JSON web token could not be decoded")
    full_name = f"{match['owner']}/{match['repo']}"
    for record in _installations(state, app):
        if full_name in _repos(record):
            return json_response(200, _installation_object(app, record))
    return _error(404, "Not Found")


def delete_app_token(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``DELETE /applications/{client_id}/token`` with Basic client_id:client_secret and
    ``{"access_token"}``: 204, or 422 (https://docs.github.com/en/rest/apps/oauth-applications#delete-an-app-token)."""
    client_id = match["client_id"]
    auth = req.headers.get("authorization", "")
    try:
        given_id, _, secret = base64.b64decode(auth.partition(" ")[2]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        given_id, secret = "", ""
    app = state.get(secret, PREFIX) if auth.lower().startswith("basic ") else None
    if app is None or app.kind != "oauth_app" or given_id != client_id or app.meta.get("client_id") != client_id:
        return _error(404, "Not Found")  # GitHub hides the app from wrong client credentials
    body = req.json()
    token = body.get("access_token") if isinstance(body, dict) else None
    record = state.get(token, PREFIX) if isinstance(token, str) else None
    if record is None or not record.live or record.meta.get("client_id") != client_id:
        return _error(
            422, "Validation Failed", errors=[{"resource": "Token", "field": "access_token", "code": "invalid"}]
        )
    state.revoke(record.token)
    return empty_response(204)


def _owner(record: TokenRecord) -> str:
    return "sandbox-org" if record.token.startswith("ghs_") else record.identity


def _repos(record: TokenRecord) -> list[str]:
    return list(record.meta.get("repos") or [f"{_owner(record)}/sandbox-repo", f"{_owner(record)}/sandbox-site"])


def _repo_object(req: SandboxRequest, full_name: str, record: TokenRecord) -> dict:
    owner, _, name = full_name.partition("/")
    rid = _num(full_name, 10**9)
    return {
        "id": rid,
        "node_id": f"R_SANDBOX{rid}",
        "name": name,
        "full_name": full_name,
        "private": True,
        "owner": {
            "login": owner,
            "id": _num(owner, 10**8),
            "type": "Organization" if owner == "sandbox-org" else "User",
            "site_admin": False,
            "url": req.url(f"/users/{owner}"),
        },
        "html_url": f"https://github.com/{full_name}",
        "description": "A sandbox repository",
        "fork": False,
        "url": req.url(f"/repos/{full_name}"),
        "default_branch": "main",
        "visibility": "private",
        "permissions": {
            "admin": False,
            "maintain": False,
            "push": _allows(record, "contents", "write"),
            "triage": False,
            "pull": True,
        },
    }


def _allows(record: TokenRecord, permission: str, access: str) -> bool:
    if _is_classic(record):  # classic: `repo` reaches private repositories; dispatching needs `workflow`
        needed = "workflow" if permission == "actions" and access == "write" else "repo"
        return needed in record.scopes
    held = {s.split(":", 1)[0]: s.split(":", 1)[1] for s in record.scopes if ":" in s}
    rank = {"read": 1, "write": 2, "admin": 3}
    return rank.get(held.get(permission, ""), 0) >= rank[access]


def _denied(record: TokenRecord) -> SandboxResponse:
    who = "integration" if record.token.startswith(("ghs_", "ghu_")) else "personal access token"
    return _error(403, f"Resource not accessible by {who}")


# -- handlers ---------------------------------------------------------------------------------


def get_user(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record = _live(req, state)
    if record is None:
        return _refused(req, state)
    headers = _rate_headers(record)
    if record.token.startswith("ghs_"):
        # ❓ unconfirmed: the exact error for an installation token on GET /user is not documented
        # (https://docs.github.com/en/rest/users/users#get-the-authenticated-user).
        return json_response(
            403,
            {"message": "Resource not accessible by integration", "documentation_url": DOCS, "status": "403"},
            headers,
        )
    if _is_classic(record):
        headers["x-oauth-scopes"] = ", ".join(record.scopes)
        headers["x-accepted-oauth-scopes"] = ""
    body = {
        **_public_user(req, record.identity),
        "private_gists": 0,
        "total_private_repos": len(_repos(record)),
        "owned_private_repos": len(_repos(record)),
        "disk_usage": 1,
        "collaborators": 0,
        "two_factor_authentication": True,
        "plan": {"name": "free", "space": 976562499, "private_repos": 10000, "collaborators": 0},
    }
    return json_response(200, body, headers)


def _public_user(req: SandboxRequest, login: str) -> dict:
    """A user as ``GET /users/{username}`` shows anyone (https://docs.github.com/en/rest/users/users#get-a-user)."""
    uid = _num(login, 10**8)
    api = req.url(f"/users/{login}")
    return {
        "login": login,
        "id": uid,
        "node_id": f"U_SANDBOX{uid}",
        "avatar_url": "https://github.com/images/error/octocat_happy.gif",
        "gravatar_id": "",
        "url": api,
        "html_url": f"https://github.com/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": "User",
        "site_admin": False,
        "name": "Sandbox User",
        "company": "Sandbox",
        "blog": "",
        "location": "Loopback",
        "email": None,
        "hireable": None,
        "bio": "A sandbox account",
        "twitter_username": None,
        "public_repos": 2,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2020-01-01T00:00:00Z",
    }


def get_user_by_login(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """A user or organisation the sandbox knows: a token's owner or the owner of one of its repositories."""
    record = _live(req, state)
    if record is None and req.headers.get("authorization"):
        return _refused(req, state)
    login = match["login"]
    known = {
        name
        for other in list(state.tokens.values())
        if other.provider == PREFIX
        for name in (other.identity, *(r.partition("/")[0] for r in _repos(other)))
    }
    headers = _rate_headers(record) if record is not None else {}
    if login not in known:
        return json_response(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}, headers)
    body = _public_user(req, login)
    if login == "sandbox-org":
        body["type"] = "Organization"
    return json_response(200, body, headers)


def get_repo(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``GET /repos/{owner}/{repo}`` (https://docs.github.com/en/rest/repos/repos#get-a-repository):
    the token's own repositories; any other is a 404, as GitHub answers for a private one."""
    record = _live(req, state)
    if record is None:
        return _refused(req, state)
    headers = _rate_headers(record)
    if _is_classic(record):
        headers["x-oauth-scopes"] = ", ".join(record.scopes)
    full_name = f"{match['owner']}/{match['repo']}"
    if full_name not in _repos(record):
        return json_response(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}, headers)
    return json_response(200, _repo_object(req, full_name, record), headers)


def get_user_repos(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record = _live(req, state)
    if record is None:
        return _refused(req, state)
    return json_response(200, [_repo_object(req, r, record) for r in _repos(record)], _rate_headers(record))


def get_installation_repos(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record = _live(req, state)
    if record is None:
        return _refused(req, state)
    headers = _rate_headers(record)
    if not record.token.startswith("ghs_"):
        return json_response(
            403,
            {
                "message": "You must authenticate with an installation access token in order "
                "to list repositories for an installation.",
                "documentation_url": DOCS,
                "status": "403",
            },
            headers,
        )
    repos = _repos(record)
    body = {
        "total_count": len(repos),
        "repository_selection": record.meta.get("repository_selection", "selected"),
        "repositories": [_repo_object(req, r, record) for r in repos],
    }
    return json_response(200, body, headers)


def delete_installation_token(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record = _live(req, state)
    if record is None or not record.token.startswith("ghs_"):
        return _refused(req, state)
    state.revoke(record.token)
    return empty_response(204)


def post_credentials_revoke(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    if req.headers.get("authorization"):  # the docs: "Any authenticated requests will return a 403."
        return _error(403, "This endpoint must be called without authentication.")
    body = req.json()
    creds = body.get("credentials") if isinstance(body, dict) else None
    if not isinstance(creds, list) or not creds or len(creds) > 1000 or not all(isinstance(c, str) for c in creds):
        return _error(
            422, "Validation Failed", errors=[{"resource": "Credentials", "field": "credentials", "code": "invalid"}]
        )
    for token in creds:
        record = state.get(token, PREFIX)
        if record is not None and token.startswith(LIST_REVOCABLE):
            state.revoke(token)
    return json_response(202, {})  # GitHub never says which credentials it knew


def _repo_route(permission: str, access: str, permitted: SandboxResponse | None = None):
    """A repository route guarded by one fine-grained permission."""

    def handler(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
        record = _live(req, state)
        if record is None:
            return _refused(req, state)
        headers = _rate_headers(record)
        headers["x-accepted-github-permissions"] = f"{permission}={access}"
        full_name = f"{match['owner']}/{match['repo']}"
        if full_name not in _repos(record):
            return json_response(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}, headers)
        if not _allows(record, permission, access):
            response = _denied(record)
            response.headers.update(headers)
            return response
        answer = permitted if permitted is not None else json_response(200, [])
        return type(answer)(answer.status, answer.body, {**answer.headers, **headers})

    return handler


REPO = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
NOT_FOUND = json_response(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"})

ROUTES = [
    ("GET", r"/user", get_user),
    ("GET", r"/user/repos", get_user_repos),
    ("GET", r"/users/(?P<login>[^/]+)", get_user_by_login),
    ("GET", REPO, get_repo),
    ("GET", r"/installation/repositories", get_installation_repos),
    ("DELETE", r"/installation/token", delete_installation_token),
    ("PUT", r"/app/installations/(?P<id>\d+)/suspended", suspend_installation),
    ("DELETE", r"/app/installations/(?P<id>\d+)/suspended", suspend_installation),
    ("GET", REPO + r"/installation", get_repo_installation),
    ("GET", r"/app/installations", list_app_installations),
    ("DELETE", r"/applications/(?P<client_id>[^/]+)/token", delete_app_token),
    ("POST", r"/credentials/revoke", post_credentials_revoke),
    ("GET", REPO + r"/commits", _repo_route("contents", "read")),
    (
        "PUT",
        REPO + r"/contents/(?P<path>.+)",
        _repo_route(
            "contents",
            "write",
            json_response(
                422,
                {
                    "message": 'Invalid request.\n\n"content", "message" weren\'t supplied.',
                    "documentation_url": DOCS,
                    "status": "422",
                },
            ),
        ),
    ),
    ("GET", REPO + r"/issues", _repo_route("issues", "read")),
    ("PATCH", REPO + r"/labels/(?P<name>[^/]+)", _repo_route("issues", "write", NOT_FOUND)),
    ("GET", REPO + r"/pulls", _repo_route("pull_requests", "read")),
    (
        "GET",
        REPO + r"/actions/artifacts",
        _repo_route("actions", "read", json_response(200, {"total_count": 0, "artifacts": []})),
    ),
    ("POST", REPO + r"/actions/workflows/(?P<workflow>[^/]+)/dispatches", _repo_route("actions", "write", NOT_FOUND)),
    (
        "GET",
        REPO + r"/actions/permissions",
        _repo_route("administration", "read", json_response(200, {"enabled": True, "allowed_actions": "all"})),
    ),
]
