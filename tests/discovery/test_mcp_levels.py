"""An MCP server's tools feed its connector's live level and drift, through the same rules as a
provider probe: the real test server (built with the MCP SDK) has read-only, destructive and
sending tools; wired to a connector with a declared purpose, the connector shows the level of its
most powerful tool and drifts where the tools go beyond what was declared."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlmodel import Session, select

from app.services import discovery, discovery_store, mcp_probe, mcp_switch
from app.services.drift import purpose_against_power
from app.store.models import Connector
from connectors.base import Grant, Level, Mode
from tests.discovery import homes
from tests.discovery.test_mcp_probe import shop_machine


@pytest.fixture
def shop(services, tmp_path):
    machine = shop_machine(tmp_path)
    discovery_store.record(services, discovery.run_scan(services, machine=machine, profiles=False))
    (view,) = services.inventory.list()  # the Stripe-shaped key of the shop server, unreviewed
    services.inventory.edit(
        view.name,
        replace(services.inventory.as_input(view), purpose_forbidden="delete invoices or email customers"),
    )
    services.inventory.declare(view.name, [Grant("mcp:shop/list_invoices", Level.READ)])
    return machine, view.name


def set_mode(services, name: str, mode: Mode) -> None:
    with Session(services.engine) as s:
        row = s.exec(select(Connector).where(Connector.name == name)).one()
        row.mode = mode.value
        s.add(row)
        s.commit()


def test_the_tools_of_a_probed_server_are_its_connectors_live_level_and_drift(services, shop):
    machine, name = shop
    before = services.inventory.get(name)
    assert before.live_level is None and not before.drift
    set_mode(services, name, Mode.DRAFT_ONLY)
    result = mcp_probe.probe_server(services, "shop", machine=machine, timeout=120)
    assert result.outcome == "ok", result.error
    view = services.inventory.get(name)
    assert view.live_level is Level.SEND  # email_customer (openWorldHint)
    observed = {g.scope: g.level for g in view.observed}
    assert observed["mcp:shop/delete_invoice"] is Level.WRITE  # destructiveHint
    assert observed["mcp:shop/list_invoices"] is Level.READ
    assert "live level send is above the draft-only ceiling (draft)" in view.drift
    undeclared = next(d for d in view.drift if d.startswith("undeclared live scopes"))
    assert "mcp:shop/delete_invoice" in undeclared and "mcp:shop/list_invoices" not in undeclared
    rule = purpose_against_power(view.purpose_forbidden, view.live_level, view.observed)
    assert rule.startswith("You wrote it may not delete invoices or email customers; the key can send on its own")
    assert "mcp:shop/email_customer" in rule
    (record,) = services.prober.history(name)
    assert record.outcome == "ok" and "MCP server shop in Claude Desktop: 5 tool(s)" == record.identity
    assert homes.STRIPE not in record.identity


def test_a_provider_probe_keeps_the_tools_and_a_server_turned_off_lends_none(services, shop, sandbox):
    import asyncio

    machine, name = shop
    assert mcp_probe.probe_server(services, "shop", machine=machine, timeout=120).outcome == "ok"
    sandbox.mint("stripe", token=homes.STRIPE)
    view = services.inventory.get(name)
    services.inventory.edit(
        name,
        replace(
            services.inventory.as_input(view),
            base_url=sandbox.base_url("stripe"),
            allow_private_url=True,
            confirm_destination=True,
        ),
    )
    (result,) = asyncio.run(services.prober.probe([name]))
    assert result.report.outcome.value == "ok", result.report.error
    view = services.inventory.get(name)
    scopes = {g.scope for g in view.observed}
    assert "mcp:shop/email_customer" in scopes and any(not s.startswith("mcp:") for s in scopes)
    assert view.live_level >= Level.SEND
    # Off in Claude Desktop (Breaker keeps the entry): its tools no longer count.
    mcp_switch.disable(services, "shop", machine=machine)
    (result,) = asyncio.run(services.prober.probe([name]))
    assert not any(g.scope.startswith("mcp:") for g in services.inventory.get(name).observed)


def test_tools_the_client_refuses_lend_no_power(services, tmp_path):
    """Windsurf honours disabledTools: once draft-only blocks the shop's tools above drafts, its next
    probe shows the connector at draft level and the ceiling drift is gone."""
    import json
    import sys

    from connectors.discovery import Machine
    from tests.discovery.test_mcp_probe import SERVER

    home = tmp_path / "ws-home"
    cfg = home / ".codeium/windsurf/mcp_config.json"
    cfg.parent.mkdir(parents=True)
    entry = {"command": sys.executable, "args": [SERVER], "env": {"SHOP_API_KEY": homes.STRIPE}}
    cfg.write_text(json.dumps({"mcpServers": {"shop": entry}}, indent=2))
    machine = Machine(home=home, root=tmp_path / "sys")
    discovery_store.record(services, discovery.run_scan(services, machine=machine, profiles=False))
    (view,) = services.inventory.list()
    set_mode(services, view.name, Mode.DRAFT_ONLY)
    assert mcp_probe.probe_server(services, "shop", machine=machine, timeout=120).outcome == "ok"
    assert "live level send is above the draft-only ceiling (draft)" in services.inventory.get(view.name).drift
    limited = mcp_switch.limit(services, "shop", Mode.DRAFT_ONLY, machine=machine)
    assert sorted(limited.blocked_tools) == ["delete_invoice", "email_customer", "frobnicate"]
    assert mcp_probe.probe_server(services, "shop", machine=machine, timeout=120).outcome == "ok"
    after = services.inventory.get(view.name)
    assert after.live_level is Level.DRAFT
    assert {g.scope for g in after.observed} == {"mcp:shop/list_invoices", "mcp:shop/draft_reply"}
    assert not any("ceiling" in d for d in after.drift)


def test_a_disabled_connector_gets_no_power_from_a_server_that_starts(services, shop):
    """A server that starts and lists its tools proves nothing about its key: a disabled connector's
    live level is not raised by it (its own probe of the key says whether the key still works)."""
    machine, name = shop
    set_mode(services, name, Mode.DISABLED)
    assert mcp_probe.probe_server(services, "shop", machine=machine, timeout=120).outcome == "ok"
    view = services.inventory.get(name)
    assert view.live_level is None and not view.observed and services.prober.history(name) == []


def test_a_claude_desktop_extension_is_probed_as_claude_desktop_starts_it(services, tmp_path):
    """The extension's manifest starts the real test server with ${__dirname} and the owner's answer
    (${user_config.api_key}) filled in, as Claude Desktop does; its tools feed the key's connector."""
    import json
    import shutil
    import sys

    from connectors.discovery import Machine
    from tests.discovery.test_mcp_probe import SERVER

    home = tmp_path / "ext-home"
    claude = home / ".config/Claude"
    ext_dir = claude / "Claude Extensions" / "local.dxt.acme.shop"
    ext_dir.mkdir(parents=True)
    shutil.copy(SERVER, ext_dir / "server.py")
    manifest = {
        "manifest_version": "0.3",
        "name": "acme-shop",
        "display_name": "Acme Shop",
        "version": "1.0.0",
        "server": {
            "type": "python",
            "entry_point": "server.py",
            "mcp_config": {
                "command": sys.executable,
                "args": ["${__dirname}/server.py"],
                "env": {"SHOP_API_KEY": "${user_config.api_key}"},
            },
        },
        "user_config": {"api_key": {"type": "string", "title": "API key", "sensitive": True}},
    }
    (ext_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    settings = claude / "Claude Extensions Settings" / "local.dxt.acme.shop.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"isEnabled": True, "userConfig": {"api_key": homes.STRIPE}}, indent=2))
    machine = Machine(home=home, root=tmp_path / "sys")
    discovery_store.record(services, discovery.run_scan(services, machine=machine, profiles=False))
    (view,) = services.inventory.list()
    result = mcp_probe.probe_server(services, "Acme Shop", machine=machine, timeout=120)
    assert result.outcome == "ok", result.error  # the server refuses to start without the key
    assert len(result.tools) == 5 and result.level is Level.SEND
    assert services.inventory.get(view.name).live_level is Level.SEND
