"""Probing from the panel (issue 3), through the real loopback sandbox: ``p``, ``P`` with its
progress bar, the deep probe's confirmation, the connector screen's declared-vs-live and history,
and the add form probing a pasted key."""

from __future__ import annotations

import pytest
from textual import events
from textual.widgets import Button, Input, ProgressBar, Static

from app.tui.app import make_app
from app.tui.messages import ProbesArrived
from app.tui.screens.confirm import DeepProbeConfirm
from app.tui.screens.connector import ConnectorScreen
from app.tui.screens.form import ConnectorForm
from app.tui.screens.main import MainScreen
from tests.tui.pilot import Notes, cell, click, on_screen, select_row, settle, until

SIZE = (120, 36)
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def writes(live, provider: str) -> list[tuple[str, str]]:
    return [c for c in live.calls(provider) if c[0] in WRITES]


async def test_p_probes_the_selected_connector_and_shows_live_level_and_drift(live):
    live.add("gh-bot", "github", "classic", declared="repo:send")  # the key also holds read:org
    live.add("mail", "sendgrid", "full_access")
    notes = Notes()
    app = make_app(live.services)
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await settle(pilot)
        assert cell(app, "gh-bot", "last_probe") == "never"
        await select_row(pilot, "gh-bot")
        await pilot.press("p")
        await settle(pilot)
        assert cell(app, "gh-bot", "live") == "send"
        assert cell(app, "gh-bot", "drift") == "▲ 1"  # read:org was not declared
        assert cell(app, "gh-bot", "state") == "▲"
        assert cell(app, "gh-bot", "last_probe").startswith("ok")
        assert cell(app, "mail", "last_probe") == "never"  # only the selected connector
        assert any("Probe of gh-bot" in t and "undeclared live scopes: read:org" in t for t in notes.texts())
        assert live.calls("github") and not writes(live, "github")  # an ordinary probe only reads
        assert str(app.screen.query_one("#tile-drift").content).startswith("[b]1[/b]")  # the summary strip too


async def test_P_probes_all_with_a_progress_bar_and_rows_updating_as_results_arrive(live):
    for i in range(4):
        live.add(f"gh-{i}", "github", "classic", declared="repo:send, read:org:read")
    live.add("slack-bot", "slack", "bot", declared="channels:history:read")  # drift: chat:write, channels:read
    live.add("slow-mail", "sendgrid", "full_access")
    # one slow provider: the others come in first (3 s, was 1.5 s: room for a busy machine)
    live.sandbox.faults.set("sendgrid", latency_ms=3000)
    arrived: list[ProbesArrived] = []
    app = make_app(live.services)
    async with app.run_test(
        size=SIZE, message_hook=lambda m: arrived.append(m) if isinstance(m, ProbesArrived) else None
    ) as pilot:
        await settle(pilot)
        await pilot.press("P")
        await pilot.pause(0.05)
        box = app.screen.query_one("#probe-progress")
        bar = app.screen.query_one("#probe-bar", ProgressBar)
        assert box.display and bar.total == 6
        # the fast providers' rows update while the slow one is still answering
        await until(pilot, lambda: cell(app, "slack-bot", "last_probe").startswith("ok"))
        assert box.display and cell(app, "slow-mail", "last_probe") == "never"
        assert 0 < bar.progress < 6
        label = str(app.screen.query_one("#probe-label", Static).content)
        assert "Probing all 6 connectors" in label and "with drift" in label
        assert cell(app, "slack-bot", "drift") == "▲ 1"  # one finding: undeclared live scopes
        await pilot.press("P")  # a second probe-all while one runs is refused, not doubled
        await settle(pilot)
        assert not box.display
        assert all(cell(app, n, "last_probe").startswith("ok") for n in ("gh-0", "gh-3", "slack-bot", "slow-mail"))
        assert cell(app, "gh-0", "drift") == "" and cell(app, "gh-0", "live") == "send"
        assert cell(app, "slow-mail", "live") == "admin" and cell(app, "slow-mail", "drift") == "▲ 1"
    assert sum(len(m.results) for m in arrived) == 6
    assert len(arrived) < 6  # results come in batches, not one message each


async def test_probe_all_shows_failures_in_rows_and_keeps_going(live):
    live.add("good", "github", "classic")
    dead = live.add("dead", "github", "classic")
    live.sandbox.state.revoke(dead.token)
    live.add("down", "slack", "bot")
    live.sandbox.faults.set("slack", status=503)
    notes = Notes()
    app = make_app(live.services)
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await settle(pilot)
        await pilot.press("P")
        await settle(pilot)
        assert cell(app, "good", "last_probe").startswith("ok")
        assert cell(app, "dead", "last_probe").startswith(("invalid", "revoked"))
        assert cell(app, "dead", "state") == "✖"
        assert not cell(app, "down", "last_probe").startswith(("ok", "never"))
        assert any("3 probed: 1 ok, 2 failed" in t for t in notes.texts())


