"""End to end: a key `breaker scan` finds in an MCP config becomes an unreviewed connector, and
`breaker review --findings --json` lists it as "found by discovery and never reviewed" — until a
review decides on it."""

from __future__ import annotations

import json

from tests.cli.conftest import breaker, cli_home  # noqa: F401  (fixtures)
from tests.discovery.homes import GITHUB

CONFIG = {
    "mcpServers": {
        "github": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-github"],
            "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": GITHUB},
        }
    }
}


def test_a_key_found_by_a_scan_is_a_discovered_finding_until_reviewed(breaker, tmp_path, monkeypatch):  # noqa: F811
    home = tmp_path / "machine" / "home"
    config = home / ".config" / "Claude" / "claude_desktop_config.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps(CONFIG))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("BREAKER_SCAN_ROOT", str(tmp_path / "machine"))

    scan = breaker("scan", "--no-profiles", "--json")
    [name] = json.loads(scan.out)["recorded"]["new_connectors"]

    r = breaker("review", "--findings", "--json")
    assert r.code == 0, r.err
    found = {c["name"]: {f["rule"]: f for f in c["findings"]} for c in json.loads(r.out)["connectors"]}
    discovered = found[name]["discovered"]
    assert discovered["severity"] == "medium" and "Claude Desktop" in discovered["reason"]
    assert "~/.config/Claude/claude_desktop_config.json" in discovered["reason"]
    assert GITHUB not in r.out

    # A review decides on it (keep, with a reason: it may be high risk): no longer "never reviewed".
    stdin = "\n" * 8 + "k\nthe support bot's key, checked\n" + "y\n"
    r = breaker("review", stdin=stdin, tty=True)
    assert r.code == 0, r.err
    assert "Found by discovery" in r.out and "recorded: keep" in r.out
    after = json.loads(breaker("review", "--findings", "--json").out)
    rules = {c["name"]: {f["rule"] for f in c["findings"]} for c in after["connectors"]}
    assert "discovered" not in rules[name]
    # and `breaker list unreviewed` no longer lists it (the tag dropped by an audited edit)
    assert json.loads(breaker("list", "unreviewed", "--json").out)["connectors"] == []
    events = json.loads(breaker("audit", "--json", "--connector", name).out)["events"]
    assert any(e["action"] == "connector.edit" and "unreviewed" not in e["new"]["tags"] for e in events)
