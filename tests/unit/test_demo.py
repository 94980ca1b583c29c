"""The demo home: seeded once, risky on purpose, confined to its folder, its sandbox state kept."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import replace
from urllib.parse import urlsplit

import httpx
import pytest

from app.services.context import open_services
from app.services.demo import (
    DEMO_CONNECTORS,
    DEMO_PORT_KEY,
    SANDBOX_STATE_FILE,
    DemoError,
    demo_port,
    load_sandbox_state,
    prepare_demo_home,
    save_sandbox_state,
)
from app.services.drift import drift_findings
from app.services.keyrings import DEMO_KEYRING_FILE
from app.settings import read_config
from connectors import registry
from connectors.base import Credential, Level, Outcome, Secret
from connectors.sandbox.core import SandboxState, TokenRecord
from connectors.sandbox.dispatch import SandboxTransport, route_modules

REQUIRED = {"github", "slack", "openai", "anthropic", "google", "stripe", "sendgrid", "notion", "hubspot", "gitlab"}


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("demo")
    prepare_demo_home(home)
    return home


@pytest.fixture
def demo(demo_home):
    from app.services.demo import demo_settings

    services = open_services(demo_settings(demo_home))
    yield services
    services.close()


def test_seeds_about_a_dozen_connectors_across_the_providers(demo):
    views = demo.inventory.list()
    assert len(views) >= 12
    assert {v.provider for v in views} >= REQUIRED & set(route_modules())
    assert {v.environment for v in views} == {"prod", "test"}
    with_owner = [v for v in views if v.owner]
    assert len(with_owner) == len(views) - 1
    assert all(v.purpose.startswith("This connector may use") for v in views)


def test_every_key_is_a_sandbox_key_in_the_demo_file_keyring(demo, demo_home, memory_keyring):
    assert demo.settings.demo
    stored = json.loads((demo_home / DEMO_KEYRING_FILE).read_text())
    for view in demo.inventory.list():
        secret = demo.inventory.secret_for(view.name)
        assert "SANDBOX" in secret.reveal()
        assert secret.reveal() in stored.values()
        # The provider's documented base URL with its host swapped for the sandbox's prefix:
        # https://gitlab.com/api/v4 → http://127.0.0.1:PORT/gitlab/api/v4.
        real_path = urlsplit(registry.get(view.provider).base_url).path.rstrip("/")
        assert view.base_url == f"http://127.0.0.1:{demo_port(demo.settings)}/{view.provider}{real_path}"
    # The OS keyring (here the test's memory keyring) holds no demo key.
    assert not any("SANDBOX" in value for value in memory_keyring.store.values())


def test_the_risky_ones(demo):
    views = {v.name: v for v in demo.inventory.list()}
    # an admin key, registered as the Anthropic organisation admin key the other Anthropic connector's switches use
    assert any(v.declared_level == Level.ADMIN for v in views.values())
    assert views["anthropic-admin"].credential.tier == "admin"
    from app.services.switches.plan import admin_source

    assert admin_source(views["code-review-bot"], list(views.values())) is views["anthropic-admin"]
    # one key shared by two connectors
    fingerprints = [v.credential.fingerprint for v in views.values()]
    assert any(fingerprints.count(fp) == 2 for fp in fingerprints)
    # one with no owner
    assert [v.name for v in views.values() if not v.owner] == ["newsletter"]
    # one 200 days old
    assert views["ci-pipeline"].key_age_days == 200
    assert demo.inventory.summary(list(views.values())).stale_keys == 1
    # the seeding itself is in the audit log, including the backdating
    seed = [e for e in demo.audit.recent(demo.engine, 500) if e.action == "demo.seed"]
    assert len(seed) == 1 and '"ci-pipeline":200' in seed[0].new_json
    assert demo.audit.verify(demo.engine).ok


def _probe(view, secret, state):
    async def go():
        async with httpx.AsyncClient(transport=SandboxTransport(state)) as client:
            return await registry.get(view.provider).probe(client, Credential(secret, base_url=view.base_url))

    return asyncio.run(go())


def test_drift_after_a_probe_only_where_intended(demo, demo_home):
    state = load_sandbox_state(demo_home)
    drifting = set()
    for view in demo.inventory.list():
        report = _probe(view, demo.inventory.secret_for(view.name), state)
        assert report.outcome == Outcome.OK, (view.name, report.error)
        if drift_findings(view.mode, view.declared, report.grants, report.live_level):
            drifting.add(view.name)
    intended = {s.name for s in DEMO_CONNECTORS if s.declare_narrower}
    assert drifting == intended & {v.name for v in demo.inventory.list()}
    assert drifting  # at least one to find


def test_prepare_again_keeps_the_port_and_does_not_reseed(demo_home):
    before = read_config(demo_home / "config.toml")["demo"]
    state_before = json.loads((demo_home / SANDBOX_STATE_FILE).read_text())
    settings = prepare_demo_home(demo_home)
    assert read_config(settings.config_path)["demo"] == before
    assert before["enabled"] is True and isinstance(before[DEMO_PORT_KEY], int)
    assert json.loads((demo_home / SANDBOX_STATE_FILE).read_text()) == state_before
    services = open_services(settings)
    try:
        assert len(services.inventory.list()) == len({s.name for s in DEMO_CONNECTORS if s.provider in route_modules()})
    finally:
        services.close()


def test_sandbox_state_round_trip_keeps_revocations(tmp_path):
    state = SandboxState()
    state.add(TokenRecord(token="xoxb-1-2-SANDBOXabc", provider="slack", scopes=["chat:write"]))
    state.revoke("xoxb-1-2-SANDBOXabc")
    save_sandbox_state(tmp_path, state)
    assert oct((tmp_path / SANDBOX_STATE_FILE).stat().st_mode & 0o777) == "0o600"
    again = load_sandbox_state(tmp_path)
    record = again.get("xoxb-1-2-SANDBOXabc")
    assert record.revoked and record.scopes == ["chat:write"]
    assert load_sandbox_state(tmp_path / "nothing-here").tokens == {}


def test_unreadable_sandbox_state(tmp_path):
    (tmp_path / SANDBOX_STATE_FILE).write_text("{not json")
    with pytest.raises(DemoError, match="unreadable"):
        load_sandbox_state(tmp_path)


def test_a_real_inventory_is_never_taken_over(services, home, tmp_path):
    from app.services.inventory import ConnectorInput

    services.inventory.add(ConnectorInput(name="real", provider="generic"), Secret("SANDBOX-real-ish-key"))
    services.close()
    with pytest.raises(DemoError, match="not a demo"):
        prepare_demo_home(home)
    assert "demo" not in read_config(home / "config.toml")


def test_a_folder_with_other_files_is_refused(tmp_path):
    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(DemoError, match="not empty"):
        prepare_demo_home(tmp_path)
    assert not (tmp_path / "config.toml").exists() and not (tmp_path / "breaker.db").exists()


def test_moving_the_port_moves_the_connectors(tmp_path):
    home = tmp_path / "d"
    settings = prepare_demo_home(home, port=45123)
    assert demo_port(settings) == 45123
    settings = prepare_demo_home(home, port=45124)
    assert demo_port(settings) == 45124
    services = open_services(settings)
    try:
        assert all(":45124/" in v.base_url for v in services.inventory.list())
    finally:
        services.close()


def test_moving_the_port_moves_the_routed_connectors_upstreams(tmp_path):
    from app.services.gateway import Gateway

    home = tmp_path / "d"
    services = open_services(prepare_demo_home(home, port=45123))
    try:
        Gateway(services).route("support-replies")
    finally:
        services.close()
    services = open_services(prepare_demo_home(home, port=45124))
    try:
        (route,) = Gateway(services).routes()
        view = services.inventory.get("support-replies")
    finally:
        services.close()
    assert route.upstream == "http://127.0.0.1:45124/slack"  # the base URL's host, without Slack's /api
    assert view.base_url == "http://127.0.0.1:45124/slack/api"


def test_a_demo_home_with_bare_prefixes_gets_the_api_paths(tmp_path):
    """A demo home seeded when /gitlab stood for /api/v4 is moved to the host-style URLs on start."""
    home = tmp_path / "d"
    settings = prepare_demo_home(home, port=45123)
    services = open_services(settings)
    try:
        view = next(v for v in services.inventory.list() if v.provider == "gitlab")
        old = replace(services.inventory.as_input(view), base_url="http://127.0.0.1:45123/gitlab")
        services.inventory.edit(view.name, old)
    finally:
        services.close()
    services = open_services(prepare_demo_home(home))
    try:
        urls = {v.provider: v.base_url for v in services.inventory.list()}
    finally:
        services.close()
    assert urls["gitlab"] == "http://127.0.0.1:45123/gitlab/api/v4"
    assert urls["github"] == "http://127.0.0.1:45123/github"


def test_demo_never_uses_breaker_db(tmp_path, monkeypatch):
    elsewhere = tmp_path / "real.db"
    monkeypatch.setenv("BREAKER_DB", f"sqlite:///{elsewhere}")
    settings = prepare_demo_home(tmp_path / "d")
    assert settings.db_path == (tmp_path / "d" / "breaker.db").resolve()
    assert not elsewhere.exists()
    with sqlite3.connect(settings.db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM connector").fetchone()[0] >= 12
