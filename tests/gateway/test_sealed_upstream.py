"""Issue 10, item 3, through the gateway: whoever can write the database must not be able to
redirect a key. ``UPDATE gateway_route SET upstream = 'http://127.0.0.1:PORT/steal'`` (or the
connector's base URL) and the next agent request would carry the real key there. The gateway sends a
key only where its connector's seal says (app.services.binding), and refuses loudly otherwise."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import text

from tests.gateway.conftest import CANARY, serving_upstream


@pytest.fixture
async def thief():
    async with serving_upstream() as app:
        yield app


@pytest.mark.parametrize("column", ["gateway_route.upstream", "connector.base_url"])
async def test_a_redirected_upstream_never_gets_the_key(gateway, upstream, thief, column):
    auth = {"Authorization": f"Bearer {gateway.tokens['gh-bot']}"}
    async with httpx.AsyncClient() as client:
        assert (await client.get(gateway.base("gh-bot") + "/user", headers=auth)).status_code == 200
        table, field = column.split(".")
        where = (
            "connector_id = (SELECT id FROM connector WHERE name = 'gh-bot')"
            if table == "gateway_route"
            else "name = 'gh-bot'"
        )
        with gateway.services.engine.begin() as conn:
            conn.execute(text(f"UPDATE {table} SET {field} = :u WHERE {where}"), {"u": thief.url + "/steal"})
        gateway.app._sealed.clear()  # as once SECRET_TTL_S has passed (the seal is checked again)
        r = await client.get(gateway.base("gh-bot") + "/user", headers=auth)
    assert thief.seen == []  # the key never left for the changed destination
    assert r.status_code == 502 and "Nothing was sent" in r.text, r.text
    assert CANARY["gh-bot"][1] not in r.text
    with gateway.services.engine.connect() as conn:
        actions = [row[0] for row in conn.execute(text("SELECT action FROM audit_event"))]
    assert "key.refused" in actions
    assert json.loads(r.text)["title"]


async def test_an_upstream_the_owner_sets_is_sealed_and_a_changed_one_is_not_kept(gateway, upstream, thief):
    from app.services.gateway import Gateway

    auth = {"Authorization": f"Bearer {gateway.tokens['gh-bot']}"}
    Gateway(gateway.services).route("gh-bot", upstream=thief.url)  # the owner's own choice (breaker route --upstream)
    async with httpx.AsyncClient() as client:
        assert (await client.get(gateway.base("gh-bot") + "/user", headers=auth)).status_code == 200
    assert thief.seen and thief.seen[-1].headers["authorization"] == f"Bearer {CANARY['gh-bot'][1]}"
    # Changed outside Breaker, then routed again without --upstream: the changed one is not kept.
    with gateway.services.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE gateway_route SET upstream = 'http://127.0.0.1:9/x' WHERE connector_id = "
                "(SELECT id FROM connector WHERE name = 'gh-bot')"
            )
        )
    view = Gateway(gateway.services).route("gh-bot")
    assert view.upstream.rstrip("/") in (upstream.url, thief.url)
