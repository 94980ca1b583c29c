"""Securing a found key: preview, the key out of the file, `breaker exec` in its place, undo byte for byte."""

from __future__ import annotations

import json
import sys

import pytest

from app.cli import main
from app.services import discovery, discovery_store, secure
from connectors.discovery.document import parse
from tests.discovery import homes
from tests.discovery.homes import make_home


@pytest.fixture
def found(services, tmp_path):
    home = make_home(tmp_path)
    report = discovery.run_scan(services, [home.project], machine=home.machine)
    discovery_store.remember_folders(services, [str(home.project)])
    discovery_store.record(services, report)
    return home


def connector_with(services, secret):
    return next(v.name for v in services.inventory.list() if v.credential.last4 == secret[-4:])


def plans_for(services, home, secret):
    return secure.plan_secure(services, connector_with(services, secret), machine=home.machine)


def test_secure_a_stdio_entry_and_undo_byte_for_byte(services, found):
    path = found.files["claude-desktop"]
    before = path.read_bytes()
    plans = plans_for(services, found, homes.GITHUB)
    by_file = {p.file: p for p in plans}
    plan = by_file[str(path)]
    assert plan.ok, plan.refusal
    assert homes.GITHUB not in plan.preview and "••••" + homes.GITHUB[-4:] in plan.preview
    assert '"GITHUB_PERSONAL_ACCESS_TOKEN"' in plan.preview and "exec" in plan.preview
    secure.apply_secure(services, plan)
    after = path.read_text()
    assert homes.GITHUB not in after
    entry = json.loads(after)["mcpServers"]["github"]
    name = plan.connector
    assert entry["args"][entry["args"].index("exec") + 1] == name
    assert entry["args"][entry["args"].index("--") + 1 :] == ["npx", "-y", "@modelcontextprotocol/server-github"]
    assert entry["env"] == {}
    # The rest of the file did not move: same other servers, same preferences.
    assert json.loads(after)["preferences"] == {"theme": "dark"}
    # A rescan sees the entry as secured and the key as no longer in a plain file there.
    report = discovery.run_scan(services, [found.project], machine=found.machine)
    gh = next(s for s in report.servers if s.client == "claude-desktop" and s.name == "github")
    assert gh.secured_by == name and gh.keys == ()
    assert secure.undo_secure(services, name) == [str(path)]
    assert path.read_bytes() == before


def test_a_different_variable_name_is_passed_with_var(services, found):
    plans = plans_for(services, found, homes.GITHUB)
    wind = next(p for p in plans if p.file == str(found.files["windsurf"]))
    secure.apply_secure(services, wind)
    entry = json.loads(found.files["windsurf"].read_text())["mcpServers"]["old-github"]
    assert entry["args"][entry["args"].index("--var") + 1] == "GITHUB_TOKEN"
    assert entry["disabled"] is True  # the client's own off switch is kept


def test_jsonc_comments_survive_and_codex_toml(services, found):
    before = found.files["gemini"].read_bytes()
    plan = next(p for p in plans_for(services, found, homes.CANARY))
    secure.apply_secure(services, plan)
    text = found.files["gemini"].read_text()
    assert "// Gemini CLI settings" in text and homes.CANARY not in text
    parse(text, "jsonc")
    secure.undo_secure(services, plan.connector)
    assert found.files["gemini"].read_bytes() == before

    before = found.files["codex"].read_bytes()
    plan = plans_for(services, found, homes.GITHUB_2)[0]
    assert plan.ok, plan.refusal
    secure.apply_secure(services, plan)
    text = found.files["codex"].read_text()
    assert homes.GITHUB_2 not in text and "# Codex config" in text and "exec" in text
    secure.undo_secure(services, plan.connector)
    assert found.files["codex"].read_bytes() == before


def test_env_file_and_profile_lines(services, found):
    env_before = found.files["env"].read_bytes()
    plans = plans_for(services, found, homes.STRIPE)
    env_plan = next(p for p in plans if p.file == str(found.files["env"]))
    vscode_plan = next(p for p in plans if p.file == str(found.files["vscode"]))
    assert not vscode_plan.ok and "argument" in vscode_plan.refusal  # --api-key=: exec cannot hand it over
    secure.apply_secure(services, env_plan)
    text = found.files["env"].read_text()
    assert homes.STRIPE not in text
    assert f"breaker exec {env_plan.connector} --" in text
    assert "DEBUG=true" in text and "SESSION_SECRET" in text  # other lines untouched
    prof = next(p for p in plans_for(services, found, homes.OPENAI) if p.file == str(found.files["profile"]))
    secure.apply_secure(services, prof)
    assert homes.OPENAI not in found.files["profile"].read_text()
    secure.undo_secure(services, env_plan.connector)
    assert found.files["env"].read_bytes() == env_before


def test_remote_keys_are_refused_plainly(services, found):
    before = found.files["cursor"].read_bytes()
    plan = plans_for(services, found, homes.NOTION)[0]
    assert not plan.ok and "remote server" in plan.refusal
    with pytest.raises(secure.SecureError):
        secure.apply_secure(services, plan)
    assert found.files["cursor"].read_bytes() == before


def test_a_file_changed_after_the_preview_is_not_written(services, found):
    plan = next(p for p in plans_for(services, found, homes.SLACK))
    path = found.files["windsurf"]
    path.write_text(path.read_text().replace('"mcpServers"', '"other": 1, "mcpServers"', 1).replace("    ", "  "))
    changed = path.read_bytes()
    with pytest.raises(secure.SecureError):
        secure.apply_secure(services, plan)
    assert path.read_bytes() == changed


def test_the_exec_launch_works(services, found, tmp_path, capfd):
    # A stdio entry whose command prints the last four characters of the variable it is given.
    cfg = found.files["claude-desktop"]
    data = json.loads(cfg.read_text())
    data["mcpServers"]["github"] = {
        "command": sys.executable,
        "args": ["-c", "import os,sys; sys.stdout.write('got ' + os.environ['GITHUB_PERSONAL_ACCESS_TOKEN'][-4:])"],
        "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": homes.GITHUB},
    }
    cfg.write_text(json.dumps(data, indent=2))
    report = discovery.run_scan(services, [found.project], machine=found.machine)
    discovery_store.record(services, report)
    plan = next(p for p in plans_for(services, found, homes.GITHUB) if p.file == str(cfg))
    secure.apply_secure(services, plan)
    entry = json.loads(cfg.read_text())["mcpServers"]["github"]
    assert homes.GITHUB not in cfg.read_text()
    services.close()  # the command below opens the same inventory, as the client would
    capfd.readouterr()
    code = main(entry["args"])  # what the client runs, after its program name (`breaker`)
    out = capfd.readouterr().out
    assert code == 0
    assert out == "got " + homes.GITHUB[-4:]
