"""`breaker list | add | edit | remove` in-process: output, JSON schema, prompts, exit codes."""

from __future__ import annotations

import argparse
import json

import pytest

from app.cli.parser import build_parser
from tests.cli.conftest import GITHUB_KEY

LIST_KEYS = {
    "name",
    "provider",
    "owner",
    "purpose",
    "environment",
    "mode",
    "client",
    "tags",
    "base_url",
    "declared",
    "live_level",
    "live_scopes",
    "drift",
    "key",
    "last_probe",
    "switch_state",
    "off",
    "key_still_live",
}


def test_empty_list_is_fine_and_says_how_to_start(breaker):
    r = breaker("list")
    assert r.code == 0
    assert r.out == ""
    assert "breaker add" in r.err and "breaker demo" in r.err


def test_add_reads_the_key_from_stdin_and_lists_it(breaker, add_github):
    r = add_github()
    assert r.code == 0, r.err
    assert "Added gh-bot (github, prod)" in r.out
    listing = breaker("list")
    assert listing.code == 0
    assert "gh-bot" in listing.out and "Priya" in listing.out and "github" in listing.out


def test_list_json_has_the_documented_schema(breaker, add_github):
    add_github()
    r = breaker("list", "--json")
    assert r.code == 0
    doc = json.loads(r.out)
    assert doc["schema"] == "breaker.list/1"
    (c,) = doc["connectors"]
    assert set(c) == LIST_KEYS
    assert c["name"] == "gh-bot" and c["provider"] == "github" and c["owner"] == "Priya"
    assert c["purpose"] == "This connector may use the docs repo to open issues, but may not push code."
    assert c["declared"] == [{"scope": "repo", "level": "write"}]
    assert c["mode"] == "full" and c["environment"] == "prod"
    assert c["live_level"] == "unknown" and c["live_scopes"] == [] and c["drift"] == [] and c["last_probe"] is None
    assert set(c["key"]) == {"fingerprint", "last4", "kind", "tier", "age_days", "stale", "expires_at", "shared_with"}
    assert c["key"]["last4"] == GITHUB_KEY[-4:] and c["key"]["tier"] == "primary" and c["key"]["age_days"] == 0
    assert c["key"]["kind"] == "classic PAT"


def test_list_filter_words(breaker, add_github):
    add_github("gh-bot")
    add_github("docs-helper", GITHUB_KEY[:-1] + "Q")
    r = breaker("list", "helper", "--json")
    assert [c["name"] for c in json.loads(r.out)["connectors"]] == ["docs-helper"]


def test_shared_key_is_visible(breaker, add_github):
    add_github("one")
    add_github("two")
    doc = json.loads(breaker("list", "--json").out)
    keys = {c["name"]: c["key"] for c in doc["connectors"]}
    assert keys["one"]["fingerprint"] == keys["two"]["fingerprint"]
    assert keys["one"]["shared_with"] == ["two"] and keys["two"]["shared_with"] == ["one"]


def test_add_with_a_hidden_prompt_on_a_terminal(breaker, monkeypatch):
    asked = []

    def fake_getpass(prompt, stream=None):
        asked.append(prompt)
        return GITHUB_KEY

    monkeypatch.setattr("app.cli.prompts.getpass.getpass", fake_getpass)
    r = breaker("add", "--name", "typed", tty=True)
    assert r.code == 0, r.err
    assert asked and "hidden" in asked[0]
    assert json.loads(breaker("list", "--json").out)["connectors"][0]["provider"] == "github"  # recognised


def test_no_option_takes_a_key():
    """Keys never come from arguments (shell history, ps): every option mentioning a key is a flag."""
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            for option in action.option_strings:
                if any(word in option.lower() for word in ("key", "token", "secret", "password")):
                    assert action.nargs == 0, f"`breaker {name} {option}` takes a value"


def test_edit_changes_only_the_given_fields(breaker, add_github):
    add_github()
    r = breaker(
        "edit",
        "gh-bot",
        "--owner",
        "Tom",
        "--env",
        "test",
        "--scope",
        "repo:read",
        "--scope",
        "https://www.googleapis.com/auth/gmail.readonly:read",
    )
    assert r.code == 0, r.err
    (c,) = json.loads(breaker("list", "--json").out)["connectors"]
    assert c["owner"] == "Tom" and c["environment"] == "test"
    assert c["purpose"].startswith("This connector may use the docs repo")  # untouched
    assert {(g["scope"], g["level"]) for g in c["declared"]} == {
        ("repo", "read"),
        ("https://www.googleapis.com/auth/gmail.readonly", "read"),
    }


