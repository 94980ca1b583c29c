"""Slack Web API: request → level, by method name (``/api/<method>``).

Written from Slack's method reference (https://api.slack.com/methods, each method's page names
its scopes) and the scope list (https://api.slack.com/scopes). Checked 2026-12-04. Slack
methods are read from the path, case-insensitively; a method the table does not name counts as
``write``. Posting, scheduling and sharing reach people (``send``); ``admin.*`` is ``admin``.
"""

from __future__ import annotations

import re

from connectors.base import Level
from connectors.requests import Classification, Request, RequestTable, Sample, rule

R, D, W, S, A = Level.READ, Level.DRAFT, Level.WRITE, Level.SEND, Level.ADMIN

METHODS: dict[str, Level] = {
    **dict.fromkeys(
        (
            "auth.test",
            "api.test",
            "search.messages",
            "search.files",
            "search.all",
            "bots.info",
            "emoji.list",
            "team.info",
            "team.profile.get",
        ),
        R,
    ),
    **dict.fromkeys(
        (
            "chat.postmessage",
            "chat.postephemeral",
            "chat.schedulemessage",
            "chat.memessage",
            "chat.startstream",
            "chat.appendstream",
            "chat.stopstream",
            "files.completeuploadexternal",  # shares the file to channels
            "files.sharedpublicurl",
            "conversations.invite",
            "conversations.inviteshared",
            "reminders.add",
            "workflows.triggers.permissions.add",
        ),
        S,
    ),
    **dict.fromkeys(
        (
            "chat.update",
            "chat.delete",
            "chat.deletescheduledmessage",
            "chat.unfurl",
            "files.upload",
            "files.getuploadurlexternal",
            "files.delete",
            "reactions.add",
            "reactions.remove",
            "pins.add",
            "pins.remove",
            "bookmarks.add",
            "bookmarks.edit",
            "bookmarks.remove",
            "conversations.create",
            "conversations.archive",
            "conversations.unarchive",
            "conversations.rename",
            "conversations.settopic",
            "conversations.setpurpose",
            "conversations.join",
            "conversations.leave",
            "conversations.kick",
            "conversations.mark",
            "conversations.open",
            "conversations.close",
            "users.profile.set",
            "users.setpresence",
            "dnd.setsnooze",
            "dnd.endsnooze",
            "dnd.enddnd",
            "reminders.delete",
            "reminders.complete",
            "usergroups.create",
            "usergroups.update",
            "usergroups.users.update",
        ),
        W,
    ),
    **dict.fromkeys(("auth.revoke", "apps.uninstall", "team.accesslogs", "team.billableinfo"), A),
}
READ_SUFFIX = re.compile(r"\.(list|info|history|replies|members|get[a-z]*|lookup[a-z]*|count[a-z]*)$")


def method_level(request: Request, params: dict[str, str]) -> Classification:
    name = params["method"]
    template = f"{request.method} /api/{name}"
    if name.startswith("admin."):
        return Classification(A, template)
    if name in METHODS:
        return Classification(METHODS[name], template)
    if READ_SUFFIX.search(name):
        return Classification(R, template)
    return Classification(W, f"{request.method} /api/(unmapped method)", "no entry in the table: counted as write")


TABLE = RequestTable(
    provider="slack",
    hosts=frozenset({"slack.com"}),
    sources=("https://api.slack.com/methods", "https://api.slack.com/scopes"),
    pinned="2026-12-04",
    rules=(rule("GET POST", "/api/{method}", method_level),),
    samples=tuple(
        Sample("POST", f"/api/{m}")
        for m in ("conversations.history", "chat.update", "chat.postMessage", "admin.users.list")
    ),
)
