"""`breaker scan` and `breaker scan --json` on a temporary home: keys masked and joined by fingerprint."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import breaker, cli_home  # noqa: F401  (fixtures)
from tests.discovery import homes
from tests.discovery.homes import make_home

ALL_SECRETS = (
    homes.GITHUB,
    homes.GITHUB_2,
    homes.OPENAI,
    homes.SLACK,
    homes.STRIPE,
    homes.NOTION,
    homes.ANTHROPIC,
    homes.CANARY,
    homes.DB_PASSWORD,
    homes.QUERY_KEY,
    homes.LOOSE_SECRET,
)


@pytest.fixture
def machine_home(tmp_path, monkeypatch):
    h = make_home(tmp_path / "machine")
    monkeypatch.setenv("HOME", str(h.machine.home))
    monkeypatch.setenv("BREAKER_SCAN_ROOT", str(h.machine.root))
    for var in ("XDG_CONFIG_HOME", "CLAUDE_CONFIG_DIR", "CODEX_HOME", "APPDATA", "LOCALAPPDATA"):
        monkeypatch.delenv(var, raising=False)
    return h


def test_scan_json_joins_keys_by_fingerprint_and_shows_none(breaker, machine_home):  # noqa: F811
    r = breaker("scan", "--folder", str(machine_home.project), "--json")
    assert r.code == 1  # keys sit in plain files
    for secret in ALL_SECRETS:
        assert secret not in r.out and secret not in r.err
    doc = json.loads(r.out)
    assert doc["schema"] == "breaker.scan/1"
    assert len(doc["servers"]) == 16
    groups = {g["last4"]: g for g in doc["keys"]}
    github = groups[homes.GITHUB[-4:]]
    assert github["provider"] == "github"
    assert {(w["client"], w["server"]) for w in github["wired"]} == {
        ("claude-desktop", "github"),
        ("windsurf", "old-github"),
    }
    openai = groups[homes.OPENAI[-4:]]
    assert {w["client"] for w in openai["wired"]} == {"claude-code", "shell-profile"}
    stripe = groups[homes.STRIPE[-4:]]
    assert {w["client"] for w in stripe["wired"]} == {"vscode", "env-file"}
    assert len(doc["keys"]) == 11
    servers = {(s["client"], s["name"]): s for s in doc["servers"]}
    assert servers[("claude-desktop", "github")]["keys"] == [github["fingerprint"]]
    assert {p["kind"] for p in doc["problems"]} == {"unparseable", "odd-entry"}


def test_scan_table_is_masked_and_reports_problems(breaker, machine_home):  # noqa: F811
    r = breaker("scan", "--folder", str(machine_home.project))
    assert r.code == 1
    for secret in ALL_SECRETS:
        assert secret not in r.out and secret not in r.err
    assert "••••" + homes.GITHUB[-4:] in r.out
    assert "Cursor cannot read" in r.err
    assert "16 MCP servers, 11 keys in plain files, 2 problems" in r.err


def test_scan_of_an_empty_machine_is_fine(breaker, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HOME", str(tmp_path / "empty"))
    monkeypatch.setenv("BREAKER_SCAN_ROOT", str(tmp_path / "sys"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.delenv("CODEX_HOME", raising=False)
    r = breaker("scan")
    assert r.code == 0
    assert "No MCP servers found." in r.out
