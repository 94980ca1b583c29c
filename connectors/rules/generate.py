"""Generate the gateway's pinned request tables from each provider's machine-readable permission data.

    python -m connectors.rules.generate github --source FILE_OR_URL --version COMMIT
    python -m connectors.rules.generate google --source gmail.v1.json
    python -m connectors.rules.generate microsoft --source permissions.json --version COMMIT
    python -m connectors.rules.generate slack --source slack_web_openapi_v2.json --version COMMIT

Each run reads one source and writes ``connectors/rules/generated/<provider>.py``: rows of facts
(method, path template or method name, level, the source's permission or scope name) under a
header naming the source's URL, its commit or version, and the date. No prose is copied.

How a fact becomes a level is Breaker's rule, written here (and in docs/classification.md), and
never looser than the hand tables it replaced: a GET reads (reads are decided by method, so the
tables hold only what changes something); every other method is at least ``write``; the
permissions that hand out access, keys, secrets, hooks or settings are ``admin``; the calls that
reach people, run workflows or deploy are ``send``; Gmail's and Graph's draft calls are ``draft``.
Where one call appears under several permissions, the highest level wins.

This module is a maintainer's tool: the gateway imports only the generated tables.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from connectors.base import Level

R, D, W, S, A = Level.READ, Level.DRAFT, Level.WRITE, Level.SEND, Level.ADMIN
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
OUT_DIR = Path(__file__).resolve().parent / "generated"
LINE = 120  # ruff's line length (pyproject.toml): rows are written the way `ruff format` would


class SourceError(Exception):
    """The source is not in the documented shape; one line, for the maintainer."""


Row = tuple[str, str, Level, str]  # method, template (or method name), level, permission or scope


def keep_highest(rows: Iterable[Row]) -> list[Row]:
    """One row per (method, template): the highest level, with the permission that gave it; sorted."""
    best: dict[tuple[str, str], Row] = {}
    for row in rows:
        key = (row[0], row[1])
        if key not in best or row[2] > best[key][2]:
            best[key] = row
    return sorted(best.values(), key=lambda r: (r[1], r[0]))


# -- GitHub: fine-grained PAT permissions --------------------------------------------------------
# https://github.com/github/docs/blob/main/src/github-apps/data/fpt-2022-11-28/fine-grained-pat-permissions.json
# {permission: {"title": ..., "permissions": [{"verb": "post", "requestPath": "/repos/...", "access": "write"}]}}

GITHUB_ADMIN = frozenset(
    {
        # who may do what
        "administration",
        "organization_administration",
        "members",
        "organization_custom_org_roles",
        "organization_custom_roles",
        "organization_custom_properties",
        "organization_personal_access_tokens",
        "organization_personal_access_token_requests",
        "organization_user_blocking",
        "organization_codespaces_settings",
        "organization_copilot_seat_management",
        "organization_self_hosted_runners",
        # where data goes out
        "repository_hooks",
        "organization_hooks",
        # secrets and environments (environment secrets, protection rules)
        "secrets",
        "organization_secrets",
        "dependabot_secrets",
        "organization_dependabot_secrets",
        "codespaces_secrets",
        "organization_codespaces_secrets",
        "codespaces_user_secrets",
        "environments",
        # the account's keys and addresses
        "keys",
        "gpg_keys",
        "git_signing_ssh_public_keys",
        "emails",
    }
)
# Calls that run workflows, deploy, or approve either: matched on the template, any permission.
GITHUB_SEND = tuple(
    re.compile(p)
    for p in (
        r"/dispatches$",  # workflow_dispatch and repository_dispatch
        r"/actions/runs/\{[^}]+\}/(rerun|rerun-failed-jobs|approve|pending_deployments)$",
        r"/actions/jobs/\{[^}]+\}/rerun$",
        r"^/repos/\{[^}]+\}/\{[^}]+\}/deployments$",
    )
)


def github_level(permission: str, access: str, method: str, template: str) -> Level:
    if method in ("GET", "HEAD"):
        return R
    if access == "admin" or permission in GITHUB_ADMIN or template.startswith("/orgs/"):
        return A  # an organisation's settings, members and resources reach everyone in it
    if any(p.search(template) for p in GITHUB_SEND):
        return S
    return W  # whatever the source's access says ("read" on a POST still changes something)


def github_rows(data: object) -> list[Row]:
    if not isinstance(data, dict) or not data:
        raise SourceError("expected an object of permissions")
    rows: list[Row] = []
    for permission, entry in data.items():
        items = entry.get("permissions") if isinstance(entry, dict) else None
        if not isinstance(items, list):
            raise SourceError(f"permission {permission!r} has no list of 'permissions'")
        for item in items:
            try:
                method, template, access = item["verb"].upper(), item["requestPath"], item["access"]
            except (KeyError, TypeError, AttributeError):
                raise SourceError(f"an entry of {permission!r} lacks verb, requestPath or access") from None
            if method not in WRITE_METHODS:
                continue  # reads are decided by method
            rows.append((method, template, github_level(permission, access, method, template), permission))
    return keep_highest(rows)


# -- Google: the Gmail API discovery document ----------------------------------------------------
# https://gmail.googleapis.com/$discovery/rest?version=v1 (also in google-api-python-client's
# googleapiclient/discovery_cache/documents/gmail.v1.json). Methods carry "id", "httpMethod", "path"
# (below "servicePath") and, for uploads, mediaUpload.protocols.{simple,resumable}.path.

GMAIL_DRAFT = frozenset({"gmail.users.drafts.create", "gmail.users.drafts.update", "gmail.users.drafts.delete"})
GMAIL_SEND = frozenset(
    {
        "gmail.users.drafts.send",
        "gmail.users.messages.send",
        "gmail.users.settings.updateVacation",  # automatic replies go to whoever writes
    }
)
GMAIL_ADMIN_PREFIXES = (
    "gmail.users.settings.filters.",  # a filter can forward every message
    "gmail.users.settings.forwardingAddresses.",
    "gmail.users.settings.sendAs.",
    "gmail.users.settings.delegates.",
    "gmail.users.settings.cse.",
)
GMAIL_ADMIN = frozenset(
    {
        "gmail.users.settings.updateAutoForwarding",
        "gmail.users.messages.delete",  # permanent deletion (needs the full-mailbox scope)
        "gmail.users.messages.batchDelete",
        "gmail.users.threads.delete",
    }
)


def gmail_level(method_id: str, http_method: str) -> Level:
    if http_method in ("GET", "HEAD"):
        return R
    if method_id in GMAIL_ADMIN or method_id.startswith(GMAIL_ADMIN_PREFIXES):
        return A
    if method_id in GMAIL_SEND:
        return S
    if method_id in GMAIL_DRAFT:
        return D
    return W


def _discovery_methods(resource: dict) -> Iterable[dict]:
    yield from (resource.get("methods") or {}).values()
    for child in (resource.get("resources") or {}).values():
        yield from _discovery_methods(child)


def google_rows(doc: object) -> list[Row]:
    if not isinstance(doc, dict) or doc.get("kind") != "discovery#restDescription":
        raise SourceError("expected a discovery document (kind discovery#restDescription)")
    base = "/" + str(doc.get("servicePath", "")).strip("/")
    rows: list[Row] = []
    for method in _discovery_methods(doc):
        try:
            method_id, http_method, path = method["id"], method["httpMethod"].upper(), method["path"]
        except (KeyError, AttributeError):
            raise SourceError("a method lacks id, httpMethod or path") from None
        if http_method not in WRITE_METHODS:
            continue
        level = gmail_level(method_id, http_method)
        paths = [f"{base.rstrip('/')}/{path.lstrip('/')}"]
        for protocol in ((method.get("mediaUpload") or {}).get("protocols") or {}).values():
            paths.append(protocol["path"])  # /upload/… and /resumable/upload/…: the same call
        for template in paths:
            rows.append((http_method, _plain_vars(template), level, method_id))
    return keep_highest(rows)


def _plain_vars(template: str) -> str:
    """Discovery's reserved expansion ``{+name}`` is one variable segment here."""
    return template.replace("{+", "{")


