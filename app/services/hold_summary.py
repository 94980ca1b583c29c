"""What a held request would do, in the owner's words (the decision queue, issue 13).

Everything taken from the request is the agent's text, possibly hostile: it is made safe for a
terminal (control characters, bidi overrides: :func:`connectors.textsafe.plain`), clipped, and put
inside quotation marks (“…”) so it never reads as Breaker's own words. The screens escape markup on
top of that. Field and method names come from the request too, but only after checking they are
plain identifiers.

- Gmail: every recipient (To, Cc and Bcc — Bcc named as such: hidden recipients are the classic way
  to copy mail out), the Subject and the first lines of the plain-text body, decoded from the MIME
  message. ``drafts.send`` with only a draft ID is described from the draft itself, which the
  gateway reads first (:func:`app.gateway.queue.read_draft`); when it cannot, the summary says why.
- Slack: the method, channel and text — from a JSON body, a form body or the query string; the text
  of ``blocks`` (section, header, markdown, context) when there is no ``text``.
- GitHub: the repository and action; for GraphQL the operation type, the top-level fields (e.g.
  ``mutation: createIssue, addComment``) and the repository/owner arguments — never the document's
  comments or other string literals.
- Anthropic and OpenAI: the model and the first lines of the last user message.
"""

from __future__ import annotations

import base64
import json
import re
from email import message_from_bytes, policy
from email.utils import getaddresses
from urllib.parse import parse_qs

from connectors.requests import Classification, Request
from connectors.rules.bodies import graphql_lexemes
from connectors.textsafe import plain

MAX_LINES = 3
LINE_CHARS = 120  # one line of the request's text
SUBJECT_CHARS = 80
ADDRESS_CHARS = 80
RECIPIENTS_SHOWN = 3  # in the one-line summary, per field; the detail shows up to RECIPIENTS_LISTED
RECIPIENTS_LISTED = 10
NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,80}\Z")
MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,59}\Z")
SLACK_METHOD = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,60}\Z")


def clip(text: str, limit: int) -> str:
    """``text`` safe for a terminal, on one line, at most ``limit`` characters (… when cut)."""
    text = str(text)[: limit * 8]  # a bounded prefix: a held body may be megabytes, only ``limit`` is shown
    safe = " ".join(plain(text).split())
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"


def quoted(text: str, limit: int = LINE_CHARS) -> str:
    """The request's own text, marked as such."""
    return f"“{clip(text, limit)}”"


def first_lines(text: str) -> list[str]:
    lines = str(text)[: MAX_LINES * LINE_CHARS * 16].splitlines()  # a bounded prefix of a body of any size
    return [clip(line, LINE_CHARS) for line in lines if line.strip()][:MAX_LINES]


def summary(provider: str, request: Request, found: Classification, draft: dict | None = None) -> dict:
    """What the request would do. Never a key; at most a few short, clipped lines of the content.
    ``draft``: for Gmail's drafts.send by ID, ``{"raw": bytes}`` (the draft as the gateway read it)
    or ``{"error": why}``."""
    try:
        if provider == "google" and "/gmail/" in request.path.lower():
            return _gmail(request, found, draft)
        if provider == "slack":
            return _slack(request, found)
        if provider == "github":
            return _github(request, found)
        if provider in ("anthropic", "openai"):
            return _model_call(provider, request, found)
    except Exception:
        pass
    return {"what": f"{found.label}: {found.template}"}


def _json(request: Request) -> dict:
    if "json" in request.headers.get("content-type", "") or request.body[:1] == b"{":
        data = json.loads(request.body or b"{}")
        return data if isinstance(data, dict) else {}
    return {}


# -- Gmail -------------------------------------------------------------------------------------


def recipients(header: str) -> list[str]:
    """The addresses in a To/Cc/Bcc header — the address only: a display name can claim to be anyone."""
    return [clip(addr or name, ADDRESS_CHARS) for name, addr in getaddresses([header]) if addr or name]


