"""Issue 13, "States": a connector routed through the gateway is verified AT the gateway after a
switch (a request of each level above the new ceiling refused there), for every provider with an API
for switches or without one, and the emergency disable reaches the gateway first, before any
provider call, never waiting on one provider."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from app.gateway.server import running
from app.services import gateway_check
from app.services.gateway import CHECK_HEADER, Gateway, check_header
from app.services.switches import JobState, Selection, Switches
from connectors import registry
from connectors.base import Level, Mode
from connectors.requests import examples, table_for
from tests.switches.conftest import CASES, World, audit_actions, present_providers

ROUTABLE = [p for p in present_providers() if table_for(registry.get(p)) is not None]


@pytest.fixture
def world(services, sandbox) -> World:
    return World(services, sandbox)


def route(world, services, name: str, provider: str) -> str:
    """A routed connector on the sandbox, with an agent's token (its key never handed out)."""
    world.connector(name, provider)
    Gateway(services).route(name)
    return Gateway(services).issue(name, "agent").token


def provider_calls(sandbox, provider: str) -> list[tuple[str, str]]:
    """Requests the sandbox received for ``provider`` other than probes' reads."""
    return [(m, p) for m, p in sandbox.calls(provider) if m not in ("GET", "HEAD")]


def test_every_level_has_an_example_request_per_provider():
    for provider in ROUTABLE:
        found = examples(table_for(registry.get(provider)))
        assert Level.WRITE in found and Level.READ in found, provider
        for level, request in found.items():
            assert table_for(registry.get(provider)).classify(request).level is level


@pytest.mark.parametrize("provider", ROUTABLE)
async def test_disable_of_a_routed_connector_is_verified_at_the_gateway_for_every_provider(
    provider, world, services, sandbox
):
    route(world, services, "agent-conn", provider)
    before = provider_calls(sandbox, provider)
    sw = Switches(services, call_timeout=3)
    events = []
    try:
        report = await sw.disable("agent-conn", on_event=events.append)
    finally:
        sw.close()
    assert report.state is JobState.VERIFIED, (report.message, report.verify_note)
    assert report.verify_note.startswith("verified at the gateway")
    assert "unchanged at the provider" in report.message
    # No provider was called: the sandbox saw no switch call (and the key still works there).
    assert provider_calls(sandbox, provider) == before
    assert world.alive("agent-conn")
    job = sw.journal.latest("agent-conn")
    levels = {c["level"] for c in job.details["gateway"]["levels"]}
    assert levels == {lvl.label for lvl in examples(table_for(registry.get(provider)))}
    assert all(c["answer"] == "refused" for c in job.details["gateway"]["levels"])
    assert "switch.verified" in audit_actions(services, "agent-conn")
    assert services.audit.verify(services.engine).ok


@pytest.mark.parametrize("provider", ["github", "hubspot", "google"])
async def test_read_only_of_a_routed_connector_checks_each_level_above_the_ceiling(provider, world, services, sandbox):
    route(world, services, "agent-conn", provider)
    sw = Switches(services, call_timeout=3)
    try:
        report = await sw.read_only("agent-conn")
    finally:
        sw.close()
    assert report.state is JobState.VERIFIED, report.verify_note
    checked = {c["level"] for c in sw.journal.latest("agent-conn").details["gateway"]["levels"]}
    above = {lvl.label for lvl in examples(table_for(registry.get(provider))) if lvl > Level.READ}
    assert checked == above and "read" not in checked


async def test_a_running_gateway_is_asked_and_refuses_the_agents_next_request(world, services, sandbox, monkeypatch):
    token = route(world, services, "gh", "github")
    async with running(services) as gw:
        monkeypatch.setenv("BREAKER_GATEWAY_URL", gw.url)
        async with httpx.AsyncClient(base_url=f"{gw.url}/gh", headers={"authorization": f"token {token}"}) as agent:
            assert (await agent.get("/user")).status_code == 200
            sw = Switches(services, call_timeout=3)
            try:
                report = await sw.disable("gh")
            finally:
                sw.close()
            assert report.state is JobState.VERIFIED
            assert f"gateway at {gw.url}" in report.verify_note and gateway_check.LOCAL_RULES in report.verify_note
            refused = await agent.get("/user")
        assert refused.status_code == 403 and refused.json()["refused_by"] == "breaker-gateway"


