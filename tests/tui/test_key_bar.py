"""The key bar: the screen's shown bindings in one line, greyed ones dim, a click presses the key."""

from __future__ import annotations

from app.tui.actions import BUILT_FEATURES
from app.tui.app import BreakerApp, make_app
from app.tui.screens.help import HelpScreen
from app.tui.widgets.key_bar import KeyBar
from tests.tui.pilot import settle, until
from tests.tui.test_panel import SIZE


def _shown(bar: KeyBar) -> dict[str, bool]:
    """word → enabled, as the bar shows it."""
    return {item.description: any(enabled for _k, _d, enabled in item.keys) for item in bar.items}


async def test_the_bar_shows_each_action_once_and_greys_what_cannot_run(seeded):
    app = BreakerApp(seeded, features=BUILT_FEATURES - {"review"})  # one feature not built: greyed
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        bar = app.screen.query_one(KeyBar)
        shown = _shown(bar)
        assert shown["add"] and shown["help"] and shown["panic"]
        assert shown["review"] is False  # not built: shown greyed, not hidden
        assert "probe" in shown and [len(i.keys) for i in bar.items if i.description == "probe"] == [2]  # p P
        assert bar.palette is not None and bar.palette.keys[0][1] == "^p"
        text = bar.render().plain
        assert text.startswith("aadd  eedit") and "p P probe" in text


async def test_read_only_mode_takes_the_destructive_keys_off_the_bar(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        bar = app.screen.query_one(KeyBar)
        assert "remove" in _shown(bar)
        await pilot.press("ctrl+r")
        await until(pilot, lambda: "remove" not in _shown(bar))
        assert "panic" not in _shown(bar) and "help" in _shown(bar)


async def test_clicking_a_key_on_the_bar_presses_it_at_its_exact_cells(seeded):
    """The first cell of a key and the last cell of its word press it; the gap around them does not
    (so a bar that forgot its padding, one cell off either way, fails here)."""
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        bar = app.screen.query_one(KeyBar)
        pad = bar.styles.padding.left
        hits = [hit for hit in bar._hits if hit[2] == "question_mark"]
        first, last = hits[0][0], hits[-1][1] - 1  # "?" and the last cell of "help"
        for cell in (first, last):
            await pilot.click(KeyBar, offset=(cell + pad, 0))
            await until(pilot, lambda: isinstance(app.screen, HelpScreen))
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, HelpScreen))
        for cell in (first - 1, last + 1):  # the gaps
            await pilot.click(KeyBar, offset=(cell + pad, 0))
            await pilot.pause()
            assert not isinstance(app.screen, HelpScreen)


async def test_clicking_a_greyed_key_does_nothing(seeded):
    app = BreakerApp(seeded, features=BUILT_FEATURES - {"review"})
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        bar = app.screen.query_one(KeyBar)
        first, _last, _key, enabled = next(hit for hit in bar._hits if hit[2] == "w")
        assert enabled is False  # a feature not built
        screen = app.screen
        await pilot.click(KeyBar, offset=(first + bar.styles.padding.left, 0))
        await pilot.pause()
        assert app.screen is screen


async def test_bindings_are_refreshed_when_the_selection_appears_or_goes_not_on_every_move(seeded):
    """check_action asks only whether a connector is selected: moving the cursor between rows does
    not rebuild the bindings, while a filter that leaves no row greys the connector keys at once."""
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.main_screen
        bar = screen.query_one(KeyBar)
        refreshes: list[int] = []
        screen.bindings_updated_signal.subscribe(screen, lambda _s: refreshes.append(1), immediate=True)
        assert _shown(bar)["edit"] is True
        for _ in range(3):
            await pilot.press("down")
        await pilot.pause()
        assert refreshes == []
        await pilot.press("slash", *"no such connector", "enter")  # enter: back to the (empty) table
        await until(pilot, lambda: _shown(bar).get("edit") is False)
        assert refreshes
        await pilot.press("escape")
        await until(pilot, lambda: _shown(bar).get("edit") is True)


async def test_on_an_80_column_terminal_help_stays_on_the_bar_and_greyed_keys_go_first(seeded):
    app = make_app(seeded)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        bar = app.screen.query_one(KeyBar)
        text = bar.render().plain
        assert "?help" in text and "!panic" in text and len(text) <= bar.content_size.width
        shown = bar.fitting(bar.items, bar.content_size.width)
        assert len(shown) < len(bar.items)  # not everything fits at 80 columns …
        assert all(item.enabled for item in shown)  # … and greyed entries were the first to give way
        assert text.startswith("aadd  eedit")
        hit = next(h for h in bar._hits if h[2] == "question_mark")
        await pilot.click(KeyBar, offset=(hit[0] + bar.styles.padding.left, 0))
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
