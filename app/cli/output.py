"""Printing: one-line errors on stderr, JSON documents and plain tables on stdout."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from connectors.masking import mask_known
from connectors.textsafe import plain


def error_line(message: str, stream: TextIO | None = None) -> None:
    """``breaker: message`` on one line of stderr."""
    text = " ".join(str(message).split())  # one line, whatever the message held
    text = plain(mask_known(text))  # no key, in any form, and no escape sequence, whoever wrote the message
    print(f"breaker: {text}", file=stream or sys.stderr)


def note(message: str, stream: TextIO | None = None) -> None:
    """Progress and hints go to stderr, so stdout stays clean for pipes."""
    print(message, file=stream or sys.stderr)


def print_json(document: dict[str, Any], stream: TextIO | None = None) -> None:
    """One compact document per command (Python's C JSON encoder only runs without indent: a
    10,000-connector listing is four times faster); pipe it through `python -m json.tool` to read."""
    from app.services.export import dumps

    (stream or sys.stdout).write(dumps(document, pretty=False) + "\n")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], stream: TextIO | None = None) -> None:
    """A plain aligned table; the last column is not padded."""
    out = stream or sys.stdout
    # Text from the database or a provider: escape sequences and bidi overrides shown, never acted on.
    rows = [[plain(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    for row in [list(headers), *rows]:
        cells = [cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        out.write("  ".join(cells).rstrip() + "\n")


def ago(moment: datetime | None) -> str:
    """'3m ago', '5h ago', '12d ago', or 'never'."""
    if moment is None:
        return "never"
    if moment.tzinfo is None:  # SQLite hands back naive datetimes; they were written as UTC
        moment = moment.replace(tzinfo=UTC)
    seconds = max(0, int((datetime.now(UTC) - moment).total_seconds()))
    if seconds < 60:
        return "just now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return "just now"


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
