"""Helpers shared by the panel's Pilot tests: waiting for the panel, choosing rows, reading toasts."""

from __future__ import annotations

from textual.notifications import Notify
from textual.widgets import DataTable

from app.tui.app import BreakerApp


async def settle(pilot) -> None:
    """Wait for the inventory load (it starts after the first frame) and for every worker."""
    for _ in range(500):
        if pilot.app.main_screen.loaded and pilot.app.main_screen.table.complete:
            break
        await pilot.pause(0.01)
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    for _ in range(200):  # a reload started by the last message (a probe or switch ending)
        if pilot.app.main_screen.table.complete and not _busy(pilot.app):
            break
        await pilot.pause(0.01)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def tables_sized(pilot) -> None:
    """Wait until every table on the screen has sized its columns to its rows, then have each
    repaint from scratch. DataTable sizes columns at its next Idle after rows are added, and a
    header line painted in between stays in its render cache at the old widths (the key does not
    change when only the widths do): test_connector_screen_80x24 showed "Scope" as wide as its
    header on CI and 1 run in 6 locally. On screen that lasts until the table repaints."""
    for _ in range(300):
        if not any(table._require_update_dimensions for table in pilot.app.screen.query(DataTable)):
            break
        await pilot.pause(0.01)
    for table in pilot.app.screen.query(DataTable):
        table.notify_style_update()  # clears the table's render caches and refreshes it
    await pilot.pause()


def _busy(app: BreakerApp) -> bool:
    return any(not w.is_finished for w in app.workers)


async def until(pilot, condition, timeout: float = 30.0, step: float = 0.02) -> None:
    """Pause until ``condition()`` is true (or fail after ``timeout`` seconds)."""
    waited = 0.0
    while not condition():
        if waited >= timeout:
            raise AssertionError("condition not reached in time")
        await pilot.pause(step)
        waited += step


def names_shown(app: BreakerApp) -> list[str]:
    return [v.name for v in app.main_screen.table.views.values()]


async def select_row(pilot, name: str) -> None:
    table = pilot.app.main_screen.table
    table.move_cursor(row=names_shown(pilot.app).index(name), animate=False)
    await pilot.pause()


def cell(app: BreakerApp, name: str, column: str) -> str:
    table = app.main_screen.table
    view = table.view_named(name)
    assert view is not None, name
    return table.get_cell(str(view.id), column).plain


class Notes(list):
    """A message_hook collecting every toast: ``Notes()`` as ``run_test(message_hook=notes)``."""

    def __call__(self, message) -> None:
        if isinstance(message, Notify):
            self.append(message.notification)

    def texts(self) -> list[str]:
        return [f"{n.title}: {n.message}" for n in self]


async def click(pilot, selector: str, timeout: float = 30.0) -> None:
    """Click a widget once it is really under the pointer: a modal pushed a moment ago may not be
    composed or laid out yet (Textual 8 delays screen switches by 50 ms), and a click then misses."""
    from textual.css.query import NoMatches

    waited = 0.0
    while True:
        try:
            pilot.app.screen.query_one(selector)
        except NoMatches:
            pass
        else:
            if await pilot.click(selector):
                return
        if waited >= timeout:
            raise AssertionError(f"{selector} never came under the pointer")
        await pilot.pause(0.05)
        waited += 0.05


async def on_screen(pilot, screen_type: type | str, timeout: float = 30.0) -> None:
    """Wait until ``screen_type`` (a class, or its name) is the current screen and mounted."""

    def there() -> bool:
        screen = pilot.app.screen
        matches = (
            type(screen).__name__ == screen_type if isinstance(screen_type, str) else isinstance(screen, screen_type)
        )
        return matches and screen.is_mounted

    await until(pilot, there, timeout=timeout)
    await pilot.pause()
