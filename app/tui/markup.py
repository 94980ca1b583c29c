"""Putting text from the database or a provider inside Textual markup, as text.

``rich.markup.escape`` is Rich's rule, not Textual's: Textual's markup also reads ``[$variable]`` and
does not read a doubled backslash, so an owner such as ``Ops [$text-error]`` or ``team\\`` followed
by a closing tag crashed the panel with MarkupError. Every ``[`` is escaped; a trailing backslash
(which would escape the tag after it) is shown as a full-width one; control characters and bidi
overrides are shown as visible escapes (connectors.textsafe).
"""

from __future__ import annotations

from connectors.textsafe import plain


def escape(text: object) -> str:
    """``text`` for a place inside Textual markup: shown exactly as text, never read as markup."""
    safe = plain(str(text)).replace("[", "\\[")
    if safe.endswith("\\"):
        safe = safe[:-1] + "\uff3c"  # FULLWIDTH REVERSE SOLIDUS: looks the same, escapes nothing
    return safe
