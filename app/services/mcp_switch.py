"""Switches for MCP servers found in client configs: disable, enable, and limit tools to a mode.

* **disable**: where the client honours its own off switch it is set (Windsurf ``"disabled": true``,
  Codex ``enabled = false``, Gemini CLI ``mcp.excluded``, Claude Code's ``disabledMcpjsonServers``
  for a project's ``.mcp.json``); elsewhere the entry is taken out of the file and kept by Breaker
  (in the keyring: an entry may hold a key) until **enable** puts it back — at the same place, byte
  for byte, when the file around it has not changed.
* **limit** (draft-only / read-only): the server's tools above the mode's ceiling (from its last
  probe) are blocked where the client can (Claude Code ``permissions.deny`` ``mcp__server__tool``,
  Windsurf ``disabledTools``, Gemini ``excludeTools``, Codex ``disabled_tools``); where it cannot,
  Breaker says so and changes nothing.

Every edit: a timestamped backup (mode 0600, in Breaker's folder), an atomic write that keeps
comments and key order (text spans; tomlkit for TOML), a re-read that checks the change held and
the file still parses as its client reads it, and the client to restart.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets as _random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session, select

from app.services.discovery_store import remembered_folders
from app.store.db import session_scope
from app.store.models import FoundServer as Row
from connectors.base import Level, Mode, Secret
from connectors.discovery import Machine, scan
from connectors.discovery.clients import BY_ID, Client
from connectors.discovery.document import Document, Unparseable, parse
from connectors.discovery.edit import (
    EditRefused,
    Region,
    apply_spans,
    insert_pair,
    json_value,
    remove_pair,
    write_checked,
)
from connectors.discovery.scan import FoundServer, read_text


class SwitchRefused(Exception):
    """The switch cannot be made on this server's client. One line, never a key."""


@dataclass
class McpSwitchResult:
    server: str
    client: str
    file: str
    action: str  # disable | enable | limit
    how: str  # what was changed, in the owner's words
    restart: str
    verified: bool  # the file was read back and shows the change
    blocked_tools: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "server": self.server,
            "client": self.client,
            "file": self.file,
            "action": self.action,
            "how": self.how,
            "restart": self.restart,
            "verified": self.verified,
            "blocked_tools": self.blocked_tools,
        }

    @property
    def sentence(self) -> str:
        """What was done, in the owner's words: "shop in Claude Desktop: took its entry out … — then quit and reopen Claude Desktop"."""
        title = BY_ID[self.client].title if self.client in BY_ID else self.client
        return f"{self.server} in {title}: {self.how} — then {self.restart}"


# -- finding the server -------------------------------------------------------------------------------
def _fresh(services, machine: Machine | None) -> list[FoundServer]:
    return scan(machine, remembered_folders(services), profiles=False).servers


def find(services, name: str, client: str | None = None, machine: Machine | None = None) -> FoundServer:
    hits = [s for s in _fresh(services, machine) if s.name == name and (client is None or s.client == client)]
    if not hits:
        raise SwitchRefused(f"no MCP server named {name!r} in the client configs (run `breaker scan`)")
    if len(hits) > 1:
        raise SwitchRefused(f"{len(hits)} servers are named {name!r}; choose one with --client")
    return hits[0]


def _syntax(client: Client) -> str:
    return client.files[0].syntax


# -- backups and checked writes --------------------------------------------------------------------
def backup(services, path: str) -> Path:
    """A timestamped copy of ``path`` in Breaker's folder (0600): what the file held before the edit,
    except the keys Breaker keeps (found there by a scan): those read ``••••LAST4`` — a key never
    gets a second plain copy in Breaker's folder; it is in the keyring."""
    folder = Path(services.settings.data_dir) / "backups"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / f"{stamp}-{Path(path).name}"
    data = Path(path).read_bytes()
    for key in _kept_keys(services, str(path)):
        data = data.replace(key.encode(), f"••••{key[-4:]}".encode())
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return target