def listed(addresses: list[str], shown: int) -> str:
    more = len(addresses) - shown
    return ", ".join(addresses[:shown]) + (f" and {more} more" if more > 0 else "")


def mail(raw: bytes) -> dict:
    """To, Cc, Bcc, Subject and the first lines of a MIME message (RFC 2047 words decoded)."""
    msg = message_from_bytes(raw, policy=policy.default)
    part = msg.get_body(preferencelist=("plain",)) if msg.is_multipart() else msg
    text = part.get_content() if part is not None else ""
    out: dict = {"subject": clip(str(msg.get("Subject", "")), SUBJECT_CHARS), "first_lines": first_lines(str(text))}
    for field in ("to", "cc", "bcc"):
        found = [a for value in msg.get_all(field, []) for a in recipients(str(value))]
        out[field] = listed(found, RECIPIENTS_LISTED) if found else ""
        out[f"{field}_all"] = found
    return out


def mail_line(verb: str, m: dict) -> str:
    parts = []
    for field, word in (("to", "to"), ("cc", "cc"), ("bcc", "BCC (hidden from the others)")):
        if m[f"{field}_all"]:
            parts.append(f"{word} {listed(m[f'{field}_all'], RECIPIENTS_SHOWN)}")
    who = "; ".join(parts) or "to (no recipient)"
    subject = quoted(m["subject"], SUBJECT_CHARS) if m["subject"] else "(no subject)"
    return f"{verb} {who} — subject {subject}"


def _gmail(request: Request, found: Classification, draft: dict | None) -> dict:
    raw: bytes | None = None
    if request.path.lower().startswith(("/upload/", "/resumable/upload/")) and b"\n" in request.body:
        body = request.body
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/related"):
            parts = message_from_bytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body, policy=policy.default)
            inner = [p for p in parts.iter_parts() if p.get_content_type() == "message/rfc822"]
            raw = inner[0].get_payload(0).as_bytes() if inner else None
        else:
            raw = body
    else:
        data = _json(request)
        encoded = data.get("raw") or (data.get("message") or {}).get("raw")
        if encoded:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    verb = {"send": "Send an e-mail", "draft": "Save a draft", "admin": "Change mail settings"}.get(
        found.label, found.label
    )
    if raw is None and draft is not None:
        draft_id = clip(str(_json(request).get("id", "")), 40)
        if "raw" not in draft:
            why = clip(str(draft.get("error") or "no answer"), 80)
            return {"what": f"Send the draft {draft_id}: could not read the draft ({why})", "draft": draft_id}
        m = mail(draft["raw"])
        return _mail_summary(m, mail_line(f"Send the draft {draft_id}", m)) | {"draft": draft_id}
    if raw is None:
        return {"what": f"{verb} ({found.template})"}
    m = mail(raw)
    return _mail_summary(m, mail_line(verb, m))


def _mail_summary(m: dict, what: str) -> dict:
    return {k: v for k, v in m.items() if not k.endswith("_all")} | {"what": what}


def draft_id(request: Request) -> str | None:
    """The draft a ``drafts.send`` names by ID alone (no message of its own to read), else None."""
    if request.method.upper() != "POST" or not request.path.rstrip("/").endswith("/drafts/send"):
        return None
    if request.path.lower().startswith(("/upload/", "/resumable/upload/")):
        return None
    try:
        data = _json(request)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: hostile nesting
        return None
    if not isinstance(data, dict):
        return None
    found = data.get("id")
    if not isinstance(found, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,200}", found):
        return None
    if (data.get("message") or {}).get("raw"):
        return None
    return found


def draft_raw(answer: dict) -> bytes:
    """The MIME bytes of a users.drafts.get answer read with format=raw."""
    encoded = answer["message"]["raw"]
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))


# -- Slack -------------------------------------------------------------------------------------


