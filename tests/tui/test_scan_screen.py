"""The panel's "find the keys on this machine": scan results, and the secure preview before anything is written."""

from __future__ import annotations

import pytest

from app.tui.app import make_app
from tests.discovery import homes
from tests.discovery.homes import add_extras, make_home
from tests.tui.pilot import settle, until


@pytest.fixture
def machine(tmp_path, monkeypatch):
    h = make_home(tmp_path / "machine", project_in_home=True)
    monkeypatch.setenv("HOME", str(h.machine.home))
    monkeypatch.setenv("BREAKER_SCAN_ROOT", str(h.machine.root))
    return h


@pytest.fixture
def full_machine(machine):
    """The sample machine with what clients keep beside their server maps (extensions, prompts, rules)."""
    return add_extras(machine)


def screen_text(app) -> str:
    from textual.widgets import DataTable, Static

    parts = [str(w.render()) for w in app.screen.query(Static)]
    for table in app.screen.query(DataTable):
        for row in range(table.row_count):
            parts.append(" ".join(str(c) for c in table.get_row_at(row)))
    return "\n".join(parts)


async def open_scan(pilot):
    await settle(pilot)
    await pilot.press("s")
    await until(pilot, lambda: pilot.app.screen.id == "scan" and pilot.app.screen.report is not None, timeout=30)
    await pilot.pause()


async def test_scan_lists_servers_and_masked_keys_and_imports_them(services, machine):
    app = make_app(services)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_scan(pilot)
        text = screen_text(app)
        assert "16 MCP servers" in text and "new unreviewed connectors" in text
        assert "••••" + homes.GITHUB[-4:] in text
        for secret in (homes.GITHUB, homes.CANARY, homes.STRIPE, homes.DB_PASSWORD):
            assert secret not in text
        assert "Cursor cannot read" in text, text  # the broken project file is reported
        await pilot.press("escape")
        await settle(pilot)
        assert len(app.main_screen.table.views) == 10  # .env keys need a named folder; the profile key joins its twin


async def test_secure_preview_then_secure(services, machine):
    app = make_app(services)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_scan(pilot)
        before = machine.files["claude-desktop"].read_text()
        await pilot.press("enter")  # the first key: GitHub, in Claude Desktop and Windsurf
        await until(pilot, lambda: app.screen.id == "secure-preview", timeout=30)
        assert app.focused.id == "cancel"
        text = screen_text(app)
        assert "exec" in text and homes.GITHUB not in text and "••••" + homes.GITHUB[-4:] in text
        await pilot.press("enter")  # Cancel: nothing written
        await until(pilot, lambda: app.screen.id == "scan")
        assert machine.files["claude-desktop"].read_text() == before
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.id == "secure-preview", timeout=30)
        await pilot.click("#go")
        await until(pilot, lambda: homes.GITHUB not in machine.files["claude-desktop"].read_text(), timeout=30)
        await app.workers.wait_for_complete()
        assert homes.GITHUB not in machine.files["windsurf"].read_text()


async def test_the_scan_shows_extensions_prompts_and_refused_tools(services, full_machine):
    app = make_app(services)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_scan(pilot)
        text = screen_text(app)
        assert "Acme Invoices" in text and "extension" in text
        assert "VS Code asks you for CRM API key (typed hidden)" in text
        assert "1 refused" in text and "1 tool(s) refused: delete_file" in text
        assert "missing.env, which does not exist" in text
        for secret in (homes.EXTENSION_KEY, homes.LICENSE, homes.SENDGRID):
            assert secret not in text


async def test_read_only_panel_scans_but_keeps_nothing(services, machine):
    app = make_app(services, read_only=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_scan(pilot)
        assert "Read-only: nothing was kept." in screen_text(app)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.id == "scan"
    assert services.inventory.list() == []


# -- snapshots (plain def tests: snap_compare runs its own event loop) -------------------------------
SIZE = (140, 40)


def test_snapshot_scan_results(snap_compare, services, full_machine):
    async def run_before(pilot):
        await open_scan(pilot)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(make_app(services), terminal_size=SIZE, run_before=run_before)


def test_snapshot_secure_preview(snap_compare, services, full_machine, monkeypatch):
    from app.services import secure

    # The launcher's path and Breaker's home differ per machine; the snapshot shows a fixed one.
    monkeypatch.setattr(secure, "exec_prefix", lambda _services: ["breaker"])

    async def run_before(pilot):
        await open_scan(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: pilot.app.screen.id == "secure-preview", timeout=30)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(make_app(services), terminal_size=SIZE, run_before=run_before)
