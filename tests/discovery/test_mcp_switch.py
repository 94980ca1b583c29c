"""MCP switches on real client files: disable/enable round-trip byte for byte, tool limits, panic covers them."""

from __future__ import annotations

import json

import pytest

from app.services import discovery, discovery_store, mcp_switch
from connectors.base import Mode
from connectors.discovery import scan
from connectors.discovery.document import parse
from tests.discovery import homes
from tests.discovery.homes import make_home


@pytest.fixture
def found(services, tmp_path):
    home = make_home(tmp_path)
    discovery_store.remember_folders(services, [str(home.project)])
    discovery_store.record(services, discovery.run_scan(services, [home.project], machine=home.machine))
    return home


def state(home, client, name):
    s = [x for x in scan(home.machine, [home.project]).servers if x.client == client and x.name == name]
    return s[0] if s else None


@pytest.mark.parametrize(
    ("client", "name", "file", "how"),
    [
        ("claude-desktop", "github", "claude-desktop", "took its entry out"),
        ("cursor", "notion", "cursor", "took its entry out"),
        ("vscode", "stripe", "vscode", "took its entry out"),
        ("windsurf", "slack", "windsurf", "set disabled"),
        ("gemini", "openai-tools", "gemini", "mcp.excluded"),
        ("codex", "github", "codex", "set enabled"),
        ("claude-code", "local-openai", "claude-code", "took its entry out"),
    ],
)
def test_disable_enable_round_trip(services, found, client, name, file, how):
    path = found.files[file]
    before = path.read_bytes()
    result = mcp_switch.disable(services, name, client=client, machine=found.machine)
    assert how in result.how and result.verified and result.restart
    after = state(found, client, name)
    assert after is None or after.disabled  # gone from the file, or the client's own flag says off
    if after is None:
        # Only the entry left: the rest of the file is the same text.
        assert len(path.read_bytes()) < len(before)
    parse(path.read_text(), "toml" if client == "codex" else "jsonc")
    again = mcp_switch.enable(services, name, client=client, machine=found.machine)
    assert again.verified
    assert path.read_bytes() == before
    assert not state(found, client, name).disabled
    backups = list((services.settings.data_dir / "backups").iterdir())
    assert len(backups) == 2 and all(b.stat().st_mode & 0o777 == 0o600 for b in backups)


def test_jsonc_comments_survive_a_disable(services, found):
    mcp_switch.disable(services, "stripe", client="vscode", machine=found.machine)
    text = found.files["vscode"].read_text()
    assert "// MCP servers for every workspace" in text and '"safe"' in text and "stripe" not in text


def test_enable_after_the_file_changed_puts_the_entry_back_first(services, found):
    path = found.files["claude-desktop"]
    mcp_switch.disable(services, "github", client="claude-desktop", machine=found.machine)
    data = json.loads(path.read_text())
    data["preferences"]["theme"] = "light"
    path.write_text(json.dumps(data, indent=4))
    result = mcp_switch.enable(services, "github", client="claude-desktop", machine=found.machine)
    assert "first" in result.how
    assert "github" in json.loads(path.read_text())["mcpServers"]


def test_refuse_to_write_a_file_that_no_longer_parses(services, found, monkeypatch):
    path = found.files["windsurf"]
    before = path.read_bytes()
    import connectors.discovery.edit as edit

    real = edit.apply_spans
    monkeypatch.setattr(mcp_switch, "apply_spans", lambda t, e: real(t, e) + "{broken")
    with pytest.raises(mcp_switch.SwitchRefused):
        mcp_switch.disable(services, "slack", client="windsurf", machine=found.machine)
    assert path.read_bytes() == before


def probed(services, found, client, name, tools):
    from sqlmodel import Session, select

    from app.store.models import FoundServer

    with Session(services.engine) as s:
        row = [r for r in s.exec(select(FoundServer)).all() if r.client == client and r.name == name][0]
        row.details_json = json.dumps({"probe": {"outcome": "ok", "tools": tools}})
        s.add(row)
        s.commit()


