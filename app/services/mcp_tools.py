"""The tools of the MCP servers wired to a connector, as grants a provider probe keeps (see
:mod:`app.services.mcp_probe`, which probes the servers and keeps what they said).

Apart from :mod:`app.services.mcp_probe` so that a probe-all reads them without importing the MCP
client and the client-file scanner (json5 and the rest: about 0.1 s of CPU on a worker thread,
beside the probes' event loop).
"""

from __future__ import annotations

import json

from sqlmodel import Session, col, select

from app.store.models import FoundServer as FoundServerRow
from connectors.base import Grant, Level

MCP_SCOPE = "mcp:"  # observed grants from an MCP server's tools: mcp:SERVER/TOOL


def is_tool_grant(grant: Grant) -> bool:
    return grant.scope.startswith(MCP_SCOPE)


def tool_grants(server: str, probe: dict | None) -> list[Grant]:
    """The tools of a kept probe as grants (an empty list for a probe that did not list them)."""
    if not probe or probe.get("outcome") != "ok":
        return []
    out = []
    for tool in probe.get("tools") or []:
        try:
            out.append(
                Grant(
                    f"{MCP_SCOPE}{server}/{tool['name']}",
                    Level.parse(tool["level"]),
                    note="MCP tool",
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return out


def connector_tools(services, connector_ids) -> dict[int, list[Grant]]:
    """Per connector: the tools of its MCP servers that can run now (found on, listed by a probe).
    A server turned off (by its client, or parked by Breaker) or vanished lends no power. One query."""
    ids = {i for i in connector_ids if i is not None}
    if not ids:
        return {}
    with Session(services.engine) as s:  # the found servers are few: read them all, not an IN of every id
        rows = s.exec(
            select(FoundServerRow).where(
                col(FoundServerRow.connector_id).is_not(None),
                FoundServerRow.state == "present",
            )
        ).all()
    rows = [r for r in rows if r.connector_id in ids]
    out: dict[int, list[Grant]] = {}
    for row in rows:
        if row.disabled_by:
            continue
        details = json.loads(row.details_json or "{}")
        blocked = set(details.get("blocked_tools") or [])  # the client refuses them: they lend no power
        if "*" in blocked:
            continue
        have = out.setdefault(row.connector_id, [])
        seen = {g.scope for g in have}
        have += [
            g
            for g in tool_grants(row.name, details.get("probe"))
            if g.scope not in seen and g.scope.rpartition("/")[2] not in blocked
        ]
    return {k: v for k, v in out.items() if v}
