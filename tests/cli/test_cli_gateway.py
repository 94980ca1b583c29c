"""`breaker route`, `breaker token` and `breaker gateway`'s refusals of anything but loopback."""

from __future__ import annotations

import json


def test_route_token_list_revoke(breaker, add_github):
    assert add_github().code == 0
    r = breaker("route", "gh-bot", "--above", "ask")
    assert r.code == 0 and "through the gateway to https://api.github.com" in r.err
    r = breaker("token", "gh-bot", "--client", "invoice agent")
    assert r.code == 0
    token = r.out.strip()
    assert token.startswith("brk_") and len(token) > 40
    r = breaker("token", "gh-bot", "--list")
    assert "invoice agent" in r.out and token not in r.out and "live" in r.out
    r = breaker("route", "--json")
    (route,) = json.loads(r.out)["routes"]
    assert route["above"] == "ask" and route["tokens"] == 1 and route["upstream"] == "https://api.github.com"
    assert breaker("token", "gh-bot", "--revoke", "1").code == 0
    assert breaker("token", "gh-bot", "--revoke", "1").code == 1
    r = breaker("audit", "--json")
    assert token not in r.out
    assert breaker("route", "gh-bot", "--off").code == 0
    r = breaker("token", "gh-bot", "--client", "x")
    assert r.code == 1 and "not routed" in r.err


def test_route_refuses_a_host_the_provider_does_not_have(breaker, add_github):
    add_github()
    r = breaker("route", "gh-bot", "--upstream", "https://evil.example")
    assert r.code == 1 and "not one of GitHub's API hosts" in r.err
    r = breaker("route", "gh-bot", "--upstream", "http://example.com")
    assert r.code == 1 and "loopback only" in r.err


def test_gateway_listens_on_loopback_only(breaker):
    r = breaker("gateway", "--host", "0.0.0.0")
    assert r.code == 2 and "loopback" in r.err
