"""Securing a found key: out of the plain file, into the keyring, the entry launched through `breaker exec`.

For an MCP server started by a command (stdio), the entry is rewritten to run
``breaker exec NAME -- COMMAND ARGS…`` and the variable holding the key leaves its ``env``: the
server still gets the key, from Breaker, only while the connector's mode allows it. For a line in a
``.env`` file or a shell profile, the line becomes a comment saying how to get the value from
Breaker (``breaker exec NAME -- your command``). A key the client itself sends (a remote server's
header or URL) or that sits in a command's arguments cannot be handed over by ``exec``: Breaker says
so and leaves the file alone.

Every edit is previewed exactly (the keys in it masked), written atomically, read back and checked
(the file must still parse as its client reads it, and the key must be gone from the place). Undo
puts the original back byte for byte: the database keeps the changed stretch of text with the key
cut out, the key itself stays in the keyring.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass

from sqlmodel import Session, select

from app.services import discovery
from app.services.discovery_store import remembered_folders
from app.store.db import session_scope
from app.store.models import Connector, FoundPlace
from connectors.base import Secret
from connectors.discovery import FoundKey, Machine
from connectors.discovery import keys as keyfind
from connectors.discovery.clients import BY_ID
from connectors.discovery.document import Unparseable, parse
from connectors.discovery.edit import EditRefused, Region, apply_spans, json_value, remove_pair, write_checked
from connectors.discovery.scan import read_text

KEY_MARK = "\u0000breaker-key\u0000"  # where the key was cut out of a kept stretch of text


class SecureError(Exception):
    """Securing or undoing could not be done. One line, never the key."""


@dataclass
class SecurePlan:
    connector: str
    place_id: int
    file: str
    where: str  # "Claude Desktop › github › env GITHUB_PERSONAL_ACCESS_TOKEN"
    restart: str
    preview: str = ""  # a unified diff with every key masked
    refusal: str = ""
    region: Region | None = None
    new_text: str = ""
    _secret: Secret | None = None
    _others: tuple[str, ...] = ()  # the other keys of the file (to keep them out of what is stored)

    @property
    def ok(self) -> bool:
        return not self.refusal and self.region is not None

    def to_json(self) -> dict:
        return {
            "connector": self.connector,
            "file": self.file,
            "where": self.where,
            "preview": self.preview,
            "refused": self.refusal or None,
            "restart": self.restart or None,
        }


def exec_prefix(services) -> list[str]:
    """How a client starts `breaker exec` for this inventory: the program, and --home when it is not the default."""
    found = shutil.which("breaker")
    program = [found] if found else [sys.executable, "-m", "app"]  # not on PATH: this very installation
    home = services.settings.home
    return [*program, *(["--home", str(home)] if home is not None else [])]


def plan_secure(services, name: str, *, machine: Machine | None = None) -> list[SecurePlan]:
    """One plan per place where ``name``'s key sits in plain text, each with its preview or refusal."""
    view = services.inventory.get(name)
    cred = view.credential
    secret = services.secrets.get(cred.keyring_ref) if cred is not None else None
    if secret is None:
        raise SecureError(f"{name} has no key in the keyring")
    with Session(services.engine) as s:
        places = list(
            s.exec(select(FoundPlace).where(FoundPlace.connector_id == view.id, FoundPlace.state == "plain")).all()
        )
    if not places:
        raise SecureError(f"no plain-text place is known for {name}; run `breaker scan` first")
    report = discovery.run_scan(services, remembered_folders(services), machine=machine)
    fresh = {(w.file, w.server, w.location): k for k in report.result.keys() for w in [k.wiring]}
    plans = []
    for place in places:
        found = fresh.get((place.file, place.server, place.location))
        plan = SecurePlan(name, place.id, place.file, _where(place), _restart(place.client))
        if found is None or found.secret != secret:
            plan.refusal = "the key is no longer at that place (scan again)"
        else:
            others = tuple(
                k.secret.reveal() for k in report.result.keys() if k.wiring.file == place.file and k.secret != secret
            )
            _plan_one(services, view, plan, found, secret, others, report)
        plans.append(plan)
    return plans


def _where(place: FoundPlace) -> str:
    title = BY_ID[place.client].title if place.client in BY_ID else place.client.replace("-", " ")
    return " › ".join(p for p in (title, place.server, place.location) if p)


