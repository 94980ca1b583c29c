"""What some clients keep beside their server maps, read as those clients read it.

* VS Code: ``${input:ID}`` in an entry is a prompt (VS Code asks the owner and keeps the answer in
  its own secret storage), so it is reported as such, never as a key; ``envFile`` names a file of
  variables VS Code loads for the server: it is read for keys like a ``.env`` file.
* Claude Code: the permission rules of its settings files — ``permissions.deny`` with
  ``mcp__SERVER``, ``mcp__SERVER__*`` (every tool refused; the server still starts) or
  ``mcp__SERVER__TOOL``, and ``deniedMcpServers`` (the server is not started at all).
* Claude Desktop: desktop extensions (MCPB/DXT). Each has a manifest (``server.mcp_config``: the
  command, arguments and ``env``, with ``${user_config.KEY}`` filled from the owner's answers) and a
  settings file with those answers (``userConfig``) and the app's own switch (``isEnabled``).

Sources: see :mod:`connectors.discovery.clients`. Nothing here starts a server or sends a key.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
from pathlib import Path
from typing import Any

from connectors.discovery import keys as keyfind
from connectors.discovery.clients import Client, ConfigFile
from connectors.discovery.document import Document, Unparseable, parse

INPUT_RE = re.compile(r"\$\{input:([^}]+)\}")
EXTENSION_SCOPE = "extension"


# -- VS Code: prompts and envFile --------------------------------------------------------------------
def asks_for(client: Client, entry: dict, doc: Document) -> tuple[str, ...]:
    """Where an entry refers to a prompt (``${input:ID}``), in the owner's words."""
    if not client.asks_key:
        return ()
    declared = {}
    inputs = doc.get((client.asks_key,))
    if isinstance(inputs, list):
        declared = {i.get("id"): i for i in inputs if isinstance(i, dict)}
    out = []
    places: list[tuple[str, Any]] = [(f"env {k}", v) for k, v in (entry.get("env") or {}).items()]
    places += [(f"header {k}", v) for k, v in (entry.get("headers") or {}).items()]
    places += [(f"argument {i + 1}", v) for i, v in enumerate(entry.get("args") or [])]
    for where, value in places:
        if not isinstance(value, str):
            continue
        for ident in INPUT_RE.findall(value):
            spec = declared.get(ident)
            what = (spec or {}).get("description") or ident
            hidden = " (typed hidden)" if (spec or {}).get("password") else ""
            out.append(
                f"{where}: {client.title} asks you for {what!s}{hidden} and keeps the answer in its own "
                "secret storage: not a key in this file"
                if spec is not None
                else f"{where}: refers to a prompt {ident!r} the file does not declare"
            )
    return tuple(out)


def env_file_path(client: Client, entry: dict, project: str, home: Path) -> tuple[Path | None, str]:
    """The entry's env file as the client resolves it, or (None, why not)."""
    raw = entry.get(client.env_file_key) if client.env_file_key else None
    if not isinstance(raw, str) or not raw.strip():
        return None, ""
    text = raw.replace("${userHome}", str(home))
    if "${workspaceFolder}" in text:
        if not project:
            return None, f"its {client.env_file_key} {raw!r} depends on the open workspace; Breaker cannot tell which"
        text = text.replace("${workspaceFolder}", project)
    if "${" in text:
        return None, f"its {client.env_file_key} {raw!r} uses a variable Breaker cannot fill in"
    path = Path(os.path.expanduser(text))
    if not path.is_absolute():
        path = Path(project or home) / path
    return path, ""


# -- Claude Code: permission rules -----------------------------------------------------------------------
def _rule_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def denied_tools(rules: list[str], server: str) -> list[str]:
    """The tools of ``server`` that ``permissions.deny`` refuses ("*" for every tool)."""
    prefix = f"mcp__{_rule_name(server)}"
    out = []
    for rule in rules:
        if not isinstance(rule, str):
            continue
        if rule in (prefix, f"{prefix}__*"):
            out.append("*")
        elif rule.startswith(prefix + "__"):
            out.append(rule[len(prefix) + 2 :])
    return out


def denied_server(policy: dict, name: str, command: list[str], url: str) -> bool:
    """``deniedMcpServers`` names the server, its command or its URL."""
    for item in policy.get("deniedMcpServers") or []:
        if not isinstance(item, dict):
            continue
        if item.get("serverName") == name:
            return True
        if command and item.get("serverCommand") == command:
            return True
        pattern = item.get("serverUrl")
        if url and isinstance(pattern, str) and fnmatch.fnmatchcase(url, pattern):
            return True
    return False


