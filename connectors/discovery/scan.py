"""Find MCP servers and keys on this machine, reading files only.

A scan never starts a server and never sends anything anywhere: it reads the config files of the
clients in :mod:`connectors.discovery.clients`, ``.env`` files in the folders the owner names, and
the shell profiles. Each server entry is read on its own (one odd entry never hides its siblings),
and every reason a scan may be incomplete is a :class:`Problem` — a client installed without a
config, a file with no servers, a file that does not parse, a folder Breaker may not read.

Found keys are :class:`connectors.base.Secret` objects: nothing here prints or stores them.
"""

from __future__ import annotations

import glob
import io
import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dotenv.parser import parse_stream

from connectors.base import Secret
from connectors.discovery import keys as keyfind
from connectors.discovery.clients import CLIENTS, LINUX, MACOS, WINDOWS, Client, ConfigFile, ServerMap
from connectors.discovery.document import Document, Unparseable, parse

PROFILES = (".bashrc", ".bash_profile", ".bash_login", ".profile", ".zshrc", ".zshenv", ".zprofile", ".zlogin")
ENV_FILE_RE = re.compile(r"^\.env(\..+)?$")
PACKAGE_RE = re.compile(r"^@?[\w.-]+(/[\w.-]+)?(@[\w.^~-]+)?$")


@dataclass(frozen=True)
class Machine:
    """Where to look: the home folder, the operating system and the environment variables."""

    home: Path
    os: str = LINUX
    env: Mapping[str, str] = field(default_factory=dict)
    root: Path = Path("/")  # system-wide ("managed") files live under it; tests point it elsewhere

    @classmethod
    def current(cls) -> Machine:
        system = WINDOWS if sys.platform.startswith("win") else MACOS if sys.platform == "darwin" else LINUX
        root = Path(os.environ.get("SystemDrive", "C:") + "/") if system == WINDOWS else Path("/")
        # BREAKER_SCAN_ROOT moves the system-wide ("managed") files under another folder (tests, images).
        return cls(Path.home(), system, dict(os.environ), Path(os.environ.get("BREAKER_SCAN_ROOT") or root))

    def variables(self) -> dict[str, str]:
        home = str(self.home)
        env = self.env
        return {
            "home": home,
            "appdata": env.get("APPDATA") or f"{home}/AppData/Roaming",
            "localappdata": env.get("LOCALAPPDATA") or f"{home}/AppData/Local",
            "xdg_config": env.get("XDG_CONFIG_HOME") or f"{home}/.config",
            "claude_config_dir": env.get("CLAUDE_CONFIG_DIR") or home,
            # Claude Code's own folder (settings.json): $CLAUDE_CONFIG_DIR replaces ~/.claude.
            "claude_dir": env.get("CLAUDE_CONFIG_DIR") or f"{home}/.claude",
            "codex_home": env.get("CODEX_HOME") or f"{home}/.codex",
            "root": str(self.root).rstrip("/\\") + "/",
        }

    def expand(self, template: str) -> list[Path]:
        path = template.format(**self.variables())
        if "*" in path:
            return [Path(p) for p in sorted(glob.glob(glob.escape(path).replace("[*]", "*")))]
        return [Path(path)]


@dataclass(frozen=True)
class Wiring:
    """Where one key sits. ``span``: the key's character offsets in the file's text (None when unknown)."""

    client: str  # a client id, or "env-file" / "shell-profile"
    client_title: str
    file: str
    server: str  # "" outside MCP configs
    location: str  # words for the owner: "env GITHUB_TOKEN", "header Authorization", "argument 3"
    variable: str  # the variable, header or argument name the key sits under ("" if none)
    span: tuple[int, int] | None = None
    line: int = 0

    def to_json(self) -> dict:
        return {
            "client": self.client,
            "client_title": self.client_title,
            "file": self.file,
            "server": self.server,
            "location": self.location,
            "variable": self.variable,
            "line": self.line,
        }


@dataclass(frozen=True)
class FoundKey:
    secret: Secret
    provider: str  # "" when only the name it sits under says it is a key
    kind: str
    wiring: Wiring