# -- Microsoft Graph: the permissions reference data ---------------------------------------------
# https://github.com/microsoftgraph/microsoft-graph-devx-content/blob/master/permissions/new/permissions.json
# {"permissions": {name: {"pathSets": [{"methods": [...], "paths": {"/me/sendmail": "least=Application,..."}}]}}}
# A path's value names the schemes for which this permission is the least-privileged one.

GRAPH_ADMIN_FAMILIES = frozenset(
    {
        "MailboxSettings",  # automatic forwarding and replies, inbox rules
        "Directory",
        "User",
        "Group",
        "GroupMember",
        "Application",
        "AppRoleAssignment",
        "DelegatedPermissionGrant",
        "RoleManagement",
        "RoleManagementPolicy",
        "RoleAssignmentSchedule",
        "RoleEligibilitySchedule",
        "Policy",
        "Domain",
        "Organization",
        "IdentityProvider",
        "UserAuthenticationMethod",
        "User-PasswordProfile",
        "User-Mail",
        "User-Phone",
        "TeamMember",
        "ChannelMember",
        "TeamSettings",
        "ChannelSettings",
    }
)
# Every change below these is the directory's (who exists, who may sign in, which app may do what):
# admin, whatever permission the source names for it. So are creating users and changing one.
GRAPH_DIRECTORY_AREAS = frozenset(
    {
        "groups",
        "applications",
        "serviceprincipals",
        "oauth2permissiongrants",
        "directoryroles",
        "rolemanagement",
        "identity",
        "policies",
        "directory",
        "organization",
        "domains",
    }
)
# The areas the Graph table keeps: the directory's, and the signed-in user's mail, chats, teams and files.
GRAPH_AREAS = GRAPH_DIRECTORY_AREAS | {"me", "users", "chats", "teams", "drives"}
_GRAPH_SEND = re.compile(r"\.Send(\.|$)")  # Mail.Send, ChatMessage.Send, ChannelMessage.Send, Mail.Send.Shared


