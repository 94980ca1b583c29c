"""Gmail API: request → level, including the upload and batch variants.

Written from the Gmail API reference (https://developers.google.com/gmail/api/reference/rest,
whose machine-readable form is the discovery document
https://gmail.googleapis.com/$discovery/rest?version=v1), the upload guide
(https://developers.google.com/gmail/api/guides/uploads: ``/upload/…`` and ``/resumable/upload/…``
variants of the same methods) and the batch guide
(https://developers.google.com/gmail/api/guides/batch). Checked 2026-12-04.

Creating, changing and deleting drafts is ``draft``; sending a draft or a message is ``send``;
filters, forwarding, send-as aliases and delegates are ``admin`` (a filter that forwards mail is
the usual way to siphon a mailbox off); permanent deletion is ``admin`` (it needs the full-mailbox
scope). A batch is unpacked and each part classified: the highest level wins.
"""

from __future__ import annotations

from connectors.base import Level
from connectors.requests import Classification, Request, RequestTable, Rule, rule
from connectors.rules.bodies import multipart_batch

R, D, W, S, A = Level.READ, Level.DRAFT, Level.WRITE, Level.SEND, Level.ADMIN
WRITES = "POST PUT PATCH DELETE"
PREFIXES = ("", "/upload", "/resumable/upload")  # the same method at the three addresses
USER = "/gmail/v1/users/{user}"

# (methods, path below /gmail/v1/users/{user}, level, note)
METHODS: tuple[tuple[str, str, Level, str], ...] = (
    ("POST", "/drafts/send", S, "sends a draft"),
    ("POST", "/messages/send", S, "sends a message"),
    ("POST", "/drafts", D, "creates a draft"),
    ("PUT", "/drafts/{id}", D, "replaces a draft"),
    ("DELETE", "/drafts/{id}", D, "deletes a draft"),
    (WRITES, "/settings/filters", A, "mail filters can forward mail elsewhere"),
    (WRITES, "/settings/filters/{rest*}", A, "mail filters can forward mail elsewhere"),
    (WRITES, "/settings/forwardingaddresses", A, "forwarding"),
    (WRITES, "/settings/forwardingaddresses/{rest*}", A, "forwarding"),
    (WRITES, "/settings/autoforwarding", A, "forwarding"),
    (WRITES, "/settings/sendas", A, "send-as aliases"),
    (WRITES, "/settings/sendas/{rest*}", A, "send-as aliases"),
    (WRITES, "/settings/delegates", A, "delegates"),
    (WRITES, "/settings/delegates/{rest*}", A, "delegates"),
    (WRITES, "/settings/cse/{rest*}", A, "encryption identities"),
    ("PUT", "/settings/vacation", S, "automatic replies go to whoever writes"),
    ("PUT", "/settings/imap", W, ""),
    ("PUT", "/settings/pop", W, ""),
    ("PUT", "/settings/language", W, ""),
    ("DELETE", "/messages/{id}", A, "deletes permanently"),
    ("DELETE", "/threads/{id}", A, "deletes permanently"),
    ("POST", "/messages/batchdelete", A, "deletes permanently"),
    ("POST", "/messages", W, "inserts a message into the mailbox"),
    ("POST", "/messages/import", W, "imports a message into the mailbox"),
    ("POST", "/messages/batchmodify", W, ""),
    ("POST", "/messages/{id}/modify", W, ""),
    ("POST", "/messages/{id}/trash", W, ""),
    ("POST", "/messages/{id}/untrash", W, ""),
    ("POST", "/threads/{id}/modify", W, ""),
    ("POST", "/threads/{id}/trash", W, ""),
    ("POST", "/threads/{id}/untrash", W, ""),
    (WRITES, "/labels", W, ""),
    (WRITES, "/labels/{id}", W, ""),
    ("POST", "/watch", W, "push notifications"),
    ("POST", "/stop", W, "push notifications"),
    ("GET HEAD", "", R, ""),
    ("GET HEAD", "/{rest*}", R, "the Gmail API's GETs read"),
)


def batch(request: Request, _params: dict[str, str]) -> Classification:
    return multipart_batch(request, TABLE.classify)


def _rules() -> tuple[Rule, ...]:
    found = [rule("POST", "/batch/gmail/v1", batch), rule("POST", "/batch", batch)]
    for prefix in PREFIXES:
        for methods, path, level, note in METHODS:
            found.append(rule(methods, prefix + USER + path, level, note))
    return tuple(found)


TABLE = RequestTable(
    provider="google",
    hosts=frozenset({"gmail.googleapis.com", "www.googleapis.com"}),
    sources=(
        "https://developers.google.com/gmail/api/reference/rest",
        "https://gmail.googleapis.com/$discovery/rest?version=v1",
        "https://developers.google.com/gmail/api/guides/uploads",
        "https://developers.google.com/gmail/api/guides/batch",
    ),
    pinned="2026-12-04",
    rules=_rules(),
)
