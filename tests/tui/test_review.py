"""A whole weekly review of the demo inventory in the panel (issue 11), through the real loopback
sandbox: checklist answers, a reduce and a disable that really switch their connectors (verified
by probe, and seen in the sandbox's own state), a keep that needs a reason, leaving and resuming,
finishing, and exporting the report from the panel."""

from __future__ import annotations

import pytest
from textual.widgets import Button, Input, OptionList, RadioButton, Select

from app.services.context import open_services
from app.services.demo import demo_port, demo_settings, load_sandbox_state, prepare_demo_home
from app.services.probing import Prober
from app.tui.app import make_app
from app.tui.screens.confirm import SwitchConfirm
from app.tui.screens.figures import FiguresScreen, figures_shown
from app.tui.screens.main import MainScreen
from app.tui.screens.review import ReviewScreen
from connectors.base import Level, Mode, Secret
from connectors.sandbox.server import ThreadedSandbox
from tests.tui.pilot import Notes, click, on_screen, settle, until

SIZE = (160, 70)


@pytest.fixture
def demo(tmp_path):
    home = tmp_path / "demo"
    settings = prepare_demo_home(home)
    with (home / "config.toml").open("a") as fh:
        fh.write("\n[review]\nqueue_cap = 20\n")  # the whole demo in one review
    settings = demo_settings(home)
    state = load_sandbox_state(home)
    runner = ThreadedSandbox(state, port=demo_port(settings))
    server = runner.start()
    services = open_services(settings)
    try:
        yield services, state, home, server
    finally:
        services.close()
        runner.stop()


async def open_review(pilot) -> ReviewScreen:
    await pilot.press("w")
    await on_screen(pilot, ReviewScreen)
    screen = pilot.app.screen
    await until(pilot, lambda: screen.state is not None and screen.current is not None)
    await pilot.pause()
    return screen


async def show(pilot, screen: ReviewScreen, name: str) -> None:
    queue = screen.query_one("#review-queue", OptionList)
    queue.highlighted = [i.name for i in screen.state.items].index(name)
    await until(pilot, lambda: screen.current == name)
    await pilot.pause()


async def decide(pilot, screen: ReviewScreen, name: str, value: str, reason: str = "", detail: str = "") -> None:
    await show(pilot, screen, name)
    screen.query_one("#decision", Select).value = value
    screen.query_one("#decision-reason", Input).value = reason
    screen.query_one("#decision-detail", Input).value = detail
    await pilot.pause()
    screen.query_one("#decide", Button).press()
    await pilot.pause()


def decision(screen: ReviewScreen, name: str):
    return screen.state.item(name).decision


