"""What the panel's start does to paint its first frame sooner (issue 8), held to what it must keep.

The connector table paints its cells itself when a cell is one Text of one style that fits
(ConnectorTable._render_cell): those segments must be exactly DataTable's own, cell by cell, in
every state a cell can be drawn in (cursor row, zebra stripes, hover, narrow columns, themes). The
main screen's breakpoint class is Textual's from the start; the first-frame hook runs once; opened
on a factory, the passphrase dialog is registered before the store opens and removed at the end."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.widgets import DataTable

from app.tui.app import make_app
from app.tui.widgets.connector_table import ConnectorTable
from tests.tui.pilot import settle


def both_ways(table: ConnectorTable, row: int, column: int, *, cursor: bool, hover: bool):
    """(ConnectorTable's segments, DataTable's segments) for one cell, each from an empty cache."""
    base = table._get_row_style(row, table.rich_style)
    width = table.ordered_columns[column].get_render_width(table)
    table._cell_render_cache.clear()
    ours = table._render_cell(row, column, base, width, cursor=cursor, hover=hover)
    table._cell_render_cache.clear()
    theirs = DataTable._render_cell(table, row, column, base, width, cursor=cursor, hover=hover)
    table._cell_render_cache.clear()
    return ours, theirs


@pytest.mark.parametrize("size", [(160, 40), (80, 24)])
@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_every_cell_of_the_seeded_inventory_is_painted_as_datatable_paints_it(seeded, size, theme):
    app = make_app(seeded)
    async with app.run_test(size=size) as pilot:
        app.theme = theme
        await settle(pilot)
        table = app.main_screen.table
        assert table.row_count >= 10
        compared = 0
        for row in range(table.row_count):
            for column in range(len(table.ordered_columns)):
                for cursor, hover in ((False, False), (True, False), (False, True), (True, True)):
                    ours, theirs = both_ways(table, row, column, cursor=cursor, hover=hover)
                    assert ours == theirs, (row, table.ordered_columns[column].key, cursor, hover)
                    compared += 1
        assert compared == table.row_count * len(table.ordered_columns) * 4


async def test_cells_datatable_must_paint_still_match(seeded):
    """Spans, a cell too long for its column, wide characters, an empty cell, a right-justified
    cell, a plain string: whichever way each one goes, the segments are DataTable's."""
    app = make_app(seeded)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        table = app.main_screen.table
        key = next(iter(table.views))
        cells = {
            "name": Text("two ") + Text("styles", style="bold red"),
            "provider": Text("a name far longer than the provider column is wide", style="italic"),
            "owner": Text("漢字の所有者", style="bold"),
            "mode": Text("", style="bold"),
            "live": Text("right", justify="right"),
            "drift": "[b]markup[/b]",
            "key_age": Text("tab\there"),
        }
        for column, value in cells.items():
            if column in table.columns_shown:
                table.update_cell(key, column, value)
        await pilot.pause()
        row = table.get_row_index(key)
        for column in range(len(table.ordered_columns)):
            for cursor in (False, True):
                ours, theirs = both_ways(table, row, column, cursor=cursor, hover=False)
                assert ours == theirs, (table.ordered_columns[column].key, cursor)


@pytest.mark.parametrize(
    ("size", "expected", "not_expected"), [((120, 36), "-tall", "-short"), ((80, 24), "-short", "-tall")]
)
async def test_main_screen_has_its_breakpoint_class_from_the_start(seeded, size, expected, not_expected):
    """MainScreen sets the breakpoint class itself before its first layout (so Textual's first
    Resize restyles nothing): the class Textual would pick, and only that one."""
    app = make_app(seeded)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.main_screen
        assert screen.has_class(expected) and not screen.has_class(not_expected)
        screen.remove_class(expected)
        screen.breakpoint_classes_now()
        assert screen.has_class(expected) and not screen.has_class(not_expected)


