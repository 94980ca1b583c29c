"""Microsoft Graph: request → level (mail, chat, files, directory), with ``$batch`` unpacked.

Writes are classified from the generated table :mod:`connectors.rules.generated.microsoft`, made by
``python -m connectors.rules.generate microsoft`` from the permissions reference data
(https://learn.microsoft.com/graph/permissions-reference; machine-readable as
``permissions/new/permissions.json`` in https://github.com/microsoftgraph/microsoft-graph-devx-content):
each method and path at the level of its least-privileged permission — ``*.Send`` is ``send``;
mailbox settings, users, groups, applications, roles and policies are ``admin``; the rest ``write``.

Written by hand here (from the Graph v1.0 reference,
https://learn.microsoft.com/graph/api/overview?view=graph-rest-1.0, and JSON batching,
https://learn.microsoft.com/graph/json-batching; checked 2026-12-04): ``$batch``, unpacked;
Breaker's draft rule — creating a message, a reply or forward draft, or an attachment is ``draft``
(Graph's permission for it, Mail.ReadWrite, is broader); and the fallback for paths the data does
not name: GETs read; send, reply, forward, sendMail and chat or channel messages are ``send``;
inbox rules, mailbox settings and the directory are ``admin``; changing a message is ``write``.
"""

from __future__ import annotations

from connectors.base import Level
from connectors.requests import Classification, Request, RequestTable, Rule, Sample, rule
from connectors.rules.bodies import json_batch
from connectors.rules.generated import microsoft as generated
from connectors.rules.routes import Routes

R, D, W, S, A = Level.READ, Level.DRAFT, Level.WRITE, Level.SEND, Level.ADMIN
WRITES = "POST PUT PATCH DELETE"
VERSION = "~v1\\.0|beta"
OWNERS = ("/me", "/users/{user}")

# (methods, path below the mailbox owner, level, note)
MAILBOX: tuple[tuple[str, str, Level, str], ...] = (
    ("POST", "/sendmail", S, "sends a message"),
    ("POST", "/messages/{id}/send", S, "sends a draft"),
    ("POST", "/messages/{id}/reply", S, "sends a reply"),
    ("POST", "/messages/{id}/replyall", S, "sends a reply"),
    ("POST", "/messages/{id}/forward", S, "forwards"),
    ("POST", "/mailfolders/{folder}/messages/{id}/send", S, "sends a draft"),
    ("POST", "/messages", D, "creates a draft"),
    ("POST", "/mailfolders/{folder}/messages", D, "creates a draft"),
    ("POST", "/mailfolders/{folder}/messages/{id}/createreply", D, "creates a reply draft"),
    ("POST", "/mailfolders/{folder}/messages/{id}/createreplyall", D, "creates a reply draft"),
    ("POST", "/mailfolders/{folder}/messages/{id}/createforward", D, "creates a forward draft"),
    ("POST", "/mailfolders/{folder}/messages/{id}/attachments", D, "attaches to a draft"),
    ("POST", "/messages/{id}/createreply", D, "creates a reply draft"),
    ("POST", "/messages/{id}/createreplyall", D, "creates a reply draft"),
    ("POST", "/messages/{id}/createforward", D, "creates a forward draft"),
    ("POST", "/messages/{id}/attachments", D, "attaches to a draft"),
    (WRITES, "/mailfolders/{folder}/messagerules", A, "inbox rules can forward mail"),
    (WRITES, "/mailfolders/{folder}/messagerules/{rest*}", A, "inbox rules can forward mail"),
    (WRITES, "/mailboxsettings", A, "automatic forwarding and replies"),
    ("POST", "/chats/{chat}/messages", S, "posts to a chat"),
    ("POST", "/sendactivitynotification", S, ""),
    (WRITES, "/messages/{id}", W, "changes a message"),
    (WRITES, "/messages/{id}/{rest*}", W, ""),
    (WRITES, "/events", W, ""),
    (WRITES, "/events/{rest*}", W, ""),
    (WRITES, "/drive/{rest*}", W, ""),
)
DIRECTORY = (
    "/users",
    "/users/{user}",
    "/groups",
    "/groups/{rest*}",
    "/applications",
    "/applications/{rest*}",
    "/serviceprincipals",
    "/serviceprincipals/{rest*}",
    "/oauth2permissiongrants",
    "/oauth2permissiongrants/{rest*}",
    "/directoryroles/{rest*}",
    "/rolemanagement/{rest*}",
    "/identity/{rest*}",
    "/policies/{rest*}",
    "/users/{user}/revokesigninsessions",
)