async def test_a_whole_review_of_the_demo(demo):
    services, sandbox_state, home, server = demo
    # The owner made a narrower Slack token for standup-summaries and registered it as its reduced
    # key (read-only then hands that one out): the reduce below can be verified by a probe.
    narrow = server.mint("slack", "user", scopes=["search:read", "users:read"])
    services.switches.add_credential("standup-summaries", Secret(narrow.token), tier="reduced")
    await Prober(services).probe()  # fresh probes: the findings are about live data
    newsletter_key = services.inventory.secret_for("newsletter").reveal()
    support_key = services.inventory.secret_for("support-replies").reveal()
    assert sandbox_state.get(support_key).live

    notes = Notes()
    app = make_app(services)
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await settle(pilot)
        banner = app.main_screen.query_one("#review-banner")
        await until(pilot, lambda: banner.display and "Weekly review due" in str(banner.render()))
        screen = await open_review(pilot)
        names = [i.name for i in screen.state.items]
        assert {"newsletter", "support-replies", "org-admin-sync"} <= set(names)
        risks = [i.risk for i in screen.state.items]
        assert risks == sorted(risks, reverse=True)  # riskiest first

        # Checklist answers on the newsletter: clicked, and saved with their note.
        await show(pilot, screen, "newsletter")
        screen.query_one("#note-task", Input).value = "the monthly newsletter"
        await click(pilot, "#check-task-yes")
        await until(pilot, lambda: screen.state.item("newsletter").answers.get("task", ("",))[0] == "yes")
        screen.query_one("#check-monitoring-dont_know", RadioButton).value = True
        await until(pilot, lambda: "monitoring" in screen.state.item("newsletter").answers)
        assert screen.state.item("newsletter").answers["task"] == ("yes", "the monthly newsletter")
        assert screen.state.item("newsletter").answers["monitoring"][0] == "dont_know"

        # Reduce standup-summaries (it may not post, its key can) to read-only: the same confirmation
        # as `o`, then it hands out the narrower key, and a probe shows it at read level.
        assert "forbidden" in {f.rule for f in screen.state.item("standup-summaries").findings}
        await decide(pilot, screen, "standup-summaries", "reduce:read-only")
        await on_screen(pilot, SwitchConfirm)
        full_key = services.inventory.secret_for("standup-summaries").reveal()
        await click(pilot, "#revoke-full")  # and the full key dies at Slack
        await pilot.pause()
        await click(pilot, "#confirm")
        await until(pilot, lambda: decision(screen, "standup-summaries") is not None, timeout=30)
        assert decision(screen, "standup-summaries").outcome == "verified", notes.texts()
        view = services.inventory.get("standup-summaries")
        assert view.mode is Mode.READ_ONLY and view.live_level is not None and view.live_level <= Level.READ
        assert services.inventory.secret_for("standup-summaries").reveal() == narrow.token
        assert sandbox_state.get(narrow.token).live and "chat:write" not in sandbox_state.get(narrow.token).scopes
        assert not sandbox_state.get(full_key).live

        # Disable support-replies: Slack revokes the token, and a probe proves it dead.
        await decide(pilot, screen, "support-replies", "disable", reason="the support channel moved")
        await on_screen(pilot, SwitchConfirm)
        assert app.focused is app.screen.query_one("#cancel", Button)  # focus starts on Cancel
        await click(pilot, "#confirm")
        await until(pilot, lambda: decision(screen, "support-replies") is not None, timeout=30)
        assert decision(screen, "support-replies").outcome == "verified", notes.texts()
        assert not sandbox_state.get(support_key).live
        assert services.inventory.get("support-replies").mode is Mode.DISABLED

        # Keep a high-risk item: refused without a reason, recorded with one.
        assert screen.state.item("org-admin-sync").high_risk
        await decide(pilot, screen, "org-admin-sync", "keep")
        await until(pilot, lambda: any("say why you keep it" in t for t in notes.texts()))
        assert decision(screen, "org-admin-sync") is None
        await decide(pilot, screen, "org-admin-sync", "keep", reason="HR sync needs admin:org until March")
        await until(pilot, lambda: decision(screen, "org-admin-sync") is not None)
        assert decision(screen, "org-admin-sync").reason == "HR sync needs admin:org until March"

        # Leave and resume: the same review, its answers and decisions kept.
        review_id = screen.state.id
        await pilot.press("escape")
        await on_screen(pilot, MainScreen)
        assert any("w resumes it" in t for t in notes.texts())
        screen = await open_review(pilot)
        assert screen.state.id == review_id and screen.state.decided == 3
        await show(pilot, screen, "newsletter")
        assert screen.query_one("#check-task-yes", RadioButton).value is True
        assert screen.query_one("#note-task", Input).value == "the monthly newsletter"

        # Finish, look at the figures, export the report from the panel.
        await click(pilot, "#finish")
        await until(pilot, lambda: screen.state.finished_at is not None, timeout=30)
        await pilot.press("ctrl+f")
        await on_screen(pilot, FiguresScreen)
        await until(pilot, lambda: "first week" in figures_shown(app.screen)["reduction_rate_pct"])
        assert figures_shown(app.screen)["reduction_rate_pct"].startswith("66.7%")  # reduce + disable of 3
        await pilot.press("escape")
        await on_screen(pilot, ReviewScreen)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: any("Report written" in t for t in notes.texts()))
    html = next(home.glob("breaker-review-*.html")).read_text()
    md = next(home.glob("breaker-review-*.md")).read_text()
    for text in (html, md):
        assert newsletter_key not in text and support_key not in text and narrow.token not in text
        assert full_key not in text
        assert "SANDBOX" not in text
        for view in services.inventory.list():
            assert view.name in text
    assert "HR sync needs admin:org until March" in md
    assert "support-replies**: disable — verified by probe" in md
    actions = [e.action for e in services.audit.recent(services.engine, 2000)]
    assert {"review.start", "review.answer", "review.decide", "review.finish"} <= set(actions)
    assert services.audit.verify(services.engine).ok
