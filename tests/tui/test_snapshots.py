"""One snapshot per screen, on the deterministic inventory of tests/tui/seed.py (frozen clock, TZ=UTC,
fixed per-install keys). Plain ``def`` tests: snap_compare runs its own event loop.

Update after looking at the report:  pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from app.tui.app import make_app
from tests.tui.pilot import click, on_screen, select_row, settle, tables_sized, until

SIZE = (120, 36)
SMALL = (80, 24)  # an ordinary terminal: main, connector, confirm and panic are also taken at this size


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


async def open_connector(pilot):
    await settle(pilot)
    await select_row(pilot, "slack-digest")
    await pilot.press("enter")
    await settle(pilot)
    await tables_sized(pilot)


def test_connector_screen(snap_compare, seeded):
    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=open_connector)


def test_main_screen_80x24(snap_compare, seeded):
    assert snap_compare(make_app(seeded), terminal_size=SMALL, run_before=settle)


def test_connector_screen_80x24(snap_compare, seeded):
    assert snap_compare(make_app(seeded), terminal_size=SMALL, run_before=open_connector)


def test_add_form(snap_compare, seeded, monkeypatch):
    """A pasted key is recognised and probed at once; its live scopes are offered as the declared
    ones. (The probe answer is fixed here; tests/tui/test_probing.py probes the real sandbox.)"""
    from app.services.probing import Prober
    from connectors.base import Grant, Level, Outcome, ProbeReport

    async def fixed_answer(self, client, view, cred, **_kw):
        return ProbeReport(
            Outcome.OK,
            status=200,
            identity="docs-bot",
            grants=[Grant("repo", Level.SEND), Grant("read:org", Level.READ)],
        )

    monkeypatch.setattr(Prober, "probe_report", fixed_answer)

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("a")
        await on_screen(pilot, "ConnectorForm")  # after the keyring check (a thread)
        key = pilot.app.screen.query_one("#key", Input)
        key.post_message(events.Paste("ghp_SANDBOX" + "S" * 29))
        for field, value in (
            ("name", "docs-bot"),
            ("purpose_access", "the GitHub API on acme/docs"),
            ("purpose_task", "fix typos in the docs"),
        ):
            pilot.app.screen.query_one(f"#{field}", Input).value = value
        await pilot.pause()
        await until(pilot, lambda: pilot.app.screen.query_one("#declared", Input).value != "")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


def test_add_form_with_errors(snap_compare, seeded):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("a")
        await on_screen(pilot, "ConnectorForm")  # after the keyring check (a thread)
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
        await select_row(pilot, "github-issues-bot")
        await pilot.press("e")
        await pilot.pause()

    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


def test_remove_confirmation(snap_compare, seeded):
    async def run_before(pilot):
        await settle(pilot)
        await select_row(pilot, "openai-support")
        await pilot.press("delete")
        await pilot.pause()

    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


def test_audit_screen(snap_compare, seeded):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)

    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


async def open_help(pilot):
    await settle(pilot)
    await pilot.press("question_mark")
    await pilot.pause()


def test_help_screen(snap_compare, seeded):
    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=open_help)


def test_help_screen_80x24(snap_compare, seeded):
    """The "Now" column only as wide as its notes; "What it does" gets the rest."""
    assert snap_compare(make_app(seeded), terminal_size=SMALL, run_before=open_help)


def test_command_palette(snap_compare, seeded):
    async def run_before(pilot):
        await settle(pilot)
        await select_row(pilot, "slack-digest")
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"switch")
        await pilot.pause(0.3)
        await pilot.app.workers.wait_for_complete()  # the palette's search (a worker) has listed every match
        await pilot.pause()

    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


# -- probing, switches, panic (issues 3 and 4) ----------------------------------------------------------
async def confirm_disable(pilot):
    await settle(pilot)
    await select_row(pilot, "github-issues-bot")
    await pilot.press("x")
    await on_screen(pilot, "SwitchConfirm")
    await pilot.pause()


def test_switch_confirmation(snap_compare, seeded):
    """x on a GitHub connector: the call and where, irreversible and rate-limited, what stops; Cancel focused."""
    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=confirm_disable)


def test_switch_confirmation_80x24(snap_compare, seeded):
    """At 80×24 the dialog's text scrolls and its buttons stay on screen."""
    assert snap_compare(make_app(seeded), terminal_size=SMALL, run_before=confirm_disable)


