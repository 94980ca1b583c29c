"""Request → level (connectors/requests.py, connectors/rules/) and mode × level (app/services/enforcement.py).

Everything here fails closed: each refusal case is a request that a laxer reading would let pass.
"""

from __future__ import annotations

import json

import pytest

from app.services.enforcement import AboveCeiling, Decision, check, decide
from connectors import registry
from connectors.base import Level, Mode
from connectors.requests import Refused, Request, normal_path, table_for

R, D, W, S, A = Level.READ, Level.DRAFT, Level.WRITE, Level.SEND, Level.ADMIN
HOSTS = {
    "github": "api.github.com",
    "google": "gmail.googleapis.com",
    "microsoft": "graph.microsoft.com",
    "slack": "slack.com",
    "openai": "api.openai.com",
    "anthropic": "api.anthropic.com",
}


def level(provider: str, method: str, path: str, body: bytes | dict | list = b"", headers=None) -> Level:
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    table = table_for(registry.get(provider))
    return table.classify(Request(method, HOSTS[provider], path, headers=headers or {}, body=body)).level


def refused(provider: str, method: str, path: str, body: bytes | dict = b"", headers=None) -> str:
    with pytest.raises(Refused) as exc:
        level(provider, method, path, body, headers)
    return str(exc.value)


# -- normalising ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("/Repos/O/R/Issues", "/repos/o/r/issues"),
        ("//repos///o/r/./issues/", "/repos/o/r/issues"),
        ("/repos/o/r/%69ssues", "/repos/o/r/issues"),
        ("/repos/o/r/%2569ssues", "/repos/o/r/issues"),  # encoded twice
        ("/repos\\o\\r\\issues", "/repos/o/r/issues"),
    ],
)
def test_paths_are_normalised_before_classifying(raw, expected):
    assert normal_path(raw) == expected


@pytest.mark.parametrize(
    "raw, why",
    [
        ("/repos/o/r/../../../user", ".."),
        ("/repos/o/r/%2e%2e/x", ".."),
        ("/repos/o/r/%252569ssues", "more than twice"),
        ("/repos/o/r/\x00", "control"),
        ("repos/o/r", "start with"),
        ("/repos/o/r/%ff", "UTF-8"),
    ],
)
def test_paths_that_cannot_be_read_safely_are_refused(raw, why):
    assert why in refused("github", "GET", raw)


def test_an_encoded_slash_is_read_both_ways_and_the_higher_level_wins():
    # As data, "x%2Fhooks" is one repository name (write); as a separator it is the hooks API (admin).
    assert level("github", "POST", "/repos/o/x%2Fhooks") == A


def test_method_override_counts_too():
    assert level("github", "GET", "/repos/o/r", headers={"x-http-method-override": "DELETE"}) == A
    assert level("google", "GET", "/gmail/v1/users/me/messages/send", headers={"x-http-method": "post"}) == S
    assert "does not know" in refused("github", "GET", "/user", headers={"x-method-override": "BREW"})


def test_unknown_method_and_unknown_host_are_refused():
    assert "does not know" in refused("github", "PROPFIND", "/user")
    table = table_for(registry.get("github"))
    with pytest.raises(Refused, match="not one of github's API hosts"):
        table.classify(Request("GET", "evil.example", "/user"))


# -- one request, one level ---------------------------------------------------------------------

