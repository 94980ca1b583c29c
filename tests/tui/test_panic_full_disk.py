"""``!`` on a disk already full at the panic's first write (issue 10, item 6): nothing can be
recorded, yet the provider calls are made; the summary says plainly what is NOT recorded and how to
finish, and a resume once there is room revokes nothing again."""

from __future__ import annotations

from textual.widgets import Static

from app.tui.app import make_app
from app.tui.screens.panic import PanicScreen, PanicTypeConfirm
from app.tui.widgets.outline import Outline
from connectors.base import Mode
from tests.switches.test_panic_full_disk import disk_full_from_the_start  # noqa: F401  (fixture)
from tests.tui.pilot import click, on_screen, settle, until
from tests.tui.test_panic import SIZE, open_first_step


def revokes(live) -> list[str]:
    return [p for provider in ("github", "slack") for _, p in live.calls(provider) if "revoke" in p]


async def test_bang_on_a_full_disk_still_revokes_and_says_what_is_not_recorded(
    live,
    disk_full_from_the_start,  # noqa: F811
):
    live.add("gh-1", "github", "classic")
    live.add("digest", "slack", "bot")
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        disk_full_from_the_start["full"] = True
        await open_first_step(pilot)
        await click(pilot, "#continue")
        await on_screen(pilot, PanicTypeConfirm)
        await pilot.press(*"PANIC", "enter")
        await on_screen(pilot, PanicScreen)
        screen = app.screen
        await until(pilot, lambda: screen.finished, timeout=60)
        await pilot.pause()
        summary = screen.summary
        assert summary is not None, str(screen.query_one("#panic-status", Static).content)
        assert not summary.ok and not summary.recorded and "disk is full" in summary.write_problem
        assert {r.connector for r in summary.verified} == {"gh-1", "digest"}
        text = screen.query_one("#panic-summary-text", Outline).plain()
        assert "NOT recorded" in text and "breaker exec" in text and "panic --resume" in text
        assert "may still work" not in str(screen.query_one("#panic-status", Static).content)
    assert len(revokes(live)) == 2
    assert all(v.mode is Mode.FULL for v in live.services.inventory.list())  # nothing could be written
