"""An indented text whose wrapped lines hang under their own bullet or number.

Plans and manual steps are plain text with two-space indents, "•" bullets and "1." numbers. In a
single Static a long step wraps back to the left edge and the list becomes hard to read in a
confirmation an owner must read carefully; here each line is a row of [indent + marker] and its
text, so a wrapped line stays under its own text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import HorizontalGroup, VerticalGroup
from textual.widgets import Static

from app.tui.markup import escape

MARKER = re.compile(r"^(•|⚠|\d+\.)\s+")


@dataclass(frozen=True)
class OutlineLine:
    indent: int  # leading spaces
    marker: str  # "•", "1.", "⚠" or ""
    text: str  # markup


def parse_outline(text: str, style: Callable[[str, str], str] | None = None) -> list[OutlineLine]:
    """Split plain ``text`` into outline lines; ``style(marker, body)`` turns a line's body into
    markup (default: escaped as it is). The marker is kept out of the body."""
    out: list[OutlineLine] = []
    for raw in text.splitlines():
        stripped = raw.lstrip(" ")
        indent = len(raw) - len(stripped)
        found = MARKER.match(stripped)
        marker = found.group(1) if found else ""
        body = stripped[found.end() :] if found else stripped
        out.append(OutlineLine(indent, marker, style(marker, body) if style else escape(body)))
    return out


def line(text: str, indent: int = 0, marker: str = "") -> OutlineLine:
    """One line of markup, e.g. ``line("[b]By hand:[/b]")``."""
    return OutlineLine(indent, marker, text)


class Outline(VerticalGroup):
    """Rows of (indent and marker, text); the text column wraps under itself."""

    DEFAULT_CSS = """
    Outline {
        height: auto;
        & > .outline-row {
            height: auto;
        }
        .outline-marker {
            width: auto;
            height: auto;
        }
        .outline-text {
            width: 1fr;
            height: auto;
        }
    }
    """

    def __init__(self, lines: Iterable[OutlineLine], **kwargs) -> None:
        super().__init__(**kwargs)
        self.lines = list(lines)

    def compose(self) -> ComposeResult:
        yield from self.rows()

    def rows(self) -> list[HorizontalGroup]:
        rows = []
        for item in self.lines:
            lead = " " * item.indent + (f"{escape(item.marker)} " if item.marker else "")
            children = [Static(lead, classes="outline-marker")] if lead else []
            children.append(Static(item.text or " ", classes="outline-text"))
            rows.append(HorizontalGroup(*children, classes="outline-row"))
        return rows

    def plain(self) -> str:
        """The lines without their markup (for tests)."""
        from textual.content import Content

        return "\n".join(
            " " * item.indent + (item.marker + " " if item.marker else "") + Content.from_markup(item.text).plain
            for item in self.lines
        )

    async def show(self, lines: Iterable[OutlineLine]) -> None:
        """Replace the lines."""
        self.lines = list(lines)
        await self.remove_children()
        await self.mount_all(self.rows())
