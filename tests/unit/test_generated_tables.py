"""The pinned, generated request tables (connectors/rules/generated/) as the gateway reads them.

Each test here fails if a generated table were dropped (the requests below are decided by the
generated rows: the hand-written fallback alone says something else) or if Breaker's mapping
from a source fact to a level were loosened.
"""

from __future__ import annotations

import re

import pytest

from connectors import registry
from connectors.base import Level
from connectors.requests import Classification, Request, table_for
from connectors.rules.generated import github, google, microsoft, slack
from connectors.rules.routes import Routes

R, D, W, S, A = Level.READ, Level.DRAFT, Level.WRITE, Level.SEND, Level.ADMIN
HOSTS = {
    "github": "api.github.com",
    "google": "gmail.googleapis.com",
    "microsoft": "graph.microsoft.com",
    "slack": "slack.com",
}
GENERATED = {"github": github, "google": google, "microsoft": microsoft, "slack": slack}


def classify(provider: str, method: str, path: str) -> Classification:
    table = table_for(registry.get(provider))
    return table.classify(Request(method, HOSTS[provider], path))


@pytest.mark.parametrize("provider", sorted(GENERATED))
def test_each_generated_table_is_pinned_with_its_source_version_and_date(provider):
    module = GENERATED[provider]
    assert module.SOURCE.startswith("https://") and module.VERSION
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", module.GENERATED)
    assert len(module.ROWS) > 50
    table = table_for(registry.get(provider))
    assert table.pinned == module.GENERATED and module.SOURCE in table.sources
    for method, template, label, name in module.ROWS:
        assert method in ("POST", "PUT", "PATCH", "DELETE"), "a GET reads: tables list only changes"
        assert Level.parse(label) >= W or (provider, label) in (("google", "draft"), ("slack", "read"))
        assert name and (template.startswith("/") or provider == "slack")


# (provider, method, path, level, the source's permission or scope that decided it)
DECIDED_BY_THE_DATA = [
    ("github", "POST", "/repos/o/r/issues", W, "issues"),
    ("github", "POST", "/repos/o/r/forks", A, "administration"),  # the fallback says write
    ("github", "PUT", "/repos/o/r/environments/production", A, "administration"),
    ("github", "PUT", "/repos/o/r/environments/prod/secrets/TOKEN", A, "environments"),
    ("github", "POST", "/user/emails", A, "emails"),
    ("github", "POST", "/repos/o/r/actions/runs/42/approve", S, "actions"),
    ("github", "POST", "/repos/o/r/actions/workflows/ci.yml/dispatches", S, "actions"),
    ("github", "POST", "/repos/o/r/dispatches", S, "contents"),
    ("github", "PUT", "/repos/o/r/collaborators/mallory", A, "administration"),
    ("github", "POST", "/orgs/acme/invitations", A, "members"),
    ("github", "DELETE", "/repos/o/r/git/refs/main", W, "contents"),
    ("google", "POST", "/gmail/v1/users/me/drafts", D, "gmail.users.drafts.create"),
    ("google", "POST", "/upload/gmail/v1/users/me/drafts/send", S, "gmail.users.drafts.send"),
    ("google", "PUT", "/gmail/v1/users/me/settings/vacation", S, "gmail.users.settings.updateVacation"),
    ("google", "POST", "/gmail/v1/users/me/settings/sendAs/a@b.c/verify", A, "gmail.users.settings.sendAs.verify"),
    ("google", "POST", "/gmail/v1/users/me/messages/batchModify", W, "gmail.users.messages.batchModify"),
    ("microsoft", "POST", "/v1.0/me/sendMail", S, "Mail.Send"),
    ("microsoft", "POST", "/v1.0/users/u1/messages/m1/forward", S, "Mail.Send"),
    ("microsoft", "PATCH", "/v1.0/me/mailboxSettings", A, "MailboxSettings.ReadWrite"),
    ("microsoft", "DELETE", "/v1.0/me/drive/items/i1", W, "Files.ReadWrite"),
    ("microsoft", "POST", "/beta/me/events", W, "Calendars.ReadWrite"),
    ("microsoft", "POST", "/v1.0/chats/c1/messages", S, "ChatMessage.Send"),
    ("microsoft", "POST", "/v1.0/me/authentication/phoneMethods", A, "UserAuthenticationMethod.ReadWrite"),
    ("microsoft", "PATCH", "/v1.0/applications(appId='0a1b')", A, "Application.ReadWrite"),  # a variable inside
    ("slack", "POST", "/api/chat.postMessage", S, "chat:write"),
    ("slack", "POST", "/api/chat.update", S, "chat:write"),
    ("slack", "POST", "/api/dnd.teamInfo", R, "dnd:read"),
    ("slack", "POST", "/api/pins.add", W, "pins:write"),
]