def test_edit_rename_and_replace_key(breaker, add_github):
    add_github()
    before = json.loads(breaker("list", "--json").out)["connectors"][0]["key"]["fingerprint"]
    new_key = GITHUB_KEY[:-4] + "NEW1"
    r = breaker("edit", "gh-bot", "--name", "gh-renamed", "--replace-key", stdin=new_key)
    assert r.code == 0, r.err
    (c,) = json.loads(breaker("list", "--json").out)["connectors"]
    assert c["name"] == "gh-renamed" and c["key"]["last4"] == "NEW1" and c["key"]["fingerprint"] != before


def test_edit_without_changes_is_a_usage_error(breaker, add_github):
    add_github()
    r = breaker("edit", "gh-bot")
    assert r.code == 2 and "nothing to change" in r.err


def test_edit_unknown_connector(breaker):
    r = breaker("edit", "ghost", "--owner", "x")
    assert r.code == 2
    assert r.err.strip() == "breaker: no connector named 'ghost'"


def test_remove_needs_a_decision_about_the_key_when_not_a_terminal(breaker, add_github, memory_keyring):
    add_github()
    r = breaker("remove", "gh-bot")
    assert r.code == 2 and "--delete-key or --keep-key" in r.err
    assert "gh-bot" in breaker("list").out  # nothing removed


@pytest.mark.parametrize("flag, kept", [("--delete-key", False), ("--keep-key", True)])
def test_remove_with_a_flag(breaker, add_github, memory_keyring, flag, kept):
    add_github()
    assert GITHUB_KEY in memory_keyring.store.values()
    r = breaker("remove", "gh-bot", flag)
    assert r.code == 0, r.err
    assert breaker("list", "--json").out.count("gh-bot") == 0
    assert (GITHUB_KEY in memory_keyring.store.values()) is kept


@pytest.mark.parametrize(
    "answers, removed, kept",
    [("y\ny\n", True, False), ("y\nn\n", True, True), ("n\n", False, True), ("\n", False, True)],
)
def test_remove_asks_on_a_terminal(breaker, add_github, memory_keyring, answers, removed, kept):
    add_github()
    r = breaker("remove", "gh-bot", stdin=answers, tty=True)
    assert r.code == 0, r.err
    assert "Remove gh-bot" in r.err
    assert ("gh-bot" not in breaker("list", "--json").out) is removed
    assert (GITHUB_KEY in memory_keyring.store.values()) is kept


def test_remove_unknown(breaker):
    r = breaker("remove", "ghost", "--keep-key")
    assert r.code == 2 and "no connector named 'ghost'" in r.err


def test_read_only_refuses_changes(breaker, add_github):
    add_github()
    for argv in (["add", "--name", "x"], ["edit", "gh-bot", "--owner", "y"], ["remove", "gh-bot", "--keep-key"]):
        r = breaker("--read-only", *argv, stdin=GITHUB_KEY)
        assert r.code == 2 and "--read-only" in r.err, argv
    assert breaker("--read-only", "list").code == 0
    # The flag works after the command too.
    assert breaker("edit", "gh-bot", "--owner", "y", "--read-only").code == 2


def test_global_options_before_or_after_the_command(breaker, add_github, cli_home, tmp_path):
    add_github()
    after = breaker("list", "--json", "--home", str(cli_home), home=False)
    assert json.loads(after.out)["connectors"][0]["name"] == "gh-bot"
    other = tmp_path / "other.db"
    r = breaker("--db", f"sqlite:///{other}", "list", "--json")
    assert json.loads(r.out)["connectors"] == [] and other.exists()


def test_breaker_home_environment_variable(breaker, add_github, cli_home, monkeypatch):
    add_github()
    monkeypatch.setenv("BREAKER_HOME", str(cli_home))
    r = breaker("list", "--json", home=False)
    assert json.loads(r.out)["connectors"][0]["name"] == "gh-bot"


def test_owners_are_reused(breaker, add_github, cli_home):
    from app.services.context import open_services
    from app.settings import load_settings

    add_github("a")
    add_github("b", GITHUB_KEY[:-1] + "Q")
    services = open_services(load_settings(home=cli_home))
    try:
        assert services.inventory.owners() == ["Priya"]
    finally:
        services.close()