@dataclass(frozen=True)
class FoundServer:
    client: str
    client_title: str
    file: str
    scope: str  # user | local | project | managed
    project: str  # the project folder for local and project scopes
    name: str
    transport: str  # stdio | http | sse | unknown
    command: str  # the program's name only: arguments may hold keys and are never shown
    package: str  # e.g. @modelcontextprotocol/server-github when the arguments name one
    arg_count: int
    url: str  # scheme://host/path only: no user, password or query
    disabled: bool
    disabled_by: str  # how the client knows it is off ("disabled: true", "mcp.excluded" …)
    map_path: tuple[str, ...]
    keys: tuple[FoundKey, ...] = ()
    secured_by: str = ""  # the Breaker connector it launches through (`breaker exec NAME -- …`)
    # Values the client asks the owner for when it starts the server (VS Code ``${input:ID}``): not
    # keys in this file — the client keeps the answers in its own secret storage.
    asks_for: tuple[str, ...] = ()
    # Tools the client refuses to call ("*": every tool; the server still starts), and where that is said.
    blocked_tools: tuple[str, ...] = ()
    blocked_by: str = ""

    @property
    def ident(self) -> str:
        """Stable across scans: client, file, server map and name."""
        return "|".join((self.client, self.file, "/".join(self.map_path), self.name))

    @property
    def where(self) -> str:
        """The server as the owner names it: "shop in Claude Desktop"."""
        return f"{self.name} in {self.client_title}" + (
            f" ({self.scope})" if self.scope in ("project", "local") else ""
        )


@dataclass(frozen=True)
class Problem:
    kind: str  # no-config | no-servers | unparseable | unreadable | missing | odd-entry
    client: str
    where: str
    message: str

    def to_json(self) -> dict:
        return {"kind": self.kind, "client": self.client, "where": self.where, "message": self.message}


@dataclass
class ScanResult:
    servers: list[FoundServer] = field(default_factory=list)
    loose_keys: list[FoundKey] = field(default_factory=list)  # from .env files and shell profiles
    problems: list[Problem] = field(default_factory=list)
    files_read: list[str] = field(default_factory=list)
    clients_installed: list[str] = field(default_factory=list)

    def keys(self) -> list[FoundKey]:
        return [k for s in self.servers for k in s.keys] + list(self.loose_keys)


# -- the scan -------------------------------------------------------------------------------------
def scan(machine: Machine | None = None, folders: Iterable[str | Path] = (), *, profiles: bool = True) -> ScanResult:
    """Read every known client config, the ``.env`` files of ``folders`` and the shell profiles."""
    machine = machine or Machine.current()
    result = ScanResult()
    folder_list = [Path(f).expanduser() for f in folders]
    for known in _claude_code_projects(machine):  # the folders Claude Code was opened in: every client's project files
        if known not in folder_list:
            folder_list.append(known)
    env_folders = [Path(f).expanduser() for f in folders]
    for client in CLIENTS:
        _scan_client(client, machine, folder_list, result)
        if client.policy_files:
            _apply_policies(client, machine, folder_list, result)
        if client.extension_dirs:
            _scan_extensions(client, machine, result)
    for folder in env_folders:  # .env files only in the folders the owner named
        _scan_env_folder(folder, result)
    if profiles:
        for name in PROFILES:
            path = machine.home / name
            if path.is_file():
                text = _read(path, "shell-profile", result)
                if text is not None:
                    result.loose_keys.extend(_env_keys(text, path, "shell-profile", "shell profile"))
    return result


def _claude_code_projects(machine: Machine) -> list[Path]:
    """The project folders in Claude Code's ~/.claude.json that still exist (its problems are reported by the client pass)."""
    path = Path(machine.variables()["claude_config_dir"]) / ".claude.json"
    try:
        projects = parse(path.read_bytes().decode("utf-8-sig"), "json").get(("projects",))
    except (OSError, UnicodeDecodeError, Unparseable):
        return []
    return [Path(p) for p in projects if _exists(Path(p))] if isinstance(projects, dict) else []


def _read(path: Path, client: str, result: ScanResult) -> str | None:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except PermissionError:
        result.problems.append(Problem("unreadable", client, str(path), f"Breaker may not read {path}"))
        return None
    except UnicodeDecodeError:
        result.problems.append(Problem("unparseable", client, str(path), f"{path} is not UTF-8 text"))
        return None
    except OSError as exc:
        result.problems.append(Problem("unreadable", client, str(path), f"{path} could not be read ({exc.strerror})"))
        return None
    result.files_read.append(str(path))
    return text


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False