def slack_fields(request: Request) -> dict:
    """The call's arguments wherever the client put them: query string, form body or JSON body
    (https://api.slack.com/web#posting_json and #basics: both are accepted)."""
    fields: dict = {k: v[0] for k, v in parse_qs(request.query).items()}
    ctype = request.headers.get("content-type", "")
    if request.body:
        if "json" in ctype or request.body[:1] == b"{":
            data = json.loads(request.body)
            if isinstance(data, dict):
                fields.update(data)
        else:
            fields.update({k: v[0] for k, v in parse_qs(request.body.decode()).items()})
    return fields


def blocks_text(blocks) -> str:
    """The words of Block Kit blocks (https://api.slack.com/reference/block-kit/blocks): section,
    header, markdown and context text, one per line."""
    if isinstance(blocks, str):
        blocks = json.loads(blocks)  # a form body carries blocks as a JSON string
    lines: list[str] = []
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        texts = []
        if kind in ("section", "header"):
            texts = [block.get("text"), *(block.get("fields") or [])]
        elif kind == "markdown":
            texts = [block.get("text")]
        elif kind == "context":
            texts = list(block.get("elements") or [])
        for t in texts:
            value = t.get("text") if isinstance(t, dict) else t if isinstance(t, str) else None
            if isinstance(value, str) and value.strip():
                lines.append(value)
    return "\n".join(lines)


def _slack(request: Request, found: Classification) -> dict:
    data = slack_fields(request)
    method = request.path.rstrip("/").rsplit("/", 1)[-1]
    method = method if SLACK_METHOD.match(method) else "(a method)"
    channel = clip(str(data.get("channel", "")), 60)
    text = str(data.get("text") or "") or blocks_text(data.get("blocks"))
    lines = first_lines(text)
    said = quoted(lines[0]) if lines else "(no text)"
    what = f"Slack {method} in {channel or '(no channel)'}: {said}"
    return {"channel": channel, "first_lines": lines, "method": method, "what": what}


# -- GitHub ------------------------------------------------------------------------------------

VERBS = {"POST": "create in", "PATCH": "change", "PUT": "set", "DELETE": "delete", "GET": "read"}
REPO_ARGS = ("owner", "name", "repo", "repository", "repositoryId", "repositoryOwner", "ownerId")


def graphql_outline(document: str, variables: dict) -> tuple[list[str], list[str], dict[str, str]]:
    """(operation types, top-level field names, repository arguments) of a GraphQL document — from its
    tokens, so comments are never read and string literals only as the values of REPO_ARGS."""
    lex = graphql_lexemes(document)
    ops: list[str] = []
    fields: list[str] = []
    args: dict[str, str] = {}
    depth = paren = 0
    pending: str | None = None  # an operation keyword whose selection set has not opened yet
    current = ""  # the type of the definition whose selection set is open
    for i, (kind, text) in enumerate(lex):
        if kind == "punct":
            if text == "{":
                if depth == 0:
                    current, pending = pending or "query", None  # a bare { … } is a query
                    if current != "fragment":
                        ops.append(current)
                depth += 1
            elif text == "}":
                depth -= 1
            elif text in "()":
                paren += 1 if text == "(" else -1
            continue
        if kind != "name":
            continue
        prev = lex[i - 1][1] if i else ""
        nxt = lex[i + 1][1] if i + 1 < len(lex) else ""
        if depth == 0 and paren == 0 and pending is None and text in ("query", "mutation", "subscription", "fragment"):
            pending = text
        elif depth == 1 and paren == 0 and current != "fragment" and nxt != ":" and prev not in ("@", "...", "on"):
            if text not in fields:
                fields.append(text)
        if paren > 0 and text in REPO_ARGS and nxt == ":" and i + 2 < len(lex):
            vkind, value = lex[i + 2]
            if vkind == "string":
                args.setdefault(text, str(json.loads(value)))
            elif value == "$" and i + 3 < len(lex):
                var = variables.get(lex[i + 3][1])
                if isinstance(var, str | int):
                    args.setdefault(text, str(var))
    for key, value in _flat(variables):
        if key in REPO_ARGS and isinstance(value, str | int):
            args.setdefault(key, str(value))
    return ops, fields, args


