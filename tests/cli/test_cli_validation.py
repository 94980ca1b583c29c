"""Bad input through `breaker add`: exit code 2, one `breaker: field: message` line per field, nothing stored."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import GITHUB_KEY

SLACK_KEY = "xoxb-123456789012-1234567890123-SANDBOXabcdefghijklmnop"


@pytest.mark.parametrize(
    "argv, key, field, message",
    [
        (["--name", ""], GITHUB_KEY, "name", "a name is required"),
        (["--name", "a/b"], GITHUB_KEY, "name", "use letters, digits"),
        (["--name", "x", "--provider", "myspace"], GITHUB_KEY, "provider", "unknown provider 'myspace'"),
        (["--name", "x", "--base-url", "not a url"], GITHUB_KEY, "base_url", "a full URL"),
        (["--name", "x"], "ghp_SANDBOX with spaces 0123456789012345678901", "key", "spaces or line breaks"),
        (["--name", "x", "--provider", "github"], SLACK_KEY, "key", "this does not look like a GitHub key"),
        (["--name", "x"], "SANDBOX-mystery-key-1234", "provider", "Breaker does not recognise this key"),
        (["--name", "x", "--scope", "repo"], GITHUB_KEY, "scope", "write SCOPE:LEVEL"),
        (["--name", "x", "--scope", "repo:superuser"], GITHUB_KEY, "scope", "unknown level 'superuser'"),
        (["--name", "x", "--env-var", "lower-case"], GITHUB_KEY, "env_var", "upper-case letters"),
    ],
)
def test_each_bad_input_is_one_line_and_exit_2(breaker, memory_keyring, argv, key, field, message):
    r = breaker("add", *argv, stdin=key + "\n")
    assert r.code == 2
    lines = r.err.strip().splitlines()
    assert any(line.startswith(f"breaker: {field}: ") and message in line for line in lines), r.err
    assert all(line.startswith("breaker: ") for line in lines)
    assert "Traceback" not in r.err
    assert json.loads(breaker("list", "--json").out)["connectors"] == []
    assert key not in memory_keyring.store.values()


def test_duplicate_name_is_reported_before_the_key_is_asked(breaker, add_github, monkeypatch):
    add_github("gh")

    def no_prompt(*_a, **_k):
        raise AssertionError("the key was asked for although the name was taken")

    monkeypatch.setattr("app.cli.prompts.getpass.getpass", no_prompt)
    r = breaker("add", "--name", "gh", tty=True)
    assert r.code == 2
    assert r.err.strip() == "breaker: name: a connector named 'gh' already exists"


def test_argparse_errors_are_one_line_with_exit_2(breaker):
    for argv in (
        ["add", "--env", "staging"],
        ["audit", "--limit", "zero"],
        ["export", "--format", "pdf"],
        ["no-such-command"],
        ["remove"],
    ):
        r = breaker(*argv)
        assert r.code == 2, argv
        assert len(r.err.strip().splitlines()) == 1 and r.err.startswith("breaker: "), r.err


def test_help_is_exit_0(breaker):
    r = breaker("--help", home=False)
    assert r.code == 0 and "list" in r.out and "demo" in r.out


def test_empty_key_from_stdin(breaker):
    r = breaker("add", "--name", "x", "--provider", "github", stdin="")
    assert r.code == 2 and "breaker: key: the key is empty" in r.err
