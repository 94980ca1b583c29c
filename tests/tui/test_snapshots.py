"""One snapshot per screen, on the deterministic inventory of tests/tui/seed.py (frozen clock, TZ=UTC,
fixed per-install keys). Plain ``def`` tests: snap_compare runs its own event loop.

Update after looking at the report:  pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from app.tui.app import make_app

SIZE = (120, 36)


async def settle(pilot) -> None:
    """Wait for the first inventory load (it starts after the first frame) and for every worker."""
    for _ in range(500):
        if pilot.app.main_screen.loaded and pilot.app.main_screen.table.complete:
            break
        await pilot.pause(0.01)
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def select(pilot, name: str) -> None:
    table = pilot.app.main_screen.table
    names = [v.name for v in table.views.values()]
    table.move_cursor(row=names.index(name), animate=False)
    await pilot.pause()


def test_main_screen(snap_compare, seeded):
    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=settle)


def test_main_screen_empty(snap_compare, services):
    assert snap_compare(make_app(services), terminal_size=SIZE, run_before=settle)


def test_main_screen_filtered(snap_compare, seeded):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("slash", *"dana")

    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


def test_main_screen_read_only(snap_compare, seeded):
    assert snap_compare(make_app(seeded, read_only=True), terminal_size=SIZE, run_before=settle)


def test_connector_screen(snap_compare, seeded):
    async def run_before(pilot):
        await settle(pilot)
        await select(pilot, "slack-digest")
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


def test_add_form(snap_compare, seeded):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        key = pilot.app.screen.query_one("#key", Input)
        key.post_message(events.Paste("ghp_SANDBOX" + "S" * 29))
        for field, value in (("name", "docs-bot"), ("purpose_access", "the GitHub API on acme/docs"),
                             ("purpose_task", "fix typos in the docs")):
            pilot.app.screen.query_one(f"#{field}", Input).value = value
        await pilot.pause()

    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


def test_add_form_with_errors(snap_compare, seeded):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        screen = pilot.app.screen
        screen.query_one("#key", Input).post_message(events.Paste("ghp_SANDBOX has spaces"))
        for field, value in (("name", "github-issues-bot"), ("env_var", "lower"), ("declared", "repo:everything")):
            screen.query_one(f"#{field}", Input).value = value
        await pilot.press("ctrl+s")
        await settle(pilot)
        screen.query_one("#form-fields").scroll_home(animate=False)
        await pilot.pause()

    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


def test_edit_form(snap_compare, seeded):
    async def run_before(pilot):
        await settle(pilot)
        await select(pilot, "github-issues-bot")
        await pilot.press("e")
        await pilot.pause()

    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


def test_remove_confirmation(snap_compare, seeded):
    async def run_before(pilot):
        await settle(pilot)
        await select(pilot, "openai-support")
        await pilot.press("delete")
        await pilot.pause()

    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


def test_audit_screen(snap_compare, seeded):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)

    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare, seeded):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


def test_command_palette(snap_compare, seeded):
    async def run_before(pilot):
        await settle(pilot)
        await select(pilot, "slack-digest")
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"switch")
        await pilot.pause(0.3)

    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)
