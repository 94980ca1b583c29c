"""What a scan found, kept: servers and the places keys are wired, and the keys as unreviewed connectors.

A key found in a plain file becomes a connector tagged ``unreviewed`` (its key copied into the
keyring, so it is probed like any other), unless Breaker already holds that key — then the place is
joined to the connector that does (same fingerprint). Scanning again updates the rows it finds by
their identity (client, file, server map, name; file, server, location), never adds a second one,
and marks as vanished what is no longer where it was — but only for files it could read: a file
that did not parse says nothing about its entries.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, col, select

from app.services.discovery import KeyGroup, ScanReport
from app.services.secrets import SecretStoreError
from app.services.views import ConnectorInput, ValidationError
from app.store.db import session_scope
from app.store.models import Connector, FoundPlace, FoundServer, ScanFolder, utcnow
from connectors import registry

UNREVIEWED = "unreviewed"
DISCOVERED = "discovered"
MISSING = ("unparseable", "unreadable")


@dataclass
class RecordSummary:
    new_connectors: list[str] = field(default_factory=list)
    joined: list[str] = field(default_factory=list)  # places joined to a connector that already held the key
    new_servers: int = 0
    seen_servers: int = 0
    vanished_servers: list[str] = field(default_factory=list)
    vanished_places: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # keys that could not be imported, one line each

    def to_json(self) -> dict:
        return {
            "new_connectors": self.new_connectors,
            "joined": self.joined,
            "new_servers": self.new_servers,
            "seen_servers": self.seen_servers,
            "vanished_servers": self.vanished_servers,
            "vanished_places": self.vanished_places,
            "failed": self.failed,
        }


# -- remembered folders ----------------------------------------------------------------------------
def remembered_folders(services) -> list[str]:
    with Session(services.engine) as s:
        return [f.path for f in s.exec(select(ScanFolder).order_by(col(ScanFolder.path))).all()]


def remember_folders(services, folders: list[str]) -> list[str]:
    """Remember ``folders`` (absolute paths) for later scans; returns those that were new."""
    added: list[str] = []
    with session_scope(services.engine) as s:
        known = {f.path for f in s.exec(select(ScanFolder)).all()}
        for folder in folders:
            path = str(Path(folder).expanduser().resolve())
            if path not in known:
                s.add(ScanFolder(path=path))
                known.add(path)
                added.append(path)
        if added:
            services.audit.record(s, "scan.folder.add", new={"folders": added})
    return added


def forget_folders(services, folders: list[str]) -> list[str]:
    gone: list[str] = []
    with session_scope(services.engine) as s:
        for folder in folders:
            path = str(Path(folder).expanduser().resolve())
            row = s.exec(select(ScanFolder).where(ScanFolder.path == path)).first()
            if row is not None:
                s.delete(row)
                gone.append(path)
        if gone:
            services.audit.record(s, "scan.folder.remove", old={"folders": gone})
    return gone


# -- recording a scan -------------------------------------------------------------------------------
def _place_ident(file: str, server: str, location: str) -> str:
    return f"{file}|{server}|{location}"


def _connector_name(services, group: KeyGroup, taken: set[str]) -> str:
    first = group.places[0]
    base = first.server or first.variable.lower() or group.provider or "key"
    where = first.client
    raw = f"{base}-{where}"
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", raw).strip("-._")[:56] or "found-key"
    if not name[0].isalnum():
        name = "k" + name
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{name}-{n}"
        n += 1
    taken.add(candidate)
    return candidate


def _import(services, group: KeyGroup, taken: set[str]) -> str:
    """A new unreviewed connector holding ``group``'s key (copied into the keyring)."""
    provider = group.provider if group.provider in registry.names() else "generic"
    env_place = next((w for w in group.places if w.variable and re.fullmatch(r"[A-Z_][A-Z0-9_]*", w.variable)), None)
    clients = sorted({w.client_title for w in group.places})
    data = ConnectorInput(
        name=_connector_name(services, group, taken),
        provider=provider,
        env_var=env_place.variable if env_place else "",
        client=", ".join(clients)[:200],
        tags=f"{UNREVIEWED},{DISCOVERED}",
    )
    view = services.inventory.add(data, group.secret, kind=group.kind if group.provider else "")
    return view.name