def _scan_client(client: Client, machine: Machine, folders: list[Path], result: ScanResult) -> None:
    installed = any(_exists(p) for t in client.installed.get(machine.os, ()) for p in machine.expand(t))
    if installed:
        result.clients_installed.append(client.id)
    found_files = 0
    servers_before = len(result.servers)
    user_doc: Document | None = None
    project_dirs = list(folders)
    for spec in client.files:
        if spec.relative:
            continue
        for template in spec.paths.get(machine.os, ()):
            for path in machine.expand(template):
                if not _exists(path):
                    continue
                found_files += 1
                doc = _scan_file(client, spec, path, None, None, result, machine)
                if doc is not None and spec.scope == "user" and user_doc is None:
                    user_doc = doc
    for spec in client.files:
        if not spec.relative:
            continue
        for folder in project_dirs:
            path = folder / spec.relative
            if _exists(path):
                found_files += 1
                _scan_file(client, spec, path, folder, user_doc, result, machine)
    if installed and found_files == 0:
        result.problems.append(
            Problem(
                "no-config",
                client.id,
                "",
                f"{client.title} is installed but has no MCP config file: it has no servers Breaker can see",
            )
        )
    elif (
        found_files
        and len(result.servers) == servers_before
        and not any(
            p.client == client.id and p.kind in ("no-servers", "unparseable", "unreadable") for p in result.problems
        )
    ):
        result.problems.append(
            Problem("no-servers", client.id, "", f"{client.title}'s config files list no MCP servers")
        )


def _scan_file(
    client: Client,
    spec: ConfigFile,
    path: Path,
    project: Path | None,
    user_doc: Document | None,
    result: ScanResult,
    machine: Machine,
) -> Document | None:
    text = _read(path, client.id, result)
    if text is None:
        return None
    try:
        doc = parse(text, spec.syntax)
    except Unparseable as exc:
        result.problems.append(
            Problem("unparseable", client.id, str(path), f"{client.title} cannot read {path}: {exc}")
        )
        return None
    if not isinstance(doc.value, dict):
        result.problems.append(Problem("unparseable", client.id, str(path), f"{path} does not hold an object"))
        return None
    count = 0
    for smap in spec.maps:
        for map_path, proj in _map_paths(doc, smap, project):
            servers = doc.get(map_path)
            if servers is None:
                continue
            if not isinstance(servers, dict):
                result.problems.append(
                    Problem(
                        "odd-entry", client.id, str(path), f"{'.'.join(map_path)} in {path} is not a map of servers"
                    )
                )
                continue
            for name, entry in servers.items():
                count += 1
                try:
                    server = _server(client, smap, path, proj, map_path, name, entry, doc, user_doc)
                    server = _with_client_extras(client, server, entry, doc, machine, result)
                except _OddEntry as exc:
                    result.problems.append(
                        Problem("odd-entry", client.id, str(path), f"server {name!r} in {path}: {exc}")
                    )
                    continue
                result.servers.append(server)
    if count == 0 and not spec.shared:
        result.problems.append(Problem("no-servers", client.id, str(path), f"{path} lists no MCP servers"))
    return doc


def _map_paths(doc: Document, smap: ServerMap, project: Path | None) -> list[tuple[tuple[str, ...], str]]:
    """The concrete paths of a server map (``*`` expanded) with the project each belongs to."""
    if "*" not in smap.path:
        return [(smap.path, str(project) if project else "")]
    star = smap.path.index("*")
    parent = doc.get(smap.path[:star])
    if not isinstance(parent, dict):
        return []
    return [((*smap.path[:star], key, *smap.path[star + 1 :]), key) for key in parent]


class _OddEntry(ValueError):
    pass


