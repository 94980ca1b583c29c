"""Editing a client's file the careful way: by text span, atomically, checked after.

* JSON/JSONC: replace exactly the characters of the values that change (positions from
  :mod:`connectors.discovery.document`), so comments, blank lines and key order stay as they were.
* TOML: ``tomlkit`` (https://tomlkit.readthedocs.io), which keeps comments and layout.
* Every change is summarised as one :class:`Region` (the changed stretch of text, old and new), which
  is what an undo needs to put the file back byte for byte.
* :func:`write_checked` writes a temporary file beside the original, renames it over (atomic), reads
  it back and runs a check; if the check fails the original bytes are put back.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from connectors.discovery.document import Document

Span = tuple[int, int]


class EditRefused(Exception):
    """The edit cannot be made safely. The message says why, on one line, without file content."""


@dataclass(frozen=True)
class Region:
    """``old_text[start:start+len(old)] == old`` became ``new``; everything else is unchanged."""

    start: int
    old: str
    new: str

    @classmethod
    def between(cls, old_text: str, new_text: str) -> Region:
        limit = min(len(old_text), len(new_text))
        p = 0
        while p < limit and old_text[p] == new_text[p]:
            p += 1
        s = 0
        while s < limit - p and old_text[len(old_text) - 1 - s] == new_text[len(new_text) - 1 - s]:
            s += 1
        return cls(p, old_text[p : len(old_text) - s], new_text[p : len(new_text) - s])

    def apply(self, text: str) -> str:
        """``text`` (the old file) with this change made."""
        if text[self.start : self.start + len(self.old)] != self.old:
            raise EditRefused("the file changed since the edit was planned")
        return text[: self.start] + self.new + text[self.start + len(self.old) :]

    def revert(self, text: str) -> str:
        """``text`` (the new file) with this change undone."""
        if text[self.start : self.start + len(self.new)] != self.new:
            raise EditRefused("the file changed since Breaker edited it; undo would overwrite that change")
        return text[: self.start] + self.old + text[self.start + len(self.new) :]


def apply_spans(text: str, edits: list[tuple[Span, str]]) -> str:
    """Replace each span with its text (spans must not overlap)."""
    out = text
    for (start, end), replacement in sorted(edits, key=lambda e: e[0][0], reverse=True):
        out = out[:start] + replacement + out[end:]
    return out


def json_value(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def remove_pair(doc: Document, path: tuple) -> tuple[Span, str]:
    """The edit that removes ``"key": value`` at ``path`` with its comma, from an object in ``doc``."""
    if path not in doc.pair_spans:
        raise EditRefused("Breaker could not find the exact text of that entry")
    start, end = doc.pair_spans[path]
    text = doc.text
    parent = doc.get(path[:-1])
    keys = list(parent) if isinstance(parent, dict) else []
    i = keys.index(path[-1])
    if len(keys) == 1 and path[:-1] in doc.spans:  # the only member: the object becomes {}
        obj_start, obj_end = doc.spans[path[:-1]]
        return (obj_start + 1, obj_end - 1), ""
    after = end
    while after < len(text) and text[after] in " \t":
        after += 1
    if i + 1 < len(keys):  # not the last: take the comma after it and the space up to the next key
        if after < len(text) and text[after] == ",":
            after += 1
            nxt = doc.pair_spans[(*path[:-1], keys[i + 1])][0]
            between = text[after:nxt]
            if between.strip() == "":  # only whitespace: drop it, keep the next key's indentation
                line_start = text.rfind("\n", 0, start) + 1
                if text[line_start:start].strip() == "" and "\n" in between:
                    return (line_start, text.rfind("\n", 0, nxt) + 1), ""
                return (start, nxt), ""
            return (start, after), ""
        raise EditRefused("unexpected text after the entry")
    # the last: take the comma before it (and a trailing comma after it, if the file has one)
    if after < len(text) and text[after] == ",":
        end = after + 1
    if i == 0:
        return (start, end), ""
    prev_end = doc.pair_spans[(*path[:-1], keys[i - 1])][1]
    comma = text.find(",", prev_end, start)
    if comma < 0:
        raise EditRefused("unexpected text before the entry")
    if text[comma + 1 : start].strip() != "":  # a comment between: keep it, drop only our pair
        return (start, end), ""
    return (comma, end), ""


def insert_pair(doc: Document, object_path: tuple, key: str, raw_value: str) -> tuple[Span, str]:
    """The edit that adds ``"key": raw_value`` as the first member of the object at ``object_path``."""
    if object_path not in doc.spans:
        raise EditRefused("Breaker could not find the object to add to")
    start, end = doc.spans[object_path]
    inner = doc.text[start + 1 : end - 1]
    members = doc.get(object_path)
    pair = f"{json_value(key)}: {raw_value}"
    if not members:
        return (start, end), "{" + pair + "}"
    first = doc.pair_spans[(*object_path, next(iter(members)))][0]
    indent = doc.text[doc.text.rfind("\n", 0, first) + 1 : first]
    if "\n" in inner[: first - start - 1] and indent.strip() == "":
        return (first, first), f"{pair},\n{indent}"
    return (first, first), f"{pair}, "


def write_checked(path: str | Path, text: str, check: Callable[[str], None]) -> None:
    """Write ``text`` to ``path`` atomically (same mode), read it back, run ``check`` on what was read.

    If ``check`` raises, the original bytes are written back and the error propagates.
    """
    path = Path(path)
    original = path.read_bytes()
    bom = original.startswith(b"\xef\xbb\xbf")
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
    _atomic(path, data)
    try:
        check(path.read_bytes().decode("utf-8-sig"))
    except BaseException:
        _atomic(path, original)
        raise


def _atomic(path: Path, data: bytes) -> None:
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o600
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".breaker-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
