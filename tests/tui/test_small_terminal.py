"""An ordinary 80×24 terminal (issue 14): the connector table's columns give way by priority until
its rows fit without scrolling sideways, the last probe and switch columns whole; the help's "Now"
column is only as wide as its notes; the emergency disable's typed second step keeps its buttons
on screen."""

from __future__ import annotations

import pytest
from textual.widgets import Button, DataTable, Input

from app.tui.app import make_app
from app.tui.widgets.connector_table import COLUMNS, fitting_layout
from tests.tui.pilot import click, on_screen, select_row, settle, until

SMALL = (80, 24)


def fits_sideways(table: DataTable) -> bool:
    return table.virtual_size.width <= table.scrollable_content_region.width


def inside(widget, screen) -> bool:
    return screen.region.contains_region(widget.region)


async def test_at_80_columns_the_table_fits_and_the_last_probe_is_whole(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        table = app.main_screen.table
        assert {"state", "name", "mode", "live", "switch", "last_probe"} <= set(table.columns_shown)
        assert fits_sideways(table), (table.virtual_size, table.scrollable_content_region)
        assert not table.show_horizontal_scrollbar
        # the longest last probe of the seeded inventory, whole and inside the screen
        view = table.view_named("notion-wiki")
        probe = table.get_cell(str(view.id), "last_probe").plain
        assert probe.startswith("unreachable") and "…" not in probe
        right = sum(c.get_render_width(table) for c in table.columns.values())
        assert right <= table.scrollable_content_region.width


@pytest.mark.parametrize("width", [80, 86, 92, 98, 104, 110, 116, 124, 140])
async def test_at_every_width_the_rows_fit_without_scrolling_sideways(seeded, width):
    app = make_app(seeded)
    async with app.run_test(size=(width, 30)) as pilot:
        await settle(pilot)
        table = app.main_screen.table
        assert fits_sideways(table), (width, table.columns_shown, table.virtual_size)
    # wide enough, nothing gives way and the last probe says "ago"
    if width >= 140:
        assert len(table.columns_shown) == len(COLUMNS) and not table.compact


async def test_columns_come_back_when_the_terminal_widens(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        table = app.main_screen.table
        assert "owner" not in table.columns_shown and table.compact
        await pilot.resize_terminal(140, 30)
        await settle(pilot)
        assert "owner" in table.columns_shown and "provider" in table.columns_shown and not table.compact
        view = table.view_named("notion-wiki")
        assert table.get_cell(str(view.id), "last_probe").plain.endswith(" ago")


def test_give_way_order_keeps_the_probe_and_switch_to_the_last(seeded):
    views = seeded.inventory.list()
    shown = [fitting_layout(width, views) for width in range(60, 160, 2)]
    for columns, _compact in shown:
        assert {"state", "name", "mode", "live", "last_probe", "switch"} <= set(columns)
    # the probe loses its "ago" before any column goes; provider goes first, drift last
    first_drop = next(columns for columns, _compact in reversed(shown) if len(columns) < len(COLUMNS))
    assert "provider" not in first_drop and "drift" in first_drop
    assert any(compact and len(columns) == len(COLUMNS) for columns, compact in shown)


@pytest.mark.parametrize("size", [SMALL, (120, 36)])
async def test_help_now_column_is_as_wide_as_its_notes(seeded, size):
    app = make_app(seeded)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await select_row(pilot, "slack-digest")  # a connector selected: most keys have no note
        await pilot.press("question_mark")
        await pilot.pause()
        table = app.screen.query_one("#help-table", DataTable)
        notes = [table.get_cell_at((row, 2)).plain for row in range(table.row_count)]
        longest = max(len(n) for n in notes)
        now = table.columns["state"]
        assert now.width == max(len("Now"), min(longest, 26))
        assert now.width < 12 or any(len(n) >= now.width for n in notes)  # never wider than a note needs
        title = table.get_cell_at((0, 0)).plain
        assert title == "Connector table"


async def test_panic_second_step_at_80x24_keeps_its_buttons_on_screen(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("exclamation_mark")
        await on_screen(pilot, "PanicConfirm")
        await click(pilot, "#continue")
        await on_screen(pilot, "PanicTypeConfirm")
        await pilot.press(*"PANIC")
        await pilot.pause()
        screen = app.screen
        field = screen.query_one(Input)
        assert inside(field, screen) and field.value == "PANIC"
        for button in screen.query(Button):
            assert button.display and inside(button, screen), button.id
        assert {b.id for b in screen.query(Button)} >= {"go", "cancel"}


async def test_a_toast_stays_clear_of_a_dialogs_buttons(seeded):
    """The outcome of a rotation is told while the tall hand-on dialog is open: at 80×24 the toast
    must not cover its buttons (Textual docks toasts at the bottom right, where buttons are)."""
    from app.services.switches.handoff import KeyHandoff, Offer
    from app.tui.screens.handoff import NewKeyHandOn

    view = seeded.inventory.get("gitlab-ci")
    cred = view.credential
    offer = Offer(view.name, "Zapier deploy flow", view.env_var, cred.keyring_ref, cred.fingerprint, cred.last4)
    app = make_app(seeded)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await settle(pilot)
        app.push_screen(NewKeyHandOn(KeyHandoff(seeded, offer)))
        await on_screen(pilot, NewKeyHandOn)
        app.notify("verified by probe — the key works; the old key no longer works", title="rotate gitlab-ci")
        await until(pilot, lambda: any(t.region.area for t in app.screen.query("Toast")))
        await pilot.pause(0.5)
        toasts = [t for t in app.screen.query("Toast") if t.region.area]
        buttons = list(app.screen.query(Button))
        assert toasts and len(buttons) == 3
        for toast in toasts:
            assert toast.region.y >= 1  # below the header
            for button in buttons:
                assert not toast.region.overlaps(button.region), button.id