async def test_a_check_is_never_forwarded_and_needs_the_installations_signature(world, services, sandbox):
    route(world, services, "gh", "github")
    async with running(services) as gw, httpx.AsyncClient(base_url=f"{gw.url}/gh") as c:
        before = list(sandbox.calls("github"))
        good = {CHECK_HEADER: check_header(services.secrets, "gh")}
        answer = await c.post("/repos/o/r/issues", headers=good, content=b"{}")
        assert answer.status_code == 200 and answer.json()["check"] == "forward"  # full mode: it would pass
        assert (await c.get("/user", headers={CHECK_HEADER: "1.bad"})).status_code == 401
        other = {CHECK_HEADER: check_header(services.secrets, "someone-else")}
        assert (await c.get("/user", headers=other)).status_code == 401
        assert list(sandbox.calls("github")) == before  # nothing was forwarded
        await gw.app.flush_usage()
    assert Gateway(services).usage("gh") == []


async def test_a_gateway_that_lets_a_level_through_is_not_verified(world, services, sandbox):
    route(world, services, "gh", "github")
    # The mode in the store is still full: the check for "disabled" must find every level passing.
    result = (await gateway_check.check(services, {"gh": ("github", Mode.DISABLED)}))["gh"]
    assert not result.ok and "still lets a read request through" in result.why


async def test_panic_reaches_the_gateway_first_and_never_waits_on_a_provider(world, services, sandbox):
    routed = {p: f"{p}-routed" for p in ("slack", "hubspot", "openai")}
    tokens = {p: route(world, services, n, p) for p, n in routed.items()}
    world.connector("slack-key", "slack")  # handed out as its key: its provider is called
    sandbox.faults.set("slack", hang=True)  # …and hangs
    # Slack's timeout is the timed part: the routed ones must be verified before it runs out, so it
    # is long (5 s) next to their work at the gateway (it was 2 s, the same as this bound).
    timeout_s = 5.0
    async with running(services) as gw:
        sw = Switches(services, call_timeout=timeout_s, attempts=1)
        events = []
        try:
            started = time.perf_counter()
            task = asyncio.create_task(sw.panic(Selection(), on_event=events.append))
            while not any(e.connector == "slack-routed" and e.state == JobState.VERIFIED for e in events):
                assert not task.done(), task.exception() or "the panic ended before slack-routed was verified"
                await asyncio.sleep(0.01)
            at_gateway_s = time.perf_counter() - started
            # The routed ones are verified while the key-holding slack connector is still hanging.
            assert not task.done()
            states = {e.connector: e.state for e in events}
            assert all(states[n] == JobState.VERIFIED for n in routed.values())
            assert states.get("slack-key") != JobState.VERIFIED
            async with httpx.AsyncClient(base_url=gw.url) as agent:
                r = await agent.post(
                    "/openai-routed/v1/chat/completions",
                    headers={"authorization": f"Bearer {tokens['openai']}"},
                    content=json.dumps({"model": "m", "messages": []}),
                )
            assert r.status_code == 403 and r.json()["mode"] == "disabled"
            summary = await task
        finally:
            sw.close()
    assert at_gateway_s < timeout_s
    verified = {r.connector for r in summary.verified}
    assert set(routed.values()) <= verified and "slack-key" not in verified
    # Order: the routed connectors' verification came before any provider call went out.
    actions = audit_actions(services)
    first_call = actions.index("switch.calling")
    gateway_verified = [i for i, a in enumerate(actions) if a == "switch.verified"][: len(routed)]
    assert max(gateway_verified) < first_call
    for name in routed.values():  # no provider revoked their keys: the gateway alone switched them off
        assert world.alive(name), name
    assert CASES["hubspot"].disable == "manual"  # without the gateway hubspot has no disable API


async def test_reverify_of_a_routed_switch_asks_the_gateway_again(world, services, sandbox):
    route(world, services, "gh", "github")
    sw = Switches(services, call_timeout=3)
    try:
        await sw.disable("gh")
        report = await sw.verify("gh")
    finally:
        sw.close()
    assert report.state is JobState.VERIFIED and report.verify_note.startswith("verified at the gateway")


def test_the_confirmation_of_a_routed_switch_says_the_gateway_and_calls_no_provider(world, services, sandbox):
    route(world, services, "gh", "github")
    world.connector("gh-key", "github")
    sw = Switches(services)
    try:
        routed_plan, key_plan = sw.plan("gh", "disable"), sw.plan("gh-key", "disable")
    finally:
        sw.close()
    assert routed_plan.calls == () and routed_plan.reversible
    assert "gateway refuses every request of gh" in routed_plan.text()
    assert "not changed" in routed_plan.text() and "By hand" not in routed_plan.text()
    assert key_plan.calls  # a key handed out as itself still goes to the provider


