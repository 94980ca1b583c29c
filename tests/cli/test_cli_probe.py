"""`breaker probe` end to end: real provider modules, real HTTP to the loopback sandbox."""

from __future__ import annotations

import json


def _add(breaker, sandbox, name: str, scopes: list[str], declared: str) -> str:
    record = sandbox.mint("github", "classic", scopes=scopes)
    r = breaker(
        "add",
        "--name",
        name,
        "--provider",
        "github",
        "--owner",
        "Priya",
        "--base-url",
        sandbox.base_url("github"),
        "--scope",
        declared,
        stdin=record.token + "\n",
    )
    assert r.code == 0, r.err
    return record.token


def test_probe_json_shows_live_scopes_and_drift_exit_1(breaker, sandbox):
    _add(breaker, sandbox, "gh-bot", ["repo", "workflow"], "repo:write")
    r = breaker("probe", "gh-bot", "--json")
    assert r.code == 1  # drift: workflow was never declared
    doc = json.loads(r.out)
    assert doc["schema"] == "breaker.probe/1"
    [res] = doc["results"]
    assert res["outcome"] == "ok" and res["live_level"] in ("send", "admin", "write")
    assert any("workflow" in d for d in res["drift"])
    levels = {s["scope"]: s["level"] for s in res["live_scopes"]}
    assert (
        levels["workflow"] == "send"
    )  # runs Actions: reaches beyond the tool (https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/scopes-for-oauth-apps)
    # The probe only read: GET (or HEAD) requests, nothing that could change anything.
    assert {m for m, _ in sandbox.calls("github")} <= {"GET", "HEAD"}


def test_probe_all_without_drift_exits_0_and_revoked_key_exits_1(breaker, sandbox):
    token = _add(breaker, sandbox, "gh-bot", ["read:org"], "read:org:read")
    assert breaker("probe", "--all").code == 0
    sandbox.state.revoke(token)
    r = breaker("probe", "--all", "--json")
    assert r.code == 1
    assert json.loads(r.out)["results"][0]["outcome"] in ("invalid", "revoked")
    assert token not in r.out + r.err


def test_probe_usage_errors(breaker):
    assert breaker("probe").code == 2
    assert breaker("probe", "nope").code == 2


def test_unreachable_provider_is_an_outcome_not_a_traceback(breaker, sandbox):
    _add(breaker, sandbox, "gh-bot", ["repo"], "repo:write")
    sandbox.faults.set("github", drop=True)
    r = breaker("probe", "gh-bot")
    assert r.code == 1
    assert "unreachable" in r.out and "Traceback" not in r.err


def test_deep_probe_says_how_many_requests_first(breaker, sandbox):
    _add(breaker, sandbox, "gh-bot", ["repo"], "repo:write")
    r = breaker("probe", "gh-bot", "--deep")
    assert "github:" in r.err and "request" in r.err