@pytest.mark.parametrize("provider, method, path, level, name", DECIDED_BY_THE_DATA)
def test_known_endpoints_take_the_level_the_generated_table_gives(provider, method, path, level, name):
    found = classify(provider, method, path)
    assert found.level is level
    assert name in found.note  # decided by the generated row, which names the source's permission


def test_dropping_a_generated_table_changes_what_is_decided():
    # The same requests through each table without its routes: the hand-written fallback alone.
    for provider, method, path, _level, name in DECIDED_BY_THE_DATA:
        table = table_for(registry.get(provider))
        if table.routes is None:
            continue
        bare = type(table)(**{**table.__dict__, "routes": None})
        assert name not in bare.classify(Request(method, HOSTS[provider], path)).note


# Today's hand tables (before the generated ones) gave at least these levels: a floor the
# generated tables must never go under. (provider, method, path, lowest level allowed)
FLOOR = [
    ("github", "PATCH", "/repos/o/r", A),
    ("github", "DELETE", "/repos/o/r", A),
    ("github", "POST", "/repos/o/r/hooks", A),
    ("github", "PATCH", "/repos/o/r/hooks/1/config", A),
    ("github", "POST", "/repos/o/r/keys", A),
    ("github", "PUT", "/repos/o/r/branches/main/protection", A),
    ("github", "POST", "/repos/o/r/rulesets", A),
    ("github", "PUT", "/repos/o/r/actions/secrets/TOKEN", A),
    ("github", "PUT", "/repos/o/r/actions/permissions", A),
    ("github", "POST", "/repos/o/r/transfer", A),
    ("github", "PATCH", "/orgs/acme", A),
    ("github", "POST", "/orgs/acme/actions/variables", A),
    ("github", "POST", "/user/keys", A),
    ("github", "POST", "/user/gpg_keys", A),
    ("github", "DELETE", "/repos/o/r/collaborators/mallory", A),
    ("github", "POST", "/repos/o/r/actions/runs/1/rerun", S),
    ("github", "POST", "/repos/o/r/actions/runs/1/rerun-failed-jobs", S),
    ("github", "POST", "/repos/o/r/actions/jobs/1/rerun", S),
    ("github", "POST", "/repos/o/r/deployments", S),
    ("github", "POST", "/repos/o/r/issues/1/comments", W),
    ("github", "POST", "/gists", W),
    ("github", "PUT", "/user/starred/o/r", W),
    ("google", "POST", "/gmail/v1/users/me/messages/send", S),
    ("google", "POST", "/resumable/upload/gmail/v1/users/me/messages/send", S),
    ("google", "POST", "/gmail/v1/users/me/drafts/send", S),
    ("google", "POST", "/gmail/v1/users/me/settings/filters", A),
    ("google", "DELETE", "/gmail/v1/users/me/settings/filters/f1", A),
    ("google", "POST", "/gmail/v1/users/me/settings/forwardingAddresses", A),
    ("google", "PUT", "/gmail/v1/users/me/settings/autoForwarding", A),
    ("google", "PATCH", "/gmail/v1/users/me/settings/sendAs/a@b.c", A),
    ("google", "POST", "/gmail/v1/users/me/settings/delegates", A),
    ("google", "DELETE", "/gmail/v1/users/me/messages/m1", A),
    ("google", "DELETE", "/gmail/v1/users/me/threads/t1", A),
    ("google", "POST", "/gmail/v1/users/me/messages/batchDelete", A),
    ("google", "POST", "/upload/gmail/v1/users/me/messages/batchDelete", A),
    ("google", "POST", "/gmail/v1/users/me/messages", W),
    ("microsoft", "POST", "/v1.0/me/messages/m1/send", S),
    ("microsoft", "POST", "/v1.0/me/messages/m1/reply", S),
    ("microsoft", "POST", "/v1.0/me/mailFolders/inbox/messages/m1/send", S),
    ("microsoft", "POST", "/v1.0/teams/t1/channels/c1/messages", S),
    ("microsoft", "POST", "/v1.0/teams/t1/channels/c1/messages/m1/softDelete", S),
    ("microsoft", "POST", "/v1.0/me/mailFolders/inbox/messageRules", A),
    ("microsoft", "PATCH", "/v1.0/me/mailFolders/inbox/messageRules/r1", A),
    ("microsoft", "POST", "/v1.0/users", A),
    ("microsoft", "PATCH", "/v1.0/users/u1", A),
    ("microsoft", "POST", "/v1.0/users/u1/revokeSignInSessions", A),
    ("microsoft", "POST", "/v1.0/groups/g1/members/$ref", A),
    ("microsoft", "POST", "/v1.0/applications/a1/addPassword", A),
    ("microsoft", "POST", "/v1.0/servicePrincipals/s1/appRoleAssignments", A),
    ("microsoft", "POST", "/v1.0/identity/conditionalAccess/policies", A),
    ("microsoft", "PATCH", "/v1.0/me/messages/m1", W),
    ("slack", "POST", "/api/chat.postMessage", S),
    ("slack", "POST", "/api/chat.scheduleMessage", S),
    ("slack", "POST", "/api/conversations.invite", S),
    ("slack", "POST", "/api/files.completeUploadExternal", S),
    ("slack", "POST", "/api/reminders.add", S),
    ("slack", "POST", "/api/auth.revoke", A),
    ("slack", "POST", "/api/apps.uninstall", A),
    ("slack", "POST", "/api/team.accessLogs", A),
    ("slack", "POST", "/api/admin.users.invite", A),
    ("slack", "POST", "/api/files.upload", S),  # with `channels` it posts the file
]


