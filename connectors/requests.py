"""Request → level: what one HTTP request to a provider would do, decided before it is forwarded.

The gateway (``app/gateway``) asks :func:`classify` about every request; the per-provider tables
live in ``connectors/rules/`` (one module per provider, each pinned with its sources and date).
Everything fails closed:

* the request is classified as it will be forwarded, after normalising case, percent-encoding
  (decoded until stable; more than two layers is refused) and slashes; a ``..`` segment is refused;
* both readings of an encoded slash (``%2F`` as a separator and as data) are classified, and the
  higher level wins;
* ``X-HTTP-Method-Override`` (and ``X-HTTP-Method``, ``X-Method-Override``) counts as well as the
  request line's method: the higher level wins; an override that is not a known method is refused;
* a host the provider's table does not name is refused; a path with no entry on a known host counts
  as ``write``; a body that decides the level (GraphQL, batch requests) and cannot be read is refused.

A table is read in three passes: its hand-written ``rules`` (bodies, and Breaker's own overrides),
then its generated ``routes`` (``connectors/rules/generated/``, made by ``connectors.rules.generate``
from the provider's machine-readable permission data), then its hand-written ``fallback`` rules
for paths the data does not name.

This module imports neither ``app`` nor ``textual``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import unquote

from connectors.base import Level

METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})
OVERRIDE_HEADERS = ("x-http-method-override", "x-http-method", "x-method-override")
MAX_DECODE_ROUNDS = 2  # "%252F" decodes twice; a third layer of encoding is refused


class Refused(Exception):
    """The request cannot be classified; the gateway refuses it. The message is one line, secret-free."""


@dataclass(frozen=True)
class Request:
    """What will be forwarded: method, host the rules apply to, raw path, query, headers (lower-case), body."""

    method: str
    host: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Classification:
    """The level of a request, and the path template that matched (recorded; never the real path)."""

    level: Level
    template: str
    note: str = ""
    parts: tuple[Classification, ...] = ()  # the sub-requests of a batch, each classified

    @property
    def label(self) -> str:
        return self.level.label


# A rule's level is a Level, or a function of the request and the path's named segments that
# returns a Classification (GraphQL, batches, Slack methods) or raises Refused.
Inspector = Callable[[Request, dict[str, str]], Classification]


@dataclass(frozen=True)
class Rule:
    methods: frozenset[str]
    template: str  # "/repos/{owner}/{repo}/issues"; "{rest*}" matches one or more segments
    level: Level | Inspector
    note: str = ""

    def match(self, segments: Sequence[str]) -> dict[str, str] | None:
        return _match(_compiled(self.template), segments)


def rule(methods: str, template: str, level: Level | Inspector, note: str = "") -> Rule:
    """``rule("GET HEAD", "/user", READ)``; methods ``*`` means every known method."""
    chosen = METHODS if methods == "*" else frozenset(methods.split())
    unknown = chosen - METHODS
    if unknown:
        raise ValueError(f"unknown method(s) in a rule: {sorted(unknown)}")
    return Rule(chosen, template, level, note)


@dataclass(frozen=True)
class Sample:
    """An example request for a level only a body or an inspector decides (a Slack method, a GraphQL
    mutation): what the gateway's switch check sends when the table's paths alone give no example."""

    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


class RouteLookup(Protocol):
    """Generated routes (:class:`connectors.rules.routes.Routes`): method + path segments → level."""

    def lookup(self, method: str, segments: Sequence[str]) -> Classification | None: ...

    def examples(self) -> Iterable[tuple[str, str]]: ...


@dataclass(frozen=True)
class RequestTable:
    """One provider's request → level table: ``rules``, then ``routes``, then ``fallback``; no match is ``write``."""

    provider: str
    hosts: frozenset[str]  # the provider's own API hosts (lower-case, no port)
    rules: tuple[Rule, ...]
    sources: tuple[str, ...]  # the documentation the table was written from
    pinned: str  # the date the table was checked against its sources (YYYY-MM-DD)
    unmapped: Level = Level.WRITE
    samples: tuple[Sample, ...] = ()  # examples for levels the paths alone do not give
    routes: RouteLookup | None = None  # generated from the provider's permission data
    fallback: tuple[Rule, ...] = ()  # hand-written rules for paths the generated routes do not name
    # Further readings of a path that reaches the same object by another way (Graph's nested folders):
    # each is classified too and the highest level wins, so a reading can only raise a request's level.
    also_read: Callable[[tuple[str, ...]], tuple[str, ...] | None] | None = None

    def classify(self, request: Request) -> Classification:
        return classify(self, request)


# -- normalising -------------------------------------------------------------------------------