async def test_deep_probe_says_how_many_requests_first_and_cancel_sends_nothing(live):
    from connectors import registry

    live.add("gh-bot", "github", "classic", declared="repo:send, read:org:read")
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+d")
        await on_screen(pilot, DeepProbeConfirm)
        assert app.focused is app.screen.query_one("#cancel", Button)
        text = str(app.screen.query_one("#deep-text", Static).content)
        assert f"GitHub: [b]{registry.get('github').deep_probe_requests}[/b] requests in all" in text
        assert "never at real ones" in text
        await pilot.press("enter")  # on Cancel
        await settle(pilot)
        assert isinstance(app.screen, MainScreen) and live.calls("github") == []
        await pilot.press("ctrl+d")
        await on_screen(pilot, DeepProbeConfirm)
        await click(pilot, "#confirm")
        await settle(pilot)
        assert cell(app, "gh-bot", "last_probe").startswith("ok")
    history = live.services.prober.history("gh-bot")
    assert history and history[0].deep


async def test_connector_screen_probe_shows_declared_and_live_side_by_side_with_history(live):
    live.add("slack-bot", "slack", "bot", declared="channels:history:read")
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ConnectorScreen)
        live_table = screen.query_one("#live")
        assert live_table.get_row_at(0)[0].plain == "not probed yet"
        await pilot.press("p")
        await settle(pilot)
        await until(
            pilot,
            lambda: screen.query_one("#probe-history").row_count == 1 and screen.query_one("#live").row_count == 3,
        )
        rows = {
            r[0].plain: (r[1].plain, r[2].plain)
            for r in (live_table.get_row_at(i) for i in range(live_table.row_count))
        }
        assert rows["chat:write"] == ("send", "undeclared, over mode") or rows["chat:write"][0] == "send"
        assert rows["channels:history"][0] == "read" and rows["channels:history"][1] == ""
        history = screen.query_one("#probe-history")
        assert history.get_row_at(0)[1].plain == "ok" and history.get_row_at(0)[2].plain == "send"
        assert "●" in str(screen.query_one("#history-strip", Static).content)
        assert "▲" in str(screen.query_one("#drift", Static).content)
        await pilot.press("p")
        await settle(pilot)
        await until(pilot, lambda: screen.query_one("#probe-history").row_count == 2)


async def test_adding_a_key_probes_it_at_once_and_offers_its_live_scopes(live):
    record = live.sandbox.mint("github", "classic")
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await on_screen(pilot, ConnectorForm)
        form = app.screen
        assert isinstance(form, ConnectorForm)
        form.query_one("#base_url", Input).value = live.sandbox.base_url("github")
        key = form.query_one("#key", Input)
        key.focus()
        key.post_message(events.Paste(record.token))
        await pilot.pause()
        await until(pilot, lambda: form.query_one("#declared", Input).value != "")
        assert form.query_one("#declared", Input).value == "repo:send, read:org:read"
        note = str(form.query_one("#key-recognised", Static).content)
        assert "live probe: ok" in note and "offered as declared scopes" in note
        assert record.token not in note
        assert not writes(live, "github")
        form.query_one("#name", Input).value = "new-bot"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
    view = live.services.inventory.get("new-bot")
    assert [(g.scope, g.level.label) for g in view.declared] == [("repo", "send"), ("read:org", "read")]


async def test_the_add_form_keeps_declared_scopes_the_owner_wrote_and_says_when_a_key_is_dead(live):
    alive = live.sandbox.mint("github", "classic")
    dead = live.sandbox.mint("github", "classic")
    live.sandbox.state.revoke(dead.token)
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await on_screen(pilot, ConnectorForm)
        form = app.screen
        form.query_one("#base_url", Input).value = live.sandbox.base_url("github")
        form.query_one("#declared", Input).value = "repo:send"
        key = form.query_one("#key", Input)
        key.post_message(events.Paste(alive.token))
        await until(pilot, lambda: "kept" in str(form.query_one("#key-recognised", Static).content))
        assert form.query_one("#declared", Input).value == "repo:send"
        key.value = ""
        await pilot.pause()
        key.post_message(events.Paste(dead.token))
        await until(
            pilot,
            lambda: (
                "live probe: invalid" in str(form.query_one("#key-recognised", Static).content)
                or "live probe: revoked" in str(form.query_one("#key-recognised", Static).content)
            ),
        )