LEVELS = [
    # case and encoding do not hide a write
    ("github", "POST", "/REPOS/o/r/ISSUES", W),
    ("github", "post", "/repos/o/r/%69ssues", W),
    ("github", "DELETE", "/repos/o/r", A),
    ("github", "DELETE", "/repos/o/r%2F", A),
    # an unmapped path on a known host is write
    ("github", "POST", "/something/new", W),
    ("google", "POST", "/gmail/v1/users/me/somethingnew", W),
    ("slack", "POST", "/api/brandnew.method", W),
    ("slack", "POST", "/nothing-like-slack", W),
    # GitHub REST
    ("github", "GET", "/repos/o/r/issues", R),
    ("github", "HEAD", "/user", R),
    ("github", "POST", "/repos/o/r/issues", W),
    ("github", "PATCH", "/repos/o/r/issues/1", W),
    ("github", "PUT", "/repos/o/r/contents/README.md", W),
    ("github", "POST", "/repos/o/r/actions/workflows/ci.yml/dispatches", S),
    ("github", "POST", "/repos/o/r/hooks", A),
    ("github", "PUT", "/repos/o/r/collaborators/mallory", A),
    # Gmail: drafts, and every way to send
    ("google", "GET", "/gmail/v1/users/me/messages", R),
    ("google", "POST", "/gmail/v1/users/me/drafts", D),
    ("google", "PUT", "/gmail/v1/users/me/drafts/r123", D),
    ("google", "POST", "/gmail/v1/users/me/drafts/send", S),
    ("google", "POST", "/gmail/v1/users/me/messages/send", S),
    ("google", "POST", "/upload/gmail/v1/users/me/drafts", D),
    ("google", "POST", "/upload/gmail/v1/users/me/messages/send", S),
    ("google", "POST", "/resumable/upload/gmail/v1/users/me/messages/send", S),
    ("google", "POST", "/resumable/upload/gmail/v1/users/me/drafts/send", S),
    # Gmail: filters, forwarding and deleting are admin
    ("google", "POST", "/gmail/v1/users/me/settings/filters", A),
    ("google", "POST", "/gmail/v1/users/me/settings/forwardingAddresses", A),
    ("google", "PUT", "/gmail/v1/users/me/settings/autoForwarding", A),
    ("google", "DELETE", "/gmail/v1/users/me/messages/abc", A),
    # Microsoft Graph mail
    ("microsoft", "GET", "/v1.0/me/messages", R),
    ("microsoft", "POST", "/v1.0/me/messages", D),
    ("microsoft", "POST", "/v1.0/me/messages/AAMk/createReply", D),
    ("microsoft", "POST", "/v1.0/me/messages/AAMk/send", S),
    ("microsoft", "POST", "/v1.0/users/a@b.c/sendMail", S),
    ("microsoft", "POST", "/beta/me/mailFolders/inbox/messageRules", A),
    ("microsoft", "PATCH", "/v1.0/me/mailboxSettings", A),
    ("microsoft", "PATCH", "/v1.0/me/messages/AAMk", W),
    # Slack, by method name
    ("slack", "POST", "/api/conversations.history", R),
    ("slack", "POST", "/api/auth.test", R),
    ("slack", "POST", "/api/chat.postMessage", S),
    ("slack", "POST", "/api/CHAT.POSTMESSAGE", S),
    ("slack", "POST", "/api/chat.update", S),  # by its scope, chat:write: the same power as posting
    ("slack", "POST", "/api/pins.add", W),
    ("slack", "POST", "/api/admin.users.invite", A),
    # model calls spend money
    ("openai", "GET", "/v1/models", R),
    ("openai", "POST", "/v1/chat/completions", S),
    ("openai", "POST", "/v1/files", W),
    ("anthropic", "POST", "/v1/messages", S),
    ("anthropic", "POST", "/v1/messages/count_tokens", R),
    ("anthropic", "GET", "/v1/models", R),
]


@pytest.mark.parametrize("provider, method, path, expected", LEVELS)
def test_the_level_of_a_request(provider, method, path, expected):
    assert level(provider, method, path) == expected


# -- GitHub ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        'mutation { addComment(input: {subjectId: "x", body: "hi"}) { clientMutationId } }',
        "# just a query\nmutation ReadOnlyViewer { deleteRepository(input: {}) { clientMutationId } }",
        'query A { viewer { login } }\nmutation B { addStar(input: {starrableId: "x"}) { clientMutationId } }',
        '"""a query"""\nmutation Q { createIssue(input: {}) { clientMutationId } }',
    ],
)
def test_a_graphql_mutation_is_never_a_read_whatever_its_name(query):
    assert level("github", "POST", "/graphql", {"query": query, "operationName": "ReadOnlyViewer"}) == W
    assert level("github", "POST", "/graphql", {"query": query, "operationName": "A"}) == W