TOOLS = [
    {"name": "list_channels", "level": "read"},
    {"name": "draft_message", "level": "draft"},
    {"name": "post_message", "level": "send"},
    {"name": "delete_channel", "level": "write"},
]


@pytest.mark.parametrize(
    ("client", "name", "key"),
    [
        ("windsurf", "slack", "disabledTools"),
        ("gemini", "openai-tools", "excludeTools"),
        ("codex", "github", "disabled_tools"),
    ],
)
def test_limit_blocks_tools_above_the_ceiling(services, found, client, name, key):
    probed(services, found, client, name, TOOLS)
    result = mcp_switch.limit(services, name, Mode.DRAFT_ONLY, client=client, machine=found.machine)
    assert sorted(result.blocked_tools) == ["delete_channel", "post_message"]
    text = found.files[client].read_text()
    doc = parse(text, "toml" if client == "codex" else "jsonc")
    entry = doc.get(("mcp_servers" if client == "codex" else "mcpServers", name))
    assert sorted(entry[key]) == ["delete_channel", "post_message"]


def test_claude_code_limit_writes_permissions_deny(services, found):
    probed(services, found, "claude-code", "local-openai", TOOLS)
    result = mcp_switch.limit(services, "local-openai", Mode.READ_ONLY, client="claude-code", machine=found.machine)
    settings = json.loads((found.machine.home / ".claude/settings.json").read_text())
    assert sorted(settings["permissions"]["deny"]) == [
        "mcp__local-openai__delete_channel",
        "mcp__local-openai__draft_message",
        "mcp__local-openai__post_message",
    ]
    assert "still starts" in result.how


def test_clients_without_a_tool_block_say_so(services, found):
    with pytest.raises(mcp_switch.SwitchRefused, match="per-tool block"):
        mcp_switch.limit(services, "github", Mode.READ_ONLY, client="claude-desktop", machine=found.machine)


def test_limit_needs_a_probe(services, found):
    with pytest.raises(mcp_switch.SwitchRefused, match="probe it first"):
        mcp_switch.limit(services, "slack", Mode.READ_ONLY, client="windsurf", machine=found.machine)


def test_disable_all_turns_every_server_off(services, found):
    done, failed = mcp_switch.disable_all(services, machine=found.machine)
    assert failed == []
    assert len(done) == 12  # every server that was on
    on = [s for s in scan(found.machine, [found.project]).servers if not s.disabled]
    assert on == []


def test_disable_all_without_a_keyring_uses_the_clients_own_switches_and_says_what_it_left(
    services, found, memory_keyring, monkeypatch
):
    """The emergency disable must work with the keyring locked: servers whose client has its own off
    switch are turned off; an entry Breaker would take out (and keep in the keyring) is left, said so."""
    import keyring.errors

    def locked(*_a, **_k):
        raise keyring.errors.KeyringLocked("Failed to unlock the collection!")

    monkeypatch.setattr(memory_keyring, "get_password", locked)
    monkeypatch.setattr(memory_keyring, "set_password", locked)
    desktop = found.files["claude-desktop"].read_bytes()
    done, failed = mcp_switch.disable_all(services, machine=found.machine)
    assert {(r.client, r.server) for r in done} >= {
        ("windsurf", "slack"),
        ("codex", "github"),
        ("gemini", "openai-tools"),
    }
    assert any(line.startswith("Claude Desktop › github: left on — the keyring cannot be read") for line in failed)
    assert found.files["claude-desktop"].read_bytes() == desktop  # nothing half-done
    for backup in (services.settings.data_dir / "backups").iterdir():  # the backups hold no key either
        text = backup.read_text()
        assert homes.SLACK not in text and homes.GITHUB_2 not in text and homes.CANARY not in text