async def test_first_frame_hook_is_called_once_after_the_first_frame(seeded):
    """The command line pauses the garbage collector for the start and resumes it from this hook."""
    calls = []
    app = make_app(seeded, first_frame=lambda: calls.append(app.main_screen.table.row_count))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("down")
        await settle(pilot)
    assert len(calls) == 1


async def test_on_a_factory_the_passphrase_dialog_is_registered_before_the_store_opens(seeded):
    from app.services import filekeyring

    seen = []

    def factory():
        seen.append(filekeyring._asker is not None)  # registered before the store is opened
        return seeded

    assert filekeyring._asker is None
    app = make_app(factory, settings=seeded.settings)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert app.services_ready and seen == [True]
    assert filekeyring._asker is None


async def test_other_screens_css_is_parsed_when_the_first_of_them_opens(seeded):
    """screens.tcss (every screen's rules but the main one's) is not parsed before the first frame;
    opening another screen loads it, and every screen class but the main one names it."""
    import importlib
    import inspect
    import pkgutil

    from textual.screen import Screen

    import app.tui.screens as screens
    from app.tui.screens.base import SCREENS_CSS
    from app.tui.screens.main import MainScreen

    named = []
    for info in pkgutil.iter_modules(screens.__path__):
        module = importlib.import_module(f"app.tui.screens.{info.name}")
        for _name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Screen) and cls.__module__ == module.__name__ and cls is not MainScreen:
                assert cls.CSS_PATH == SCREENS_CSS, cls
                named.append(cls)
    assert len(named) >= 20 and MainScreen.CSS_PATH is None

    app = make_app(seeded)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert not app.stylesheet.has_source(SCREENS_CSS, "")
        await pilot.press("question_mark")
        await settle(pilot)
        assert app.stylesheet.has_source(SCREENS_CSS, "")


async def test_column_widths_and_virtual_size_are_datatable_s_own(seeded):
    """ConnectorTable._update_dimensions measures Text cells from their lines: the widths and the
    virtual size must be what DataTable's own measuring gives, also for cells that are not one
    plain line (several lines, wide characters, an empty cell, a markup string, a renderable)."""
    from rich.panel import Panel

    app = make_app(seeded)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        table = app.main_screen.table
        key = next(iter(table.views))
        odd = {
            "name": Text("two\nlines, the second longer"),
            "owner": Text("漢字の所有者", style="bold"),
            "mode": Text(""),
            "drift": "[b]markup[/b] string",
            "live": Panel("boxed"),
            "key_age": Text("tab\there"),
        }
        for column, value in odd.items():
            if column in table.columns_shown:
                table.update_cell(key, column, value)
        await pilot.pause()
        rows = list(table.rows)

        def dimensions(update) -> tuple:
            for column in table.columns.values():
                column.content_width = 0
            update(rows)
            return [c.content_width for c in table.ordered_columns], table.virtual_size

        ours = dimensions(table._update_dimensions)
        theirs = dimensions(lambda keys: DataTable._update_dimensions(table, keys))
        assert ours == theirs
        assert ours[0][table.columns_shown.index("name")] >= len("lines, the second longer")


@pytest.mark.parametrize(("lines", "rows"), [(36, 36), (24, 24), (200, ConnectorTable.FIRST_CHUNK), (0, 1)])
def test_the_first_chunk_is_at_most_a_screenful(lines, rows):
    assert ConnectorTable.first_chunk(lines) == rows


async def test_the_first_rows_are_one_screenful_then_all_of_them(seeded, monkeypatch):
    """The snapshot read before the first frame asks for no more rows than the terminal has lines;
    the rest follow."""
    import app.store.snapshot as snapshot

    asked = []
    read = snapshot.read_inventory_file
    monkeypatch.setattr(
        snapshot, "read_inventory_file", lambda path, **kw: asked.append(kw.get("first")) or read(path, **kw)
    )
    app = make_app(seeded)
    async with app.run_test(size=(120, 24)) as pilot:
        await settle(pilot)
        assert asked and asked[0] == 24
        assert app.main_screen.table.row_count == len(seeded.inventory.list())
