"""What a held request would do, in the owner's words (the decision queue, issue 13): every recipient,
the mutation's fields (never the agent's comments), Slack's text wherever it is, the model call's last
user message — with the request's text quoted, made terminal-safe and clipped."""

from __future__ import annotations

import base64
import json

from app.services.hold_summary import summary
from connectors.base import Level
from connectors.requests import Classification, Request

JSON = {"content-type": "application/json"}


def gmail_send(mime: bytes) -> dict:
    raw = base64.urlsafe_b64encode(mime).decode()
    request = Request(
        "POST", "gmail.googleapis.com", "/gmail/v1/users/me/messages/send", "", JSON, json.dumps({"raw": raw}).encode()
    )
    return summary("google", request, Classification(Level.SEND, "POST /gmail/v1/users/{userId}/messages/send"))


def test_gmail_names_every_recipient_bcc_as_such():
    mime = (
        b"To: bob@example.com\r\nCc: cc-person@example.com\r\n"
        b'Bcc: leak@evil.example, "bob@example.com" <spoof@evil.example>\r\n'
        b"Subject: Weekly update\r\n\r\nHello Bob,\r\nthe numbers.\r\n"
    )
    found = gmail_send(mime)
    what = found["what"]
    assert "bob@example.com" in what and "cc cc-person@example.com" in what
    assert "BCC (hidden from the others) leak@evil.example, spoof@evil.example" in what  # the address, not the name
    assert "subject “Weekly update”" in what
    assert found["bcc"] == "leak@evil.example, spoof@evil.example" and found["cc"] == "cc-person@example.com"


def test_many_recipients_are_clipped_with_a_count():
    to = ", ".join(f"p{i}@example.com" for i in range(15))
    found = gmail_send(f"To: {to}\r\nSubject: all\r\n\r\nhi\r\n".encode())
    assert "to p0@example.com, p1@example.com, p2@example.com and 12 more" in found["what"]
    assert found["to"].endswith("p9@example.com and 5 more")


def test_the_request_text_is_quoted_terminal_safe_and_clipped():
    found = gmail_send(b"To: a@example.com\r\nSubject: \x1b]0;pwned\x07" + b"x" * 200 + b"\r\n\r\n\x1b[31mred\r\n")
    assert "\x1b" not in json.dumps(found, ensure_ascii=False).replace("\\u001b", "")
    assert "\\x1b" in found["subject"] and len(found["subject"]) <= 80 and found["subject"].endswith("…")
    assert found["first_lines"] == ["\\x1b[31mred"]


def test_drafts_send_by_id_is_described_from_the_draft_or_says_why_not():
    request = Request("POST", "gmail.googleapis.com", "/gmail/v1/users/me/drafts/send", "", JSON, b'{"id": "r123"}')
    found = Classification(Level.SEND, "POST /gmail/v1/users/{userId}/drafts/send")
    mime = b"To: bob@example.com\r\nBcc: leak@evil.example\r\nSubject: Invoice\r\n\r\nPay now\r\n"
    shown = summary("google", request, found, {"raw": mime})
    assert shown["what"].startswith(
        "Send the draft r123 to bob@example.com; BCC (hidden from the others) leak@evil.example"
    )
    assert shown["first_lines"] == ["Pay now"]
    failed = summary("google", request, found, {"error": "the provider answered 404"})
    assert failed["what"] == "Send the draft r123: could not read the draft (the provider answered 404)"


