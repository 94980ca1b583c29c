"""The scan on a temporary home holding every client's files: every server and key found, nothing
lost, every failure reported, nothing started."""

from __future__ import annotations

import json
import os
import socket
import subprocess

import pytest

from connectors.discovery import Machine, scan
from connectors.discovery.document import Unparseable, parse
from tests.discovery import homes
from tests.discovery.homes import make_home


@pytest.fixture
def home(tmp_path):
    return make_home(tmp_path)


@pytest.fixture
def result(home):
    return scan(home.machine, [home.project])


def by_name(result, client, name):
    hits = [s for s in result.servers if s.client == client and s.name == name]
    assert len(hits) == 1, (client, name, [(s.client, s.name) for s in result.servers])
    return hits[0]


def test_every_server_of_every_client_is_found(result):
    found = {(s.client, s.scope, s.name) for s in result.servers}
    assert found == {
        ("claude-desktop", "user", "github"),
        ("claude-desktop", "user", "postgres"),
        ("claude-code", "user", "sentry"),
        ("claude-code", "local", "local-openai"),
        ("claude-code", "project", "team-github"),
        ("cursor", "user", "notion"),
        ("cursor", "user", "search"),
        ("vscode", "user", "stripe"),
        ("vscode", "user", "safe"),
        ("windsurf", "user", "slack"),
        ("windsurf", "user", "old-github"),
        ("windsurf", "user", "remote"),
        ("gemini", "user", "openai-tools"),
        ("gemini", "user", "anthropic-tools"),
        ("codex", "user", "github"),
        ("codex", "user", "docs"),
    }
    assert set(result.clients_installed) == {
        "claude-desktop",
        "claude-code",
        "cursor",
        "vscode",
        "windsurf",
        "gemini",
        "codex",
    }


@pytest.mark.parametrize(
    ("client", "server", "secret", "provider", "location"),
    [
        ("claude-desktop", "github", homes.GITHUB, "github", "env GITHUB_PERSONAL_ACCESS_TOKEN"),
        ("claude-desktop", "postgres", homes.DB_PASSWORD, "", "argument 3"),  # a DSN's password
        ("claude-code", "local-openai", homes.OPENAI, "openai", "env OPENAI_API_KEY"),
        ("cursor", "notion", homes.NOTION, "notion", "header Authorization"),
        ("cursor", "search", homes.QUERY_KEY, "", "URL"),  # ?api_key=
        ("vscode", "stripe", homes.STRIPE, "stripe", "argument 3"),  # --api-key=
        ("windsurf", "slack", homes.SLACK, "slack", "env SLACK_BOT_TOKEN"),
        ("gemini", "openai-tools", homes.CANARY, "openai", "env OPENAI_API_KEY"),
        ("gemini", "anthropic-tools", homes.ANTHROPIC, "anthropic", "header x-api-key"),
        ("codex", "github", homes.GITHUB_2, "github", "env GITHUB_PERSONAL_ACCESS_TOKEN"),
    ],
)
def test_each_key_is_found_where_it_is_wired(result, home, client, server, secret, provider, location):
    s = by_name(result, client, server)
    assert len(s.keys) == 1
    key = s.keys[0]
    assert key.secret.reveal() == secret
    assert key.provider == provider
    assert key.wiring.location == location
    # The span points at exactly the key's characters in the file: what an edit will replace.
    text = open(key.wiring.file, encoding="utf-8").read()
    start, end = key.wiring.span
    assert text[start:end] == secret
    assert key.wiring.line == text.count("\n", 0, start) + 1


def test_references_and_keyless_servers_hold_no_key(result):
    assert by_name(result, "vscode", "safe").keys == ()  # ${input:k}
    assert by_name(result, "claude-code", "team-github").keys == ()  # ${GITHUB_TOKEN}
    assert by_name(result, "claude-code", "sentry").keys == ()


def test_disabled_entries_are_read_as_each_client_honours_them(result):
    assert by_name(result, "windsurf", "old-github").disabled_by == "disabled = true"
    assert by_name(result, "codex", "docs").disabled_by == "enabled = false"
    assert by_name(result, "gemini", "anthropic-tools").disabled_by == "mcp.excluded"
    assert by_name(result, "claude-code", "team-github").disabled_by == "projects.disabledMcpjsonServers"
    on = [s for s in result.servers if not s.disabled]
    assert len(on) == 12


def test_transports_and_url_aliases(result):
    assert by_name(result, "windsurf", "remote").transport == "http"  # serverUrl
    assert by_name(result, "windsurf", "remote").url == "https://remote.example/mcp"
    assert by_name(result, "gemini", "anthropic-tools").transport == "http"  # httpUrl
    # No user, password or query string is kept from a URL.
    assert by_name(result, "cursor", "search").url == "https://search.example/sse"


def test_loose_keys_in_env_files_and_profiles(result, home):
    loose = {(k.wiring.client, k.wiring.variable, k.provider) for k in result.loose_keys}
    assert loose == {
        ("env-file", "STRIPE_SECRET_KEY", "stripe"),  # by shape
        ("env-file", "SESSION_SECRET", ""),  # by the name it sits under
        ("shell-profile", "OPENAI_API_KEY", "openai"),
    }
    for k in result.loose_keys:
        text = open(k.wiring.file, encoding="utf-8").read()
        assert text[k.wiring.span[0] : k.wiring.span[1]] == k.secret.reveal()


