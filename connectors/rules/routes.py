"""Generated routes: (method, path template) → level, looked up through a trie per method.

A generated table (``connectors/rules/generated/<provider>.py``) is a tuple of rows
``(METHOD, "/path/{var}/...", "level", "the source's permission or scope name")``. :class:`Routes`
turns the rows into a trie per method the first time a request uses that method (so importing a
table costs a tuple literal, not a build), and a lookup walks the request's segments: a literal child and a ``{variable}`` child
are both followed, so every template that matches is found. When several match (``/orgs/{org}/hooks``
and ``/orgs/{org}/{security_product}/{enablement}``), the highest level wins: fail closed.

The segments arrive as :func:`connectors.requests.readings` made them (decoded, lower-case). A
``{variable}`` matches exactly one segment; a segment with a variable inside (Graph's
``applications(appId={value})``, ``{id}:enable``) matches by pattern. The generator leaves out
templates it cannot express that way (Graph's any-depth ``/.../``, folders inside folders); the
Graph table reads those paths a second way, as the innermost folder (``RequestTable.also_read``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from connectors.base import Level
from connectors.requests import Classification

Row = tuple[str, str, str, str]  # method, template, level label, permission or scope
_VAR = object()  # trie keys that no request segment (a str) can equal
_END = object()
_PAT = object()  # segments with a variable inside ("applications(appid={value})", "{id}:enable")
_PURE_VAR = re.compile(r"\{[^{}/]+\}")
_INNER_VAR = re.compile(r"\{[^{}/]+\}")


def _pattern(segment: str) -> re.Pattern[str]:
    """``name(key={value})`` → a regex for one segment: the literal parts as they are, each variable non-empty."""
    parts = _INNER_VAR.split(segment.lower())
    return re.compile(".+".join(re.escape(part) for part in parts))


class Routes:
    """The rows of one generated table, looked up by method and path segments."""

    def __init__(self, rows: Sequence[Row], prefixes: Iterable[str] = ()):
        self.rows = rows
        # Leading segments the rows leave out (Graph's "v1.0" and "beta"): required, then skipped.
        self.prefixes = tuple(p.lower() for p in prefixes)
        self._tries: dict[str, dict | None] = {}

    def _build(self, method: str) -> dict | None:
        """The trie of one method, made the first time a request uses that method."""
        trie: dict | None = None
        for row_method, template, label, name in self.rows:
            if row_method != method:
                continue
            node = trie = {} if trie is None else trie
            for seg in split(template):
                if _PURE_VAR.fullmatch(seg):
                    node = node.setdefault(_VAR, {})
                elif "{" in seg:
                    patterns = node.setdefault(_PAT, {})
                    node = patterns.setdefault(seg.lower(), (_pattern(seg), {}))[1]
                else:
                    node = node.setdefault(seg.lower(), {})
            node.setdefault(_END, []).append((Level.parse(label), template, name))
        return trie

    def lookup(self, method: str, segments: Sequence[str]) -> Classification | None:
        try:
            trie = self._tries[method]
        except KeyError:
            trie = self._tries[method] = self._build(method)
        if trie is None:
            return None
        if self.prefixes:
            if not segments or segments[0] not in self.prefixes:
                return None
            segments = segments[1:]
        best: tuple[Level, str, str] | None = None
        end = len(segments)
        stack = [(trie, 0)]
        while stack:
            node, i = stack.pop()
            if i == end:
                for found in node.get(_END, ()):
                    if best is None or found[0] > best[0]:
                        best = found
                continue
            child = node.get(segments[i])
            if child is not None:
                stack.append((child, i + 1))
            child = node.get(_VAR)
            if child is not None:
                stack.append((child, i + 1))
            for pattern, child in node.get(_PAT, {}).values():
                if pattern.fullmatch(segments[i]):
                    stack.append((child, i + 1))
        if best is None:
            return None
        return Classification(best[0], f"{method} {best[1]}", best[2])

    def examples(self) -> list[tuple[str, str]]:
        """One (method, concrete path) per level, for the gateway's switch check."""
        seen: dict[str, tuple[str, str]] = {}
        head = f"/{self.prefixes[0]}" if self.prefixes else ""
        for method, template, label, _name in self.rows:
            if label not in seen:
                path = "/".join(_INNER_VAR.sub("x1", s) for s in split(template))
                seen[label] = (method, f"{head}/{path}")
        return list(seen.values())


def split(template: str) -> list[str]:
    inner = template.strip("/")
    return inner.split("/") if inner else []