@pytest.mark.parametrize("provider, method, path, lowest", FLOOR)
def test_the_generated_tables_are_never_looser_than_the_hand_tables_they_replaced(provider, method, path, lowest):
    assert classify(provider, method, path).level >= lowest


# The mapping rules, checked over every pinned row: a loosened rule in the generator shows here.


def test_github_rows_that_touch_access_keys_secrets_or_hooks_are_admin():
    for _method, template, label, permission in github.ROWS:
        if permission in ("administration", "repository_hooks", "secrets", "members", "keys", "gpg_keys"):
            assert label == "admin", template
        if re.search(r"/(hooks|keys|secrets|collaborators|protection)(/|$)", template) or template.startswith("/orgs/"):
            assert label == "admin", template
        if template.endswith("/dispatches"):
            assert label == "send", template


def test_gmail_rows_send_draft_and_admin_by_method():
    for _method, _template, label, method_id in google.ROWS:
        if method_id in ("gmail.users.messages.send", "gmail.users.drafts.send"):
            assert label == "send"
        elif method_id.startswith(("gmail.users.settings.filters.", "gmail.users.settings.forwardingAddresses.")):
            assert label == "admin"
        elif method_id.startswith("gmail.users.drafts."):
            assert label == "draft"
        else:
            assert label in ("write", "send", "admin")
    upload = {t for _m, t, _l, _i in google.ROWS if t.startswith(("/upload/", "/resumable/upload/"))}
    assert "/upload/gmail/v1/users/{userId}/messages/send" in upload
    assert "/resumable/upload/gmail/v1/users/{userId}/drafts/send" in upload


def test_graph_rows_by_least_privileged_permission():
    for _method, template, label, permission in microsoft.ROWS:
        if permission.startswith("Mail.Send") or permission.startswith("ChatMessage.Send"):
            assert label == "send", template
        if permission.startswith(("MailboxSettings.", "Directory.", "Application.", "RoleManagement.")):
            assert label == "admin", template
        if template.split("/")[1] in ("groups", "applications", "serviceprincipals", "policies", "identity"):
            assert label == "admin", template


def test_slack_rows_by_scope():
    for _method, name, label, scopes in slack.ROWS:
        if "chat:write" in scopes:
            assert label == "send", name
        if name.startswith("admin.") or scopes.split()[0].startswith("admin"):
            assert label == "admin", name
        if label == "read":
            assert all(re.search(r":(read|history)", s) for s in scopes.split()), name


# The lookup itself.


def test_routes_find_every_matching_template_and_the_highest_level_wins():
    routes = Routes(
        [
            ("POST", "/orgs/{org}/hooks", "admin", "hooks"),
            ("POST", "/orgs/{org}/{product}/{action}", "write", "security"),
            ("POST", "/orgs/{org}/teams", "write", "members"),
            ("PUT", "/a/{b}", "send", "x"),
            ("POST", "/apps(appid={value})/{id}:enable", "admin", "y"),
        ],
        prefixes=("v1",),
    )
    assert routes.lookup("POST", ("v1", "orgs", "acme", "hooks")).level is A
    assert routes.lookup("POST", ("v1", "orgs", "acme", "secret", "scanning")).level is W
    assert routes.lookup("POST", ("orgs", "acme", "teams")) is None  # the prefix is required
    assert routes.lookup("POST", ("v1", "orgs", "acme")) is None
    assert routes.lookup("GET", ("v1", "orgs", "acme", "hooks")) is None
    assert routes.lookup("PUT", ("v1", "a", "x/y")).level is S  # an encoded slash read as data: one segment
    assert routes.lookup("POST", ("v1", "orgs", "acme", "teams")).template == "POST /orgs/{org}/teams"
    assert routes.lookup("POST", ("v1", "apps(appid='a1')", "k1:enable")).level is A  # variables inside segments
    assert routes.lookup("POST", ("v1", "apps(appid=)", "k1:enable")) is None
    assert routes.lookup("POST", ("v1", "apps(appid='a1')", "k1:disable")) is None
    assert sorted(routes.examples()) == [
        ("POST", "/v1/orgs/x1/hooks"),
        ("POST", "/v1/orgs/x1/x1/x1"),
        ("PUT", "/v1/a/x1"),
    ]
