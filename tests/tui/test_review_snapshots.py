"""Snapshots of the weekly review (issue 11): the review screen on an item, and the figures screen
over three stored weeks. Plain ``def`` tests: snap_compare runs its own event loop."""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import OptionList

from app.tui.app import make_app
from app.tui.screens.figures import FiguresScreen
from app.tui.screens.review import ReviewScreen
from tests.review.history import build_three_weeks
from tests.tui.pilot import on_screen, settle, until
from tests.tui.seed import NOW

SIZE = (150, 60)


def test_review_screen(snap_compare, seeded, frozen_clock):
    svc = seeded.review
    state = svc.start(NOW)
    svc.answer(state.id, "anthropic-admin", "task", "yes", "rotates the other keys")
    svc.answer(state.id, "anthropic-admin", "identity", "dont_know")
    svc.decide(state.id, svc.check_decision(state, "gitlab-ci", "keep", reason="dashboard only", now=NOW))

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("w")
        await on_screen(pilot, ReviewScreen)
        screen = pilot.app.screen
        await until(pilot, lambda: screen.current is not None)
        queue = screen.query_one("#review-queue", OptionList)
        queue.highlighted = [i.name for i in screen.state.items].index("anthropic-admin")
        await until(pilot, lambda: screen.current == "anthropic-admin")
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


def test_figures_screen(snap_compare, seeded, frozen_clock):
    build_three_weeks(seeded, frozen_clock)
    frozen_clock.now = NOW + timedelta(days=14, hours=2)

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("w")
        await on_screen(pilot, ReviewScreen)
        await pilot.press("ctrl+f")
        await on_screen(pilot, FiguresScreen)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(make_app(seeded), terminal_size=(150, 40), run_before=run_before)