def _kept_keys(services, path: str) -> list[str]:
    """The keys in ``path`` (longest first): every value the key finder recognises in the file, and
    the keys Breaker holds for the places a scan found there (when the keyring can be read — an
    emergency disable must work without it)."""
    from app.services.audit import KEYRING_UNAVAILABLE
    from app.store.models import FoundPlace

    keys: set[str] = set()
    try:
        text = read_text(path)
        syntax = "toml" if path.endswith(".toml") else "jsonc"
        keys |= {h.secret.reveal() for h in _keys_in(parse(text, syntax).value)}
    except (OSError, UnicodeDecodeError, Unparseable):
        pass
    with Session(services.engine) as s:
        ids = {p.connector_id for p in s.exec(select(FoundPlace).where(FoundPlace.file == path)).all()}
    try:
        for view in services.inventory.list():
            if view.id in ids:
                for cred in view.credentials:
                    secret = services.secrets.get(cred.keyring_ref)
                    if secret is not None:
                        keys.add(secret.reveal())
    except KEYRING_UNAVAILABLE:
        pass
    return sorted((k for k in keys if len(k) >= 8), key=len, reverse=True)


def _keys_in(value, name: str = ""):
    """Every key the finder recognises in a parsed file: by the name it sits under, in URLs, in argument lists."""
    from connectors.discovery import keys as keyfind

    if isinstance(value, dict):
        for k, v in value.items():
            yield from _keys_in(v, str(k))
    elif isinstance(value, list):
        strings = [v for v in value if isinstance(v, str)]
        yield from (a.hit for a in keyfind.in_args(strings))
        for v in value:
            if not isinstance(v, str):
                yield from _keys_in(v, name)
    elif isinstance(value, str):
        yield from keyfind.in_named_value(name, value)
        yield from keyfind.in_header(name, value)


def _write(services, server: FoundServer, new_text: str, held) -> None:
    client = BY_ID[server.client]

    def check(text: str) -> None:
        doc = parse(text, _syntax(client))  # refuse a file that no longer parses: the original goes back
        if not held(doc):
            raise EditRefused("the change did not hold when the file was read back")

    backup(services, server.file)
    try:
        write_checked(server.file, new_text, check)
    except (Unparseable, EditRefused) as exc:
        raise SwitchRefused(f"{server.file} was left as it was: {exc}") from None
    except OSError as exc:
        raise SwitchRefused(f"{server.file} could not be written ({exc.strerror})") from None


def _audit(services, action: str, result: McpSwitchResult) -> None:
    with session_scope(services.engine) as s:
        services.audit.record(s, action, new=result.to_json(), outcome="ok" if result.verified else "failed")


def _row(s: Session, server: FoundServer) -> Row | None:
    return s.exec(select(Row).where(Row.ident == server.ident)).first()


# -- JSON list helpers -------------------------------------------------------------------------------
def _add_to_list(doc: Document, path: tuple, values: list[str]) -> list[tuple[tuple[int, int], str]]:
    """Edits that make the list at ``path`` hold ``values`` too (creating it, or its parent object)."""
    current = doc.get(path)
    if isinstance(current, list):
        missing = [v for v in values if v not in current]
        if not missing:
            return []
        start, end = doc.spans[path]
        inner = doc.text[start + 1 : end - 1]
        if current:
            last_end = doc.spans[(*path, len(current) - 1)][1]
            return [((last_end, last_end), "".join(", " + json_value(v) for v in missing))]
        return (
            [((start, end), json_value(missing))]
            if inner.strip() == ""
            else [((start + 1, start + 1), ", ".join(json_value(v) for v in missing))]
        )
    if current is not None:
        raise EditRefused(f"{'.'.join(map(str, path))} is not a list")
    for depth in range(len(path) - 1, -1, -1):
        parent = doc.get(path[:depth]) if depth else doc.value
        if isinstance(parent, dict):
            value: object = list(values)
            for key in reversed(path[depth + 1 :]):
                value = {key: value}
            return [insert_pair(doc, path[:depth], path[depth], json_value(value))]
    raise EditRefused("no place to add the list")


# -- disable / enable ---------------------------------------------------------------------------------
def disable(services, name: str, *, client: str | None = None, machine: Machine | None = None) -> McpSwitchResult:
    server = find(services, name, client, machine)
    return disable_server(services, server, machine=machine)


