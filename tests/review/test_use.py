"""Breaker's own use records feed the review: `breaker exec` runs (audit) and the gateway's per-request
use records (gateway_use, with the level of each request) — the "not used for 30 days" and "a level
not used for 30 days" findings and the stale-permissions figure, read from the store."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

import app.services.review.figures
import app.services.review.service  # noqa: F401
from app.services.gateway import Gateway, record_usage
from app.services.review.figures import compute
from app.services.review.service import DISCOVERED_TAG, UNREVIEWED_TAG
from app.store.db import session_scope
from app.store.models import Connector, GatewayRoute
from connectors.base import Level
from tests.tui.seed import NOW, frozen_time, seed

BOT = "github-issues-bot"  # holds write (repo) and read (read:org); 40 days old in the seed


@pytest.fixture
def store(services):
    with frozen_time(NOW) as clock:
        seed(services, clock)
        with session_scope(services.engine) as s:  # the seed's ages (the column's default clock is not frozen)
            row = s.exec(select(Connector).where(Connector.name == BOT)).one()
            row.created_at = NOW - timedelta(days=40)
            s.add(row)
        yield services, clock


def route(services, clock, name, days_ago):
    """Route ``name`` through the gateway as `breaker route` does, ``days_ago`` days ago."""
    Gateway(services).route(name)
    with session_scope(services.engine) as s:
        row = s.get(GatewayRoute, services.inventory.get(name).id)
        row.created_at = NOW - timedelta(days=days_ago)  # the column's default clock is not the frozen one
        s.add(row)


def used(services, name, level, days_ago, decision="allow", status=200):
    cid = services.inventory.get(name).id
    record_usage(
        services,
        [
            dict(
                at=NOW - timedelta(days=days_ago),
                connector_id=cid,
                client="agent",
                method="GET",
                template="GET /repos/{owner}/{repo}/issues",
                level=int(level),
                decision=decision,
                status=status,
            )
        ],
    )


def audit(services, clock, action, name, days_ago, new=None):
    saved, clock.now = clock.now, NOW - timedelta(days=days_ago)
    with session_scope(services.engine) as s:
        services.audit.record(s, action, name, new=new or {}, outcome="ok")
    clock.now = saved


def rules(services, name):
    return {f.rule: f for f in services.review.findings(NOW)[name]}


def test_a_level_the_gateway_saw_no_request_need_is_a_finding(store):
    services, clock = store
    route(services, clock, BOT, 35)
    used(services, BOT, Level.READ, 2)
    used(services, BOT, Level.WRITE, 1, decision="refuse", status=403)  # refused: not a use of write
    f = services.review.facts(NOW)[BOT]
    assert f.level_last_used == {Level.READ: NOW - timedelta(days=2)}
    assert f.breaker_last_used == NOW - timedelta(days=2)
    found = rules(services, BOT)["unused-level"]
    assert "holds write" in found.reason and (found.recommendation, found.detail) == ("reduce", "read-only")
    assert "unused" not in rules(services, BOT)
    # the figure: of the bot's 2 levels held, write is stale (levels known through the gateway)
    before = compute(services.review, "2026-W10", NOW)
    used(services, BOT, Level.WRITE, 3)  # a write request forwarded 3 days ago
    after = compute(services.review, "2026-W10", NOW)
    assert before["levels_stale"] - after["levels_stale"] == 1
    assert "unused-level" not in rules(services, BOT)


def test_a_route_with_no_request_for_30_days_is_unused_and_a_route_change_is_no_use(store):
    services, clock = store
    route(services, clock, BOT, 31)
    # configuring the gateway (route, token) is not a use of the key
    audit(services, clock, "gateway.token", BOT, 1, {"token_id": 1, "client": "agent"})
    f = services.review.facts(NOW)[BOT]
    assert f.breaker_last_used is None and f.routed_since == NOW - timedelta(days=31)
    found = rules(services, BOT)["unused"]
    assert "31 days" in found.reason and "gateway" in found.reason
    # every level of an unused connector is stale in the figure
    figures = compute(services.review, "2026-W10", NOW)
    assert figures["levels_stale"] >= 2


def test_exec_handing_out_the_key_makes_level_use_unknown(store):
    services, clock = store
    route(services, clock, BOT, 35)
    used(services, BOT, Level.READ, 2)
    audit(services, clock, "exec", BOT, 5, {"command": "agent", "via": "gateway"})
    assert "unused-level" in rules(services, BOT)  # a run through the gateway: still all seen
    audit(services, clock, "exec", BOT, 4, {"command": "agent", "via": "key"})
    assert "unused-level" not in rules(services, BOT)  # the key itself went out: levels unknown
    assert services.review.facts(NOW)[BOT].breaker_last_used == NOW - timedelta(days=2)


def test_exec_40_days_ago_is_unused(store):
    services, clock = store
    audit(services, clock, "exec", BOT, 40, {"command": "agent", "via": "key"})
    found = rules(services, BOT)["unused"]
    assert "40 days" in found.reason and "Breaker" in found.reason


def test_the_discovered_tags_are_discovery_s():
    from app.services.discovery_store import DISCOVERED, UNREVIEWED

    assert (DISCOVERED, UNREVIEWED) == (DISCOVERED_TAG, UNREVIEWED_TAG)


def test_openai_admin_key_last_used_from_the_probe_and_the_probes_themselves_are_no_use(services, sandbox):
    """End to end through the loopback sandbox: the admin-key listing's documented ``last_used_at``
    (https://platform.openai.com/docs/api-reference/admin-api-keys/list) is stored by the probe and
    read by the review; the next probe sees the first probe as the last use, and that is Breaker's own."""
    import asyncio
    from datetime import UTC, datetime

    from app.services.inventory import ConnectorInput
    from connectors.base import Secret

    outside = datetime.now(UTC).replace(microsecond=0) - timedelta(days=40)
    record = sandbox.mint("openai", "admin", meta={"last_used_at": int(outside.timestamp())})
    services.inventory.add(
        ConnectorInput(name="oa-admin", provider="openai", owner="Ana", base_url=sandbox.base_url("openai")),
        Secret(record.token),
    )
    with session_scope(services.engine) as s:
        row = s.exec(select(Connector).where(Connector.name == "oa-admin")).one()
        row.created_at = outside - timedelta(days=30)
        s.add(row)
    asyncio.run(services.prober.probe_one("oa-admin"))
    f = services.review.facts()["oa-admin"]
    assert f.provider_last_used == outside
    asyncio.run(services.prober.probe_one("oa-admin"))  # the provider now reports the first probe
    f = services.review.facts()["oa-admin"]
    assert f.provider_last_used == outside and f.provider_quiet_since is None
    found = {x.rule: x for x in services.review.findings()["oa-admin"]}["unused"]
    assert "40 days" in found.reason and "the provider" in found.reason


def test_a_provider_that_saw_only_breaker_s_probes_lately_leaves_the_levels_unknown(store):
    """Only Breaker's own probe in the provider's last-used date, 2 days ago: no use known, no
    30 days of quiet either — every level of the connector counts as 'use unknown', none as used."""
    from app.store.models import Probe

    services, _clock = store
    cid = services.inventory.get(BOT).id
    before = compute(services.review, "2026-W10", NOW)
    with session_scope(services.engine) as s:
        at = NOW - timedelta(days=2)
        s.add(Probe(connector_id=cid, at=at, outcome="ok", provider_last_used_at=at - timedelta(seconds=1)))
    f = services.review.facts(NOW)[BOT]
    assert f.provider_last_used is None and f.provider_quiet_since == NOW - timedelta(days=2, seconds=1)
    assert f.last_used is None
    after = compute(services.review, "2026-W10", NOW)
    assert after["levels_use_unknown"] == before["levels_use_unknown"]  # both of its levels stay unknown
    assert after["levels_stale"] == before["levels_stale"]


def test_a_routed_connector_already_at_the_used_level_gets_no_switch_to_make(store):
    """Read-only through the gateway, used at read: the write its key holds is refused there already, so
    "reduce it to read-only" would be a switch that is made. What is left is the key itself (rotate, low)."""
    services, clock = store
    route(services, clock, BOT, 35)
    used(services, BOT, Level.READ, 2)
    with session_scope(services.engine) as s:
        row = s.exec(select(Connector).where(Connector.name == BOT)).one()
        row.mode = "read-only"
        s.add(row)
    found = rules(services, BOT)
    assert "unused-level" not in found
    ceiling = found["ceiling"]
    assert ceiling.severity.label == "low" and ceiling.recommendation == "rotate"
    assert "gateway already refuses" in ceiling.reason