def test_switch_manual_steps(snap_compare, seeded, monkeypatch):
    """A switch that ends "applied — not verified": the manual steps with the dashboard, and I did it."""
    from app.services.switches import JobReport, Switches

    async def fake_switch(self, name, action, **_kw):
        from connectors import registry

        return JobReport(
            connector=name,
            provider="hubspot",
            action=action,
            state="manual",
            message="HubSpot has no API to reduce a private-app token",
            manual_steps=tuple(registry.get("hubspot").manual_steps("restrict")),
            job_id=1,
        )

    monkeypatch.setattr(Switches, "switch", fake_switch)

    async def run_before(pilot):
        await settle(pilot)
        await select_row(pilot, "hubspot-crm")
        await pilot.press("o")
        await on_screen(pilot, "SwitchConfirm")
        await click(pilot, "#confirm")
        await on_screen(pilot, "SwitchOutcome")
        await pilot.pause()
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


async def panic_typed(pilot):
    await settle(pilot)
    await pilot.press("exclamation_mark")
    await on_screen(pilot, "PanicConfirm")
    await click(pilot, "#continue")
    await on_screen(pilot, "PanicTypeConfirm")
    await pilot.press(*"PANIC")
    await pilot.pause()


def test_panic_second_step(snap_compare, seeded):
    """! → Continue → the deliberate second step, PANIC typed."""
    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=panic_typed)


def test_panic_second_step_80x24(snap_compare, seeded):
    """The typed second step at 80×24: what happens, the field, both buttons on screen."""
    assert snap_compare(make_app(seeded), terminal_size=SMALL, run_before=panic_typed)


def script_panic(monkeypatch):
    """The switch service's panic replaced by a script of events (fixed times): the panel is the subject."""
    from app.services.switches import JobReport, JobState, PanicSummary, Switches, SwitchEvent
    from connectors import registry

    async def fake_panic(self, selection=None, on_event=None):
        names = self.panic_plan(selection).names
        views = {v.name: v for v in self.services.inventory.list()}
        reports = []
        for i, name in enumerate(names):
            provider = views[name].provider
            on_event(SwitchEvent(name, provider, "disable", "recorded", "recorded disabled locally", elapsed_ms=9))
            if provider == "hubspot":
                report = JobReport(
                    name,
                    provider,
                    "disable",
                    "manual",
                    "HubSpot has no API to revoke a private-app token",
                    verify_note="the key still works at write level",
                    manual_steps=tuple(registry.get(provider).manual_steps("revoke")),
                )
            elif provider == "notion":
                report = JobReport(
                    name,
                    provider,
                    "disable",
                    "pending",
                    "Notion did not answer within 10 s (3 attempts)",
                    manual_steps=tuple(registry.get(provider).manual_steps("revoke")),
                )
            else:
                report = JobReport(
                    name,
                    provider,
                    "disable",
                    "verified",
                    "revoked",
                    verify_note="the key no longer works: invalid (HTTP 401)",
                )
            on_event(
                SwitchEvent(
                    name,
                    provider,
                    "disable",
                    report.state if report.state != "verified" else "verified",
                    report.verify_note or report.message,
                    report.manual_steps,
                    elapsed_ms=400 + 130 * i,
                )
            )
            reports.append(report)
        return PanicSummary(
            batch="panic-20260302T090000-abc123",
            total=len(reports),
            verified=[r for r in reports if r.state == "verified"],
            waiting=[r for r in reports if r.state == JobState.MANUAL],
            failed=[r for r in reports if r.state == "pending"],
            recorded_ms=14.0,
            applied_ms=1420.0,
            verified_ms=1830.0,
        )

    monkeypatch.setattr(Switches, "panic", fake_panic)


async def run_panic(pilot):
    await settle(pilot)
    await pilot.press("exclamation_mark")
    await on_screen(pilot, "PanicConfirm")
    await click(pilot, "#continue")
    await on_screen(pilot, "PanicTypeConfirm")
    await pilot.press(*"PANIC", "enter")
    await until(pilot, lambda: getattr(pilot.app.screen, "finished", False), timeout=60)
    await pilot.pause(0.3)
    pilot.app.clear_notifications()
    await pilot.pause()