def disable_server(services, server: FoundServer, *, machine: Machine | None = None) -> McpSwitchResult:
    c = BY_ID[server.client]
    if server.disabled:
        raise SwitchRefused(f"{server.name} is already off in {c.title} ({server.disabled_by})")
    text = read_text(server.file)
    base = (*server.map_path, server.name)
    if server.scope == "extension":  # Claude Desktop's own switch for an extension, in its settings file
        doc = parse(text, "json")
        had = ("isEnabled",) in doc.spans
        edit = (doc.spans[("isEnabled",)], "false") if had else insert_pair(doc, (), "isEnabled", "false")
        how = "set isEnabled = false in its extension settings (Claude Desktop's own switch)"
        _write(services, server, apply_spans(text, [edit]), lambda d: d.get(("isEnabled",)) is False)
        kept = {"how": "extension", "inserted": not had}
    elif c.disabled_flag is not None:
        flag, off = c.disabled_flag
        if _syntax(c) == "toml":
            import tomlkit

            tdoc = tomlkit.parse(text)
            table = tdoc
            for part in base:
                table = table[part]
            table[flag] = off
            new = tomlkit.dumps(tdoc)
        else:
            doc = parse(text, _syntax(c))
            if (*base, flag) in doc.spans:
                new = apply_spans(text, [(doc.spans[(*base, flag)], json_value(off))])
            else:
                new = apply_spans(text, [insert_pair(doc, base, flag, json_value(off))])
        how = f"set {flag} = {json.dumps(off)} in its entry"
        _write(services, server, new, lambda d: d.get((*base, flag)) == off)
        kept = {"how": "flag"}
    elif c.id == "gemini":
        doc = parse(text, _syntax(c))
        new = apply_spans(text, _add_to_list(doc, ("mcp", "excluded"), [server.name]))
        how = "added it to mcp.excluded"
        _write(services, server, new, lambda d: server.name in (d.get(("mcp", "excluded")) or []))
        kept = {"how": "list", "path": ["mcp", "excluded"]}
    else:
        doc = parse(text, _syntax(c))
        span, repl = remove_pair(doc, base)
        new = apply_spans(text, [(span, repl)])
        region = Region.between(text, new)
        ref = f"mcp-entry:{_random.token_hex(8)}"
        value_start, value_end = doc.spans[base]
        kept_entry = {
            "start": region.start,
            "old": region.old,
            "new": region.new,
            "map": list(server.map_path),
            "name": server.name,
            "value": text[value_start:value_end],
            "sha_after": hashlib.sha256(new.encode()).hexdigest(),
        }
        services.secrets.put(ref, Secret(json.dumps(kept_entry)))
        how = "took its entry out of the file (Breaker keeps it until you enable it)"
        try:
            _write(services, server, new, lambda d: server.name not in (d.get(server.map_path) or {}))
        except SwitchRefused:
            services.secrets.delete(ref)
            raise
        kept = {"how": "parked", "ref": ref}
    result = McpSwitchResult(server.name, server.client, server.file, "disable", how, c.restart, verified=True)
    with session_scope(services.engine) as s:
        row = _row(s, server)
        if row is not None:
            details = json.loads(row.details_json or "{}")
            details["disabled"] = kept
            row.details_json = json.dumps(details)
            if kept["how"] == "parked":
                row.state = "parked"
            s.add(row)
    _audit(services, "mcp.disable", result)
    return result


def enable(services, name: str, *, client: str | None = None, machine: Machine | None = None) -> McpSwitchResult:
    with Session(services.engine) as s:
        rows = [r for r in s.exec(select(Row).where(Row.name == name)).all() if client is None or r.client == client]
    parked = [r for r in rows if r.state == "parked"]
    if parked:
        return _unpark(services, parked[0])
    server = find(services, name, client, machine)
    c = BY_ID[server.client]
    if not server.disabled:
        raise SwitchRefused(f"{server.name} is already on in {c.title}")
    text = read_text(server.file)
    base = (*server.map_path, server.name)
    if server.scope == "extension":
        with Session(services.engine) as s:
            row = _row(s, server)
        inserted = bool(json.loads(row.details_json or "{}").get("disabled", {}).get("inserted")) if row else False
        doc = parse(text, "json")
        if inserted:  # Breaker added the switch: take it out again (the file as it was)
            new = apply_spans(text, [remove_pair(doc, ("isEnabled",))])
        else:
            new = apply_spans(text, [(doc.spans[("isEnabled",)], "true")])
        how = "set isEnabled back in its extension settings"
        _write(services, server, new, lambda d: d.get(("isEnabled",)) is not False)
    elif c.disabled_flag is not None:
        flag, off = c.disabled_flag
        if _syntax(c) == "toml":
            import tomlkit

            tdoc = tomlkit.parse(text)
            table = tdoc
            for part in base:
                table = table[part]
            del table[flag]
            new = tomlkit.dumps(tdoc)
        else:
            doc = parse(text, _syntax(c))
            span, repl = remove_pair(doc, (*base, flag))
            new = apply_spans(text, [(span, repl)])
        how = f"removed {flag} from its entry"
        _write(services, server, new, lambda d: d.get((*base, flag)) != off)
    else:
        doc = parse(text, _syntax(c))
        path = next((p for p in c.disabled_lists if "{project}" not in p and server.name in (doc.get(p) or [])), None)
        if path is None:
            raise SwitchRefused(
                f"Breaker did not turn {server.name} off and cannot tell how it was; use {c.title} itself"
            )
        items = doc.get(path)
        idx = items.index(server.name)
        lst_path = (*path, idx)
        start, end = doc.spans[lst_path]
        # remove the item with its comma
        if len(items) == 1:
            s0, e0 = doc.spans[path]
            new = text[:s0] + "[]" + text[e0:]
        elif idx + 1 < len(items):
            new = text[:start] + text[doc.spans[(*path, idx + 1)][0] :]
        else:
            new = text[: doc.spans[(*path, idx - 1)][1]] + text[end:]
        how = f"removed it from {'.'.join(path)}"
        _write(services, server, new, lambda d: server.name not in (d.get(path) or []))
    result = McpSwitchResult(server.name, server.client, server.file, "enable", how, c.restart, verified=True)
    with session_scope(services.engine) as s:
        row = _row(s, server)
        if row is not None:
            details = json.loads(row.details_json or "{}")
            details.pop("disabled", None)
            row.details_json = json.dumps(details)
            s.add(row)
    _audit(services, "mcp.enable", result)
    return result