def test_a_routed_reduction_without_a_provider_api_warns_of_nothing_at_the_provider(world, services, sandbox):
    # Google has no API to reduce a key: handed out as its key, the confirmation says the switch stays
    # unverified until done by hand; routed, it is verified at the gateway and says no such thing.
    route(world, services, "mail", "google")
    world.connector("mail-key", "google")
    sw = Switches(services)
    try:
        routed_plan, key_plan = sw.plan("mail", "draft-only"), sw.plan("mail-key", "draft-only")
    finally:
        sw.close()
    assert any("not verified" in w for w in key_plan.warnings)
    assert routed_plan.warnings == () and "not verified" not in routed_plan.text()
    assert "verified at the gateway" in routed_plan.text()


@pytest.mark.parametrize("provider", ["github", "hubspot", "anthropic"])
async def test_re_enable_after_a_gateway_disable_works_again(provider, world, services, sandbox):
    token = route(world, services, "conn", provider)
    sw = Switches(services, call_timeout=3)
    try:
        assert (await sw.disable("conn")).state is JobState.VERIFIED
        report = await sw.enable("conn")
    finally:
        sw.close()
    assert report.state is JobState.VERIFIED, (report.message, report.verify_note)
    assert services.inventory.get("conn").mode is Mode.FULL and token


async def test_a_switch_verified_at_the_gateway_never_says_by_probe(world, services, sandbox):
    """No probe of the provider ran: the label, the events, the JSON and the panic's words say where
    the switch was verified."""
    route(world, services, "gh", "github")
    world.connector("gh-key", "github")
    sw = Switches(services, call_timeout=3)
    events = []
    try:
        routed = await sw.disable("gh", on_event=events.append)
        keyed = await sw.disable("gh-key")
    finally:
        sw.close()
    assert routed.label == "verified at the gateway" and routed.as_dict()["verified_at"] == "gateway"
    assert keyed.label == "verified by probe" and keyed.as_dict()["verified_at"] == "provider"
    assert [e.label for e in events if e.state is JobState.VERIFIED] == ["verified at the gateway"]
    assert sw.journal.latest("gh").report().label == "verified at the gateway"  # read back from the journal


def test_the_panic_summary_says_how_each_was_verified():
    from types import SimpleNamespace

    from app.tui.screens.panic import verified_how

    probe, gateway = SimpleNamespace(at=""), SimpleNamespace(at="gateway")
    assert verified_how([probe, probe]) == "by probe"
    assert verified_how([gateway]) == "at Breaker's gateway"
    assert verified_how([probe, gateway, gateway]) == "(1 by probe, 2 at Breaker's gateway)"


async def test_taking_a_connector_off_the_gateway_unverifies_a_switch_only_the_gateway_held(world, services, sandbox):
    """Draft-only at the gateway changes nothing at the provider: handed out as its key again, the key
    has its full power, so the switch must not stay "verified" — and the owner is told what to run."""
    route(world, services, "mail", "google")
    sw = Switches(services, call_timeout=3)
    try:
        report = await sw.draft_only("mail")
    finally:
        sw.close()
    assert report.state is JobState.VERIFIED and report.at == "gateway"
    gateway = Gateway(services)
    assert gateway.unroute("mail")
    view = services.inventory.get("mail")
    assert view.mode is Mode.DRAFT_ONLY and view.switch_state is JobState.MANUAL
    note = gateway.unrouted_note("mail")
    assert "was never changed" in note and "`breaker draft-only mail`" in note
    assert "gateway.unroute" in audit_actions(services, "mail")
    assert services.audit.verify(services.engine).ok


async def test_taking_a_connector_off_the_gateway_keeps_a_switch_verified_at_the_provider(world, services, sandbox):
    world.connector("gh", "github")
    sw = Switches(services, call_timeout=3)
    try:
        report = await sw.disable("gh")  # revoked at GitHub, verified by probe
    finally:
        sw.close()
    assert report.state is JobState.VERIFIED and report.at == ""
    gateway = Gateway(services)
    gateway.route("gh")
    assert gateway.unroute("gh")
    assert services.inventory.get("gh").switch_state is JobState.VERIFIED
    assert gateway.unrouted_note("gh") == ""


def test_a_routed_switch_never_says_a_shared_key_stops_working(world, services, sandbox):
    """The gateway changes nothing at the provider: the key keeps working for a connector that shares
    it and is handed out as its key — the confirmation says that, not "its key stops working"."""
    record = world.add("blog", "github", "classic", client="the blog assistant")
    world.add("notes", "github", "classic", record=record)  # the same key, handed out as itself
    Gateway(services).route("blog")
    sw = Switches(services)
    try:
        found = sw.plan("blog", "disable")
    finally:
        sw.close()
    text = found.text()
    assert "its key stops working" not in text and "connectors sharing this very key" not in text
    assert found.stops_working == (
        "the blog assistant, through the gateway: every request refused from the next one (open streams end)",
    )
    assert any("also recorded for notes" in w and "keeps working there" in w for w in found.warnings)
    assert "still handed out as itself to notes" in text