async def test_probing_stays_available_in_read_only_mode(live):
    live.add("gh-bot", "github", "classic")
    app = make_app(live.services, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key in ("p", "P", "ctrl+d"):
            assert key in app.screen.active_bindings
        await pilot.press("P")
        await settle(pilot)
        assert cell(app, "gh-bot", "last_probe").startswith("ok")


@pytest.mark.wallclock
async def test_a_probe_all_of_1000_connectors_updates_in_batches_and_the_panel_answers_keys(services, monkeypatch):
    """Results for 1,000 connectors arrive over ~1 s (a fake prober: the sandbox is not the subject
    here). The panel handles them in a handful of batches and keeps answering keys meanwhile."""
    import asyncio
    import threading
    import time
    from pathlib import Path

    from app.services.probing import Prober, ProbeResult
    from connectors.base import Grant, Level, Outcome, ProbeReport
    from tests.tui.seed import many

    many(services, 1000)

    async def fake_probe(self, names=None, *, deep=False, on_result=None):
        names = list(names)
        results = []
        for i, name in enumerate(names):
            report = ProbeReport(Outcome.OK, status=200, grants=[Grant("repo", Level.SEND)], latency_ms=10.0)
            result = ProbeResult(name, report, ("undeclared live scopes: repo",) if i % 10 == 0 else ())
            results.append(result)
            on_result(result)
            if i % 50 == 49:
                await asyncio.sleep(0.05)
        return results

    monkeypatch.setattr(Prober, "probe", fake_probe)
    # The fake stores nothing: keep the rows as the results left them (no reload from the store).
    monkeypatch.setattr(MainScreen, "probes_stored", lambda self, message: None)
    arrived: list[ProbesArrived] = []
    lags: list[float] = []  # how late a 10 ms timer fired: how long a key press would wait
    busy: list[float] = []  # of which the loop's thread was running (the panel's own work)
    blocked: list[float] = []  # of which it waited on something (a lock, a thread, a slow call)
    schedstat = Path(f"/proc/self/task/{threading.get_native_id()}/schedstat")  # Linux

    def running_and_queued() -> tuple[float, float]:
        """This thread's CPU time, and its time spent ready but waiting for a CPU (another process
        had it: CI shares its 2 CPUs with other jobs). Without schedstat (not Linux) no time is
        known to be queued: all of a late timer not spent working counts as waiting."""
        try:
            run_ns, queued_ns, _slices = schedstat.read_text().split()
        except (OSError, ValueError):
            return time.thread_time(), 0.0
        return int(run_ns) / 1e9, int(queued_ns) / 1e9

    async def watch_the_loop() -> None:
        while True:
            before, (ran, queued) = time.perf_counter(), running_and_queued()
            await asyncio.sleep(0.01)
            lag = time.perf_counter() - before - 0.01
            ran_after, queued_after = running_and_queued()
            lags.append(lag)
            busy.append(ran_after - ran)
            blocked.append(lag - (ran_after - ran) - (queued_after - queued))

    app = make_app(services)
    async with app.run_test(
        size=SIZE, message_hook=lambda m: arrived.append(m) if isinstance(m, ProbesArrived) else None
    ) as pilot:
        await settle(pilot)
        watcher = asyncio.create_task(watch_the_loop())
        await pilot.press("P")
        assert app.screen.query_one("#probe-progress").display  # shown as the run starts
        await until(pilot, lambda: len(arrived) >= 1, step=0.01)  # results are coming in (for ≥ 1 s)
        app.screen.query_one("#filter").focus()  # the panel still takes input during the run
        await pilot.pause()
        assert app.focused is app.screen.query_one("#filter")
        app.main_screen.table.focus()
        await until(pilot, lambda: not app.main_screen.probing.runs, timeout=60)
        watcher.cancel()
        assert not app.main_screen.probing.runs
        assert len(arrived) <= 40 and sum(len(m.results) for m in arrived) == 1000
        await settle(pilot)
        table = app.main_screen.table
        assert sum(1 for v in table.views.values() if v.drift) == 100
        assert table.row_count == 1000
    # A late timer is the panel working (CPU time), the panel waiting on something, or other
    # processes holding the CPU. Only the first two are the panel's: the wall-clock lag alone read
    # ~0.1 s quiet, 0.3 s with two CPU hogs, and 2.98 s in a full suite run beside other suites and
    # two hogs (it used to be the assertion, < 0.5 s). The panel's longest stretch of work read ~0.1 s.
    print(f"longest loop stall {max(lags):.3f} s: {max(busy):.3f} s working, {max(blocked):.3f} s waiting")
    assert max(busy) < 0.5, f"the event loop was busy {max(busy):.2f} s at a stretch"
    assert max(blocked) < 0.5, f"the event loop waited {max(blocked):.2f} s on something"
