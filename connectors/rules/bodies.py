"""Bodies that decide a request's level: GraphQL documents, Gmail (multipart) and Graph (JSON) batches.

Each reader is strict: what it cannot read completely is refused (:class:`Refused`), never guessed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import urlsplit

from connectors.requests import Classification, Refused, Request, highest

MAX_BATCH_PARTS = 100  # Gmail and Graph both cap a batch well below this (100 and 20)

# -- GraphQL ------------------------------------------------------------------------------------

# https://spec.graphql.org/October2021/#sec-Language.Source-Text : tokens, comments, strings.
_TOKEN = re.compile(
    r'''(?P<ws>[\s,\ufeff]+)
      |(?P<comment>\#[^\n\r]*)
      |(?P<block>"""(?:\\"""|[^"]|"(?!""))*""")
      |(?P<string>"(?:\\.|[^"\\\n\r])*")
      |(?P<name>[_A-Za-z][_0-9A-Za-z]*)
      |(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      |(?P<spread>\.\.\.)
      |(?P<punct>[!$&()\:=@\[\]{|}])''',
    re.VERBOSE,
)
OPERATION_TYPES = ("query", "mutation", "subscription")


def graphql_lexemes(document: str) -> list[tuple[str, str]]:
    """(kind, text) of each significant token: kind is name, punct, spread, string, block or number
    (whitespace and comments dropped); refuses what does not lex."""
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(document):
        m = _TOKEN.match(document, pos)
        if m is None:
            raise Refused("the GraphQL document does not parse")
        kind = m.lastgroup
        if kind not in ("ws", "comment"):
            out.append((kind, m.group()))  # type: ignore[arg-type]
        pos = m.end()
    return out


def graphql_tokens(document: str) -> list[str]:
    """The significant tokens of a GraphQL document (comments and strings dropped); refuses what does not lex."""
    # a value (string, block string, number) is never a keyword, whatever it spells
    return [text if kind in ("name", "punct", "spread") else '""' for kind, text in graphql_lexemes(document)]


def graphql_operations(document: str) -> list[str]:
    """The type of every operation in the document ("query", "mutation", "subscription").

    Fragments are skipped; anything else at the top level (type-system definitions, stray
    tokens, unbalanced brackets) is refused. An anonymous ``{ … }`` is a query.
    """
    tokens = graphql_tokens(document)
    ops: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == '""':  # a description before a definition (GraphQL September 2025 allows them)
            i += 1
            continue
        if tok == "{":
            ops.append("query")
        elif tok in OPERATION_TYPES or tok == "fragment":
            if tok != "fragment":
                ops.append(tok)
            # skip name, variables and directives up to the selection set (brackets balanced)
            depth = 0
            i += 1
            while i < len(tokens) and not (tokens[i] == "{" and depth == 0):
                depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(tokens[i], 0)
                if depth < 0:
                    raise Refused("the GraphQL document does not parse")
                i += 1
            if i >= len(tokens):
                raise Refused("the GraphQL document does not parse")
        else:
            raise Refused(f"the GraphQL document holds a definition the gateway does not know ({tok[:20]!r})")
        # tokens[i] == "{": skip the balanced selection set
        depth = 0
        while i < len(tokens):
            if tokens[i] == "{":
                depth += 1
            elif tokens[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        if depth != 0:
            raise Refused("the GraphQL document does not parse")
        i += 1
    if not ops:
        raise Refused("the GraphQL document holds no operation")
    return ops


GRAPHQL_FIELDS = frozenset({"query", "variables", "operationName", "extensions"})


def graphql_body(body: bytes) -> list[str]:
    """Operation types in a GraphQL-over-HTTP JSON body (one request, or a list of them)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refused("the GraphQL body is not JSON") from None
    items = data if isinstance(data, list) else [data]
    if not items or len(items) > MAX_BATCH_PARTS:
        raise Refused("the GraphQL body holds no request, or too many")
    ops: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            raise Refused("the GraphQL body is not an object")
        unknown = set(item) - GRAPHQL_FIELDS
        if unknown:
            raise Refused(f"the GraphQL body has a field the gateway does not know ({sorted(unknown)[0][:30]!r})")
        query = item.get("query")
        if not isinstance(query, str):
            raise Refused("the GraphQL body has no query text (persisted queries are refused)")
        ops.extend(graphql_operations(query))
    return ops


# -- batches ------------------------------------------------------------------------------------

Classify = Callable[[Request], Classification]


def _sub_request(parent: Request, method: str, target: str, headers: dict[str, str], body: bytes, root: str) -> Request:
    """``target`` is absolute (its host must be the provider's), or relative to ``root``."""
    split = urlsplit(target)
    host = parent.host
    path = split.path
    if split.scheme or split.netloc:
        if split.scheme not in ("https", "http"):
            raise Refused("a batch part names a URL scheme the gateway does not know")
        host = split.hostname or ""
    else:
        path = f"{root.rstrip('/')}/{path.lstrip('/')}"
    return Request(method, host, path, split.query, headers, body)


def multipart_batch(request: Request, classify: Classify) -> Classification:
    """A Google batch (``multipart/mixed`` of ``application/http`` parts): every part classified, highest wins.

    https://developers.google.com/gmail/api/guides/batch
    """
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/mixed"):
        raise Refused("a batch request that is not multipart/mixed")
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + request.body
    )
    if not message.is_multipart() or message.defects:
        raise Refused("the batch body does not parse")
    parts = list(message.iter_parts())
    if not parts or len(parts) > MAX_BATCH_PARTS:
        raise Refused("the batch holds no part, or too many")
    found = []
    for part in parts:
        if part.get_content_type() != "application/http":
            raise Refused("a batch part is not application/http")
        payload = part.get_payload(decode=True) or b""
        head, _, body = payload.replace(b"\r\n", b"\n").partition(b"\n\n")
        lines = head.decode("latin-1").strip("\n").split("\n")
        words = lines[0].split()
        if len(words) not in (2, 3):
            raise Refused("a batch part's request line does not parse")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise Refused("a batch part's header does not parse")
            headers[name.strip().lower()] = value.strip()
        sub = _sub_request(request, words[0], words[1], headers, body, "/")
        if "batch" in sub.path.lower().split("/"):
            raise Refused("a batch inside a batch")
        found.append(classify(sub))
    best = highest(found)
    return Classification(best.level, f"{request.method} batch", best.template, tuple(found))


GRAPH_BATCH_FIELDS = frozenset({"id", "method", "url", "headers", "body", "dependsOn", "atomicityGroup"})


def json_batch(request: Request, classify: Classify, version: str) -> Classification:
    """A Microsoft Graph ``$batch``: every request classified, highest wins.

    https://learn.microsoft.com/graph/json-batching
    """
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise Refused("the batch body is not JSON") from None
    if not isinstance(data, dict) or set(data) != {"requests"} or not isinstance(data["requests"], list):
        raise Refused("the batch body is not {'requests': [...]}")
    items = data["requests"]
    if not items or len(items) > MAX_BATCH_PARTS:
        raise Refused("the batch holds no request, or too many")
    found = []
    for item in items:
        if not isinstance(item, dict) or set(item) - GRAPH_BATCH_FIELDS:
            raise Refused("a batch request has a field the gateway does not know")
        method, url = item.get("method"), item.get("url")
        headers = item.get("headers") or {}
        if not isinstance(method, str) or not isinstance(url, str) or not isinstance(headers, dict):
            raise Refused("a batch request has no method or url")
        body = item.get("body")
        raw = json.dumps(body).encode() if body is not None else b""
        lowered = {str(k).lower(): str(v) for k, v in headers.items()}
        sub = _sub_request(request, method, url, lowered, raw, f"/{version}")
        if "$batch" in sub.path.lower():
            raise Refused("a batch inside a batch")
        found.append(classify(sub))
    best = highest(found)
    return Classification(best.level, f"{request.method} /{version}/$batch", best.template, tuple(found))