# Graph addresses a folder inside a folder as ``mailFolders/{a}/childFolders/{b}``, to any depth
# (https://learn.microsoft.com/graph/api/mailfolder-list-childfolders, and the permissions data's
# ``/.../`` paths); folder ids are unique in the mailbox, so ``mailFolders/{b}`` is the same folder.
FOLDER_COLLECTIONS = frozenset({"mailfolders", "contactfolders"})


def as_folder(segments: tuple[str, ...]) -> tuple[str, ...] | None:
    """A nested folder's path read as the folder itself: ``…/mailfolders/a/childfolders/b/messages/m/send``
    → ``…/mailfolders/b/messages/m/send``, so a send, an inbox rule or a draft in a child folder is
    classified as it is in a top-level one; None when the path has no child folder in it."""
    out: list[str] = []
    i, end = 0, len(segments)
    while i < end:
        seg = segments[i]
        if seg == "childfolders" and i + 1 < end and len(out) >= 2 and out[-2] in FOLDER_COLLECTIONS:
            out[-1] = segments[i + 1]  # the child replaces its parent
            i += 2
            continue
        out.append(seg)
        i += 1
    return tuple(out) if len(out) != end else None


def batch(request: Request, params: dict[str, str]) -> Classification:
    return json_batch(request, TABLE.classify, params.get("version", "v1.0"))


def _drafts() -> tuple[Rule, ...]:
    """Read before the generated routes: Breaker's draft rule (the data says ``write``: Mail.ReadWrite)."""
    found = [rule("POST", "/{version}/$batch", batch)]
    for owner in OWNERS:
        for methods, path, level, note in MAILBOX:
            if level is D:
                found.append(rule(methods, "/" + VERSION + owner + path, level, note))
    # and anything posted under a channel message (replies, soft-deletes) reaches the channel
    found.append(rule("POST", "/" + VERSION + "/teams/{team}/channels/{channel}/messages/{rest*}", S, ""))
    return tuple(found)


def _rules() -> tuple[Rule, ...]:
    found = []
    for owner in OWNERS:
        for methods, path, level, note in MAILBOX:
            found.append(rule(methods, "/" + VERSION + owner + path, level, note))
    found.append(rule("POST", "/" + VERSION + "/teams/{team}/channels/{channel}/messages", S, "posts to a channel"))
    found.append(rule("POST", "/" + VERSION + "/teams/{team}/channels/{channel}/messages/{rest*}", S, ""))
    found.append(rule("POST", "/" + VERSION + "/chats/{chat}/messages", S, "posts to a chat"))
    for path in DIRECTORY:
        found.append(rule(WRITES, "/" + VERSION + path, A, "the directory"))
    found.append(rule("GET HEAD", "/" + VERSION + "/{rest*}", R, "Graph's GETs read"))
    return tuple(found)


TABLE = RequestTable(
    provider="microsoft",
    hosts=frozenset({"graph.microsoft.com"}),
    sources=(
        generated.SOURCE,
        "https://learn.microsoft.com/graph/permissions-reference",
        "https://learn.microsoft.com/graph/api/overview?view=graph-rest-1.0",
        "https://learn.microsoft.com/graph/json-batching",
    ),
    pinned=generated.GENERATED,
    rules=_drafts(),
    routes=Routes(generated.ROWS, prefixes=("v1.0", "beta")),
    fallback=_rules(),
    also_read=as_folder,
    samples=(
        Sample("GET", "/v1.0/me"),
        Sample("POST", "/v1.0/me/messages"),
        Sample("PATCH", "/v1.0/me/events/x1"),
        Sample("POST", "/v1.0/me/sendMail"),
        Sample("POST", "/v1.0/users"),
    ),
)
