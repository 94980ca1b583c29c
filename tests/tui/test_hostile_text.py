"""Issue 10, items 4 and 5 in the panel: text from the database is shown as text. A bracket does not
crash the connector screen (Textual markup), and escape sequences, control characters and
right-to-left overrides never reach the terminal: they are shown as visible escapes."""

from __future__ import annotations

from sqlalchemy import text
from textual.widgets import Static

from app.store.db import session_scope
from app.tui.app import make_app
from app.tui.screens.connector import ConnectorScreen
from tests.tui.pilot import select_row, settle, until

SIZE = (120, 36)
HOSTILE = {
    "owner": "Ops team [Berlin",
    "client": "n8n [b]flow[/b] [$text-error]x\\",
    "tags": "ok,\x1b]0;pwned\x07,\x1b[31mred",
    "purpose_task": "open issues \u202eesrever\u202c and [link=http://x]click[/link]",
}


def plant(services, name: str) -> None:
    with session_scope(services.engine) as s:
        s.execute(
            text(
                "UPDATE connector SET client = :client, tags = :tags, purpose_task = :purpose_task WHERE name = :name"
            ),
            {**HOSTILE, "name": name},
        )
        s.execute(
            text("UPDATE owner SET name = :owner WHERE id = (SELECT owner_id FROM connector WHERE name = :name)"),
            {"owner": HOSTILE["owner"], "name": name},
        )


def shown(app) -> str:
    parts = []
    for widget in app.screen.query(Static):
        visual = widget.visual if hasattr(widget, "visual") else None
        parts.append(str(getattr(visual, "plain", "")) or str(widget.render()))
    return "\n".join(parts)


async def test_brackets_and_escapes_from_the_database_are_shown_as_text(seeded):
    plant(seeded, "hubspot-crm")
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.main_screen.table
        row = [
            str(c.plain if hasattr(c, "plain") else c)
            for c in table.get_row(str(seeded.inventory.get("hubspot-crm").id))
        ]
        assert not any("\x1b" in c or "\x07" in c or "\u202e" in c for c in row), row
        await select_row(pilot, "hubspot-crm")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConnectorScreen))
        await pilot.pause()
        screen_text = shown(app)
        assert "Ops team [Berlin" in screen_text
        assert "\x1b" not in screen_text and "\x07" not in screen_text and "\u202e" not in screen_text