def _unpark(services, row: Row) -> McpSwitchResult:
    details = json.loads(row.details_json or "{}")
    ref = details.get("disabled", {}).get("ref", "")
    kept = services.secrets.get(ref) if ref else None
    if kept is None:
        raise SwitchRefused(f"Breaker no longer holds {row.name}'s entry (the keyring lost it)")
    data = json.loads(kept.reveal())
    c = BY_ID[row.client]
    text = read_text(row.file)
    region = Region(data["start"], data["old"], data["new"])
    try:
        if hashlib.sha256(text.encode()).hexdigest() != data.get("sha_after"):
            raise EditRefused("the file changed since")
        new = region.revert(text)  # the file unchanged since: byte for byte as before
        how = "put its entry back where it was"
    except EditRefused:
        doc = parse(text, _syntax(c))
        map_path = tuple(data["map"])
        if not isinstance(doc.get(map_path), dict):
            raise SwitchRefused(f"{row.file} no longer has its server map; Breaker keeps the entry") from None
        new = apply_spans(text, [insert_pair(doc, map_path, data["name"], data["value"])])
        how = "put its entry back (first in the list: the file had changed around it)"
    server = FoundServer(
        row.client, c.title, row.file, row.scope, row.project, row.name, row.transport, row.command, row.package, 0, row.url,
        False, "", tuple(data["map"]),
    )  # fmt: skip
    _write(services, server, new, lambda d: row.name in (d.get(tuple(data["map"])) or {}))
    services.secrets.delete(ref)
    with session_scope(services.engine) as s:
        r = s.get(Row, row.id)
        details.pop("disabled", None)
        r.state, r.details_json = "present", json.dumps(details)
        s.add(r)
    result = McpSwitchResult(row.name, row.client, row.file, "enable", how, c.restart, verified=True)
    _audit(services, "mcp.enable", result)
    return result


