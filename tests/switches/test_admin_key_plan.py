"""The plan and the outcome agree for an Anthropic admin key (the demo's anthropic-admin): the Admin
API cannot switch admin keys off, so the plan promises no call and says it will wait for you, and the
run ends 'waiting for you' with the same steps, and sends nothing to the provider."""

from __future__ import annotations

import asyncio

import pytest

from app.services.context import open_services
from app.services.demo import demo_port, demo_settings, load_sandbox_state, prepare_demo_home
from app.services.switches.states import JobState
from connectors.sandbox.server import ThreadedSandbox


@pytest.fixture
def demo(tmp_path):
    home = tmp_path / "demo"
    settings = prepare_demo_home(home)
    runner = ThreadedSandbox(load_sandbox_state(home), port=demo_port(settings))
    runner.start()
    services = open_services(demo_settings(home))
    try:
        yield services
    finally:
        services.close()
        runner.stop()


def test_admin_key_disable_plan_promises_no_call_and_the_run_agrees(demo):
    view = demo.inventory.get("anthropic-admin")
    assert view.credential is not None and "admin" in view.credential.kind
    plan = demo.switches.plan("anthropic-admin", "disable")
    assert plan.calls == ()  # no POST /v1/organizations/api_keys/… promised
    assert plan.manual_steps, plan.text()
    text = plan.text()
    assert "api_keys" not in text
    assert "waits for you" in text and "no API to switch off this kind of key" in text

    report = asyncio.run(demo.switches.switch("anthropic-admin", "disable"))
    assert report.state is JobState.MANUAL, report
    assert "cannot change admin keys" in report.message
    assert tuple(report.manual_steps) == plan.manual_steps
    assert "api_keys/" not in report.provider_call

    enable = demo.switches.plan("anthropic-admin", "enable")
    assert enable.calls == () and enable.manual_steps