def _flat(data, depth: int = 0):
    if isinstance(data, dict) and depth < 4:
        for k, v in data.items():
            yield k, v
            yield from _flat(v, depth + 1)


def _github(request: Request, found: Classification) -> dict:
    segments = [s for s in request.path.split("/") if s]
    repo = "/".join(segments[1:3]) if segments[:1] == ["repos"] and len(segments) >= 3 else ""
    verb = VERBS.get(request.method.upper(), request.method.upper())
    target = "/".join(segments[3:]) if repo else "/".join(segments)
    action = f"{verb} {clip(target, 80) or 'the repository'}"
    repo = clip(repo, 100)
    if request.path.rstrip("/").lower() == "/graphql":
        data = _json(request)
        variables = data.get("variables") if isinstance(data.get("variables"), dict) else {}
        ops, fields, args = graphql_outline(str(data.get("query", "")), variables)
        kinds = sorted(set(ops), key=ops.index)
        shown = ", ".join(f for f in fields[:6] if NAME.match(f)) + (
            f" and {len(fields) - 6} more" if len(fields) > 6 else ""
        )
        action = f"GraphQL {' + '.join(kinds) or 'request'}: {shown or '(no fields)'}"
        owner = args.get("owner") or args.get("repositoryOwner") or ""
        name = args.get("name") or args.get("repo") or args.get("repository") or ""
        where = ""
        if owner and name:
            repo = clip(f"{owner}/{name}", 100)
            where = f" on repository {quoted(repo, 100)}"
        elif args.get("repositoryId"):
            repo = "id " + clip(args["repositoryId"], 60)
            where = f" on repository id {quoted(args['repositoryId'], 60)}"
        elif owner:
            repo = "owner " + clip(owner, 60)
            where = f" for owner {quoted(owner, 60)}"
        return {"repository": repo, "action": action, "what": f"GitHub {action}{where}"}
    what = f"GitHub {found.label}: {action}" + (f" on {repo}" if repo else "")
    return {"repository": repo, "action": action, "what": what}


# -- Anthropic, OpenAI -------------------------------------------------------------------------


def _text_of(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks / parts: the text ones
        return "\n".join(
            str(p.get("text") or "") for p in content if isinstance(p, dict) and p.get("type") in ("text", "input_text")
        )
    return ""


def last_user_text(data: dict) -> str:
    """The last user message of a Messages / Chat Completions call, or a Responses call's input."""
    for msg in reversed(data.get("messages") or []):
        if isinstance(msg, dict) and msg.get("role") == "user":
            return _text_of(msg.get("content"))
    given = data.get("input")
    if isinstance(given, str):
        return given
    for item in reversed(given if isinstance(given, list) else []):
        if isinstance(item, dict) and item.get("role", "user") == "user":
            return _text_of(item.get("content"))
    return ""


def _model_call(provider: str, request: Request, found: Classification) -> dict:
    data = _json(request)
    if not data.get("model") and not data.get("messages") and not data.get("input"):
        return {"what": f"{found.label}: {found.template}"}  # not a model call (files, batches, …)
    model = clip(str(data.get("model") or ""), 60)
    lines = first_lines(last_user_text(data))
    who = "Anthropic" if provider == "anthropic" else "OpenAI"
    shown = model if MODEL.match(model) else quoted(model, 60) if model else "(no model named)"
    said = f" — last user message {quoted(lines[0])}" if lines else " — no user message"
    what = f"{who} {found.template}, model {shown}{said}"
    return {"model": model, "first_lines": lines, "what": what}