def graph_level(permission: str, method: str, path: str = "") -> Level:
    if method in ("GET", "HEAD"):
        return R
    parts = path.strip("/").split("/")
    area = parts[0].split("(")[0].lower()  # "applications(appid={value})" is the applications area
    if area in GRAPH_DIRECTORY_AREAS or (area == "users" and len(parts) <= 2):
        return A
    family = permission.split(".")[0]
    if family in GRAPH_ADMIN_FAMILIES or ".FullControl" in permission or "ManageAll" in permission:
        return A
    if _GRAPH_SEND.search(permission):
        return S
    return W


def graph_rows(data: object) -> list[Row]:
    permissions = data.get("permissions") if isinstance(data, dict) else None
    if not isinstance(permissions, dict) or not permissions:
        raise SourceError("expected {'permissions': {name: {'pathSets': [...]}}}")
    least: dict[tuple[str, str], list[str]] = {}  # (method, path) → the least-privileged permissions
    every: dict[tuple[str, str], list[str]] = {}  # (method, path) → every permission that grants it
    for name, entry in permissions.items():
        sets = entry.get("pathSets") if isinstance(entry, dict) else None
        if not isinstance(sets, list):
            raise SourceError(f"permission {name!r} has no list of 'pathSets'")
        for path_set in sets:
            try:
                methods, paths = path_set["methods"], path_set["paths"]
            except (KeyError, TypeError):
                raise SourceError(f"a path set of {name!r} lacks methods or paths") from None
            for method in methods:
                method = method.upper()
                if method not in WRITE_METHODS:
                    continue
                for path, marks in paths.items():
                    parts = path.strip("/").split("/")
                    if parts[0].split("(")[0].lower() not in GRAPH_AREAS or "..." in parts:
                        continue  # another area, or a "/.../" nested-folder path (read as the folder: rules.microsoft.as_folder)
                    key = (method, path)
                    every.setdefault(key, []).append(name)
                    if "least=" in str(marks):
                        least.setdefault(key, []).append(name)
    rows: list[Row] = []
    for key, names in every.items():
        chosen = least.get(key, names)  # no least-privileged mark: every permission that grants it
        rows.extend((key[0], key[1], graph_level(n, key[0], key[1]), n) for n in chosen)
    return keep_highest(rows)


# -- Slack: the Web API's OpenAPI description ----------------------------------------------------
# https://github.com/slackapi/slack-api-specs/blob/master/web-api/slack_web_openapi_v2.json
# paths: {"/chat.postMessage": {"post": {"security": [{"slackAuth": ["chat:write:bot", ...]}]}}}

_SLACK_READ_SCOPE = re.compile(r":(read|history)(\.|:|$)")


def slack_level(method: str, scopes: list[str]) -> Level | None:
    """By the method's scopes; None when the source names none (the hand table decides those)."""
    if method.startswith("admin.") or any(s.startswith("admin") for s in scopes):
        return A
    scopes = [s for s in scopes if s != "none"]  # the source writes "none" for "no scope needed"
    if not scopes:
        return None
    if any(s.startswith(("chat:write", "reminders:write")) for s in scopes):
        return S  # posting reaches people, whichever chat.* call carries it
    if all(_SLACK_READ_SCOPE.search(s) for s in scopes):
        return R
    return W


def slack_rows(spec: object) -> list[Row]:
    paths = spec.get("paths") if isinstance(spec, dict) else None
    if not isinstance(paths, dict) or not paths:
        raise SourceError("expected an OpenAPI description with 'paths'")
    rows: list[Row] = []
    for path, operations in paths.items():
        if not isinstance(operations, dict):
            raise SourceError(f"path {path!r} is not an object")
        method = path.strip("/").lower()
        for operation in operations.values():
            scopes = sorted({s for block in operation.get("security") or [] for s in (block.get("slackAuth") or [])})
            level = slack_level(method, scopes)
            if level is not None:
                rows.append(("POST", method, level, " ".join(scopes) or "admin method"))
    return keep_highest(rows)


