"""Probing a found MCP server (opt-in: it starts the server's command) and keeping what it said.

The entry is read from its file as the client would start it: its command, arguments and ``env``
over this process's environment (a secured entry starts through ``breaker exec``, which hands over
the key from the keyring), or its URL with its headers. The tools and their levels are kept on the
found server (never a key), and the probe is audited.

The tools also feed the level and drift rules every connector has (:mod:`app.services.drift`): each
tool of a server wired to a connector (its key, or its ``breaker exec`` launch) is an observed grant
``mcp:SERVER/TOOL`` at the tool's level, so the connector's live level is at least its most
powerful tool's, and a tool the owner did not declare, or one above the mode's ceiling, is drift
like any other scope. A later provider probe of the key keeps them (:func:`connector_tools`), as it
keeps what a deep probe found.
"""

from __future__ import annotations

import asyncio
import json
import os

from sqlmodel import Session, select

from app.services import discovery
from app.services.discovery_store import remembered_folders
from app.services.mcp_tools import MCP_SCOPE, connector_tools, is_tool_grant, tool_grants  # noqa: F401  (re-exported)
from app.store.db import session_scope
from app.store.models import Connector, utcnow
from app.store.models import FoundServer as FoundServerRow
from connectors.base import Mode, Outcome, ProbeReport
from connectors.discovery import Machine
from connectors.discovery.document import Unparseable
from connectors.discovery.probe import McpProbe, probe
from connectors.discovery.scan import FoundServer, read_entry


class ProbeRefused(Exception):
    """The server cannot be probed as asked. One line."""


def find_server(services, name: str, client: str | None = None, machine: Machine | None = None) -> FoundServer:
    report = discovery.run_scan(services, remembered_folders(services), machine=machine, profiles=False)
    hits = [s for s in report.servers if s.name == name and (client is None or s.client == client)]
    if not hits:
        raise ProbeRefused(f"no MCP server named {name!r} in the client configs (run `breaker scan`)")
    if len(hits) > 1:
        raise ProbeRefused(
            f"{len(hits)} servers are named {name!r} ({', '.join(sorted(h.client for h in hits))}); choose one with --client"
        )
    return hits[0]


def probe_server(
    services, name: str, *, client: str | None = None, timeout: float = 30.0, machine: Machine | None = None
) -> McpProbe:
    server = find_server(services, name, client, machine)
    try:
        entry = read_entry(server, (machine or Machine.current()).home)
    except (Unparseable, OSError) as exc:
        raise ProbeRefused(f"{server.file}: {exc}") from None
    if server.transport == "stdio":
        env = {**os.environ, **{k: v for k, v in (entry.get("env") or {}).items() if isinstance(v, str)}}
        result = asyncio.run(
            probe(command=entry["command"], args=list(entry.get("args", [])), env=env, timeout=timeout)
        )
    else:
        url = next((entry[k] for k in ("url", "serverUrl", "httpUrl") if isinstance(entry.get(k), str)), "")
        headers = {
            k: v for k, v in (entry.get("headers") or entry.get("http_headers") or {}).items() if isinstance(v, str)
        }
        result = asyncio.run(probe(url=url, headers=headers, timeout=timeout))
    connector_id = _keep(services, server, result)
    if connector_id is not None and result.outcome == "ok":
        feed_connector(services, connector_id, server)
    return result


def feed_connector(services, connector_id: int, server: FoundServer) -> None:
    """Store the tools of the connector's MCP servers as a probe of the connector: its live level and
    drift come from the same rules as a provider probe's (app.services.probing, app.services.drift).

    Not for a key the provider said is dead, nor a disabled connector: a server that starts and lists
    its tools proves nothing about its key."""
    from app.services.probing import Prober, ProbeResult

    with Session(services.engine) as s:
        row = s.get(Connector, connector_id)
        name = row.name if row is not None else None
    if name is None:
        return
    view = services.inventory.get(name)
    if view.mode is Mode.DISABLED or view.last_outcome in (Outcome.INVALID.value, Outcome.REVOKED.value):
        return
    tools = connector_tools(services, [connector_id]).get(connector_id, [])
    kept = [g for g in view.observed if not is_tool_grant(g)]  # what the provider said the key holds
    report = ProbeReport(
        Outcome.OK,
        identity=f"MCP server {server.name} in {server.client_title}: {len(tools)} tool(s)",
        grants=kept + tools,
        details={"mcp_server": server.name, "client": server.client},
    )
    result = ProbeResult(name, report, tuple(Prober._drift(view, report)))
    Prober(services).store([result])


def _keep(services, server: FoundServer, result: McpProbe) -> int | None:
    """Keep the probe on the found server; returns the connector it is wired to, if any."""
    connector_id = None
    with session_scope(services.engine) as s:
        row = s.exec(select(FoundServerRow).where(FoundServerRow.ident == server.ident)).first()
        if row is not None:
            details = json.loads(row.details_json or "{}")
            details["probe"] = {**result.to_json(), "at": utcnow().isoformat()}
            row.details_json = json.dumps(details)
            connector_id = row.connector_id
            s.add(row)
        services.audit.record(
            s,
            "mcp.probe",
            new={
                "client": server.client,
                "server": server.name,
                "outcome": result.outcome,
                "level": result.level.label if result.level is not None else None,
                "tools": len(result.tools),
            },
            outcome="ok" if result.outcome == "ok" else "failed",
        )
    return connector_id


def last_probe(services, ident: str) -> dict | None:
    with Session(services.engine) as s:
        row = s.exec(select(FoundServerRow).where(FoundServerRow.ident == ident)).first()
    if row is None:
        return None
    return json.loads(row.details_json or "{}").get("probe")