def _server(
    client: Client,
    smap: ServerMap,
    path: Path,
    project: str,
    map_path: tuple[str, ...],
    name: str,
    entry: Any,
    doc: Document,
    user_doc: Document | None,
) -> FoundServer:
    if not isinstance(entry, dict):
        raise _OddEntry("the entry is not an object")
    base = (*map_path, name)
    command = entry.get("command")
    if isinstance(command, list):  # OpenCode-style: the command and its arguments in one list
        raise _OddEntry("the command is a list; Breaker reads a command string and an args list")
    if command is not None and not isinstance(command, str):
        raise _OddEntry("the command is not a string")
    args = entry.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise _OddEntry("args is not a list of strings")
    url_key = next((k for k in client.url_keys if isinstance(entry.get(k), str)), "")
    url = entry.get(url_key, "") if url_key else ""
    declared = str(entry.get("type", "")).lower()
    if declared in ("http", "streamable-http", "sse", "stdio"):
        transport = "http" if declared == "streamable-http" else declared
    elif url:
        transport = "sse" if url_key in client.sse_keys else "http"
    elif command:
        transport = "stdio"
    else:
        raise _OddEntry("it has neither a command nor a URL (" + ", ".join(("command", *client.url_keys)) + ")")
    title = client.title
    found: list[FoundKey] = []

    def add(hit: keyfind.KeyHit, vpath: tuple, location: str, variable: str) -> None:
        span = _key_span(doc, vpath, hit)
        line = doc.text.count("\n", 0, span[0]) + 1 if span else 0
        wiring = Wiring(client.id, title, str(path), name, location, variable, span, line)
        found.append(FoundKey(hit.secret, hit.provider, hit.kind, wiring))

    env = entry.get("env", {})
    if isinstance(env, dict):
        for var, value in env.items():
            if isinstance(value, str):
                for hit in keyfind.in_named_value(var, value):
                    add(hit, (*base, "env", var), f"env {var}", var)
    for hkey in client.header_keys:
        headers = entry.get(hkey, {})
        if isinstance(headers, dict):
            for header, value in headers.items():
                if isinstance(value, str):
                    for hit in keyfind.in_header(header, value):
                        add(hit, (*base, hkey, header), f"header {header}", header)
    if url:
        for hit in keyfind.in_url(url):
            add(hit, (*base, url_key), "URL", url_key)
    for ah in keyfind.in_args(args):
        arg = args[ah.index]
        flag = arg.partition("=")[0] if arg.startswith("-") else (args[ah.index - 1] if ah.index else "")
        add(ah.hit, (*base, "args", ah.index), f"argument {ah.index + 1}", flag if flag.startswith("-") else "")
    key_args = {ah.index for ah in keyfind.in_args(args)}
    package = next(
        (
            a
            for i, a in enumerate(args)
            if i not in key_args and not a.startswith("-") and PACKAGE_RE.match(a) and ("/" in a or "mcp" in a.lower())
        ),
        "",
    )
    disabled_by = _disabled_by(client, entry, name, doc, user_doc, project)
    secured_by = secured_by_breaker(command or "", args)
    return FoundServer(
        client=client.id,
        client_title=title,
        file=str(path),
        scope=smap.scope,
        project=project,
        name=name,
        transport=transport,
        command=os.path.basename(command) if command else "",
        package=package,
        arg_count=len(args),
        url=_safe_url(url),
        disabled=bool(disabled_by),
        disabled_by=disabled_by,
        map_path=tuple(map_path),
        keys=tuple(found),
        secured_by=secured_by,
    )


def _with_client_extras(
    client: Client, server: FoundServer, entry: dict, doc: Document, machine: Machine, result: ScanResult
) -> FoundServer:
    """What the client keeps beside the entry: prompts (not keys), keys in its env file, blocked tools."""
    from connectors.discovery import extras

    changes: dict = {}
    asks = extras.asks_for(client, entry, doc)
    if asks:
        changes["asks_for"] = asks
    env_path, why_not = extras.env_file_path(client, entry, server.project, machine.home)
    if why_not:
        result.problems.append(Problem("unresolved", client.id, server.file, f"server {server.name!r}: {why_not}"))
    elif env_path is not None:
        if not _exists(env_path):
            result.problems.append(
                Problem(
                    "missing",
                    client.id,
                    str(env_path),
                    f"server {server.name!r} in {server.file} loads {env_path}, which does not exist",
                )
            )
        else:
            text = _read(env_path, client.id, result)
            if text is not None:
                found = []
                for k in _env_keys(text, env_path, client.id, client.title):
                    w = k.wiring
                    wiring = Wiring(
                        client.id, client.title, w.file, server.name, f"{client.env_file_key} {w.variable}",
                        w.variable, w.span, w.line,
                    )  # fmt: skip
                    found.append(FoundKey(k.secret, k.provider, k.kind, wiring))
                changes["keys"] = (*server.keys, *found)
    if client.tool_block and client.tool_block != "permissions.deny":
        blocked = entry.get(client.tool_block)
        if isinstance(blocked, list) and blocked:
            changes["blocked_tools"] = tuple(str(t) for t in blocked)
            changes["blocked_by"] = f"{client.tool_block} in {server.file}"
    return extras.replace(server, **changes) if changes else server