def _restart(client: str) -> str:
    if client in BY_ID:
        return BY_ID[client].restart
    if client == "shell-profile":
        return "open a new terminal"
    return "restart the program that reads this file"


def _plan_one(
    services, view, plan: SecurePlan, found: FoundKey, secret: Secret, others: tuple[str, ...], report
) -> None:
    w = found.wiring
    plan._secret, plan._others = secret, others
    try:
        text = read_text(w.file)
        if w.client in ("env-file", "shell-profile"):
            new = _secure_line(text, w, view.name)
        elif w.location.startswith("extension "):
            raise EditRefused(
                f"{BY_ID[w.client].title} hands this value to its extension itself; Breaker cannot put "
                "`breaker exec` in between. Change or remove it under Claude Desktop › Settings › Extensions, "
                "then rotate the key"
            )
        elif BY_ID[w.client].env_file_key and w.location.startswith(BY_ID[w.client].env_file_key + " "):
            raise EditRefused(
                f"{BY_ID[w.client].title} loads this key from the server's {BY_ID[w.client].env_file_key} "
                f"({w.file}); Breaker edits one file at a time and does not rewrite that pair yet. Take the line "
                f"out by hand and start the server as `breaker exec {view.name} -- COMMAND`"
            )
        else:
            server = next(
                (s for s in report.servers if s.file == w.file and s.name == w.server and s.client == w.client), None
            )
            if server is None:
                raise EditRefused("the server entry is no longer there")
            if server.transport != "stdio":
                raise EditRefused(
                    f"{BY_ID[w.client].title} sends this key to a remote server itself ({w.location}); "
                    "Breaker cannot hand it over through `breaker exec`. Rotate it, or use the client's own secret storage"
                )
            if not w.location.startswith("env "):
                raise EditRefused(
                    f"the key is in the command's {w.location}; the server must read it from a variable "
                    "before `breaker exec` can hand it over"
                )
            new = _secure_entry(services, text, server, w, view)
    except (EditRefused, Unparseable) as exc:
        plan.refusal = str(exc)
        return
    region = Region.between(text, new)
    masked_old = region.old.replace(secret.reveal(), KEY_MARK)
    if any(o in masked_old or o in region.new for o in others) or secret.reveal() in region.new:
        plan.refusal = "the change would touch another key in the same entry; secure that one first"
        return
    plan.region, plan.new_text = region, new
    plan.preview = _preview(text, new, w.file, [secret.reveal(), *others])


def _secure_line(text: str, w, name: str) -> str:
    if w.span is None:
        raise EditRefused("the key is written in a way Breaker cannot edit in place (quotes or escapes)")
    start = text.rfind("\n", 0, w.span[0]) + 1
    end = text.find("\n", w.span[1])
    end = len(text) if end < 0 else end
    comment = f"# {w.variable}: kept in Breaker's keyring (connector {name}); run your command as: breaker exec {name} -- COMMAND"
    return text[:start] + comment + text[end:]


def _secure_entry(services, text: str, server, w, view) -> str:
    client = BY_ID[w.client]
    syntax = client.files[0].syntax
    doc = parse(text, syntax)
    base = (*server.map_path, server.name)
    entry = doc.get(base)
    command, args = entry.get("command"), list(entry.get("args", []))
    if keyfind.in_args(args):
        raise EditRefused("its arguments hold a key too; Breaker cannot pass that one through exec")
    var = w.variable
    launch = [*exec_prefix(services)[1:], "exec"]
    if var != (view.env_var or ""):
        launch += ["--var", var]
    new_args = [*launch, view.name, "--", command, *args]
    program = exec_prefix(services)[0]
    if syntax == "toml":
        import tomlkit  # only Codex's TOML needs it

        tdoc = tomlkit.parse(text)
        table = tdoc
        for part in base:
            table = table[part]
        table["command"] = program
        table["args"] = new_args
        del table["env"][var]
        return tomlkit.dumps(tdoc)
    edits = [((doc.spans[(*base, "command")]), json_value(program)), remove_pair(doc, (*base, "env", var))]
    if (*base, "args") in doc.spans:
        edits.append((doc.spans[(*base, "args")], json_value(new_args)))
    else:
        end = doc.pair_spans[(*base, "command")][1]
        edits.append(((end, end), ", " + json_value("args") + ": " + json_value(new_args)))
    return apply_spans(text, edits)