def record(services, report: ScanReport, *, import_keys: bool = True) -> RecordSummary:
    """Keep what ``report`` found; with ``import_keys``, keys Breaker does not hold become unreviewed connectors."""
    summary = RecordSummary()
    now = utcnow()
    readable = set(report.result.files_read) - {p.where for p in report.problems if p.kind in MISSING}
    unreadable = {p.where for p in report.problems if p.kind in MISSING}
    # 1. connectors for keys Breaker does not hold yet (each one audited by the inventory)
    taken = {v.name for v in services.inventory.list()}
    for group in report.keys:
        if group.connector:
            summary.joined.append(group.connector)
        elif import_keys:
            try:
                group.connector = _import(services, group, taken)
            except (ValidationError, SecretStoreError) as exc:  # one refused key never stops the others
                first = group.places[0]
                summary.failed.append(f"••••{group.last4} ({first.client_title}, {first.location}): {exc}")
                continue
            summary.new_connectors.append(group.connector)
    by_fp = {g.fingerprint: g for g in report.keys}
    with session_scope(services.engine) as s:
        ids = {c.name: c.id for c in s.exec(select(Connector)).all()}
        # 2. servers
        existing = {r.ident: r for r in s.exec(select(FoundServer)).all()}
        seen: dict[str, FoundServer] = {}
        for srv in report.servers:
            row = existing.get(srv.ident)
            if row is None:
                row = FoundServer(ident=srv.ident, client=srv.client, file=srv.file, name=srv.name, first_seen=now)
                summary.new_servers += 1
            else:
                summary.seen_servers += 1
            row.scope, row.project, row.transport = srv.scope, srv.project, srv.transport
            row.command, row.package, row.url, row.disabled_by = srv.command, srv.package, srv.url, srv.disabled_by
            if row.state != "parked":
                row.state, row.vanished_at = "present", None
            row.last_seen = now
            extra = json.loads(row.details_json or "{}")  # what the client says beside the entry
            extra["blocked_tools"], extra["asks_for"] = list(srv.blocked_tools), list(srv.asks_for)
            row.details_json = json.dumps(extra)
            fps = report.server_keys(srv)
            owner = next((by_fp[fp].connector for fp in fps if by_fp[fp].connector), "") or srv.secured_by
            if owner and owner in ids:
                row.connector_id = ids[owner]
            s.add(row)
            seen[srv.ident] = row
        for ident, row in existing.items():
            if ident in seen or row.state != "present":
                continue
            if row.file in unreadable:
                continue  # cannot tell: the file did not parse or could not be read this time
            if row.file in readable or not Path(row.file).exists():
                row.state, row.vanished_at = "vanished", now
                summary.vanished_servers.append(f"{row.name} ({row.client}, {row.file})")
                s.add(row)
        s.flush()
        # 3. places
        places = {p.ident: p for p in s.exec(select(FoundPlace)).all()}
        seen_places: set[str] = set()
        for group in report.keys:
            for w in group.places:
                ident = _place_ident(w.file, w.server, w.location)
                row = places.get(ident)
                if row is None:
                    row = FoundPlace(
                        ident=ident, fingerprint=group.fingerprint, client=w.client, file=w.file, first_seen=now
                    )
                row.fingerprint = group.fingerprint
                row.server, row.location, row.variable, row.line = w.server, w.location, w.variable, w.line
                row.connector_id = ids.get(group.connector) if group.connector else None
                server_row = (
                    next((r for r in seen.values() if r.file == w.file and r.name == w.server), None)
                    if w.server
                    else None
                )
                row.server_id = server_row.id if server_row is not None else None
                row.state, row.vanished_at, row.last_seen = "plain", None, now
                s.add(row)
                seen_places.add(ident)
        for ident, row in places.items():
            if ident in seen_places or row.state != "plain" or row.file in unreadable:
                continue
            if row.file in readable or not Path(row.file).exists():
                row.state, row.vanished_at = "vanished", now
                summary.vanished_places.append(f"{row.location} ({row.file})")
                s.add(row)
        services.audit.record(
            s,
            "scan",
            new={
                "servers": len(report.servers),
                "keys": len(report.keys),
                "problems": len(report.problems),
                "new_connectors": summary.new_connectors,
                "vanished_servers": len(summary.vanished_servers),
                "vanished_places": len(summary.vanished_places),
            },
        )
    return summary


def found_servers(services, *, include_vanished: bool = True) -> list[FoundServer]:
    with Session(services.engine) as s:
        q = select(FoundServer).order_by(col(FoundServer.client), col(FoundServer.name))
        rows = list(s.exec(q).all())
    return [r for r in rows if include_vanished or r.state != "vanished"]


def places_of(services, connector: str) -> list[FoundPlace]:
    """Where ``connector``'s key was found wired."""
    with Session(services.engine) as s:
        c = s.exec(select(Connector).where(Connector.name == connector)).first()
        if c is None:
            return []
        return list(s.exec(select(FoundPlace).where(FoundPlace.connector_id == c.id)).all())


def details(row: FoundServer) -> dict:
    try:
        return json.loads(row.details_json or "{}")
    except ValueError:
        return {}