def test_failures_are_reported_and_siblings_survive(result, home):
    kinds = {(p.kind, p.client) for p in result.problems}
    assert ("unparseable", "cursor") in kinds  # the broken project file
    assert ("odd-entry", "claude-desktop") in kinds  # "broken-entry": "not an object"
    # The odd entry's siblings are still there, and the broken Cursor file hides the good one.
    assert by_name(result, "claude-desktop", "github").keys
    assert by_name(result, "cursor", "notion")
    for p in result.problems:
        for secret in (homes.GITHUB, homes.CANARY, homes.STRIPE):
            assert secret not in p.message


def test_installed_client_without_config_and_config_without_servers(tmp_path):
    home = tmp_path / "home"
    (home / ".cursor").mkdir(parents=True)  # Cursor installed, no mcp.json
    (home / ".codeium/windsurf").mkdir(parents=True)
    (home / ".codeium/windsurf/mcp_config.json").write_text('{"mcpServers": {}}')
    result = scan(Machine(home=home, root=tmp_path / "sys"), profiles=False)
    kinds = {(p.kind, p.client) for p in result.problems}
    assert ("no-config", "cursor") in kinds
    assert ("no-servers", "windsurf") in kinds


def test_a_strict_json_client_does_not_forgive_a_trailing_comma(tmp_path):
    home = tmp_path / "home"
    path = home / ".codeium/windsurf/mcp_config.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"mcpServers": {"a": {"command": "x"},}}')
    result = scan(Machine(home=home, root=tmp_path / "sys"), profiles=False)
    assert [p.kind for p in result.problems if p.client == "windsurf"] == ["unparseable"]
    assert result.servers == []
    # JSONC clients (VS Code, Cursor, Gemini) accept comments and trailing commas.
    assert parse('{"a": 1, // c\n}', "jsonc").value == {"a": 1}
    with pytest.raises(Unparseable):
        parse('{"a": 1,}', "json")


def test_unreadable_folder_and_missing_folder(tmp_path, monkeypatch):
    real = os.listdir
    locked = tmp_path / "locked"
    locked.mkdir()

    def listdir(path):
        if str(path) == str(locked):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "listdir", listdir)
    result = scan(
        Machine(home=tmp_path / "home", root=tmp_path / "sys"), [locked, tmp_path / "nowhere"], profiles=False
    )
    assert {(p.kind, p.where) for p in result.problems} == {
        ("unreadable", str(locked)),
        ("missing", str(tmp_path / "nowhere")),
    }


def test_unreadable_file_is_reported(home, monkeypatch):
    from pathlib import Path

    real = Path.read_bytes
    target = home.files["windsurf"]

    def read_bytes(self):
        if self == target:
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    result = scan(home.machine, [home.project])
    assert ("unreadable", str(target)) in {(p.kind, p.where) for p in result.problems}


def test_claude_config_dir_is_honoured(tmp_path):
    home = tmp_path / "home"
    elsewhere = tmp_path / "claude-cfg"
    elsewhere.mkdir(parents=True)
    (elsewhere / ".claude.json").write_text(json.dumps({"mcpServers": {"x": {"command": "y"}}}))
    result = scan(Machine(home=home, env={"CLAUDE_CONFIG_DIR": str(elsewhere)}, root=tmp_path / "s"), profiles=False)
    assert [(s.client, s.name) for s in result.servers] == [("claude-code", "x")]


def test_windows_msix_claude_desktop_path(tmp_path):
    home = tmp_path / "home"
    local = tmp_path / "Local"
    path = local / "Packages/Claude_pzs8sxrjxfjjc/LocalCache/Roaming/Claude/claude_desktop_config.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"mcpServers": {"files": {"command": "npx"}}}))
    machine = Machine(
        home=home,
        os="windows",
        env={"LOCALAPPDATA": str(local), "APPDATA": str(tmp_path / "Roaming")},
        root=tmp_path / "C",
    )
    result = scan(machine, profiles=False)
    assert [(s.client, s.file) for s in result.servers] == [("claude-desktop", str(path))]


def test_managed_files_are_read(tmp_path):
    root = tmp_path / "sys"
    path = root / "etc/claude-code/managed-mcp.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"mcpServers": {"corp": {"type": "http", "url": "https://corp.example/mcp"}}}))
    result = scan(Machine(home=tmp_path / "home", root=root), profiles=False)
    assert [(s.scope, s.name) for s in result.servers] == [("managed", "corp")]


def test_a_scan_starts_nothing_and_connects_nowhere(home, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("a scan must not start a process or open a connection")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert len(scan(home.machine, [home.project]).servers) == 16


def test_secured_entry_is_recognised(tmp_path):
    home = tmp_path / "home"
    path = home / ".cursor/mcp.json"
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps({"mcpServers": {"gh": {"command": "breaker", "args": ["exec", "gh-bot", "--", "npx", "srv"]}}})
    )
    result = scan(Machine(home=home, root=tmp_path / "s"), profiles=False)
    assert result.servers[0].secured_by == "gh-bot"
    assert result.servers[0].keys == ()
