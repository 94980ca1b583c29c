"""The key bar at the bottom of every screen: the screen's shown bindings, drawn as one line.

Why not Textual's ``Footer``: it mounts one widget per key and recomposes all of them whenever the
bindings change. The main screen now refreshes its bindings only when what ``check_action`` reads
changes (whether a connector is selected, see ``MainScreen.selection_changed``), so a cursor move
costs the same with either. What remains is the start: measured on 2026-12-04 in-process
(``App.run_test`` at 120×36, 1,000 connectors, 6 alternating runs each on a shared 2-core machine,
load ≈ 5), the first frame with rows came after a median 0.72 s (0.47–0.99) with this bar and
1.86 s (1.37–3.43) with ``Footer(compact=True)``; a cursor move took a median 0.12–0.14 s with
either (Pilot's own overhead included), against 0.42 s with the Footer when bindings were refreshed
on every move. So this bar stays: a single widget that works out what to show when the bindings
change, redraws only if that differs, and presses a key when it is clicked, as the Footer does.
Greyed (disabled) keys are drawn dim; `?` lists every binding with its id.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from rich.cells import cell_len
from textual import events
from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget

KEY_STYLE = "bold $footer-key-foreground"
DESCRIPTION_STYLE = "$footer-description-foreground"
DIM = "dim "  # a greyed key: shown, so the owner knows it exists, but it does nothing now
GAP = "  "
PINNED = frozenset({"question_mark", "exclamation_mark"})  # help and panic: kept however narrow the terminal


@dataclass(frozen=True)
class KeyItem:
    """One entry: a key (or a group's keys) and the words after it."""

    keys: tuple[tuple[str, str, bool], ...]  # (key to press, how it is shown, enabled)

    @property
    def enabled(self) -> bool:
        return any(enabled for _key, _display, enabled in self.keys)

    description: str


class KeyBar(Widget):
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items: tuple[KeyItem, ...] = ()
        self.palette: KeyItem | None = None
        self._hits: list[tuple[int, int, str, bool]] = []  # (first cell, last + 1, key, enabled), last render

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        if not self.is_attached or screen is not self.screen:
            return
        items, palette = self.collect(screen)
        if (items, palette) != (self.items, self.palette):
            self.items, self.palette = items, palette
            self.refresh()

    def collect(self, screen: Screen) -> tuple[tuple[KeyItem, ...], KeyItem | None]:
        """What to show: one entry per action (its first shown binding), consecutive actions of the
        same binding group joined under the group's description, the command palette apart."""
        app = self.app
        active = screen.active_bindings
        palette_key = app.COMMAND_PALETTE_BINDING if app.ENABLE_COMMAND_PALETTE else None
        by_action: dict[str, tuple] = {}
        for key, (_node, binding, enabled, _tooltip) in active.items():
            if binding.show and key != palette_key and binding.action not in by_action:
                by_action[binding.action] = (binding, enabled)
        items: list[KeyItem] = []
        for group, members in groupby(by_action.values(), lambda m: m[0].group):
            members = list(members)
            if group is not None and len(members) > 1:
                keys = tuple((b.key, app.get_key_display(b), enabled) for b, enabled in members)
                items.append(KeyItem(keys, group.description))
            else:
                items.extend(
                    KeyItem(((b.key, app.get_key_display(b), enabled),), b.description) for b, enabled in members
                )
        palette = None
        if palette_key is not None and palette_key in active:
            _node, binding, enabled, _tooltip = active[palette_key]
            palette = KeyItem(((binding.key, app.get_key_display(binding), enabled),), binding.description)
        return tuple(items), palette

    def _parts(self, item: KeyItem, start: int, hits: list) -> tuple[list, int]:
        """The styled pieces of one entry from cell ``start``, noting where each key can be clicked."""
        parts: list = []
        position = start
        for i, (key, display, enabled) in enumerate(item.keys):
            if i:
                parts.append(" ")
                position += 1
            parts.append((display, KEY_STYLE if enabled else DIM + KEY_STYLE))
            width = cell_len(display)  # cells, not characters: a remapped key may be shown wide
            hits.append((position, position + width, key, enabled))
            position += width
        if item.description:
            # As Textual's compact footer: a key runs into its word ("aadd", told apart by colour);
            # a group's keys are spaced, and so is its word ("p P probe").
            if len(item.keys) > 1:
                parts.append(" ")
                position += 1
            text = item.description
            parts.append((text, DESCRIPTION_STYLE if item.enabled else DIM + DESCRIPTION_STYLE))
            width = cell_len(text)
            hits.append((position, position + width, item.keys[0][0], item.keys[0][2]))
            position += width
        return parts, position

    def render(self) -> Content:
        hits: list = []
        parts: list = []
        position = 0
        items = self.fitting(self.items, self.content_size.width)
        for item in items:
            if parts:
                parts.append(GAP)
                position += len(GAP)
            more, position = self._parts(item, position, hits)
            parts.extend(more)
        if self.palette is not None:
            right_hits: list = []
            right, width = self._parts(self.palette, 0, right_hits)
            room = self.content_size.width - width
            if room - position >= len(GAP):  # right-aligned when it fits, else dropped (ctrl+p still works)
                parts.append(" " * (room - position))
                parts.extend(right)
                hits.extend((a + room, b + room, key, on) for a, b, key, on in right_hits)
        self._hits = hits
        return Content.assemble(*parts)

    def fitting(self, items: tuple[KeyItem, ...], width: int) -> tuple[KeyItem, ...]:
        """The entries that fit in ``width`` cells: when they do not all fit (an 80-column terminal),
        greyed entries go first, then the last ones, but help (``?``) and panic (``!``) always stay."""
        if not width:
            return items

        def size(chosen) -> int:
            return sum(self._parts(i, 0, [])[1] for i in chosen) + len(GAP) * max(0, len(chosen) - 1)

        chosen = list(items)
        for item in [i for i in reversed(items) if not i.enabled]:
            if size(chosen) <= width:
                break
            chosen.remove(item)
        while size(chosen) > width and len(chosen) > 1:
            droppable = [i for i in chosen if all(key not in PINNED for key, _d, _e in i.keys)]
            if not droppable:
                break
            chosen.remove(droppable[-1])
        return tuple(chosen)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        for first, last, key, enabled in self._hits:
            if first <= offset.x < last:
                event.stop()
                if enabled:
                    self.app.simulate_key(key)
                else:
                    self.app.bell()  # greyed: as Textual's Footer does
                return
