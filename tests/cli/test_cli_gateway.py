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
    assert r.code == 2 and "not one of GitHub's API hosts" in r.err and "--rules-host api.github.com" in r.err
    r = breaker("route", "gh-bot", "--upstream", "http://example.com")
    assert r.code == 2 and "loopback only" in r.err


def test_route_and_token_exit_2_on_bad_input_as_every_command_does(breaker, add_github):
    # README: 2 is usage or invalid input (an unknown connector name); 1 a failure the owner acts on.
    add_github()
    for argv in (("route", "gh-bt"), ("route", "gh-bt", "--off"), ("token", "gh-bt", "--list")):
        r = breaker(*argv)
        assert r.code == 2 and "no connector named 'gh-bt' — did you mean 'gh-bot'?" in r.err, argv
    r = breaker("token", "gh-bot", "--client", "x")
    assert r.code == 1 and "not routed" in r.err  # a state, not bad input
    assert breaker("route", "gh-bot").code == 0
    r = breaker("token", "gh-bot", "--client", "   ")
    assert r.code == 2 and "name the client" in r.err
    r = breaker("route", "gh-bot", "--upstream", "ftp://api.github.com")
    assert r.code == 2 and "not an http(s) URL" in r.err


def test_gateway_listens_on_loopback_only(breaker):
    r = breaker("gateway", "--host", "0.0.0.0")
    assert r.code == 2 and "loopback" in r.err


def test_answers_typed_at_the_gateway(services):
    from app.cli.gateway_cmds import answer_line, held_line
    from app.services.gateway import Gateway
    from app.services.queue import Queue
    from app.services.views import ConnectorInput
    from connectors.base import Secret
    from connectors.requests import Classification, Level
    from tests.cli.conftest import GITHUB_KEY

    services.inventory.add(ConnectorInput(name="gh-bot", provider="github"), Secret(GITHUB_KEY))
    Gateway(services).route("gh-bot")
    queue = Queue(services)
    assert answer_line(queue, "y") == "nothing is held"
    assert "answer `y [ID]`" in answer_line(queue, "maybe")
    cid = 1
    found = Classification(Level.WRITE, "POST /repos/{owner}/{repo}/{rest*}")
    one, _ = queue.hold(cid, "a" * 64, found, {"what": "GitHub write: create in issues on acme/site"})
    two, _ = queue.hold(cid, "b" * 64, found, {"what": "x", "first_lines": ["hello"]})
    assert "HELD #1 gh-bot (write): GitHub write: create in issues on acme/site" in held_line(queue.pending()[0])
    assert "x — then: “hello”" in held_line(queue.pending()[1])
    assert answer_line(queue, "n") == "#1 denied (gh-bot)"  # the oldest
    assert answer_line(queue, f"y {two}") == "#2 approved; the gateway will send it once (gh-bot)"
    assert "not held any more" in answer_line(queue, f"y {one}")


def test_a_hold_whose_gateway_died_is_never_approved_at_the_terminal(services):
    """kill -9 of the gateway: `y` must not say "approved" for a request nothing can send."""
    import subprocess
    import sys

    from sqlalchemy import text

    from app.cli.gateway_cmds import answer_line, answered_elsewhere
    from app.services.gateway import Gateway
    from app.services.queue import Queue, holder_id
    from app.services.views import ConnectorInput
    from connectors.base import Secret
    from connectors.requests import Classification, Level
    from tests.cli.conftest import GITHUB_KEY

    services.inventory.add(ConnectorInput(name="gh-bot", provider="github"), Secret(GITHUB_KEY))
    Gateway(services).route("gh-bot")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        gateway = Queue(services, holder=holder_id(child.pid))
        found = Classification(Level.WRITE, "POST /repos/{owner}/{repo}/{rest*}")
        hold, _ = gateway.hold(1, "c" * 64, found, {"what": "GitHub write"})
        assert [h.id for h in Queue(services).pending()] == [hold]  # its gateway runs: offered
    finally:
        child.kill()
        child.wait()
    answers = Queue(services)
    reply = answer_line(answers, f"y {hold}")
    assert "approved" not in reply.replace("not approved", "") and "the gateway stopped" in reply, reply
    assert answers.pending() == [] and answers.states([hold]) == {hold: "lost"}
    assert [h.lost for h in answers.pending(with_lost=True)] == [True]
    with services.engine.connect() as conn:
        events = [r[0] for r in conn.execute(text("SELECT action FROM audit_event WHERE action LIKE 'gateway.%'"))]
    assert "gateway.lost" in events and "gateway.approved" not in events
    assert answered_elsewhere(7, "denied") == "#7 denied in the panel"


