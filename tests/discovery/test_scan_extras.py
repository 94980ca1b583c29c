"""What clients keep beside their server maps, read as they read it: a Claude Desktop extension and its
settings (keys among the owner's answers, its own on/off switch), VS Code ``${input:…}`` prompts (not
keys) and ``envFile`` (read for keys), and Claude Code's permission rules (refused tools, refused servers)."""

from __future__ import annotations

import pytest

from app.services import discovery, discovery_store, mcp_switch, secure
from connectors.discovery import scan
from tests.discovery import homes
from tests.discovery.homes import add_extras, make_home


@pytest.fixture
def sample(tmp_path):
    return add_extras(make_home(tmp_path / "sample"))


def servers(sample):
    return {(s.client, s.name): s for s in scan(sample.machine, [sample.project]).servers}


def places(sample):
    return {
        (k.wiring.client, k.wiring.server, k.wiring.location): k for k in scan(sample.machine, [sample.project]).keys()
    }


def test_a_claude_desktop_extension_is_a_server_and_its_answers_hold_keys(sample):
    found = servers(sample)
    ext = found[("claude-desktop", "Acme Invoices")]
    assert ext.scope == "extension" and ext.package == homes.EXTENSION_ID and ext.command == "node"
    assert not ext.disabled and ext.file == str(sample.files["extension"])
    keys = places(sample)
    api = keys[("claude-desktop", "Acme Invoices", "extension setting api_key")]
    assert api.secret.reveal() == homes.EXTENSION_KEY and api.wiring.line == 4
    lic = keys[("claude-desktop", "Acme Invoices", "extension setting license")]  # sensitive in the manifest
    assert lic.secret.reveal() == homes.LICENSE
    assert ("claude-desktop", "Acme Invoices", "extension setting region") not in keys
    off = found[("claude-desktop", "local.dxt.old-notes")]  # no manifest: still reported, and off
    assert off.disabled and "isEnabled = false" in off.disabled_by


def test_vscode_input_is_a_prompt_not_a_key(sample):
    crm = servers(sample)[("vscode", "crm")]
    assert crm.asks_for == (
        "env CRM_API_KEY: VS Code asks you for CRM API key (typed hidden) and keeps the answer in its own "
        "secret storage: not a key in this file",
    )
    assert not crm.keys
    safe = servers(sample)[("vscode", "safe")]  # the user file's prompt
    assert "VS Code asks you for key (typed hidden)" in safe.asks_for[0]


def test_vscode_env_file_is_read_for_keys_and_every_failure_reported(sample):
    result = scan(sample.machine, [sample.project])
    mailer = next(s for s in result.servers if s.name == "mailer")
    (key,) = mailer.keys
    assert key.secret.reveal() == homes.SENDGRID and key.provider == "sendgrid"
    w = key.wiring
    assert (w.client, w.file, w.location, w.line) == (
        "vscode",
        str(sample.files["mailer-env"]),
        "envFile SENDGRID_API_KEY",
        2,
    )
    messages = [p.message for p in result.problems]
    assert any("'reports'" in m and "missing.env, which does not exist" in m for m in messages)


def test_claude_code_permission_rules_refuse_tools_and_servers(sample):
    found = servers(sample)
    local = found[("claude-code", "local-openai")]
    assert local.blocked_tools == ("delete_file",) and not local.disabled
    assert str(sample.files["claude-settings"]) in local.blocked_by
    sentry = found[("claude-code", "sentry")]
    assert sentry.blocked_tools == ("*",)  # every tool refused, but deny does not stop the server …
    assert sentry.disabled and "deniedMcpServers" in sentry.disabled_by  # … the managed deny list does
    words = discovery.blocked_words(local)
    assert words == "1 tool(s) refused: delete_file"
    assert discovery.blocked_words(found[("claude-code", "team-github")]) == ""


def test_the_scan_reports_them_and_keeps_them(services, sample):
    report = discovery.run_scan(services, [sample.project], machine=sample.machine)
    doc = report.to_json()
    crm = next(s for s in doc["servers"] if s["name"] == "crm")
    assert crm["asks_for"] and crm["keys"] == []
    assert next(s for s in doc["servers"] if s["name"] == "local-openai")["blocked_tools"] == ["delete_file"]
    text = str(doc)
    for secret in (homes.EXTENSION_KEY, homes.LICENSE, homes.SENDGRID):
        assert secret not in text
    summary = discovery_store.record(services, report)
    assert not summary.failed
    names = {v.name for v in services.inventory.list()}
    assert any(n.startswith("api_key-claude-desktop") or "Acme" in n for n in names), names


def test_an_extension_is_switched_with_its_own_flag_byte_for_byte(services, sample):
    discovery_store.record(services, discovery.run_scan(services, [sample.project], machine=sample.machine))
    path = sample.files["extension"]
    before = path.read_bytes()
    result = mcp_switch.disable(services, "Acme Invoices", machine=sample.machine)
    assert "isEnabled = false" in result.how and result.verified
    assert servers(sample)[("claude-desktop", "Acme Invoices")].disabled
    mcp_switch.enable(services, "Acme Invoices", machine=sample.machine)
    assert path.read_bytes() == before


def test_secure_says_why_it_leaves_an_extension_or_env_file_key_alone(services, sample):
    discovery_store.record(services, discovery.run_scan(services, [sample.project], machine=sample.machine))
    by_key = {}
    for view in services.inventory.list():
        secret = services.inventory.secret_for(view.name)
        by_key[secret.reveal()] = view.name
    (ext_plan,) = secure.plan_secure(services, by_key[homes.EXTENSION_KEY], machine=sample.machine)
    assert not ext_plan.ok and "Claude Desktop › Settings › Extensions" in ext_plan.refusal
    (env_plan,) = secure.plan_secure(services, by_key[homes.SENDGRID], machine=sample.machine)
    assert not env_plan.ok and "envFile" in env_plan.refusal
    assert homes.SENDGRID in sample.files["mailer-env"].read_text()  # nothing was written


def test_an_extension_starts_as_claude_desktop_starts_it(sample):
    from connectors.discovery.scan import read_entry

    ext = servers(sample)[("claude-desktop", "Acme Invoices")]
    launch = read_entry(ext, sample.machine.home)
    ext_dir = sample.files["extension-manifest"].parent
    assert launch["command"] == "node" and launch["args"] == [f"{ext_dir}/server/index.js"]
    assert launch["env"] == {"ACME_API_KEY": homes.EXTENSION_KEY, "ACME_LICENSE": homes.LICENSE}


def test_claude_config_dir_moves_the_settings_too(tmp_path):
    """$CLAUDE_CONFIG_DIR replaces ~/.claude: .claude.json and settings.json are both read there."""
    import json

    from connectors.discovery import Machine

    cfg = tmp_path / "cc"
    cfg.mkdir()
    (cfg / ".claude.json").write_text(json.dumps({"mcpServers": {"docs": {"command": "docs-mcp"}}}))
    (cfg / "settings.json").write_text(json.dumps({"permissions": {"deny": ["mcp__docs__delete_page"]}}))
    machine = Machine(home=tmp_path / "h", env={"CLAUDE_CONFIG_DIR": str(cfg)}, root=tmp_path / "sys")
    result = scan(machine)
    (docs,) = [s for s in result.servers if s.name == "docs"]
    assert docs.blocked_tools == ("delete_page",)
    assert "claude-code" in result.clients_installed