# -- limiting tools -----------------------------------------------------------------------------------
def limit(
    services, name: str, mode: Mode, *, client: str | None = None, machine: Machine | None = None
) -> McpSwitchResult:
    """Block the server's tools above ``mode``'s ceiling, where its client can."""
    server = find(services, name, client, machine)
    c = BY_ID[server.client]
    if not c.tool_block:
        raise SwitchRefused(c.tool_block_note or f"{c.title} cannot block single tools; disable the server instead")
    with Session(services.engine) as s:
        row = _row(s, server)
    probe = json.loads(row.details_json or "{}").get("probe") if row is not None else None
    if not probe or probe.get("outcome") != "ok":
        raise SwitchRefused(f"Breaker does not know {name}'s tools yet: probe it first (breaker mcp-probe {name})")
    ceiling = mode.ceiling
    if ceiling is None:
        raise SwitchRefused("use disable to turn a server off")
    above = [t["name"] for t in probe["tools"] if Level.parse(t["level"]) > ceiling]
    if not above:
        result = McpSwitchResult(
            server.name, server.client, server.file, "limit", "no tool is above the ceiling", c.restart, True
        )
        _audit(services, "mcp.limit", result)
        return result
    base = (*server.map_path, server.name)
    if c.tool_block == "permissions.deny":
        return _claude_deny(services, server, above, machine)
    text = read_text(server.file)
    if _syntax(c) == "toml":
        import tomlkit

        tdoc = tomlkit.parse(text)
        table = tdoc
        for part in base:
            table = table[part]
        have = list(table.get(c.tool_block, []))
        table[c.tool_block] = have + [t for t in above if t not in have]
        new = tomlkit.dumps(tdoc)
    else:
        doc = parse(text, _syntax(c))
        new = apply_spans(text, _add_to_list(doc, (*base, c.tool_block), above))
    _write(services, server, new, lambda d: set(above) <= set(d.get((*base, c.tool_block)) or []))
    _note_blocked(services, server, above)
    result = McpSwitchResult(
        server.name,
        server.client,
        server.file,
        "limit",
        f"added {len(above)} tools to {c.tool_block}",
        c.restart,
        True,
        above,
    )
    _audit(services, "mcp.limit", result)
    return result


def _claude_deny(services, server: FoundServer, tools: list[str], machine: Machine | None) -> McpSwitchResult:
    machine = machine or Machine.current()
    settings = Path(machine.variables()["claude_dir"]) / "settings.json"
    rules = [f"mcp__{server.name}__{t}" for t in tools]
    settings.parent.mkdir(parents=True, exist_ok=True)
    if not settings.exists():
        settings.write_text("{}\n")
        os.chmod(settings, 0o600)
    text = read_text(settings)
    doc = parse(text, "json")
    new = apply_spans(text, _add_to_list(doc, ("permissions", "deny"), rules))
    target = FoundServer(
        server.client, server.client_title, str(settings), "user", "", server.name, "", "", "", 0, "", False, "", ()
    )
    _write(services, target, new, lambda d: set(rules) <= set(d.get(("permissions", "deny")) or []))
    _note_blocked(services, server, tools)
    result = McpSwitchResult(
        server.name,
        server.client,
        str(settings),
        "limit",
        f"added {len(rules)} rules to permissions.deny (the server still starts; those tools are refused)",
        BY_ID[server.client].restart,
        True,
        tools,
    )
    _audit(services, "mcp.limit", result)
    return result


def _note_blocked(services, server: FoundServer, tools: list[str]) -> None:
    """Keep the tools the client now refuses on the found server (they lend its connector no power)."""
    with session_scope(services.engine) as s:
        row = _row(s, server)
        if row is not None:
            details = json.loads(row.details_json or "{}")
            details["blocked_tools"] = sorted({*(details.get("blocked_tools") or []), *tools})
            row.details_json = json.dumps(details)
            s.add(row)


# -- emergency -----------------------------------------------------------------------------------------
def known_on(services, *, machine: Machine | None = None) -> list[FoundServer]:
    """The servers a panic would turn off: brought into Breaker by a scan, and on."""
    with Session(services.engine) as s:
        known = {r.ident for r in s.exec(select(Row).where(Row.state == "present")).all()}
    if not known:
        return []
    return [srv for srv in _fresh(services, machine) if not srv.disabled and srv.ident in known]


def disable_all(services, *, machine: Machine | None = None) -> tuple[list[McpSwitchResult], list[str]]:
    """Disable every MCP server a scan brought into Breaker that is on (panic); servers Breaker was
    never shown are left alone. Returns what was done and what failed (one line each)."""
    from app.services.audit import KEYRING_UNAVAILABLE

    done: list[McpSwitchResult] = []
    failed: list[str] = []
    for server in known_on(services, machine=machine):
        try:
            done.append(disable_server(services, server, machine=machine))
        except (SwitchRefused, OSError, Unparseable, EditRefused) as exc:
            failed.append(f"{server.client_title} › {server.name}: {exc}")
        except KEYRING_UNAVAILABLE:  # a taken-out entry is kept in the keyring: without it, left in place
            failed.append(
                f"{server.client_title} › {server.name}: left on — the keyring cannot be read, and Breaker keeps "
                f"an entry it takes out there; remove it in {server.client_title} by hand, then {BY_ID[server.client].restart}"
            )
        except Exception as exc:  # one odd file must not stop the others, nor the emergency disable
            failed.append(f"{server.client_title} › {server.name}: left on ({type(exc).__name__})")
    return done, failed
