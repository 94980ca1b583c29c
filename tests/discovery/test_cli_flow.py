"""The command line end to end on a temporary home: scan → unreviewed connectors → secure → undo;
MCP switches; the emergency disable covers MCP servers; and a canary key found in a config file
leaks nowhere."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import breaker, cli_home  # noqa: F401  (fixtures)
from tests.discovery import homes
from tests.discovery.homes import make_home


@pytest.fixture
def machine_home(tmp_path, monkeypatch):
    h = make_home(tmp_path / "machine")
    monkeypatch.setenv("HOME", str(h.machine.home))
    monkeypatch.setenv("BREAKER_SCAN_ROOT", str(h.machine.root))
    return h


def test_scan_keeps_unreviewed_connectors_and_rescans_without_duplicates(breaker, machine_home):  # noqa: F811
    dry = breaker("scan", "--folder", str(machine_home.project), "--dry-run", "--json")
    assert json.loads(dry.out)["recorded"] is None
    assert json.loads(breaker("list", "--json").out)["connectors"] == []
    first = breaker("scan", "--folder", str(machine_home.project), "--json")
    recorded = json.loads(first.out)["recorded"]
    assert len(recorded["new_connectors"]) == 11
    listed = json.loads(breaker("list", "unreviewed", "--json").out)["connectors"]
    assert len(listed) == 11
    again = breaker("scan", "--json")  # the folder is remembered
    assert json.loads(again.out)["recorded"]["new_connectors"] == []
    assert len(json.loads(again.out)["servers"]) == 16
    assert len(json.loads(breaker("list", "--json").out)["connectors"]) == 11


def test_mcp_disable_and_enable_from_the_command_line(breaker, machine_home):  # noqa: F811
    breaker("scan", "--folder", str(machine_home.project))
    path = machine_home.files["cursor"]
    before = path.read_bytes()
    r = breaker("mcp-disable", "notion", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["verified"] is True
    assert "notion" not in json.loads(breaker("scan", "--json").out)["servers"].__repr__()
    assert breaker("mcp-enable", "notion").code == 0
    assert path.read_bytes() == before
    refused = breaker("mcp-limit", "github", "--client", "claude-desktop", "--mode", "read-only")
    assert refused.code == 1 and "per-tool block" in refused.err


SERVER = str(Path(__file__).with_name("mcp_shop_server.py"))


def test_the_emergency_disable_covers_mcp_servers(breaker, tmp_path, monkeypatch):  # noqa: F811
    home = tmp_path / "user"
    cfg = home / ".config/Claude/claude_desktop_config.json"
    cfg.parent.mkdir(parents=True)
    original = json.dumps(
        {"mcpServers": {"shop": {"command": sys.executable, "args": [SERVER], "env": {"SHOP_API_KEY": "${SHOP_KEY}"}}}},
        indent=2,
    )
    cfg.write_text(original)
    monkeypatch.setenv("HOME", str(home))
    assert breaker("scan").code == 0  # no key in the file: nothing to import, the server is known
    no = breaker("panic")
    assert no.code == 2 and "add --yes" in no.err
    assert cfg.read_text() == original
    r = breaker("panic", "--yes", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert [m["server"] for m in doc["mcp"]["disabled"]] == ["shop"]
    assert doc["batch"] is None and doc["total"] == 0  # no connector: nothing journalled
    assert json.loads(cfg.read_text())["mcpServers"] == {}
    assert breaker("mcp-enable", "shop").code == 0
    assert cfg.read_text() == original


MARK = "SANDBOXCANARY"


def test_a_canary_key_found_in_a_config_leaks_nowhere(breaker, cli_home, machine_home, memory_keyring, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    outputs = []

    def run(*argv, stdin=""):
        r = breaker(*argv, stdin=stdin)
        outputs.append(r.out + r.err)
        return r

    run("scan", "--folder", str(machine_home.project))
    run("scan", "--json")
    name = next(
        c["name"] for c in json.loads(run("list", "--json").out)["connectors"] if c["key"]["last4"] == homes.CANARY[-4:]
    )
    assert run("secure", name).code == 1  # no terminal, no --yes: preview only
    assert homes.CANARY in machine_home.files["gemini"].read_text()
    r = run("secure", name, "--yes")
    assert r.code == 0, r.err
    rewritten = machine_home.files["gemini"].read_text()
    run("secure", name, "--json")
    run("list", "--json")
    run("audit", "--json", "--limit", "1000")
    for fmt in ("json", "csv", "md"):
        run("export", "--format", fmt)
    run("mcp-disable", "openai-tools")
    needles = [homes.CANARY, homes.CANARY[:-4], "sk-proj-" + MARK]
    blobs = {"the rewritten file": rewritten, "logs": caplog.text, "outputs": "\n".join(outputs)}
    for p in sorted(cli_home.rglob("*")):
        if p.is_file():
            blobs[str(p)] = p.read_bytes().decode("utf-8", "replace")
    for label, blob in blobs.items():
        for needle in needles:
            assert needle not in blob, f"the canary leaked into {label}"
    # Positive control: the keyring holds it, and the scan found it in the first place.
    assert any(homes.CANARY in v for v in memory_keyring.store.values())


def test_keys_found_beside_the_server_maps_leak_nowhere(breaker, cli_home, tmp_path, monkeypatch, memory_keyring):  # noqa: F811
    """The extension's answers, the sensitive licence and the envFile key: found, kept in the keyring,
    and nowhere in Breaker's files, outputs, audit or exports; the extension turned off and on again."""
    h = homes.add_extras(make_home(tmp_path / "extras"))
    monkeypatch.setenv("HOME", str(h.machine.home))
    monkeypatch.setenv("BREAKER_SCAN_ROOT", str(h.machine.root))
    outputs = [breaker("scan", "--folder", str(h.project)), breaker("scan", "--json"), breaker("list", "--json")]
    outputs += [breaker("audit", "--json", "--limit", "1000")] + [
        breaker("export", "--format", f) for f in ("json", "csv")
    ]
    text = "\n".join(r.out + r.err for r in outputs)
    assert "VS Code asks you for CRM API key" in text and "1 tool(s) refused: delete_file" in text
    before = h.files["extension"].read_bytes()
    assert breaker("mcp-disable", "Acme Invoices").code == 0
    assert breaker("mcp-enable", "Acme Invoices").code == 0
    assert h.files["extension"].read_bytes() == before
    secrets = (homes.EXTENSION_KEY, homes.LICENSE, homes.SENDGRID)
    blobs = {"outputs": text}
    for p in sorted(cli_home.rglob("*")):
        if p.is_file():
            blobs[str(p)] = p.read_bytes().decode("utf-8", "replace")
    for label, blob in blobs.items():
        for secret in secrets:
            assert secret not in blob, f"{secret[:8]}… leaked into {label}"
    kept = "\n".join(memory_keyring.store.values())
    assert all(secret in kept for secret in secrets)  # positive control: found and kept in the keyring