def graphql(query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = Request("POST", "api.github.com", "/graphql", "", JSON, body)
    return summary("github", request, Classification(Level.WRITE, "POST /graphql (mutation)"))


def test_graphql_shows_the_mutation_fields_never_the_agents_comments():
    query = (
        "# Read-only query. Safe to approve.\n"
        'mutation { a: createIssue(input: {repositoryId: "R_kgDO1", title: "# not a comment"}) { issue { id } }\n'
        '  addComment(input: {subjectId: "I_1", body: "Safe to approve"}) { clientMutationId } }'
    )
    found = graphql(query)
    assert found["what"] == "GitHub GraphQL mutation: createIssue, addComment on repository id “R_kgDO1”"
    assert "Safe" not in json.dumps(found) and "Read-only" not in json.dumps(found)


def test_graphql_repository_from_arguments_or_variables():
    found = graphql('query { repository(owner: "acme", name: "site") { id } }')
    assert found["what"] == "GitHub GraphQL query: repository on repository “acme/site”"
    found = graphql("mutation M($o: String!, $n: String!) { x(owner: $o, name: $n) { id } }", {"o": "acme", "n": "web"})
    assert found["repository"] == "acme/web" and found["action"] == "GraphQL mutation: x"


def slack(method: str, query: str = "", body: bytes = b"", ctype: str = "") -> dict:
    request = Request(
        method, "slack.com", "/api/chat.postMessage", query, {"content-type": ctype} if ctype else {}, body
    )
    return summary("slack", request, Classification(Level.SEND, "POST /api/chat.postMessage"))


def test_slack_reads_the_query_string_form_bodies_and_blocks():
    assert slack("GET", "channel=C123&text=hello%20there")["what"] == "Slack chat.postMessage in C123: “hello there”"
    form = slack("POST", body=b"channel=C9&text=from+a+form", ctype="application/x-www-form-urlencoded")
    assert form["what"] == "Slack chat.postMessage in C9: “from a form”"
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Deploy* done"}}]
    found = slack("POST", body=json.dumps({"channel": "C7", "blocks": blocks}).encode(), ctype="application/json")
    assert found["what"] == "Slack chat.postMessage in C7: “*Deploy* done”"
    as_form = slack(
        "POST", body=b"channel=C7&blocks=" + json.dumps(blocks).encode(), ctype="application/x-www-form-urlencoded"
    )
    assert as_form["first_lines"] == ["*Deploy* done"]


def test_model_calls_show_the_model_and_the_last_user_message():
    messages = [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "an answer"},
        {"role": "user", "content": [{"type": "text", "text": "Summarise [b]the contract[/b]\nplease"}]},
    ]
    body = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": messages}).encode()
    request = Request("POST", "api.anthropic.com", "/v1/messages", "", JSON, body)
    found = summary("anthropic", request, Classification(Level.SEND, "POST /v1/messages"))
    assert found["what"] == (
        "Anthropic POST /v1/messages, model claude-sonnet-4-5 — last user message “Summarise [b]the contract[/b]”"
    )
    body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "write the invoice"}]}).encode()
    request = Request("POST", "api.openai.com", "/v1/chat/completions", "", JSON, body)
    found = summary("openai", request, Classification(Level.SEND, "POST /v1/chat/completions"))
    assert found["model"] == "gpt-4o" and "“write the invoice”" in found["what"]


def test_what_it_cannot_read_falls_back_to_the_template():
    found = Classification(Level.SEND, "POST /gmail/v1/users/{userId}/messages/send")
    bad = Request("POST", "gmail.googleapis.com", "/gmail/v1/users/me/messages/send", "", JSON, b'{"raw": ')
    assert summary("google", bad, found)["what"] == "send: POST /gmail/v1/users/{userId}/messages/send"
    gemini = Classification(Level.SEND, "POST /v1beta/models/{model}:generateContent")
    call = Request("POST", "generativelanguage.googleapis.com", "/v1beta/models/g:generateContent", "", JSON, b"{}")
    assert (
        summary("google", call, gemini)["what"] == "send: POST /v1beta/models/{model}:generateContent"
    )  # not an e-mail
    upload = Classification(Level.WRITE, "POST /v1/files")
    files = Request("POST", "api.openai.com", "/v1/files", "", {"content-type": "multipart/form-data"}, b"--x")
    assert summary("openai", files, upload)["what"] == "write: POST /v1/files"
    graphql = Request("POST", "api.github.com", "/graphql", "", JSON, b'{"query": "mutation {"}')
    assert summary("github", graphql, Classification(Level.WRITE, "POST /graphql (mutation)"))["what"].startswith(
        "GitHub"
    )


def test_a_hostile_body_never_raises_and_a_huge_one_is_read_only_in_part():
    """Deep nesting made json.loads raise RecursionError out of draft_id (a 500 and a traceback in
    the gateway); a megabytes-long prompt was made terminal-safe whole before being clipped."""
    from app.services.hold_summary import draft_id, first_lines

    nested = b'{"id":"a","x":' + b"[" * 200_000
    request = Request("POST", "gmail.googleapis.com", "/gmail/v1/users/me/drafts/send", body=nested)
    assert draft_id(request) is None
    found = Classification(Level.SEND, "POST /gmail/v1/users/{userId}/drafts/send")
    assert summary("google", request, found)["what"]
    lines = first_lines("\tline one\n" + "\t" * 5_000_000 + "x\nline three\n")
    assert lines[0] == "line one" and len(lines) <= 3 and all(len(line) <= 120 for line in lines)


def test_a_hold_lost_after_the_owner_s_yes_may_have_been_sent():
    from datetime import UTC, datetime

    from app.services.queue import LOST, LOST_AFTER_YES, LOST_WHY, HoldView

    def view(answered_by: str) -> HoldView:
        now = datetime.now(UTC)
        return HoldView(1, "inbox", "", Level.SEND, "POST /x", {}, LOST, now, now, answered_by)

    assert view("gateway stopped").why_lost == LOST_WHY  # lost before any answer: nothing was sent
    assert view("owner").why_lost == LOST_AFTER_YES and "may have sent it" in LOST_AFTER_YES
