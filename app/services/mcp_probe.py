"""Probing a found MCP server (opt-in: it starts the server's command) and keeping what it said.

The entry is read from its file as the client would start it: its command, arguments and ``env``
over this process's environment (a secured entry starts through ``breaker exec``, which hands over
the key from the keyring), or its URL with its headers. The tools and their levels are kept on the
found server (never a key), and the probe is audited.
"""

from __future__ import annotations

import asyncio
import json
import os

from sqlmodel import Session, select

from app.services import discovery
from app.services.discovery_store import remembered_folders
from app.store.db import session_scope
from app.store.models import FoundServer as FoundServerRow
from app.store.models import utcnow
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
        entry = read_entry(server)
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
    _keep(services, server, result)
    return result


def _keep(services, server: FoundServer, result: McpProbe) -> None:
    with session_scope(services.engine) as s:
        row = s.exec(select(FoundServerRow).where(FoundServerRow.ident == server.ident)).first()
        if row is not None:
            details = json.loads(row.details_json or "{}")
            details["probe"] = {**result.to_json(), "at": utcnow().isoformat()}
            row.details_json = json.dumps(details)
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


def last_probe(services, ident: str) -> dict | None:
    with Session(services.engine) as s:
        row = s.exec(select(FoundServerRow).where(FoundServerRow.ident == ident)).first()
    if row is None:
        return None
    return json.loads(row.details_json or "{}").get("probe")
