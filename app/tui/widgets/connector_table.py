"""The connector table: one row per connector, stable column keys, row keys = connector ids."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.render import measure
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey

from app.tui.widgets.present import ago, days, level_text, light_text, switch_look, switch_text, tone

if TYPE_CHECKING:
    from app.services.views import ConnectorView

# (column key, header). Keys are stable: later work updates single cells with update_cell(row, key, …).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("state", " "),
    ("name", "Name"),
    ("provider", "Provider"),
    ("owner", "Owner"),
    ("mode", "Mode"),
    ("via", "Via"),
    ("live", "Live"),
    ("drift", "Drift"),
    ("key_age", "Key age"),
    ("last_probe", "Last probe"),
    ("switch", "Switch"),
)

# Columns that give way when the rows do not fit the terminal, first to go first: the provider is
# usually in the name, how it is handed out is on its screen, the key's age has its own summary tile, the owner is on the connector's
# screen, and drift is still marked by the row's ▲ (the drift tile counts it, the connector's
# screen says what it is). Before any of them goes, the last probe drops its "ago" ("ok 3 h").
# The state, name, mode, live level, last probe and switch always stay.
GIVE_WAY: tuple[str, ...] = ("provider", "via", "key_age", "owner", "drift")
# "Via": how `breaker exec` hands the connector out — the key itself, or through the gateway (issue 13).
VIA = {True: ("gateway", "text-primary"), False: ("key", "foreground-darken-2")}
# Cells of the terminal's width the rows never get: the two the table leaves free at its right,
# and a vertical scrollbar's two (a long inventory scrolls).
KEPT_FREE = 4


def needed_widths(views: Sequence[ConnectorView], *, compact: bool) -> dict[str, int]:
    """Each column's width (cells, header included, padding not) for these rows: a length per
    row, so that measuring 1,000 connectors costs next to nothing."""
    need = {key: len(header) for key, header in COLUMNS}
    need["state"] = 1
    for view in views:
        probe = (
            f"{view.last_outcome or '?'} {ago(view.last_probe_at, short=compact)}" if view.last_probe_at else "never"
        )
        look = switch_look(view.switch_state)
        for key, width in (
            ("name", len(view.name)),
            ("provider", len(view.provider)),
            ("owner", len(view.owner) if view.owner else 8),
            ("mode", len(view.mode.value)),
            ("via", len(VIA[bool(getattr(view, "routed", False))][0])),
            ("live", len(view.live_word)),
            ("drift", 2 + len(str(len(view.drift)))),
            ("key_age", len(days(view.key_age_days))),
            ("last_probe", len(probe)),
            ("switch", len(look.short) if look else 0),
        ):
            if width > need[key]:
                need[key] = width
    return need


def fitting_layout(width: int, views: Sequence[ConnectorView], padding: int = 1) -> tuple[tuple[str, ...], bool]:
    """The columns to show on a terminal ``width`` cells wide, and whether the last probe is
    compact: columns give way (:data:`GIVE_WAY`) until the rows fit without scrolling sideways."""
    dropped: list[str] = []
    compact = False
    for step in (None, "compact", *GIVE_WAY):
        if step == "compact":
            compact = True
        elif step is not None:
            dropped.append(step)
        need = needed_widths(views, compact=compact)
        keys = [k for k, _ in COLUMNS if k not in dropped]
        if sum(need[k] + 2 * padding for k in keys) + KEPT_FREE <= width:
            break
    if dropped:  # narrow: the switch state before the last probe, which is the longest cell
        keys.remove("switch")
        keys.insert(keys.index("last_probe"), "switch")
    return tuple(keys), compact


MODE_VARIABLE = {  # by Mode value
    "full": "foreground",
    "draft-only": "level-draft",
    "read-only": "level-read",
    "disabled": "foreground-darken-2",
}


def row_cells(
    view: ConnectorView, variables: Mapping[str, str], key_age_warn_days: int, *, compact: bool = False
) -> dict[str, Text]:
    """The cells of one row, by column key. Plain Text everywhere: names are never read as markup.
    ``compact``: a narrow terminal, the last probe without its "ago"."""
    muted = tone(variables, "foreground-darken-2")
    age = view.key_age_days
    if view.last_probe_at is None:
        probe = Text("never", style=muted)
    else:
        outcome = view.last_outcome or "?"
        if outcome == "ok":
            style = ""
        elif view.mode.value == "disabled" and outcome in ("invalid", "revoked"):
            style = muted  # a dead key is what disabling asked for, not a failure
        else:
            style = tone(variables, "error")
        probe = Text(f"{outcome} {ago(view.last_probe_at, short=compact)}", style=style)
    return {
        "state": light_text(view, variables),
        "name": Text(view.name, style="bold"),
        "provider": Text(view.provider),
        "owner": Text(view.owner) if view.owner else Text("no owner", style=tone(variables, "warning")),
        "mode": Text(view.mode.value, style=tone(variables, MODE_VARIABLE.get(view.mode.value, "foreground"))),
        "via": Text(VIA[view.routed][0], style=tone(variables, VIA[view.routed][1])),
        "live": level_text(view.live_level, variables, empty=view.live_word),
        "drift": Text(f"▲ {len(view.drift)}", style=tone(variables, "warning")) if view.drift else Text(""),
        "key_age": Text(days(age), style=tone(variables, "warning") if (age or 0) > key_age_warn_days else ""),
        "last_probe": probe,
        "switch": switch_text(view.switch_state, variables),
    }


def set_cell(table: DataTable, row_key: str, column_key: str, value: Text) -> None:
    """Update one cell, widening its column only when the new text needs it.

    DataTable's own ``update_width=True`` re-measures the whole column whenever a cell gets
    narrower, once per updated cell: for 1,000 rows updated in place that is a million measures.
    Columns here only grow while rows update in place; a full redraw measures them afresh.
    """
    column = table.columns.get(ColumnKey(column_key))
    wider = column is not None and value.cell_len > column.content_width
    table.update_cell(row_key, column_key, value, update_width=wider)


class ConnectorTable(DataTable):
    """Row key = str(connector id), so a rename keeps the row and the cursor where they were.

    Rows go in by chunks, one chunk per frame: DataTable measures every cell of a new row, which
    for 1,000 connectors takes a good part of a second. The first screenful paints at once and
    the rest follows while the owner is already reading.
    """

    FIRST_CHUNK = 60  # rows at most in the first chunk (see first_chunk)
    CHUNK = 200

    @classmethod
    def first_chunk(cls, lines: int) -> int:
        """Rows in the first chunk on a terminal ``lines`` high: no more than it can show at once.
        A row below the screen is not painted in the first frame, but its cells are made and measured
        before it: bench_startup's panel at 1,000 connectors (120×36), callgrind to the first frame
        with rows, 1,577 → 1,544 M instructions with 36 rows instead of 60."""
        return max(1, min(cls.FIRST_CHUNK, lines))

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.views: dict[str, ConnectorView] = {}
        self._keys_by_name: dict[str, str] = {}
        self._generation = 0
        self.complete = True  # every row of the last show() is in the table
        self.columns_shown: tuple[str, ...] = tuple(k for k, _ in COLUMNS)
        self.compact = False  # the last probe without "ago" (a narrow terminal)
        self._last_show: tuple | None = None  # (views, variables, key_age_warn_days): drawn again on resize

    def on_mount(self) -> None:
        self.columns_shown, self.compact = fitting_layout(self.app.size.width, [], self.cell_padding)
        self._add_columns()

    def _add_columns(self) -> None:
        headers = dict(COLUMNS)
        for key in self.columns_shown:
            self.add_column(
                Text(headers[key]), key=key
            )  # a str would be read as markup (and load Rich's emoji table: 3 ms)

    def _fit(self, views: Sequence[ConnectorView]) -> bool:
        """Lay the columns out for these rows on this terminal; True when that changed them (the
        rows must then go in again)."""
        layout = fitting_layout(self.app.size.width, views, self.cell_padding)
        if layout == (self.columns_shown, self.compact):
            return False
        self.columns_shown, self.compact = layout
        self.clear(columns=True)
        self._add_columns()
        self.views, self._keys_by_name = {}, {}
        return True

    def on_resize(self) -> None:
        if self._last_show is not None:
            views, variables, warn = self._last_show
            if self._fit(views):
                self.show(views, variables, key_age_warn_days=warn)
        else:
            self._fit([])

    def show(
        self,
        views: Sequence[ConnectorView],
        variables: Mapping[str, str],
        *,
        key_age_warn_days: int,
        select: str | None = None,
    ) -> None:
        """Replace the rows; keep the cursor on ``select`` (a name) or on the connector it was on.

        When the rows are the same connectors in the same order (a reload after a probe-all or a
        switch), the cells are updated in place instead: no flicker, the cursor and the scroll
        position stay, and only cells whose text changed are touched.
        """
        self._last_show = (views, variables, key_age_warn_days)
        keep_id = None
        if select is not None:
            keep_id = next((str(v.id) for v in views if v.name == select), None)
        elif self.selected is not None:
            keep_id = str(self.selected.id)
        self._generation += 1
        pending = list(views)
        self._fit(pending)
        if self.complete and self.row_count and [str(v.id) for v in pending] == list(self.views):
            self.complete = False
            self._update_chunk(self._generation, pending, variables, key_age_warn_days, keep_id)
            return
        self.clear()
        self.views = {}
        self._keys_by_name = {}
        self.complete = False
        first = self.first_chunk(self.app.size.height)
        self._add_chunk(self._generation, pending, first, variables, key_age_warn_days, keep_id)

    def _add_chunk(
        self,
        generation: int,
        pending: list[ConnectorView],
        size: int,
        variables: Mapping[str, str],
        key_age_warn_days: int,
        keep_id: str | None,
    ) -> None:
        if generation != self._generation:
            return  # a newer show() replaced these rows
        chunk, rest = pending[:size], pending[size:]
        for view in chunk:
            key = str(view.id)
            self.views[key] = view
            self._keys_by_name[view.name] = key
            cells = row_cells(view, variables, key_age_warn_days, compact=self.compact)
            self.add_row(*(cells[k] for k in self.columns_shown), key=key)
        if keep_id is not None and keep_id in self.views and any(str(v.id) == keep_id for v in chunk):
            self.move_cursor(row=self.get_row_index(keep_id), animate=False)
        if rest:
            self.call_after_refresh(
                self._add_chunk, generation, rest, self.CHUNK, variables, key_age_warn_days, keep_id
            )
        else:
            self.complete = True

    def _update_chunk(
        self,
        generation: int,
        pending: list[ConnectorView],
        variables: Mapping[str, str],
        key_age_warn_days: int,
        keep_id: str | None,
    ) -> None:
        if generation != self._generation:
            return
        chunk, rest = pending[: self.CHUNK], pending[self.CHUNK :]
        for view in chunk:
            self._set_cells(view, variables, key_age_warn_days)
        if keep_id is not None and any(str(v.id) == keep_id for v in chunk):
            self.move_cursor(row=self.get_row_index(keep_id), animate=False)
        if rest:
            self.call_after_refresh(self._update_chunk, generation, rest, variables, key_age_warn_days, keep_id)
        else:
            self.complete = True

    def _set_cells(self, view: ConnectorView, variables: Mapping[str, str], key_age_warn_days: int) -> None:
        key = str(view.id)
        self.views[key] = view
        self._keys_by_name[view.name] = key
        current = dict(zip(self.columns_shown, self.get_row(key)))
        for column, cell in row_cells(view, variables, key_age_warn_days, compact=self.compact).items():
            if column in current and current[column] != cell:
                set_cell(self, key, column, cell)

    def update_view(self, view: ConnectorView, variables: Mapping[str, str], *, key_age_warn_days: int) -> None:
        """Update one connector's cells in place (probe results and switch steps arriving one by one)."""
        if str(view.id) in self.views:
            self._set_cells(view, variables, key_age_warn_days)

    def view_named(self, name: str) -> ConnectorView | None:
        view = self.views.get(self._keys_by_name.get(name, ""))
        return view if view is not None and view.name == name else None

    @property
    def selected(self) -> ConnectorView | None:
        if not self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except CellDoesNotExist:
            return None
        return self.views.get(row_key.value or "")

    def view_for(self, row_key: RowKey) -> ConnectorView | None:
        return self.views.get(row_key.value or "")

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """DataTable's, with the width of a :class:`Text` cell taken from its lines, as Rich's
        measuring finds it (``Text.__rich_measure__``'s maximum) without building console options
        per cell. Rows with a label or an automatic height go to DataTable as they are.

        The same column widths and virtual size as DataTable's (tests/tui/test_panel_start.py
        compares them). What it buys, bench_startup's panel at 1,000 connectors: 1,544 → 1,528 M
        instructions to the first frame with rows (callgrind)."""
        new_rows = list(new_rows)
        indexes = []
        for row_key in new_rows:
            index = self._row_locations.get(row_key)
            if index is None:  # removed before the idle pass, as DataTable allows
                continue
            row = self.rows.get(row_key)
            if row is None or row.label is not None or row.auto_height:
                super()._update_dimensions(new_rows)
                return
            indexes.append(index)
        columns = self.ordered_columns
        console = self.app.console
        for index in indexes:
            _label, cells = self._get_row_renderables(index)
            for column, cell in zip(columns, cells):
                if type(cell) is Text:
                    lines = cell.plain.splitlines()
                    width = max(cell_len(line) for line in lines) if lines else 0
                else:
                    width = measure(console, cell, 1)
                if width > column.content_width:
                    column.content_width = width
        super()._update_dimensions(())  # the virtual size, from the widths above

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        """A body cell that is one :class:`Text` of one style and fits its column, as the segments
        DataTable's own rendering makes of it (Rich's Padding, Text and Styled, line splitting and
        cropping: about four fifths of painting a screenful). Anything else goes to DataTable.

        The same segments, styles and cache as DataTable's (tests/tui/test_panel_start.py
        compares them cell by cell). What it buys, bench_startup's panel at 1,000 connectors (120×36,
        319 cells in the first frame): the table's first paint 71 → 46 ms of CPU, and 115 M fewer
        instructions to the first frame with rows (callgrind).
        """
        padding = self.cell_padding
        row_key = self._row_locations.get_key(row_index) if row_index >= 0 else None
        column_key = self._column_locations.get_key(column_index) if column_index >= 0 else None
        row = self.rows.get(row_key) if row_key is not None else None
        cell = self._data[row_key].get(column_key) if row is not None and column_key is not None else None
        if (
            row is None
            or row.height != 1
            or row.auto_height
            or self.fixed_rows
            or self.fixed_columns
            or padding < 1
            or not isinstance(cell, Text)
            or cell._spans
            or cell.justify
            or cell.overflow
            or cell.end != "\n"
        ):
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        plain = cell.plain
        room = width - 2 * padding
        if "\n" in plain or "\t" in plain or cell_len(plain) > room:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        key = (
            row_key,
            column_key,
            base_style,
            cursor,
            hover,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        cached = self._cell_render_cache.get(key)
        if cached is not None:
            return cached
        component_style, post_style = self._get_styles_to_render_cell(
            False,
            False,
            False,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        console = self.app.console
        pre_style = console.get_style(
            base_style + Style.from_meta({"row": row_index, "column": column_index}) + component_style
        )
        post_style = console.get_style(post_style)

        def styled(style: Style | None) -> Style:  # what Rich's Segment.apply_style makes of a segment's style
            style = pre_style + style if pre_style else style
            if post_style:
                style = style + post_style if style else post_style
            return style

        edge = styled(Style.null())
        text_style = console.get_style(cell.style) if cell.style and plain else None
        line = [Segment(" " * padding, edge), Segment(plain, styled(text_style))]
        fill = room - cell_len(plain)
        if fill:
            line.append(Segment(" " * fill, edge))
        line.append(Segment(" " * padding, edge))
        lines = [line]
        self._cell_render_cache[key] = lines
        return lines