def test_graphql_queries_read_even_when_strings_and_comments_say_mutation():
    body = {"query": '# mutation { x }\nquery Q { search(query: "mutation { a }", type: ISSUE) { issueCount } }'}
    assert level("github", "POST", "/graphql", body) == R
    assert level("github", "POST", "/graphql", {"query": "{ viewer { login } }"}) == R


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        {"query": "mutation { a "},  # unbalanced
        {"query": "type Query { a: Int }"},  # not an operation
        {"query": "{ a }", "somethingElse": 1},  # an unknown field
        {"extensions": {"persistedQuery": {"sha256Hash": "abc"}}},  # nothing to read
        {"query": ""},
    ],
)
def test_graphql_that_cannot_be_read_is_refused(body):
    refused("github", "POST", "/graphql", body)


# -- Gmail ----------------------------------------------------------------------------------------

BOUNDARY = "batch_foobarbaz"


def gmail_batch(*requests: str) -> tuple[bytes, dict]:
    parts = []
    for i, line in enumerate(requests):
        parts.append(
            f"--{BOUNDARY}\r\nContent-Type: application/http\r\nContent-ID: <item{i}>\r\n\r\n{line}\r\n\r\n".encode()
        )
    body = b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()
    return body, {"content-type": f"multipart/mixed; boundary={BOUNDARY}"}


def test_gmail_batch_is_unpacked_and_the_highest_level_wins():
    body, headers = gmail_batch(
        "GET /gmail/v1/users/me/messages/1", "POST /gmail/v1/users/me/drafts", "GET /gmail/v1/users/me/labels"
    )
    assert level("google", "POST", "/batch/gmail/v1", body, headers) == D
    body, headers = gmail_batch("GET /gmail/v1/users/me/messages/1", "POST /gmail/v1/users/me/messages/send HTTP/1.1")
    assert level("google", "POST", "/batch/gmail/v1", body, headers) == S
    body, headers = gmail_batch("POST https://gmail.googleapis.com/gmail/v1/users/me/drafts/send")
    assert level("google", "POST", "/batch/gmail/v1", body, headers) == S
    body, headers = gmail_batch("GET /gmail/v1/users/me/drafts\r\nX-HTTP-Method-Override: POST")
    assert level("google", "POST", "/batch/gmail/v1", body, headers) == D


def test_gmail_batch_that_cannot_be_read_is_refused():
    refused("google", "POST", "/batch/gmail/v1", b"whatever", {"content-type": "application/json"})
    body, headers = gmail_batch("GET https://evil.example/gmail/v1/users/me/messages")
    assert "not one of google's API hosts" in refused("google", "POST", "/batch/gmail/v1", body, headers)
    body, headers = gmail_batch("BREW /gmail/v1/users/me/messages")
    refused("google", "POST", "/batch/gmail/v1", body, headers)
    body, headers = gmail_batch("POST /batch/gmail/v1")
    refused("google", "POST", "/batch/gmail/v1", body, headers)


# -- Microsoft Graph ------------------------------------------------------------------------------


def test_graph_batch_is_unpacked():
    batch = {
        "requests": [
            {"id": "1", "method": "GET", "url": "/me/messages"},
            {"id": "2", "method": "POST", "url": "/me/sendMail", "body": {}, "headers": {"Content-Type": "x"}},
        ]
    }
    assert level("microsoft", "POST", "/v1.0/$batch", batch) == S
    assert level("microsoft", "POST", "/v1.0/$batch", {"requests": [{"id": "1", "method": "GET", "url": "me"}]}) == R
    refused("microsoft", "POST", "/v1.0/$batch", {"requests": [{"id": "1", "method": "GET", "url": "/me", "x": 1}]})
    refused("microsoft", "POST", "/v1.0/$batch", {"requests": []})
    refused("microsoft", "POST", "/v1.0/$batch", b"{")


