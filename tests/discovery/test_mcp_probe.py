"""A real MCP server (built with the MCP SDK) probed and classified; secured, it still starts through `breaker exec`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from app.services import discovery, discovery_store, mcp_probe, secure
from app.services.context import open_services
from app.settings import load_settings
from connectors.base import Level
from connectors.discovery import Machine
from connectors.discovery.probe import classify
from tests.discovery import homes

SERVER = str(Path(__file__).with_name("mcp_shop_server.py"))


@pytest.mark.parametrize(
    ("name", "annotations", "level"),
    [
        ("list_invoices", {"readOnlyHint": True}, Level.READ),
        ("get_thing", {}, Level.READ),
        ("delete_invoice", {"readOnlyHint": False, "destructiveHint": True}, Level.WRITE),
        ("email_customer", {"readOnlyHint": False, "openWorldHint": True}, Level.SEND),
        ("send_email", {"readOnlyHint": True}, Level.SEND),  # a read-only hint does not hide a send
        ("draft_reply", {}, Level.DRAFT),
        ("createDraft", {}, Level.DRAFT),
        ("grant_role", {}, Level.ADMIN),
        ("frobnicate", {}, Level.WRITE),  # unexplained: assume power
        ("frobnicate", {"readOnlyHint": True}, Level.READ),
    ],
)
def test_classify(name, annotations, level):
    assert classify(name, annotations).level is level


@pytest.fixture
def demo_home(tmp_path):
    """An inventory whose keyring is a file in its home, so a `breaker exec` child process shares it."""
    home = tmp_path / "breaker-home"
    home.mkdir()
    (home / "config.toml").write_text("[demo]\nenabled = true\n")
    services = open_services(load_settings(home=home))
    yield services
    services.close()


def shop_machine(tmp_path) -> Machine:
    home = tmp_path / "home"
    cfg = home / ".config/Claude/claude_desktop_config.json"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "shop": {"command": sys.executable, "args": [SERVER], "env": {"SHOP_API_KEY": homes.STRIPE}}
                }
            },
            indent=2,
        )
    )
    return Machine(home=home, root=tmp_path / "sys")


def test_probe_classifies_a_real_server_and_secured_it_still_starts(demo_home, tmp_path):
    services = demo_home
    machine = shop_machine(tmp_path)
    report = discovery.run_scan(services, machine=machine, profiles=False)
    discovery_store.record(services, report)
    result = mcp_probe.probe_server(services, "shop", machine=machine, timeout=120)
    assert result.outcome == "ok", result.error
    levels = {t.name: t.level for t in result.tools}
    assert levels == {
        "list_invoices": Level.READ,
        "delete_invoice": Level.WRITE,
        "email_customer": Level.SEND,
        "draft_reply": Level.DRAFT,
        "frobnicate": Level.WRITE,
    }
    assert result.level is Level.SEND
    kept = mcp_probe.last_probe(services, report.servers[0].ident)
    assert kept["level"] == "send" and len(kept["tools"]) == 5

    # Secure: the key leaves the file, the entry starts through `breaker exec`, and the server
    # (which refuses to start without its key) still answers.
    name = next(v.name for v in services.inventory.list())
    plans = secure.plan_secure(services, name, machine=machine)
    assert len(plans) == 1 and plans[0].ok, plans[0].refusal
    secure.apply_secure(services, plans[0])
    cfg = machine.home / ".config/Claude/claude_desktop_config.json"
    assert homes.STRIPE not in cfg.read_text()
    entry = json.loads(cfg.read_text())["mcpServers"]["shop"]
    assert "exec" in entry["args"] and "SHOP_API_KEY" not in entry["env"]
    secured = mcp_probe.probe_server(services, "shop", machine=machine, timeout=120)
    assert secured.outcome == "ok", secured.error
    assert {t.name for t in secured.tools} == set(levels)


def test_a_server_that_will_not_start_is_an_outcome(services, tmp_path):
    home = tmp_path / "home"
    cfg = home / ".cursor/mcp.json"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(json.dumps({"mcpServers": {"gone": {"command": str(tmp_path / "no-such-program")}}}))
    result = mcp_probe.probe_server(services, "gone", machine=Machine(home=home, root=tmp_path / "s"), timeout=30)
    assert result.outcome == "failed" and result.error
    with pytest.raises(mcp_probe.ProbeRefused):
        mcp_probe.probe_server(services, "nothing", machine=Machine(home=home, root=tmp_path / "s"))
