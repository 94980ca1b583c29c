"""Slack Web API: request → level, by method name (``/api/<method>``).

Methods are classified from the generated table :mod:`connectors.rules.generated.slack`, made by
``python -m connectors.rules.generate slack`` from the Web API's OpenAPI description
(``web-api/slack_web_openapi_v2.json`` in https://github.com/slackapi/slack-api-specs), by each
method's scopes: ``admin*`` scopes and ``admin.*`` methods are ``admin``; ``chat:write`` and
``reminders:write`` reach people (``send``); only ``:read``/``:history`` scopes read; anything
else is ``write``.

Written by hand here, from Slack's method reference (https://api.slack.com/methods) and scope list
(https://api.slack.com/scopes), checked 2026-12-04: the methods that description does not name or
gives no scope (it was last published in 2021: ``auth.test``, ``files.completeUploadExternal``,
``chat.startStream`` …), and a floor — where both name a method, the higher level wins. Slack
methods are read from the path, case-insensitively; a method neither names counts as ``write``.
"""

from __future__ import annotations

import re

from connectors.base import Level
from connectors.requests import Classification, Request, RequestTable, Sample, rule
from connectors.rules.generated import slack as generated

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
            "files.upload",  # (legacy) with `channels` it posts the file there: counted as posting always
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


GENERATED: dict[str, tuple[Level, str]] = {name: (Level.parse(lvl), scopes) for _m, name, lvl, scopes in generated.ROWS}


def method_level(request: Request, params: dict[str, str]) -> Classification:
    name = params["method"]
    template = f"{request.method} /api/{name}"
    if name.startswith("admin."):
        return Classification(A, template)
    found = GENERATED.get(name)
    hand = METHODS.get(name)
    if found is not None:
        level, scopes = found
        return Classification(max(level, hand) if hand is not None else level, template, scopes)
    if hand is not None:
        return Classification(hand, template)
    if READ_SUFFIX.search(name):
        return Classification(R, template)
    return Classification(W, f"{request.method} /api/(unmapped method)", "no entry in the table: counted as write")


TABLE = RequestTable(
    provider="slack",
    hosts=frozenset({"slack.com"}),
    sources=(generated.SOURCE, "https://api.slack.com/methods", "https://api.slack.com/scopes"),
    pinned=generated.GENERATED,
    rules=(rule("GET POST", "/api/{method}", method_level),),
    samples=tuple(
        Sample("POST", f"/api/{m}")
        for m in ("conversations.history", "pins.add", "chat.postMessage", "admin.users.list")
    ),
)