def decode(text: str) -> str:
    """Percent-decode until stable; more than ``MAX_DECODE_ROUNDS`` layers is refused."""
    for _ in range(MAX_DECODE_ROUNDS):
        decoded = unquote(text, errors="strict")
        if decoded == text:
            return text
        text = decoded
    if unquote(text, errors="strict") != text:
        raise Refused("the path is percent-encoded more than twice")
    return text


def _clean(segments: list[str]) -> list[str]:
    out: list[str] = []
    for seg in segments:
        if seg in ("", "."):
            continue  # "//" and "/./" collapse
        if seg == "..":
            raise Refused("the path climbs with '..'")
        out.append(seg.lower())
    return out


_READINGS: dict[str, tuple[tuple[str, ...], ...]] = {}
READINGS_KEPT, READING_KEPT_LEN = 4096, 512  # paths kept read: how many, and up to what length


def readings(path: str) -> tuple[tuple[str, ...], ...]:
    """The path's segments as the provider might read them: encoded slashes as data, and as separators.
    A pure function of the path, kept for the paths agents send again and again (the gateway reads
    every request's); a path that is refused is read afresh each time."""
    found = _READINGS.get(path)
    if found is None:
        found = _read(path)
        if len(path) <= READING_KEPT_LEN:
            if len(_READINGS) >= READINGS_KEPT:
                _READINGS.clear()
            _READINGS[path] = found
    return found


def _read(path: str) -> tuple[tuple[str, ...], ...]:
    if not path.startswith("/"):
        raise Refused("the path does not start with '/'")
    if any(ord(c) < 0x20 or c == "\x7f" for c in path):
        raise Refused("the path holds control characters")
    try:
        as_data = _clean([decode(seg) for seg in path.replace("\\", "/").split("/")])
        as_separators = _clean(decode(path).replace("\\", "/").split("/"))
    except UnicodeDecodeError:
        raise Refused("the path's percent-encoding is not UTF-8") from None
    first = tuple(as_data)
    second = tuple(as_separators)
    return (first,) if first == second else (first, second)


def normal_path(path: str) -> str:
    """The path as classified (decoded, lower-case, single slashes), for messages and tests."""
    return "/" + "/".join(readings(path)[-1])


def methods_of(request: Request) -> list[str]:
    method = request.method.upper()
    if method not in METHODS:
        raise Refused(f"method {request.method[:20]!r} is one the gateway does not know")
    found = [method]
    for name in OVERRIDE_HEADERS:
        value = request.headers.get(name)
        if value is None:
            continue
        override = value.strip().upper()
        if override not in METHODS:
            raise Refused(f"{name} names a method the gateway does not know")
        found.append(override)
    return found


# -- matching ----------------------------------------------------------------------------------

_TEMPLATES: dict[str, tuple[tuple[str, str], ...]] = {}
_PATTERNS: dict[str, re.Pattern[str]] = {}  # a template's "~regex" segments, compiled once


def _compiled(template: str) -> tuple[tuple[str, str], ...]:
    """Template → ((kind, value), …): ("lit", text) | ("var", name) | ("rest", name) | ("re", pattern)."""
    cached = _TEMPLATES.get(template)
    if cached is None:
        parts: list[tuple[str, str]] = []
        for seg in template.strip("/").split("/") if template.strip("/") else []:
            if seg.startswith("{") and seg.endswith("*}"):
                parts.append(("rest", seg[1:-2]))
            elif seg.startswith("{") and seg.endswith("}"):
                parts.append(("var", seg[1:-1]))
            elif seg.startswith("~"):
                parts.append(("re", seg[1:]))
                _PATTERNS.setdefault(seg[1:], re.compile(seg[1:]))
            else:
                parts.append(("lit", seg.lower()))
        cached = _TEMPLATES[template] = tuple(parts)
    return cached


