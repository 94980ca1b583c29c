"""The summary strip above the connector table: what needs the owner's attention, in six tiles."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import HorizontalGroup
from textual.widgets import Static

from app.tui.glossary import TILE_HELP
from app.tui.widgets.present import ago

if TYPE_CHECKING:
    from app.services.views import Summary


class Tile(Static, can_focus=True):
    """One figure with a border title. ``-alert`` / ``-calm`` classes colour the border via the theme.
    Focus (tab) or hover shows its one-line explanation (app.tui.glossary.TILE_HELP) as a tooltip."""

    def on_focus(self) -> None:
        # A tooltip appears on hover only; on focus the explanation is a toast that does not cover the tiles.
        if self.tooltip:
            self.notify(str(self.tooltip), title=str(self.border_title or ""), timeout=4)

    def show(self, figure: str, caption: str, *, alert: bool) -> None:
        self.update(f"[b]{figure}[/b]\n{caption}")
        self.set_class(alert, "-alert")
        self.set_class(not alert, "-calm")


class SummaryStrip(HorizontalGroup):
    """Connectors by mode, drift, old keys, probes never done or failing, shared keys, review.

    Below :data:`NARROW` columns (an 80×24 terminal) the tiles share the width evenly and say the
    same things in fewer letters, so no figure or caption is cut to "d…"."""

    NARROW = 100
    TILES = (  # id, title, title when narrow
        ("tile-connectors", "connectors", "connectors"),
        ("tile-drift", "drift", "drift"),
        ("tile-old-keys", "old keys", "age"),
        ("tile-probes", "probes", "probes"),
        ("tile-shared", "shared keys", "shared"),
        ("tile-review", "review", "review"),
    )

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.shown: tuple | None = None  # the last show()'s arguments, drawn again on resize
        self.narrow = False

    def compose(self) -> ComposeResult:
        for tile_id, title, _short in self.TILES:
            tile = Tile("…", id=tile_id, classes="tile")
            tile.border_title = title
            tile.tooltip = TILE_HELP[tile_id]
            yield tile

    def on_resize(self) -> None:
        narrow = self.app.size.width < self.NARROW
        if narrow != self.narrow:
            self.narrow = narrow
            self.set_class(narrow, "-narrow")
            for tile_id, title, short in self.TILES:
                self.tile(tile_id).border_title = short if narrow else title
            if self.shown is not None:
                self.show(*self.shown[0], **self.shown[1])

    def show(self, summary: Summary, *, key_age_warn_days: int, last_review_at=None) -> None:
        self.shown = ((summary,), {"key_age_warn_days": key_age_warn_days, "last_review_at": last_review_at})
        narrow = self.narrow
        by_mode = summary.by_mode
        # "off" only when a probe proved it; a connector recorded disabled whose key was not proven
        # dead is counted apart, in red: it may still work at the provider.
        counts = [(by_mode.get("full", 0), "full"), (by_mode.get("draft-only", 0), "draft")]
        counts += [(by_mode.get("read-only", 0), "read"), (summary.off, "off")]
        modes = ", ".join(f"{n} {label}" for n, label in counts if n)
        lowered = summary.total - by_mode.get("full", 0)
        if narrow and lowered:  # fewer letters on an 80-column terminal
            modes = f"{by_mode.get('full', 0)} full, {lowered} lowered"
        if summary.still_live:
            live = f"{summary.still_live} live" if narrow else f"{summary.still_live} keys still live"
            modes += f"{', ' if modes else ''}[$text-error]{live}[/]"
        self.tile("tile-connectors").show(
            str(summary.total), modes or "none yet: press a", alert=summary.still_live > 0
        )
        self.tile("tile-drift").show(
            str(summary.drift), "drifting" if narrow else "with drift", alert=summary.drift > 0
        )
        self.tile("tile-old-keys").show(
            str(summary.stale_keys),
            f"> {key_age_warn_days} d" if narrow else f"> {key_age_warn_days} days",
            alert=summary.stale_keys > 0,
        )
        self.tile("tile-probes").show(
            f"{summary.never_probed} never",
            f"{summary.failing} failing",
            alert=summary.never_probed + summary.failing > 0,
        )
        self.tile("tile-shared").show(
            str(summary.shared_keys), "share key" if narrow else "share a key", alert=summary.shared_keys > 0
        )
        if summary.review_due:
            caption = "never" if narrow else "never done"
            if last_review_at is not None:
                caption = f"last {ago(last_review_at)}"
            self.tile("tile-review").show("due", caption, alert=True)
        elif last_review_at is None:  # nothing to review yet (an empty inventory)
            self.tile("tile-review").show("—", "nothing yet", alert=False)
        else:
            self.tile("tile-review").show("done", ago(last_review_at), alert=False)

    def tile(self, tile_id: str) -> Tile:
        return self.query_one(f"#{tile_id}", Tile)
