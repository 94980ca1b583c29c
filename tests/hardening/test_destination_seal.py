"""Issue 10, item 3: whoever can write the database cannot redirect a key. Where a key may be sent is
sealed to it (app.services.binding) and checked before the key leaves Breaker; base URLs follow rules."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.hardening.echo_server import echo_server

KEY = "ghp_SANDBOXSEAL" + "q7Wm2Zr9Lx4Kp8Vt1Nc6Hb3J" + "Tail"


def db(cli_home) -> sqlite3.Connection:
    return sqlite3.connect(cli_home / "breaker.db")


def test_a_base_url_changed_with_sqlite_is_refused_and_nothing_is_sent(breaker, add_github, cli_home):
    with echo_server(lambda t: {"message": "Bad credentials"}) as (honest, honest_seen):
        assert add_github("gh", KEY, "--base-url", honest).code == 0
        with echo_server(lambda t: {"stolen": t}) as (thief, stolen):
            with db(cli_home) as conn:
                conn.execute("UPDATE connector SET base_url = ? WHERE name = 'gh'", (thief + "/steal",))
            r = breaker("probe", "gh", "--json")
            assert stolen == [], "the key was sent to the address written into the database"
            assert r.code != 0
            assert "no longer matches" in r.out + r.err
            e = breaker("exec", "gh", "--", "true")
            assert e.code != 0 and "no longer matches" in e.err
            d = breaker("disable", "gh", "--yes")
            assert stolen == []
            assert "no longer matches" in d.out + d.err
    events = json.loads(breaker("audit", "--json", "--limit", "50").out)["events"]
    assert any(e["action"] == "key.refused" for e in events)


@pytest.mark.parametrize(
    "column,value",
    [("provider", "generic"), ("env_var", "OTHER_TOKEN"), ("extra_json", '{"url": "http://127.0.0.1:9/x"}')],
)
def test_every_destination_field_is_sealed(breaker, add_github, cli_home, column, value):
    assert add_github("gh", KEY, "--base-url", "http://127.0.0.1:9").code == 0
    with db(cli_home) as conn:
        conn.execute(f"UPDATE connector SET {column} = ? WHERE name = 'gh'", (value,))
    r = breaker("exec", "gh", "--", "true")
    assert r.code != 0 and "no longer matches" in r.err


def test_a_blanked_seal_is_refused_once_the_install_has_sealed(breaker, add_github, cli_home):
    assert add_github("gh", KEY, "--base-url", "http://127.0.0.1:9").code == 0
    with db(cli_home) as conn:
        conn.execute("UPDATE credential SET binding = ''")
    r = breaker("exec", "gh", "--", "true")
    assert r.code != 0 and "no longer matches" in r.err


def test_the_owner_confirms_a_destination_and_it_is_audited(breaker, add_github, cli_home):
    assert add_github("gh", KEY, "--base-url", "http://127.0.0.1:9").code == 0
    with db(cli_home) as conn:
        conn.execute("UPDATE connector SET base_url = 'http://127.0.0.1:10' WHERE name = 'gh'")
    assert breaker("exec", "gh", "--", "true").code != 0
    assert breaker("edit", "gh", "--owner", "Tom").code == 0  # an unrelated edit does not re-seal
    assert breaker("exec", "gh", "--", "true").code != 0
    assert breaker("edit", "gh", "--confirm-destination").code == 0
    assert breaker("exec", "gh", "--", "true").code == 0
    events = json.loads(breaker("audit", "--json", "--limit", "50").out)["events"]
    assert any((e.get("new") or {}).get("destination_confirmed") for e in events)


def test_an_edit_that_sets_the_base_url_seals_it(breaker, add_github):
    assert add_github("gh", KEY, "--base-url", "http://127.0.0.1:9").code == 0
    assert breaker("edit", "gh", "--base-url", "http://127.0.0.1:11").code == 0
    assert breaker("exec", "gh", "--", "true").code == 0


@pytest.mark.parametrize(
    "url,message",
    [
        ("http://api.example.com", "https only"),
        ("https://169.254.169.254/latest", "metadata"),
        ("https://[fd00:ec2::254]/", "metadata"),
        ("https://169.254.10.1/", "link-local"),
        ("https://metadata.google.internal/", "metadata"),
        ("https://10.1.2.3/api", "private-network"),
        ("https://192.168.1.10/api", "private-network"),
        ("https://[fd12::1]/api", "private-network"),
        ("https://api.example.com/\x1b[31m", "control characters"),
        ("https://api.example.com/\u202eevil", "control characters"),
        ("https://user:pw@api.example.com", "user:password"),
    ],
)
def test_base_url_rules(breaker, url, message):
    r = breaker("add", "--name", "x", "--provider", "github", "--base-url", url, stdin=KEY + "\n")
    assert r.code == 2 and message in r.err, r.err


def test_a_private_url_needs_an_audited_confirmation(breaker):
    args = ("add", "--name", "x", "--provider", "github", "--base-url", "https://10.1.2.3/api/v3")
    assert breaker(*args, stdin=KEY + "\n").code == 2
    assert breaker(*args, "--allow-private-url", stdin=KEY + "\n").code == 0
    events = json.loads(breaker("audit", "--json", "--limit", "50").out)["events"]
    add = next(e for e in events if e["action"] == "connector.add")
    assert add["new"]["private_url_confirmed"] is True
    assert breaker("edit", "x", "--owner", "Tom").code == 0  # kept as it was: no new confirmation needed


@pytest.mark.parametrize(
    "var", ["PATH", "LD_PRELOAD", "DYLD_INSERT_LIBRARIES", "PYTHONPATH", "NODE_OPTIONS", "BASH_ENV"]
)
def test_variables_that_change_how_programs_run_are_refused(breaker, add_github, var):
    r = add_github("gh", KEY, "--env-var", var)
    assert r.code == 2 and "changes how programs run" in r.err
    assert KEY not in r.out + r.err