NESTED = "/v1.0/me/mailFolders/AAMkA/childFolders/AAMkB/childFolders/AAMkC"


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        # a send or a forward from a folder inside a folder was "unmapped": write, under a write ceiling
        ("POST", NESTED + "/messages/AAMkM/send", S),
        ("POST", "/v1.0/users/a@b.c/mailFolders/inbox/childFolders/AAMkB/messages/AAMkM/forward", S),
        ("POST", NESTED + "/messages/AAMkM/replyAll", S),
        ("POST", NESTED + "/messageRules", A),  # an inbox rule can forward mail, at any depth
        ("PATCH", NESTED + "/messageRules/AQAAA", A),
        ("POST", NESTED + "/messages", D),  # a draft in a child folder is still a draft
        ("POST", NESTED + "/messages/AAMkM/createReply", D),
        ("POST", NESTED + "/messages/AAMkM/attachments", D),
        ("DELETE", NESTED + "/messages/AAMkM", W),
        ("DELETE", "/v1.0/me/contactFolders/A/childFolders/B/childFolders/C/contacts/D", W),
        ("POST", "/v1.0/me/mailFolders/AAMkA/childFolders", W),  # creates a folder: no child to read as
        ("GET", NESTED + "/messages", R),
    ],
)
def test_graph_nested_folders_are_read_as_the_folder_itself(method, path, expected):
    """Graph's ``childFolders`` go to any depth (the permissions data writes ``/.../``); a child folder's
    id is the folder's own, so its path is classified as ``mailFolders/{child}`` is."""
    assert level("microsoft", method, path) == expected


def test_graph_nested_folders_in_a_batch_are_read_the_same_way():
    batch = {"requests": [{"id": "1", "method": "POST", "url": "/me/mailFolders/a/childFolders/b/messages/m/send"}]}
    assert level("microsoft", "POST", "/v1.0/$batch", batch) == S


# -- Slack, OpenAI, Anthropic ---------------------------------------------------------------------


def test_every_builtin_provider_with_a_gateway_url_has_a_table_with_sources_and_a_date():
    for provider in registry.all_providers():
        if provider.gateway_url:
            table = table_for(provider)
            assert table is not None and table.provider == provider.name
            assert table.sources and all(s.startswith("https://") for s in table.sources)
            assert len(table.pinned) == 10


# -- mode × level ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode, allowed",
    [
        (Mode.FULL, {R, D, W, S, A}),
        (Mode.DRAFT_ONLY, {R, D}),
        (Mode.READ_ONLY, {R}),
        (Mode.DISABLED, set()),
    ],
)
def test_mode_by_level(mode, allowed):
    for lvl in Level:
        want = Decision.ALLOW if lvl in allowed else Decision.REFUSE
        assert decide(mode, lvl) is want
        asked = Decision.ALLOW if lvl in allowed else (Decision.REFUSE if mode is Mode.DISABLED else Decision.ASK)
        assert decide(mode, lvl, AboveCeiling.ASK) is asked


def test_check_names_connector_mode_and_level_in_the_problem():
    req = Request("POST", "gmail.googleapis.com", "/gmail/v1/users/me/messages/send")
    verdict = check("mail-bot", "google", Mode.DRAFT_ONLY, req)
    assert verdict.decision is Decision.REFUSE
    problem = verdict.problem()
    assert (problem["connector"], problem["mode"], problem["level"]) == ("mail-bot", "draft-only", "send")
    assert problem["status"] == 403 and problem["type"].endswith("above-mode")
    assert check("mail-bot", "google", Mode.DRAFT_ONLY, req, AboveCeiling.ASK).decision is Decision.ASK
    draft = Request("POST", "gmail.googleapis.com", "/gmail/v1/users/me/drafts")
    assert check("mail-bot", "google", Mode.DRAFT_ONLY, draft).decision is Decision.ALLOW


def test_check_fails_closed():
    bad = Request("POST", "api.github.com", "/graphql", body=b"nope")
    verdict = check("gh", "github", Mode.FULL, bad)
    assert verdict.decision is Decision.REFUSE and verdict.level is None
    assert verdict.problem()["level"] == "unknown"
    assert check("gh", "generic", Mode.FULL, Request("GET", "x", "/")).decision is Decision.REFUSE
    off = check("gh", "github", Mode.DISABLED, Request("GET", "api.github.com", "/user"), AboveCeiling.ASK)
    assert off.decision is Decision.REFUSE and off.problem()["type"].endswith("disabled")
