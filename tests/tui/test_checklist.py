"""The still-live checklist screen (k): a key the switch left working is listed with how to find it
and the steps; enter ("I did it") probes it and ticks it off only once the key is dead."""

from __future__ import annotations

from textual.widgets import DataTable, Static

from app.tui.app import make_app
from app.tui.screens.checklist import MARKDOWN_FILE, ChecklistScreen
from tests.tui.pilot import on_screen, settle, until

SIZE = (120, 36)


async def test_i_did_it_ticks_off_only_a_dead_key(live):
    crm = live.add("crm", "hubspot", "private_app")  # no revoke API for private apps: manual steps
    report = await live.services.switches.disable("crm")
    assert not report.verified
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("k")
        await on_screen(pilot, ChecklistScreen)
        screen = app.screen
        table = screen.query_one("#checklist-table", DataTable)
        await until(pilot, lambda: table.row_count == 1)
        detail = str(screen.query_one("#checklist-detail", Static).content)
        assert f"…{crm.token[-4:]}" in detail and "app.hubspot.com" in detail and "Private Apps" in detail
        assert crm.token not in detail
        await pilot.press("enter")  # the key still works: it stays
        await until(pilot, lambda: "still on the list" in str(screen.query_one("#checklist-note", Static).content))
        assert table.row_count == 1
        live.sandbox.state.revoke(crm.token)  # the owner deletes the private app at HubSpot
        await pilot.press("enter")
        await until(pilot, lambda: "ticked off" in str(screen.query_one("#checklist-note", Static).content))
        await until(pilot, lambda: table.row_count == 0)
        await pilot.press("m")
        path = live.services.settings.data_dir / MARKDOWN_FILE
        await until(pilot, path.exists)
        assert "Nothing to do" in path.read_text()
    view = next(v for v in live.services.inventory.list() if v.name == "crm")
    assert view.off
