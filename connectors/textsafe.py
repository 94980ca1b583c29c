"""Text from the database or a provider, made safe for a terminal or a report.

Anyone who can write the database (or a hostile provider, through a scope name) can plant an
escape sequence that retitles the terminal, hides text, or fakes a line; a right-to-left override
makes ``txt.exe`` read as ``exe.txt``. Every such character — control (C0, DEL, C1), format (bidi
overrides and isolates, zero-width), line and paragraph separators — is shown as a visible escape
(``\\x1b``, ``\\u202e``) instead; tabs and line breaks become a space. A spreadsheet would run a CSV
cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula: :func:`csv_cell` quotes it.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = {"\t": " ", "\n": " ", "\r": " "}
_UNSAFE = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}


def plain(text: str) -> str:
    """``text`` with every character a terminal would act on shown as a visible escape."""
    if not text or text.isprintable():  # the common case, in C
        return text
    out = []
    for ch in text:
        if ch in _SPACES:
            out.append(_SPACES[ch])
        elif unicodedata.category(ch) in _UNSAFE and ch != " ":
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


# Every character from DEL up, spelled "not 0-7E": the same set as the range DEL-U+10FFFF, which took
# 14 ms (57 M instructions, callgrind) to compile at every start of the panel; this, next to nothing.
_NOT_ASCII = re.compile("[^\x00-\x7e]")


def _json_escape(match: re.Match[str]) -> str:
    ch = match.group()
    if unicodedata.category(ch) not in _UNSAFE:
        return ch
    code = ord(ch)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # JSON spells a character beyond the BMP as its UTF-16 surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_text(document: str) -> str:
    """JSON text (as ``json.dumps(..., ensure_ascii=False)`` writes it) with every character a
    terminal would act on written as a JSON escape (``\\u202e``, ``\\u001b``): still valid JSON
    that decodes to exactly the same values, but nothing raw reaches a terminal or a pipe. (The
    encoder already escapes C0 controls; DEL, C1, bidi, zero-width and separators it leaves raw.)"""
    if document.isascii() and "\x7f" not in document:  # the common case, in C
        return document
    return _NOT_ASCII.sub(_json_escape, document)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: control characters escaped, a formula start quoted."""
    if not isinstance(value, str):
        return value
    text = plain(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def markdown_cell(value: object) -> str:
    """A Markdown table cell: safe text, pipes and backslashes escaped, no HTML tags."""
    text = plain(str(value))
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
