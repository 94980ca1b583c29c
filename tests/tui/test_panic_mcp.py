"""The panel's emergency disable (``!``) covers the MCP servers a scan recorded, as ``breaker panic`` does:
the keys first (revoked at the provider), then each server taken out of its app's config file, and
the summary says so in the owner's words."""

from __future__ import annotations

import json

from textual.widgets import Static

from app.services import discovery, discovery_store, mcp_switch
from app.tui.app import make_app
from app.tui.screens.main import MainScreen
from app.tui.screens.panic import PanicScreen, PanicTypeConfirm
from app.tui.screens.welcome import WelcomeScreen
from app.tui.widgets.outline import Outline
from connectors.discovery import Machine
from tests.tui.pilot import click, on_screen, settle, until
from tests.tui.test_panic import SIZE, open_first_step


def claude_desktop(tmp_path, monkeypatch, servers: dict) -> tuple[Machine, object]:
    home = tmp_path / "user"
    cfg = home / ".config/Claude/claude_desktop_config.json"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(json.dumps({"mcpServers": servers, "preferences": {"theme": "dark"}}, indent=2) + "\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("BREAKER_SCAN_ROOT", str(tmp_path / "sys"))
    return Machine.current(), cfg


def scanned(services, machine) -> None:
    discovery_store.record(services, discovery.run_scan(services, machine=machine, profiles=False))


async def run_panic(pilot, word: str = "PANIC") -> PanicScreen:
    """From the first step (open) through the typed one to the end of the run."""
    await click(pilot, "#continue")
    await on_screen(pilot, PanicTypeConfirm)
    await pilot.press(*word, "enter")
    await on_screen(pilot, PanicScreen)
    screen = pilot.app.screen
    await until(pilot, lambda: screen.finished, timeout=60)
    await pilot.pause()
    return screen


async def test_bang_revokes_the_key_then_takes_the_server_out_of_claude_desktop(live, tmp_path, monkeypatch):
    token = live.add("gh-1", "github", "classic").token
    machine, cfg = claude_desktop(
        tmp_path,
        monkeypatch,
        {
            "github": {
                "command": "npx",
                "args": ["-y", "@modelcontextprotocol/server-github"],
                "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": token},
            }
        },
    )
    scanned(live.services, machine)  # the key joins gh-1 (same fingerprint); the server is recorded
    before = cfg.read_text()
    app = make_app(live.services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first = await open_first_step(pilot)
        plan_text = first.query_one("#panic-text", Outline).plain()
        assert "1 MCP server(s) are turned off" in plan_text and "github in Claude Desktop" in plan_text
        screen = await run_panic(pilot)
        summary = screen.summary
        assert [r.connector for r in summary.verified] == ["gh-1"]
        assert [r.server for r in summary.mcp_off] == ["github"] and summary.mcp_failed == []
        text = screen.query_one("#panic-summary-text", Outline).plain()
        assert "MCP servers turned off in their apps' config files (1)" in text
        assert "github in Claude Desktop: took its entry out of the file" in text
        assert "quit and reopen Claude Desktop" in text
        assert "MCP servers turned off: 1." in str(screen.query_one("#panic-status", Static).content)
    assert not live.alive("gh-1")  # the key first
    assert json.loads(cfg.read_text())["mcpServers"] == {}  # then the entry is out of the file
    assert token not in cfg.read_text()
    mcp_switch.enable(live.services, "github", machine=machine)
    assert cfg.read_text() == before  # enable puts it back byte for byte


async def test_bang_with_only_mcp_servers_turns_them_off(services, tmp_path, monkeypatch):
    machine, cfg = claude_desktop(
        tmp_path,
        monkeypatch,
        {"shop": {"command": "shop-mcp", "env": {"SHOP_API_KEY": "${SHOP_KEY}"}}, "off": {"command": "x"}},
    )
    scanned(services, machine)
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await until(pilot, lambda: isinstance(app.screen, WelcomeScreen))
        await pilot.press("escape")  # an empty inventory opens on the welcome
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await open_first_step(pilot)
        screen = await run_panic(pilot, word="2")  # no connector: the number is the servers'
        assert sorted(r.server for r in screen.summary.mcp_off) == ["off", "shop"]
        assert "Done." in str(screen.query_one("#panic-status", Static).content)
    assert json.loads(cfg.read_text())["mcpServers"] == {}
