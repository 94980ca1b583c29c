"""Gmail API: request → level, including the upload and batch variants.

The methods are classified from the generated table :mod:`connectors.rules.generated.google`, made
by ``python -m connectors.rules.generate google`` from the Gmail API's discovery document
(https://gmail.googleapis.com/$discovery/rest?version=v1, also shipped in google-api-python-client
as ``googleapiclient/discovery_cache/documents/gmail.v1.json``): every method that changes
something, at its path and at its ``/upload/…`` and ``/resumable/upload/…`` variants
(https://developers.google.com/gmail/api/guides/uploads). Breaker's rule (in the generator):
creating, changing and deleting drafts is ``draft``; sending a draft or a message, and automatic
replies, are ``send``; filters, forwarding, send-as aliases, delegates and permanent deletion are
``admin`` (a filter that forwards mail is the usual way to siphon a mailbox off).

Written by hand here: batches (https://developers.google.com/gmail/api/guides/batch), unpacked and
each part classified, the highest level winning; and, for paths the document does not name, the
Gmail API's GETs, which read, and the settings areas where any change is ``admin`` (checked
2026-12-04 against https://developers.google.com/gmail/api/reference/rest).
"""

from __future__ import annotations

from connectors.base import Level
from connectors.requests import Classification, Request, RequestTable, Rule, rule
from connectors.rules.bodies import multipart_batch
from connectors.rules.generated import google as generated
from connectors.rules.routes import Routes

R, S, A = Level.READ, Level.SEND, Level.ADMIN
WRITES = "POST PUT PATCH DELETE"
PREFIXES = ("", "/upload", "/resumable/upload")  # the same method at the three addresses
USER = "/gmail/v1/users/{user}"


def batch(request: Request, _params: dict[str, str]) -> Classification:
    return multipart_batch(request, TABLE.classify)


# For paths the discovery document does not name: the areas where any change is admin or send.
FLOOR: tuple[tuple[str, str, Level, str], ...] = (
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
    (WRITES, "/settings/vacation", S, "automatic replies go to whoever writes"),
    ("DELETE", "/messages/{id}", A, "deletes permanently"),
    ("DELETE", "/threads/{id}", A, "deletes permanently"),
    ("POST", "/messages/batchdelete", A, "deletes permanently"),
    ("GET HEAD", "", R, ""),
    ("GET HEAD", "/{rest*}", R, "the Gmail API's GETs read"),
)


def _fallback() -> tuple[Rule, ...]:
    return tuple(rule(m, prefix + USER + path, lvl, note) for prefix in PREFIXES for m, path, lvl, note in FLOOR)


TABLE = RequestTable(
    provider="google",
    hosts=frozenset({"gmail.googleapis.com", "www.googleapis.com"}),
    sources=(
        "https://gmail.googleapis.com/$discovery/rest?version=v1",
        "https://developers.google.com/gmail/api/reference/rest",
        "https://developers.google.com/gmail/api/guides/uploads",
        "https://developers.google.com/gmail/api/guides/batch",
    ),
    pinned=generated.GENERATED,
    rules=(rule("POST", "/batch/gmail/v1", batch), rule("POST", "/batch", batch)),
    routes=Routes(generated.ROWS),
    fallback=_fallback(),
)