def _apply_policies(client: Client, machine: Machine, folders: list[Path], result: ScanResult) -> None:
    """Claude Code's permission rules applied to the servers found for it: user and managed settings to
    every server, a project's settings to that project's servers."""
    from connectors.discovery import extras

    for _spec, path, project in extras.policy_paths(client, machine.expand, machine.os, folders):
        if not _exists(path):
            continue
        doc, problem = extras.read_json(path)
        if doc is None:
            result.problems.append(Problem("unparseable", client.id, str(path), problem))
            continue
        result.files_read.append(str(path))
        rules = doc.get(("permissions", "deny"))
        rules = rules if isinstance(rules, list) else []
        for i, server in enumerate(result.servers):
            if server.client != client.id or (project and server.project != project):
                continue
            changes: dict = {}
            tools = extras.denied_tools(rules, server.name)
            if tools:
                merged = tuple(dict.fromkeys((*server.blocked_tools, *tools)))
                changes["blocked_tools"] = merged
                changes["blocked_by"] = ", ".join(filter(None, (server.blocked_by, f"permissions.deny in {path}")))
            if not server.disabled and extras.denied_server(doc.value, server.name, [], server.url):
                changes["disabled"], changes["disabled_by"] = True, f"deniedMcpServers in {path.name}"
            if changes:
                result.servers[i] = extras.replace(server, **changes)


def _scan_extensions(client: Client, machine: Machine, result: ScanResult) -> None:
    """Claude Desktop's extensions: one server per settings file, its keys from the owner's answers."""
    from connectors.discovery import extras

    for template in client.extension_dirs.get(machine.os, ()):
        for folder in machine.expand(template):
            settings_dir = folder / "Claude Extensions Settings"
            if not _exists(settings_dir):
                continue
            try:
                names = sorted(n for n in os.listdir(settings_dir) if n.endswith(".json"))
            except OSError:
                result.problems.append(
                    Problem("unreadable", client.id, str(settings_dir), f"Breaker may not read {settings_dir}")
                )
                continue
            for file_name in names:
                _scan_extension(client, folder, settings_dir / file_name, result, extras)


def _scan_extension(client: Client, folder: Path, path: Path, result: ScanResult, extras) -> None:
    ext_id = path.stem
    settings, problem = extras.read_json(path)
    if settings is None:
        result.problems.append(Problem("unparseable", client.id, str(path), problem))
        return
    result.files_read.append(str(path))
    manifest_path = folder / "Claude Extensions" / ext_id / "manifest.json"
    manifest_doc = None
    if _exists(manifest_path):
        manifest_doc, problem = extras.read_json(manifest_path)
        if manifest_doc is None:
            result.problems.append(Problem("unparseable", client.id, str(manifest_path), problem))
        else:
            result.files_read.append(str(manifest_path))
    manifest = manifest_doc.value if manifest_doc is not None else None
    name = str((manifest or {}).get("display_name") or (manifest or {}).get("name") or ext_id)
    entry = extras.extension_entry(manifest)
    found: list[FoundKey] = []
    for field_name, hit in extras.user_config_keys(settings, manifest):
        span = _key_span(settings, ("userConfig", field_name), hit)
        line = settings.text.count("\n", 0, span[0]) + 1 if span else 0
        wiring = Wiring(
            client.id, client.title, str(path), name, f"extension setting {field_name}", field_name, span, line
        )
        found.append(FoundKey(hit.secret, hit.provider, hit.kind, wiring))
    env = entry.get("env")
    if manifest_doc is not None and isinstance(env, dict):  # a key written into the extension's own manifest
        for var, value in env.items():
            if isinstance(value, str):
                for hit in keyfind.in_named_value(var, value):
                    vpath = ("server", "mcp_config", "env", var)
                    span = _key_span(manifest_doc, vpath, hit)
                    line = manifest_doc.text.count("\n", 0, span[0]) + 1 if span else 0
                    wiring = Wiring(
                        client.id, client.title, str(manifest_path), name, f"extension env {var}", var, span, line
                    )
                    found.append(FoundKey(hit.secret, hit.provider, hit.kind, wiring))
    command = entry.get("command") if isinstance(entry.get("command"), str) else ""
    args = entry.get("args") if isinstance(entry.get("args"), list) else []
    enabled = settings.get(("isEnabled",))
    result.servers.append(
        FoundServer(
            client=client.id,
            client_title=client.title,
            file=str(path),
            scope=extras.EXTENSION_SCOPE,
            project="",
            name=name,
            transport="stdio",
            command=os.path.basename(command),
            package=ext_id,
            arg_count=len(args),
            url="",
            disabled=enabled is False,
            disabled_by="isEnabled = false" if enabled is False else "",
            map_path=(),
            keys=tuple(found),
        )
    )