# -- the providers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Provider:
    name: str
    title: str
    rows: Callable[[object], list[Row]]
    url: str  # the source's canonical address; {version} is filled in
    version: Callable[[dict], str] | None = None  # the version the source itself names
    columns: str = "method, path template, level, permission"


PROVIDERS = {
    p.name: p
    for p in (
        Provider(
            "github",
            "GitHub REST",
            github_rows,
            "https://github.com/github/docs/blob/{version}/src/github-apps/data/fpt-2022-11-28/fine-grained-pat-permissions.json",
            columns="method, path template, level, the fine-grained permission that decided it",
        ),
        Provider(
            "google",
            "Gmail API",
            google_rows,
            "https://gmail.googleapis.com/$discovery/rest?version=v1",
            version=lambda doc: f"revision {doc.get('revision', '?')}",
            columns="method, path template (with the /upload and /resumable/upload variants), level, method id",
        ),
        Provider(
            "microsoft",
            "Microsoft Graph",
            graph_rows,
            "https://github.com/microsoftgraph/microsoft-graph-devx-content/blob/{version}/permissions/new/permissions.json",
            columns="method, path template below /v1.0 or /beta, level, the least-privileged permission",
        ),
        Provider(
            "slack",
            "Slack Web API",
            slack_rows,
            "https://github.com/slackapi/slack-api-specs/blob/{version}/web-api/slack_web_openapi_v2.json",
            columns="method, Web API method name (lower-case), level, its scopes",
        ),
    )
}


def read_source(source: str) -> bytes:
    if source.startswith(("https://", "http://")):
        import httpx  # a maintainer's run only: the gateway never fetches its tables

        response = httpx.get(source, follow_redirects=True, timeout=60)
        response.raise_for_status()
        return response.content
    return Path(source).read_bytes()


def _q(text: str) -> str:
    return json.dumps(text)  # a double-quoted Python string literal, as ruff writes them


def _row_lines(row: Row) -> list[str]:
    items = [_q(row[0]), _q(row[1]), _q(row[2].label), _q(row[3])]
    one = f"    ({', '.join(items)}),"
    if len(one) <= LINE:
        return [one]
    return ["    ("] + [f"        {item}," for item in items] + ["    ),"]


def render(provider: Provider, rows: list[Row], url: str, version: str, date: str) -> str:
    counts = ", ".join(f"{lvl.label} {sum(1 for r in rows if r[2] is lvl)}" for lvl in Level if lvl is not R)
    head = [
        f'"""{provider.title}: request → level, GENERATED by connectors.rules.generate — do not edit by hand.',
        "",
        f"Source: {url}",
        f"Source version: {version}",
        f"Generated: {date}",
        f"Rows ({len(rows)}: {counts}): {provider.columns}.",
        "Only methods that change something are listed: a GET reads. How a source fact becomes a level is",
        "Breaker's rule, in connectors/rules/generate.py; docs/classification.md says how to regenerate.",
        '"""',
        "",
        f"SOURCE = {_q(url)}",
        f"VERSION = {_q(version)}",
        f"GENERATED = {_q(date)}",
        "ROWS = (",
    ]
    body = [line for row in rows for line in _row_lines(row)]
    return "\n".join([*head, *body, ")", ""])


def generate(name: str, raw: bytes, version: str | None, date: str, source_url: str | None = None) -> str:
    provider = PROVIDERS[name]
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise SourceError(f"the source is not JSON ({exc})") from None
    if version is None and provider.version is not None and isinstance(data, dict):
        version = provider.version(data)
    if not version:
        raise SourceError("this source does not name its version: give --version (the commit it was taken from)")
    rows = provider.rows(data)
    if not rows:
        raise SourceError("the source gave no rows")
    url = source_url or provider.url.format(version=version)
    return render(provider, rows, url, version, date)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m connectors.rules.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("provider", choices=sorted(PROVIDERS))
    parser.add_argument("--source", required=True, help="the source file, or its URL")
    parser.add_argument("--version", help="the source's commit or version (read from the source when it names one)")
    parser.add_argument("--source-url", help="the address to pin in the header (default: the provider's canonical one)")
    parser.add_argument("--date", default=datetime.now(UTC).date().isoformat(), help="YYYY-MM-DD (default: today)")
    parser.add_argument("--out", help="where to write (default: connectors/rules/generated/PROVIDER.py)")
    args = parser.parse_args(argv)
    try:
        text = generate(args.provider, read_source(args.source), args.version, args.date, args.source_url)
    except (OSError, SourceError) as exc:
        print(f"generate {args.provider}: {exc}", file=sys.stderr)
        return 1
    out = Path(args.out) if args.out else OUT_DIR / f"{args.provider}.py"
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out} ({text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
