"""The review's purpose sentence at 80×24: each part on its own full-width line, wide enough for the
demo's longest part, and Save records an audited connector edit."""

from __future__ import annotations

import pytest
from textual.widgets import Button, Input, OptionList

from app.services.context import open_services
from app.services.demo import DEMO_CONNECTORS, demo_settings, prepare_demo_home
from app.tui.app import make_app
from app.tui.screens.review import PURPOSE_PARTS, ReviewScreen
from tests.tui.pilot import on_screen, settle, until

FIELDS = [field for field, _, _ in PURPOSE_PARTS]


@pytest.fixture
def demo(tmp_path):
    home = tmp_path / "demo"
    prepare_demo_home(home)
    with (home / "config.toml").open("a") as fh:
        fh.write("\n[review]\nqueue_cap = 20\n")  # every demo connector in the queue
    services = open_services(demo_settings(home))
    try:
        yield services
    finally:
        services.close()


def longest(field: str):
    """The demo connector whose ``field`` part is the longest, and that part."""
    spec = max(DEMO_CONNECTORS, key=lambda c: len(getattr(c, field)))
    return spec.name, getattr(spec, field)


async def test_each_purpose_part_is_shown_whole_at_80x24_and_save_is_audited(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await on_screen(pilot, ReviewScreen)
        screen = pilot.app.screen
        await until(pilot, lambda: screen.state is not None and screen.current is not None)
        names = [i.name for i in screen.state.items]
        queue = screen.query_one("#review-queue", OptionList)
        for field in FIELDS:
            name, text = longest(field)
            assert name in names, f"{name} is not in the review queue"
            queue.highlighted = names.index(name)
            await until(pilot, lambda name=name: screen.current == name)
            await pilot.pause()
            box = screen.query_one(f"#purpose-{field}", Input)
            assert box.value == text
            # the whole text fits in the box: nothing is cut off or scrolled out of view
            assert box.content_region.width > len(text), (field, box.content_region.width, len(text))
            assert box.region.width > 0 and box.region.x + box.region.width <= 80
        # the three parts are stacked (one under the other), not side by side
        rows = [screen.query_one(f"#purpose-{f}", Input).region.y for f in FIELDS]
        assert rows == sorted(set(rows)), rows

        name = names[0]
        queue.highlighted = 0
        await until(pilot, lambda: screen.current == name)
        await pilot.pause()
        new_task = "answer the support queue in the owner's own words, every weekday before nine"
        screen.query_one("#purpose-task", Input).value = new_task
        screen.query_one("#save-purpose", Button).press()
        await pilot.app.workers.wait_for_complete()
        await until(pilot, lambda: demo.inventory.get(name).purpose_task == new_task)
        await pilot.pause()
        assert screen.query_one("#purpose-task", Input).value == new_task
    events = [e for e in demo.audit.recent(demo.engine, 20, connector=name) if e.action == "connector.edit"]
    assert events, "the purpose edit was not audited"
    assert new_task in events[0].new_json
