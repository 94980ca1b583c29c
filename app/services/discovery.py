"""Discovery as the owner sees it: a scan of this machine, keys joined by fingerprint.

:func:`connectors.discovery.scan` reads the files; this module fingerprints each key found (the
same HMAC the inventory keeps, so a key already in Breaker is recognised as such) and joins the
places one key is wired in. Nothing here starts a server or sends a key; nothing returned holds a
key in a form that can be printed or serialised (:class:`connectors.base.Secret` refuses both).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.base import Secret
from connectors.discovery import FoundServer, Machine, Problem, ScanResult, Wiring, scan

SCHEMA = "breaker.scan/1"


@dataclass
class KeyGroup:
    """One key, wherever it is wired. ``secret`` is for the keyring only; it never leaves as text."""

    fingerprint: str
    last4: str
    provider: str  # "" when only the name it sits under says it is a key
    kind: str
    secret: Secret
    places: list[Wiring] = field(default_factory=list)
    connector: str = ""  # the Breaker connector that already holds this key, if any

    def to_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "last4": self.last4,
            "masked": f"••••{self.last4}" if self.last4 else "••••",
            "provider": self.provider or None,
            "kind": self.kind,
            "connector": self.connector or None,
            "wired": [w.to_json() for w in self.places],
        }


@dataclass
class ScanReport:
    result: ScanResult
    keys: list[KeyGroup]
    fingerprint_of: dict[int, str]  # id(FoundKey) → fingerprint, to join servers to their keys

    @property
    def servers(self) -> list[FoundServer]:
        return self.result.servers

    @property
    def problems(self) -> list[Problem]:
        return self.result.problems

    def server_keys(self, server: FoundServer) -> list[str]:
        return [self.fingerprint_of[id(k)] for k in server.keys]

    def plain_keys(self) -> list[KeyGroup]:
        """Keys that sit in a plain file (every key a scan finds does)."""
        return [g for g in self.keys if g.places]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "clients_installed": list(self.result.clients_installed),
            "files_read": list(self.result.files_read),
            "servers": [server_json(s, self.server_keys(s)) for s in self.servers],
            "keys": [g.to_json() for g in self.keys],
            "problems": [p.to_json() for p in self.problems],
        }


def server_json(s: FoundServer, fingerprints: list[str]) -> dict[str, Any]:
    return {
        "client": s.client,
        "client_title": s.client_title,
        "file": s.file,
        "scope": s.scope,
        "project": s.project or None,
        "name": s.name,
        "transport": s.transport,
        "command": s.command or None,
        "package": s.package or None,
        "arg_count": s.arg_count,
        "url": s.url or None,
        "disabled": s.disabled,
        "disabled_by": s.disabled_by or None,
        "secured_by": s.secured_by or None,
        "keys": fingerprints,
        "asks_for": list(s.asks_for),
        "blocked_tools": list(s.blocked_tools),
        "blocked_by": s.blocked_by or None,
    }


def blocked_words(s: FoundServer) -> str:
    """The client's refusals in the owner's words ("" when it refuses none)."""
    if not s.blocked_tools:
        return ""
    if "*" in s.blocked_tools:
        return "every tool refused (the server still starts, with its keys)"
    return f"{len(s.blocked_tools)} tool(s) refused: {', '.join(s.blocked_tools)}"


def server_notes(s: FoundServer) -> list[str]:
    """What else the owner should know about a server, one line each (prompts, refused tools)."""
    notes = [f"{s.name} in {s.client_title}: {a}" for a in s.asks_for]
    blocked = blocked_words(s) if not s.disabled else ""  # an off server's refusals change nothing now
    if blocked:
        notes.append(f"{s.name} in {s.client_title}: {blocked} ({s.blocked_by})")
    return notes


def run_scan(
    services,
    folders: Iterable[str | Path] = (),
    *,
    machine: Machine | None = None,
    profiles: bool = True,
) -> ScanReport:
    """Scan the machine (reading files only) and join the keys found by fingerprint."""
    result = scan(machine, folders, profiles=profiles)
    groups: dict[str, KeyGroup] = {}
    fingerprint_of: dict[int, str] = {}
    known = _known_fingerprints(services)
    for found in result.keys():
        fp = services.secrets.fingerprint(found.secret)
        fingerprint_of[id(found)] = fp.digest
        group = groups.get(fp.digest)
        if group is None:
            group = groups[fp.digest] = KeyGroup(
                fp.digest, fp.last4, found.provider, found.kind, found.secret, connector=known.get(fp.digest, "")
            )
        elif found.provider and not group.provider:
            group.provider, group.kind = found.provider, found.kind
        group.places.append(found.wiring)
    return ScanReport(result, list(groups.values()), fingerprint_of)


def _known_fingerprints(services) -> dict[str, str]:
    out: dict[str, str] = {}
    for view in services.inventory.list():
        for cred in view.credentials:
            out.setdefault(cred.fingerprint, view.name)
    return out
