"""A client's config file read as that client reads it, with the text span of every value.

JSON and JSONC/JSON5 go through ``json-five`` (https://github.com/spyoungtech/json-five), a JSON5
parser whose model keeps each node's position, so an edit can replace exactly the characters of
one entry and leave every comment, blank line and key order as it was. Files a client reads as
strict JSON (``JSON.parse``) are checked with the standard library too: a trailing comma that the
client would choke on is reported, not smoothed over. TOML (Codex) is read with ``tomllib``.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, field
from typing import Any

import json5.model as jm
from json5.loader import ModelLoader
from json5.loader import loads as json5_loads

Path = tuple[str | int, ...]


class Unparseable(ValueError):
    """The file cannot be read as its client reads it. The message is one line, with no file content."""


@dataclass
class Document:
    """A parsed file: its plain value and, for JSON files, each node's span in the text."""

    text: str
    syntax: str  # json | jsonc | toml
    value: Any
    spans: dict[Path, tuple[int, int]] = field(default_factory=dict)  # path → value span
    pair_spans: dict[Path, tuple[int, int]] = field(default_factory=dict)  # path → "key": value span

    def get(self, path: Path, default: Any = None) -> Any:
        node = self.value
        for part in path:
            if isinstance(node, dict) and isinstance(part, str) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                return default
        return node


def parse(text: str, syntax: str) -> Document:
    """Parse ``text`` the way a client of ``syntax`` does; raises :class:`Unparseable`."""
    if syntax == "toml":
        try:
            return Document(text, syntax, tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            raise Unparseable(f"not valid TOML ({_first_line(exc)})") from None
    if syntax == "json":
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            # Comments or a trailing comma: the client's JSON.parse stops here too.
            raise Unparseable(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not text.strip():
        raise Unparseable("the file is empty")
    try:
        model = json5_loads(text, loader=ModelLoader())
    except Exception as exc:  # json-five raises its own decode errors and, on odd input, others
        raise Unparseable(f"not valid {'JSON' if syntax == 'json' else 'JSONC'} ({_first_line(exc)})") from None
    starts = _line_starts(text)
    doc = Document(text, syntax, None)
    doc.value = _convert(model.value, (), doc, starts)
    return doc


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    return starts


def _span(node: jm.Node, starts: list[int]) -> tuple[int, int]:
    return (starts[node.lineno - 1] + node.col_offset, starts[node.end_lineno - 1] + node.end_col_offset)


def _key(node: Any) -> str:
    if isinstance(node, jm.Identifier):
        return node.name
    return node.characters


def _convert(node: Any, path: Path, doc: Document, starts: list[int]) -> Any:
    doc.spans[path] = _span(node, starts)
    if isinstance(node, jm.JSONObject):
        out: dict[str, Any] = {}
        for kv in node.key_value_pairs:
            key = _key(kv.key)
            sub = (*path, key)
            out[key] = _convert(kv.value, sub, doc, starts)
            doc.pair_spans[sub] = (_span(kv.key, starts)[0], doc.spans[sub][1])
        return out
    if isinstance(node, jm.JSONArray):
        return [_convert(v, (*path, i), doc, starts) for i, v in enumerate(node.values)]
    if isinstance(node, jm.String):
        return node.characters
    if isinstance(node, jm.BooleanLiteral):
        return node.value
    if isinstance(node, jm.NullLiteral):
        return None
    if isinstance(node, jm.UnaryOp):
        inner = _convert(node.value, path, doc, starts)
        doc.spans[path] = _span(node, starts)
        return -inner if node.op == "-" else inner
    if isinstance(node, jm.Infinity):
        return -math.inf if node.negative else math.inf
    if isinstance(node, jm.NaN):
        return math.nan
    return node.value  # Integer, Float