def secured_by_breaker(command: str, args: list[str]) -> str:
    """The connector an entry launches through (``breaker [--home D] exec [--var V] NAME -- …``), or ""."""
    program = os.path.basename(command).lower()
    rest = list(args)
    if program.startswith("python") and rest[:2] == ["-m", "app"]:
        rest = rest[2:]
    elif program not in ("breaker", "breaker.exe"):
        return ""
    i = 0
    while i < len(rest) and rest[i] in ("--home", "--db", "--read-only"):
        i += 1 if rest[i] == "--read-only" else 2
    if i >= len(rest) or rest[i] != "exec":
        return ""
    i += 1
    if i < len(rest) and rest[i] == "--var":
        i += 2
    return rest[i] if i < len(rest) and rest[i] != "--" else ""


def _disabled_by(client: Client, entry: dict, name: str, doc: Document, user_doc: Document | None, project: str) -> str:
    if client.disabled_flag is not None:
        flag, off = client.disabled_flag
        if flag in entry and entry[flag] == off:
            return f"{flag} = {str(off).lower()}"
    for list_path in client.disabled_lists:
        concrete = tuple(project if part == "{project}" else part for part in list_path)
        if "{project}" in list_path and not project:
            continue
        for d in (doc, user_doc):
            names = d.get(concrete) if d is not None else None
            if isinstance(names, list) and name in names:
                return ".".join(p for p in list_path if p != "{project}")
    return ""


def _key_span(doc: Document, vpath: tuple, hit: keyfind.KeyHit) -> tuple[int, int] | None:
    """The key's offsets in the file: inside the value's span for JSON, its only occurrence otherwise."""
    value = hit.secret.reveal()
    node = doc.spans.get(vpath)
    if node is not None:
        raw = doc.text[node[0] : node[1]]
        if raw.count(value) == 1:
            at = node[0] + raw.index(value)
            return (at, at + len(value))
        return None  # escaped in the file, or twice in one value: not edited in place
    if doc.text.count(value) == 1:
        at = doc.text.index(value)
        return (at, at + len(value))
    return None


def _safe_url(url: str) -> str:
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(not a URL)"
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


# -- .env files and shell profiles ------------------------------------------------------------------
def _scan_env_folder(folder: Path, result: ScanResult) -> None:
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        result.problems.append(Problem("missing", "env-file", str(folder), f"{folder} does not exist"))
        return
    except NotADirectoryError:
        result.problems.append(Problem("missing", "env-file", str(folder), f"{folder} is not a folder"))
        return
    except PermissionError:
        result.problems.append(
            Problem("unreadable", "env-file", str(folder), f"Breaker may not read the folder {folder}")
        )
        return
    for name in names:
        path = folder / name
        if ENV_FILE_RE.match(name) and path.is_file():
            text = _read(path, "env-file", result)
            if text is not None:
                result.loose_keys.extend(_env_keys(text, path, "env-file", ".env file"))


def _env_keys(text: str, path: Path, client: str, title: str) -> list[FoundKey]:
    found: list[FoundKey] = []
    offset = 0
    for binding in parse_stream(io.StringIO(text)):
        line_text = binding.original.string
        if binding.key and binding.value is not None and not binding.error:
            for hit in keyfind.in_named_value(binding.key, binding.value):
                value = hit.secret.reveal()
                span = None
                if line_text.count(value) == 1:
                    at = offset + line_text.index(value)
                    span = (at, at + len(value))
                wiring = Wiring(
                    client, title, str(path), "", f"variable {binding.key}", binding.key, span, binding.original.line
                )
                found.append(FoundKey(hit.secret, hit.provider, hit.kind, wiring))
        offset += len(line_text)
    return found


def read_text(path: str | Path) -> str:
    """A file's text as the scan read it (UTF-8, a byte-order mark dropped)."""
    return Path(path).read_bytes().decode("utf-8-sig")


def read_entry(server: FoundServer, home: Path | None = None) -> dict:
    """The server's entry as its file holds it now (keys included: for starting it, never for showing);
    for a Claude Desktop extension, the launch its manifest and settings make."""
    if server.scope == "extension":
        from connectors.discovery.extras import extension_launch

        return extension_launch(Path(server.file), home or Path.home())
    client = next(c for c in CLIENTS if c.id == server.client)
    doc = parse(read_text(server.file), client.files[0].syntax)
    entry = doc.get((*server.map_path, server.name))
    if not isinstance(entry, dict):
        raise Unparseable("the entry is no longer there")
    return entry
