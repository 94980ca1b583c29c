"""The table generator (connectors/rules/generate.py) on tiny hand-made sources in each source's documented shape.

The samples are made up (paths and names in the sources' shape, not copied data); the pinned
tables made from the real sources are tested in test_generated_tables.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from connectors.base import Level
from connectors.requests import Request, RequestTable
from connectors.rules import generate
from connectors.rules.generate import SourceError
from connectors.rules.routes import Routes

R, D, W, S, A = Level.READ, Level.DRAFT, Level.WRITE, Level.SEND, Level.ADMIN


def levels(rows) -> dict[tuple[str, str], Level]:
    return {(m, t): lvl for m, t, lvl, _name in rows}


# -- GitHub: {permission: {"title", "permissions": [{"verb", "requestPath", "access", ...}]}} --------

GITHUB = {
    "issues": {
        "title": "Issues",
        "permissions": [
            {"verb": "get", "requestPath": "/repos/{owner}/{repo}/issues", "access": "read"},
            {"verb": "post", "requestPath": "/repos/{owner}/{repo}/issues", "access": "write"},
        ],
    },
    "repository_hooks": {
        "title": "Webhooks",
        "permissions": [{"verb": "post", "requestPath": "/repos/{owner}/{repo}/hooks", "access": "write"}],
    },
    "actions": {
        "title": "Actions",
        "permissions": [
            {
                "verb": "post",
                "requestPath": "/repos/{owner}/{repo}/actions/workflows/{id}/dispatches",
                "access": "write",
            }
        ],
    },
    "contents": {
        "title": "Contents",
        "permissions": [{"verb": "post", "requestPath": "/repos/{owner}/{repo}/forks", "access": "read"}],
    },
    "administration": {
        "title": "Administration",
        "permissions": [{"verb": "post", "requestPath": "/repos/{owner}/{repo}/forks", "access": "write"}],
    },
    "organization_projects": {
        "title": "Projects",
        "permissions": [{"verb": "post", "requestPath": "/orgs/{org}/projects", "access": "write"}],
    },
}


def test_github_rows_follow_breakers_mapping():
    rows = generate.github_rows(GITHUB)
    assert levels(rows) == {
        ("POST", "/repos/{owner}/{repo}/issues"): W,
        ("POST", "/repos/{owner}/{repo}/hooks"): A,  # hooks send data out: admin
        ("POST", "/repos/{owner}/{repo}/actions/workflows/{id}/dispatches"): S,  # runs a workflow
        ("POST", "/repos/{owner}/{repo}/forks"): A,  # needs administration as well as contents
        ("POST", "/orgs/{org}/projects"): A,  # anything changed in an organisation
    }
    # the permission that decided the level is kept; GETs are left out (a GET reads)
    assert ("POST", "/repos/{owner}/{repo}/forks", A, "administration") in rows
    assert all(m != "GET" for m, *_ in rows)


def test_a_read_access_on_a_method_that_changes_something_is_still_a_write():
    rows = generate.github_rows({"contents": GITHUB["contents"]})
    assert levels(rows) == {("POST", "/repos/{owner}/{repo}/forks"): W}


@pytest.mark.parametrize(
    "bad",
    [[], {}, {"issues": {"title": "x"}}, {"issues": {"permissions": [{"verb": "post"}]}}],
)
def test_github_source_in_another_shape_is_refused(bad):
    with pytest.raises(SourceError):
        generate.github_rows(bad)


# -- Google: a discovery document --------------------------------------------------------------------


def method(method_id: str, http: str, path: str, upload: bool = False) -> dict:
    found = {"id": method_id, "httpMethod": http, "path": path}
    if upload:
        found["mediaUpload"] = {
            "protocols": {
                "simple": {"path": "/upload/mail/v9/" + path.removeprefix("mail/v9/")},
                "resumable": {"path": "/resumable/upload/mail/v9/" + path.removeprefix("mail/v9/")},
            }
        }
    return found


DISCOVERY = {
    "kind": "discovery#restDescription",
    "revision": "20990101",
    "servicePath": "",
    "resources": {
        "users": {
            "resources": {
                "drafts": {
                    "methods": {
                        "create": method("gmail.users.drafts.create", "POST", "mail/v9/users/{userId}/drafts", True),
                        "send": method("gmail.users.drafts.send", "POST", "mail/v9/users/{userId}/drafts/send", True),
                        "list": method("gmail.users.drafts.list", "GET", "mail/v9/users/{userId}/drafts"),
                    }
                },
                "settings": {
                    "methods": {
                        "updateAutoForwarding": method(
                            "gmail.users.settings.updateAutoForwarding", "PUT", "mail/v9/users/{userId}/auto"
                        )
                    },
                    "resources": {
                        "filters": {
                            "methods": {
                                "create": method(
                                    "gmail.users.settings.filters.create", "POST", "mail/v9/users/{+userId}/filters"
                                )
                            }
                        }
                    },
                },
                "labels": {"methods": {"create": method("gmail.users.labels.create", "POST", "mail/v9/l")}},
            }
        }
    },
}


def test_google_rows_cover_the_upload_variants_and_the_mapping():
    rows = generate.google_rows(DISCOVERY)
    assert levels(rows) == {
        ("POST", "/mail/v9/users/{userId}/drafts"): D,
        ("POST", "/upload/mail/v9/users/{userId}/drafts"): D,
        ("POST", "/resumable/upload/mail/v9/users/{userId}/drafts"): D,
        ("POST", "/mail/v9/users/{userId}/drafts/send"): S,
        ("POST", "/upload/mail/v9/users/{userId}/drafts/send"): S,
        ("POST", "/resumable/upload/mail/v9/users/{userId}/drafts/send"): S,
        ("PUT", "/mail/v9/users/{userId}/auto"): A,
        ("POST", "/mail/v9/users/{userId}/filters"): A,  # {+userId} is one variable segment
        ("POST", "/mail/v9/l"): W,
    }
    assert generate.generate("google", json.dumps(DISCOVERY).encode(), None, "2099-01-02").count("revision 20990101")


def test_a_document_that_is_not_a_discovery_document_is_refused():
    with pytest.raises(SourceError, match="discovery"):
        generate.google_rows({"paths": {}})


# -- Microsoft Graph: {"permissions": {name: {"pathSets": [{"methods", "paths": {path: marks}}]}}} ----

GRAPH = {
    "permissions": {
        "Mail.Send": {"pathSets": [{"methods": ["POST"], "paths": {"/me/sendmail": "least=DelegatedWork"}}]},
        "Mail.ReadWrite": {
            "pathSets": [
                {
                    "methods": ["POST", "GET"],
                    "paths": {"/me/sendmail": "", "/me/messages": "least=Application", "/me/a/.../b": "least=x"},
                }
            ]
        },
        "Files.ReadWrite": {"pathSets": [{"methods": ["DELETE"], "paths": {"/me/drive/items/{id}": ""}}]},
        "Files.ReadWrite.All": {"pathSets": [{"methods": ["DELETE"], "paths": {"/me/drive/items/{id}": ""}}]},
        "User.ReadWrite.All": {"pathSets": [{"methods": ["PATCH"], "paths": {"/users/{id}": "least=Application"}}]},
        "Calendars.ReadWrite": {"pathSets": [{"methods": ["POST"], "paths": {"/groups/{id}/events": "least=x"}}]},
        "MailboxSettings.ReadWrite": {
            "pathSets": [{"methods": ["PATCH"], "paths": {"/me/mailboxsettings": "least=x"}}]
        },
        "Sites.ReadWrite.All": {"pathSets": [{"methods": ["POST"], "paths": {"/sites/{id}/lists": "least=x"}}]},
    }
}


def test_graph_rows_take_the_least_privileged_permission():
    rows = generate.graph_rows(GRAPH)
    assert levels(rows) == {
        ("POST", "/me/sendmail"): S,  # Mail.Send is the least-privileged one, not Mail.ReadWrite
        ("POST", "/me/messages"): W,
        ("DELETE", "/me/drive/items/{id}"): W,  # no least mark: every permission that grants it
        ("PATCH", "/users/{id}"): A,
        ("POST", "/groups/{id}/events"): A,  # a change below /groups is the directory's
        ("PATCH", "/me/mailboxsettings"): A,
    }  # GETs, "/.../" paths and areas the microsoft table does not cover are left out
    assert ("POST", "/me/sendmail", S, "Mail.Send") in rows


# -- Slack: the Web API's OpenAPI description --------------------------------------------------------


def op(*scopes: str) -> dict:
    return {"post": {"security": [{"slackAuth": list(scopes)}]}}


SLACK = {
    "paths": {
        "/chat.postMessage": op("chat:write:bot", "chat:write:user"),
        "/conversations.history": op("channels:history", "groups:history"),
        "/users.list": op("users:read"),
        "/pins.add": op("pins:write"),
        "/team.accessLogs": op("admin"),
        "/admin.users.list": op("admin.users:read"),
        "/auth.test": op("none"),
        "/api.test": {"post": {}},
    }
}


def test_slack_rows_go_by_scope_and_leave_scopeless_methods_to_the_hand_table():
    rows = generate.slack_rows(SLACK)
    assert levels(rows) == {
        ("POST", "chat.postmessage"): S,
        ("POST", "conversations.history"): R,
        ("POST", "users.list"): R,
        ("POST", "pins.add"): W,
        ("POST", "team.accesslogs"): A,
        ("POST", "admin.users.list"): A,
    }


# -- the written module --------------------------------------------------------------------------------


def test_the_written_table_names_its_source_version_and_date_and_holds_only_facts(tmp_path):
    text = generate.generate("github", json.dumps(GITHUB).encode(), "0123abcd", "2099-01-02")
    namespace: dict = {}
    exec(compile(text, "generated.py", "exec"), namespace)
    assert namespace["SOURCE"] == (
        "https://github.com/github/docs/blob/0123abcd/src/github-apps/data/fpt-2022-11-28/fine-grained-pat-permissions.json"
    )
    assert namespace["VERSION"] == "0123abcd" and namespace["GENERATED"] == "2099-01-02"
    assert ("POST", "/repos/{owner}/{repo}/hooks", "admin", "repository_hooks") in namespace["ROWS"]
    assert "Issues" not in text and "Webhooks" not in text  # the source's titles (prose) are not copied
    # the rows work as a table
    table = RequestTable("github", frozenset({"h"}), (), ("https://x",), "2099-01-02", routes=Routes(namespace["ROWS"]))
    assert table.classify(Request("POST", "h", "/repos/O/R/HOOKS")).level is A
    assert table.classify(Request("POST", "h", "/repos/o/r/issues")).note == "issues"


def test_the_written_table_is_as_ruff_formats_it():
    rows = [("DELETE", "/a/{b}/" + "c" * 110, A, "x"), ("POST", "/a", W, "y")]
    text = generate.render(generate.PROVIDERS["github"], rows, "https://example.test/src", "v1", "2099-01-02")
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", "generated.py", "-"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout == text


def test_a_source_without_a_version_needs_one_given():
    with pytest.raises(SourceError, match="--version"):
        generate.generate("github", json.dumps(GITHUB).encode(), None, "2099-01-02")
    with pytest.raises(SourceError, match="not JSON"):
        generate.generate("github", b"<html>", "v", "2099-01-02")


def test_main_writes_the_table_or_says_in_one_line_why_not(tmp_path, capsys):
    source = tmp_path / "slack.json"
    source.write_text(json.dumps(SLACK))
    out = tmp_path / "slack_table.py"
    assert generate.main(["slack", "--source", str(source), "--version", "abc", "--out", str(out)]) == 0
    assert '("POST", "chat.postmessage", "send", "chat:write:bot chat:write:user"),' in out.read_text()
    assert generate.main(["slack", "--source", str(tmp_path / "missing.json"), "--version", "abc"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("generate slack:") and "\n" not in err
