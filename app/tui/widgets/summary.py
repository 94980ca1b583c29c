"""The summary strip above the connector table: what needs the owner's attention, in six tiles."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import HorizontalGroup
from textual.widgets import Static

from app.tui.widgets.present import ago

if TYPE_CHECKING:
    from app.services.views import Summary


class Tile(Static):
    """One figure with a border title. ``-alert`` / ``-calm`` classes colour the border via the theme."""

    def show(self, figure: str, caption: str, *, alert: bool) -> None:
        self.update(f"[b]{figure}[/b]\n{caption}")
        self.set_class(alert, "-alert")
        self.set_class(not alert, "-calm")


class SummaryStrip(HorizontalGroup):
    """Connectors by mode, drift, old keys, probes never done or failing, shared keys, review."""

    TILES = (
        ("tile-connectors", "connectors"),
        ("tile-drift", "drift"),
        ("tile-old-keys", "old keys"),
        ("tile-probes", "probes"),
        ("tile-shared", "shared keys"),
        ("tile-review", "review"),
    )

    def compose(self) -> ComposeResult:
        for tile_id, title in self.TILES:
            tile = Tile("…", id=tile_id, classes="tile")
            tile.border_title = title
            yield tile

    def show(self, summary: Summary, *, key_age_warn_days: int, last_review_at=None) -> None:
        by_mode = summary.by_mode
        # "off" only when a probe proved it; a connector recorded disabled whose key was not proven
        # dead is counted apart, in red: it may still work at the provider.
        counts = [(by_mode.get("full", 0), "full"), (by_mode.get("draft-only", 0), "draft")]
        counts += [(by_mode.get("read-only", 0), "read"), (summary.off, "off")]
        modes = ", ".join(f"{n} {label}" for n, label in counts if n)
        if summary.still_live:
            modes += f"{', ' if modes else ''}[$text-error]{summary.still_live} keys still live[/]"
        self.tile("tile-connectors").show(
            str(summary.total), modes or "none yet: press a", alert=summary.still_live > 0
        )
        self.tile("tile-drift").show(str(summary.drift), "with drift", alert=summary.drift > 0)
        self.tile("tile-old-keys").show(
            str(summary.stale_keys), f"> {key_age_warn_days} days", alert=summary.stale_keys > 0
        )
        self.tile("tile-probes").show(
            f"{summary.never_probed} never",
            f"{summary.failing} failing",
            alert=summary.never_probed + summary.failing > 0,
        )
        self.tile("tile-shared").show(str(summary.shared_keys), "share a key", alert=summary.shared_keys > 0)
        if summary.review_due:
            caption = "never done" if last_review_at is None else f"last {ago(last_review_at)}"
            self.tile("tile-review").show("due", caption, alert=True)
        else:
            self.tile("tile-review").show("done", ago(last_review_at), alert=False)

    def tile(self, tile_id: str) -> Tile:
        return self.query_one(f"#{tile_id}", Tile)
