"""Issue 9's scenario: the emergency disable of the whole demo inventory, checked by fresh probes.

Afterwards every connector counted "off" is dead by a fresh probe, the keys listed as still live are
exactly those that still probe ok, and the exit code is 1 while any remains.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from app.services.context import open_services
from app.services.demo import demo_port, demo_settings, load_sandbox_state, prepare_demo_home
from app.services.probing import Prober
from connectors.base import Outcome
from connectors.sandbox.server import ThreadedSandbox


@pytest.fixture
def demo_home(tmp_path):
    home = tmp_path / "demo"
    settings = prepare_demo_home(home)
    runner = ThreadedSandbox(load_sandbox_state(home), port=demo_port(settings))
    runner.start()
    yield home
    runner.stop()


def fresh_probes(home) -> dict[str, Outcome]:
    services = open_services(demo_settings(home))
    try:
        results = asyncio.run(Prober(services).probe())
        return {r.connector: r.report.outcome for r in results}
    finally:
        services.close()


def test_the_demo_emergency_disable_counts_off_only_what_a_probe_proves_dead(breaker, demo_home):
    run = breaker("--home", str(demo_home), "panic", "--yes", "--json", home=False)
    summary = json.loads(run.out)
    listing = json.loads(breaker("--home", str(demo_home), "list", "--json", home=False).out)["connectors"]
    outcomes = fresh_probes(demo_home)
    off = {c["name"] for c in listing if c["off"]}
    still_live = {c["name"] for c in listing if c["key_still_live"]}
    assert off and still_live and off | still_live == {c["name"] for c in listing}, (off, still_live)
    for name in off:
        assert outcomes[name] in (Outcome.INVALID, Outcome.REVOKED), (name, outcomes[name])
    assert still_live == {n for n, o in outcomes.items() if o is Outcome.OK}, outcomes
    assert run.code == (1 if still_live else 0)
    assert not summary["ok"] if still_live else summary["ok"]