def policy_paths(
    client: Client, variables_expand, os_name: str, folders: list[Path]
) -> list[tuple[ConfigFile, Path, str]]:
    """Every policy file of ``client``: (spec, path, project folder or "")."""
    out = []
    for spec in client.policy_files:
        if spec.relative:
            out += [(spec, folder / spec.relative, str(folder)) for folder in folders]
        else:
            for template in spec.paths.get(os_name, ()):
                out += [(spec, p, "") for p in variables_expand(template)]
    return out


# -- Claude Desktop: extensions ----------------------------------------------------------------------------
def extension_entry(manifest: dict | None) -> dict:
    server = (manifest or {}).get("server")
    config = server.get("mcp_config") if isinstance(server, dict) else None
    return config if isinstance(config, dict) else {}


PLACEHOLDER_RE = re.compile(r"\$\{([^}]+)\}")


def extension_launch(settings_path: Path, home: Path) -> dict:
    """How Claude Desktop starts an extension: its manifest's ``mcp_config`` with ``${__dirname}``,
    ``${HOME}`` and ``${user_config.KEY}`` (the owner's answer, else the manifest's default) filled in.
    Raises :class:`Unparseable` when the extension cannot be read (keys included: for starting it only)."""
    folder = settings_path.parent.parent
    ext_dir = folder / "Claude Extensions" / settings_path.stem
    settings, problem = read_json(settings_path)
    manifest, problem2 = read_json(ext_dir / "manifest.json")
    if settings is None or manifest is None:
        raise Unparseable(problem or problem2)
    entry = extension_entry(manifest.value)
    if not isinstance(entry.get("command"), str):
        raise Unparseable("its manifest says no command to start")
    answers = settings.get(("userConfig",)) or {}
    declared = manifest.value.get("user_config") or {}

    def value_of(name: str):
        if name == "__dirname":
            return str(ext_dir)
        if name == "HOME":
            return str(home)
        if name.startswith("user_config."):
            key = name.removeprefix("user_config.")
            if key in answers:
                return answers[key]
            spec = declared.get(key)
            return spec.get("default", "") if isinstance(spec, dict) else ""
        return "${" + name + "}"

    def fill(text: str) -> str:
        return PLACEHOLDER_RE.sub(lambda m: str(value_of(m.group(1))), text)

    args: list[str] = []
    for arg in entry.get("args") or []:
        whole = PLACEHOLDER_RE.fullmatch(arg) if isinstance(arg, str) else None
        value = value_of(whole.group(1)) if whole else None
        if isinstance(value, list):  # a multiple-choice answer is several arguments
            args += [str(v) for v in value]
        elif isinstance(arg, str):
            args.append(fill(arg))
    env = {k: fill(v) for k, v in (entry.get("env") or {}).items() if isinstance(v, str)}
    return {"command": fill(entry["command"]), "args": args, "env": env}


def user_config_keys(settings: Document, manifest: dict | None) -> list[tuple[str, keyfind.KeyHit]]:
    """Keys in an extension's answers: by shape or name, or because the manifest marks the field sensitive."""
    declared = (manifest or {}).get("user_config")
    declared = declared if isinstance(declared, dict) else {}
    answers = settings.get(("userConfig",))
    out = []
    if not isinstance(answers, dict):
        return out
    for field_name, value in answers.items():
        if not isinstance(value, str):
            continue
        hits = keyfind.in_named_value(field_name, value)
        spec = declared.get(field_name)
        if not hits and isinstance(spec, dict) and spec.get("sensitive") is True:
            hits = keyfind.in_sensitive(field_name, value)
        out += [(field_name, h) for h in hits]
    return out


def read_json(path: Path) -> tuple[Document | None, str]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except PermissionError:
        return None, f"Breaker may not read {path}"
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"{path} could not be read ({getattr(exc, 'strerror', None) or 'not UTF-8 text'})"
    try:
        doc = parse(text, "json")
    except Unparseable as exc:
        return None, f"Claude Desktop cannot read {path}: {exc}"
    if not isinstance(doc.value, dict):
        return None, f"{path} does not hold an object"
    return doc, ""


def replace(server, **changes):
    return dataclasses.replace(server, **changes)