def _preview(old: str, new: str, file: str, secrets: list[str]) -> str:
    def mask(t: str) -> str:
        for s in secrets:
            t = t.replace(s, "••••" + s[-4:] if len(s) >= 8 else "••••")
        return t

    lines = difflib.unified_diff(
        mask(old).splitlines(keepends=True), mask(new).splitlines(keepends=True), file, file + " (secured)", n=2
    )
    return "".join(lines)


def _check(client: str, secret: Secret, region: Region):
    def check(text: str) -> None:
        if client in BY_ID:
            parse(text, BY_ID[client].files[0].syntax)  # still parses as its client reads it
        if text[region.start : region.start + len(region.new)] != region.new or secret.reveal() in region.new:
            raise SecureError("the file did not keep the change; it was put back as it was")

    return check


def apply_secure(services, plan: SecurePlan) -> None:
    """Write one plan's change (checked), and keep how to undo it. Raises :class:`SecureError`."""
    if not plan.ok:
        raise SecureError(plan.refusal or "nothing to do")
    assert plan.region is not None and plan._secret is not None
    with Session(services.engine) as s:
        place = s.get(FoundPlace, plan.place_id)
        client = place.client if place else ""
    current = read_text(plan.file)
    if current[plan.region.start : plan.region.start + len(plan.region.old)] != plan.region.old:
        raise SecureError(f"{plan.file} changed since the preview; nothing was written")
    new_text = plan.region.apply(current)
    try:
        write_checked(plan.file, new_text, _check(client, plan._secret, plan.region))
    except (Unparseable, EditRefused) as exc:
        raise SecureError(f"{plan.file} was put back as it was: {exc}") from None
    except OSError as exc:
        raise SecureError(f"{plan.file} could not be written ({exc.strerror})") from None
    undo = {
        "start": plan.region.start,
        "old": plan.region.old.replace(plan._secret.reveal(), KEY_MARK),
        "new": plan.region.new,
        "sha256_after": hashlib.sha256(new_text.encode()).hexdigest(),
    }
    with session_scope(services.engine) as s:
        place = s.get(FoundPlace, plan.place_id)
        place.state, place.undo_json = "secured", json.dumps(undo)
        s.add(place)
        services.audit.record(
            s,
            "secure",
            plan.connector,
            new={"file": plan.file, "where": plan.where, "restart": plan.restart},
        )


def undo_secure(services, name: str) -> list[str]:
    """Put back every place of ``name`` that Breaker secured, byte for byte. Returns the files restored."""
    view = services.inventory.get(name)
    cred = view.credential
    secret = services.secrets.get(cred.keyring_ref) if cred is not None else None
    if secret is None:
        raise SecureError(f"{name} has no key in the keyring; undo needs it to put the original back")
    with Session(services.engine) as s:
        places = list(
            s.exec(select(FoundPlace).where(FoundPlace.connector_id == view.id, FoundPlace.state == "secured")).all()
        )
    if not places:
        raise SecureError(f"Breaker has secured no place of {name}")
    restored = []
    for place in places:
        undo = json.loads(place.undo_json)
        region = Region(undo["start"], undo["old"].replace(KEY_MARK, secret.reveal()), undo["new"])
        try:
            current = read_text(place.file)
            if not region.new or hashlib.sha256(current.encode()).hexdigest() != undo.get("sha256_after"):
                # The file changed since: put the key back only if Breaker's text is still exactly there.
                if not region.new:
                    raise EditRefused("the file changed since Breaker edited it; undo would guess")
            old_text = region.revert(current)
            write_checked(
                place.file,
                old_text,
                lambda t, c=place.client: parse(t, BY_ID[c].files[0].syntax) if c in BY_ID else None,
            )
        except (EditRefused, Unparseable) as exc:
            raise SecureError(f"{place.file}: {exc}") from None
        except OSError as exc:
            raise SecureError(f"{place.file} could not be restored ({exc.strerror})") from None
        with session_scope(services.engine) as s:
            row = s.get(FoundPlace, place.id)
            row.state, row.undo_json = "plain", "{}"
            s.add(row)
            services.audit.record(s, "secure.undo", name, new={"file": place.file, "where": _where(place)})
        restored.append(place.file)
    return restored


def connector_named(services, connector_id: int) -> str:
    with Session(services.engine) as s:
        row = s.get(Connector, connector_id)
        return row.name if row else ""


__all__ = ["SecureError", "SecurePlan", "apply_secure", "exec_prefix", "os", "plan_secure", "undo_secure"]