def _match(parts: tuple[tuple[str, str], ...], segments: Sequence[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for i, (kind, value) in enumerate(parts):
        if kind == "rest":
            if i >= len(segments):
                return None
            params[value] = "/".join(segments[i:])
            return params
        if i >= len(segments):
            return None
        seg = segments[i]
        if kind == "lit":
            if seg != value:
                return None
        elif kind == "re":
            if _PATTERNS[value].fullmatch(seg) is None:
                return None
        else:
            params[value] = seg
    return params if len(parts) == len(segments) else None


def _first(
    rules: Sequence[Rule], request: Request, method: str, segments: tuple[str, ...]
) -> tuple[Classification | None, bool]:
    """The first rule's classification, and whether an inspector (a function of the request) gave it."""
    for r in rules:
        if method not in r.methods:
            continue
        params = r.match(segments)
        if params is None:
            continue
        if isinstance(r.level, Level):
            return Classification(r.level, f"{method} {r.template}", r.note), False
        return r.level(request, params), True
    return None, False


UNMAPPED = "(unmapped)"  # the template recorded for a path no rule names


def _one(table: RequestTable, request: Request, method: str, segments: tuple[str, ...]) -> tuple[Classification, bool]:
    found, inspected = _first(table.rules, request, method, segments)
    if found is None and table.routes is not None:
        found = table.routes.lookup(method, segments)
    if found is None and table.fallback:
        found, inspected = _first(table.fallback, request, method, segments)
    if found is None:
        return Classification(table.unmapped, f"{method} {UNMAPPED}", "no entry in the table: counted as write"), False
    return found, inspected


def highest(found: Sequence[Classification]) -> Classification:
    """The classification with the highest level (the first among equals)."""
    best = found[0]
    for item in found[1:]:
        if item.level > best.level:
            best = item
    return best


def classify(table: RequestTable, request: Request) -> Classification:
    """The level of ``request`` by ``table``; raises :class:`Refused` when it cannot be decided."""
    return classified(table, request)[0]


def classified(table: RequestTable, request: Request) -> tuple[Classification, bool]:
    """:func:`classify`, and whether the answer follows from the request's host, method, method
    override headers (:data:`OVERRIDE_HEADERS`) and path alone: True when no rule that decided it
    is an inspector (a function that reads the body, query or other headers). Such an answer is
    the same for every request that agrees on those, so a caller may keep it (the gateway does:
    :func:`app.services.enforcement.check`)."""
    host = request.host.lower().split(":")[0].rstrip(".")
    if host not in table.hosts:
        raise Refused(f"host {host[:80]!r} is not one of {table.provider}'s API hosts")
    found = []
    static = True
    for m in methods_of(request):
        for segs in readings(request.path):
            one, inspected = _read_as(table, request, m, segs)
            found.append(one)
            static = static and not inspected
    return highest(found), static


def _read_as(
    table: RequestTable, request: Request, method: str, segments: tuple[str, ...]
) -> tuple[Classification, bool]:
    """One reading's level; with the table's other way to the same object, the higher of the two — or the
    other way's alone when this one has no entry at all (a draft in a nested folder is still a draft).
    Beside it, whether an inspector (a function of the request) gave either."""
    found, inspected = _one(table, request, method, segments)
    other = table.also_read(segments) if table.also_read is not None else None
    if other is None:
        return found, inspected
    instead, also = _one(table, request, method, other)
    if found.template == f"{method} {UNMAPPED}":
        return instead, also
    return highest([instead, found]), inspected or also


_EXAMPLES: dict[str, dict[Level, Request]] = {}
_METHOD_ORDER = ("POST", "PUT", "PATCH", "DELETE", "GET", "HEAD", "OPTIONS")


def _instantiate(template: str) -> str | None:
    """A concrete path for a template (``{var}`` and ``{rest*}`` → ``x1``); None for regex segments."""
    out = []
    for kind, value in _compiled(template):
        if kind == "re":
            return None
        out.append(value if kind == "lit" else "x1")
    return "/" + "/".join(out)


def examples(table: RequestTable) -> dict[Level, Request]:
    """One request per level that ``table`` classifies at that level: the table's own paths first,
    then its :class:`Sample` entries, then an unmapped path (``write``). Levels no request of this
    provider can have are absent. The gateway's switch check sends these, never forwarded."""
    cached = _EXAMPLES.get(table.provider)
    if cached is not None:
        return cached
    host = sorted(table.hosts)[0]
    candidates: list[Request] = []
    if table.routes is not None:
        candidates.extend(Request(method, host, path) for method, path in table.routes.examples())
    for r in (*table.rules, *table.fallback):
        if not isinstance(r.level, Level):
            continue
        path = _instantiate(r.template)
        if path is None:
            continue
        for method in _METHOD_ORDER:
            if method in r.methods:
                candidates.append(Request(method, host, path))
    for sample in table.samples:
        candidates.append(Request(sample.method, host, sample.path, "", dict(sample.headers), sample.body))
    candidates.append(Request("POST", host, "/breaker-check/unmapped-path"))
    found: dict[Level, Request] = {}
    for request in candidates:
        try:
            level = classify(table, request).level
        except Refused:
            continue
        found.setdefault(level, request)
    _EXAMPLES[table.provider] = found = dict(sorted(found.items()))
    return found


def table_for(provider) -> RequestTable | None:
    """The provider's request table (``Provider.request_table``), or None when it has none."""
    target = getattr(provider, "request_table", "")
    if not target:
        return None
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)
