"""The still-live checklist (issue 9): after the demo's emergency disable it names exactly the keys that
still probe ok, says how to recognise each without the key, exports as Markdown, and "I did it"
(--done) ticks a key off only when a fresh probe shows it dead."""

from __future__ import annotations

import json

import pytest

from app.services.context import open_services
from app.services.demo import demo_port, demo_settings, load_sandbox_state, prepare_demo_home
from connectors.base import Outcome
from connectors.sandbox.server import ThreadedSandbox
from tests.cli.test_demo_emergency import fresh_probes


@pytest.fixture
def demo(tmp_path):
    home = tmp_path / "demo"
    settings = prepare_demo_home(home)
    runner = ThreadedSandbox(load_sandbox_state(home), port=demo_port(settings))
    runner.start()
    yield home, runner
    runner.stop()


def secret_of(home, name: str) -> str:
    services = open_services(demo_settings(home))
    try:
        return services.inventory.secret_for(name).reveal()
    finally:
        services.close()


def test_the_checklist_names_the_live_keys_and_ticks_one_off_only_when_it_is_dead(breaker, demo, tmp_path):
    demo_home, runner = demo
    home = str(demo_home)
    assert breaker("--home", home, "checklist", home=False).code == 0  # nothing disabled yet: nothing to do
    breaker("--home", home, "panic", "--yes", home=False)
    run = breaker("--home", home, "checklist", "--json", "--markdown", str(tmp_path / "live.md"), home=False)
    assert run.code == 1
    listed = {i["connector"]: i for i in json.loads(run.out)["still_live"]}
    outcomes = fresh_probes(demo_home)
    assert set(listed) == {n for n, o in outcomes.items() if o is Outcome.OK}, outcomes
    newsletter = listed["newsletter"]
    key = secret_of(demo_home, "newsletter")
    assert newsletter["last4"] == key[-4:] and newsletter["dashboard_url"].startswith("https://app.sendgrid.com")
    assert newsletter["steps"] and newsletter["added_on"]
    assert any(i["account"] for i in listed.values()), "the account a probe saw is named"
    md = (tmp_path / "live.md").read_text()
    for name in listed:
        assert f"## [ ] {name} — " in md
    assert "breaker checklist --done newsletter" in md
    for name in listed:
        assert secret_of(demo_home, name) not in md + run.out, name

    # "I did it" while the key still works: it stays on the list, exit 1
    still = breaker("--home", home, "checklist", "--done", "newsletter", "--json", home=False)
    assert still.code == 1 and "still on the list" in still.err
    assert "newsletter" in {i["connector"] for i in json.loads(still.out)["still_live"]}

    # the owner revokes it at SendGrid (here: in the sandbox); now the probe proves it dead
    assert runner.state.revoke(key)
    done = breaker("--home", home, "checklist", "--done", "newsletter", "--json", home=False)
    assert done.code == 0 and "ticked off" in done.err, done.err
    assert "newsletter" not in {i["connector"] for i in json.loads(done.out)["still_live"]}
    listing = {
        c["name"]: c for c in json.loads(breaker("--home", home, "list", "--json", home=False).out)["connectors"]
    }
    assert listing["newsletter"]["off"] and not listing["newsletter"]["key_still_live"]