def test_route_oauth_client_reads_the_secret_hidden_never_from_argv(breaker, cli_home):
    refresh = "1//SANDBOX" + "r" * 60
    r = breaker("add", "--name", "mail-bot", "--provider", "google", "--owner", "Ana", stdin=refresh + "\n")
    assert r.code == 0, r.err
    r = breaker(
        "route", "mail-bot", "--oauth-client", "123-sandbox.apps.googleusercontent.com", stdin="client-SECRET\n"
    )
    assert r.code == 0, r.err
    assert "refreshes its access tokens" in r.err and "client-SECRET" not in r.out + r.err
    r = breaker("audit", "--json")
    assert "credential.oauth_client" in r.out and "client-SECRET" not in r.out and refresh not in r.out


def test_add_refresh_token_takes_a_key_with_no_shape_of_its_own(breaker):
    refresh = "0.ASANDBOX" + "m" * 80  # a Microsoft refresh token is not a Graph JWT
    r = breaker("add", "--name", "graph-bot", "--provider", "microsoft", stdin=refresh + "\n")
    assert r.code != 0 and "does not look like a Microsoft Graph key" in r.err
    r = breaker("add", "--name", "graph-bot", "--provider", "microsoft", "--refresh-token", stdin=refresh + "\n")
    assert r.code == 0, r.err
    r = breaker("list", "--json")
    assert "OAuth refresh token" in r.out and refresh not in r.out
    r = breaker("add", "--name", "gh-bot", "--provider", "github", "--refresh-token", stdin="ghp_x\n")
    assert r.code == 2 and "--refresh-token" in r.err


def test_route_tenant_is_kept_with_the_connector_and_a_bad_one_changes_nothing(breaker):
    refresh = "0.ASANDBOX" + "t" * 80
    r = breaker("add", "--name", "graph-bot", "--provider", "microsoft", "--refresh-token", stdin=refresh + "\n")
    assert r.code == 0, r.err
    r = breaker("route", "graph-bot", "--tenant", "evil.example/x")
    assert r.code == 2 and "is not a Microsoft tenant" in r.err and len(r.err.strip().splitlines()) == 1
    assert json.loads(breaker("route", "--json").out)["routes"] == []  # refused first: not routed either
    r = breaker("route", "graph-bot", "--tenant", "Contoso.onmicrosoft.com")
    assert r.code == 0 and "at tenant contoso.onmicrosoft.com" in r.err and "goes through the gateway" in r.err
    assert "connector.edit" in breaker("audit", "--json").out
    (route,) = json.loads(breaker("route", "--json").out)["routes"]
    assert route["tenant"] == "contoso.onmicrosoft.com"
    listed = breaker("route").out
    assert "TENANT" in listed and "contoso.onmicrosoft.com" in listed


def test_route_list_names_the_default_tenant_and_none_for_providers_without(breaker, add_github):
    refresh = "0.ASANDBOX" + "t" * 80
    assert (
        breaker("add", "--name", "graph-bot", "--provider", "microsoft", "--refresh-token", stdin=refresh + "\n").code
        == 0
    )
    add_github()
    assert breaker("route", "graph-bot").code == 0 and breaker("route", "gh-bot").code == 0
    routes = {r["connector"]: r for r in json.loads(breaker("route", "--json").out)["routes"]}
    assert routes["graph-bot"]["tenant"] == "common" and routes["gh-bot"]["tenant"] is None