def test_panic_summary(snap_compare, seeded, monkeypatch):
    """The end of an emergency disable: verified, applied but unverified, failed with manual steps."""
    script_panic(monkeypatch)
    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_panic)


def test_panic_summary_80x24(snap_compare, seeded, monkeypatch):
    script_panic(monkeypatch)
    assert snap_compare(make_app(seeded), terminal_size=SMALL, run_before=run_panic)


def test_panic_confirmation_80x24(snap_compare, seeded):
    """The first panic dialog at 80×24: the plan scrolls, Cancel and Continue stay on screen."""

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("exclamation_mark")
        await on_screen(pilot, "PanicConfirm")
        await pilot.pause()

    assert snap_compare(make_app(seeded), terminal_size=SMALL, run_before=run_before)


def test_probe_all_progress(snap_compare, seeded, monkeypatch):
    """P half-way: six results in (rows updated, drift marks), the progress bar at 6 of 10."""
    import asyncio

    from app.services.probing import Prober, ProbeResult
    from connectors.base import Grant, Level, Outcome, ProbeReport

    async def fake_probe(self, names=None, *, deep=False, on_result=None):
        for name in list(names)[:6]:
            if name == "notion-wiki":
                report = ProbeReport(Outcome.UNREACHABLE, error="no answer within 10 s", latency_ms=10000.0)
                result = ProbeResult(name, report)
            else:
                report = ProbeReport(Outcome.OK, status=200, grants=[Grant("scope", Level.WRITE)], latency_ms=200.0)
                drift = ("undeclared live scopes: scope",) if name == "hubspot-crm" else ()
                result = ProbeResult(name, report, drift)
            on_result(result)
        await asyncio.Event().wait()  # the rest are still "in flight" when the picture is taken

    monkeypatch.setattr(Prober, "probe", fake_probe)

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("P")
        await until(pilot, lambda: pilot.app.screen.query_one("#probe-bar").progress == 6)
        await pilot.pause(0.3)

    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


def test_checklist_screen(snap_compare, seeded):
    """Two connectors recorded disabled whose keys no probe has shown dead."""
    from sqlalchemy import update

    from app.store.db import session_scope
    from app.store.models import Connector

    with session_scope(seeded.engine) as s:
        s.execute(
            update(Connector)
            .where(Connector.name.in_(["slack-digest", "github-issues-bot"]))
            .values(mode="disabled", switch_state="manual")
        )

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("k")
        await settle(pilot)
        await until(pilot, lambda: pilot.app.screen.query_one("#checklist-table").row_count == 2)
        # The table sizes its columns on an idle pass after the rows arrive: 1 picture in 6 was
        # taken before it, with the header still at the empty table's widths.
        await pilot.pause(0.2)

    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


# -- the new key of a rotation, handed on by hand (issue 14) ------------------------------------------
def hand_on(seeded):
    """The hand-on dialog as a rotation by API leaves it: the key masked, focus on Done."""
    from app.services.switches.handoff import KeyHandoff, Offer
    from app.tui.screens.handoff import NewKeyHandOn

    view = seeded.inventory.get("gitlab-ci")
    cred = view.credential
    offer = Offer(view.name, "Zapier deploy flow", view.env_var, cred.keyring_ref, cred.fingerprint, cred.last4)

    async def run_before(pilot):
        await settle(pilot)
        pilot.app.push_screen(NewKeyHandOn(KeyHandoff(seeded, offer)))
        await on_screen(pilot, "NewKeyHandOn")
        await pilot.pause()

    return run_before


def test_new_key_hand_on(snap_compare, seeded):
    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=hand_on(seeded))


def test_new_key_hand_on_80x24(snap_compare, seeded):
    assert snap_compare(make_app(seeded), terminal_size=SMALL, run_before=hand_on(seeded))


def test_passphrase_dialog(snap_compare, seeded):
    """The encrypted-file keyring's passphrase, asked while the panel runs: masked as it is typed."""
    from pathlib import Path

    from app.tui.screens.passphrase import PassphraseDialog

    async def run_before(pilot):
        await settle(pilot)
        pilot.app.push_screen(PassphraseDialog(Path("/home/owner/.local/share/breaker/keyring.enc"), lambda _p: True))
        await on_screen(pilot, PassphraseDialog)
        await pilot.press(*"typed")

    assert snap_compare(make_app(seeded), terminal_size=SMALL, run_before=run_before)
