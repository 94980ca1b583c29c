"""The MCP clients Breaker knows: where their config files are, where the server map sits in each
file, which keys hold a remote server's URL, and what each client honours for disabling.

Everything about a client is data in :data:`CLIENTS`; the scanner reads the table and knows no
client by name. Path templates use ``{home}``, ``{appdata}``, ``{localappdata}``, ``{xdg_config}``,
``{claude_config_dir}`` (where ``.claude.json`` is), ``{claude_dir}`` (``~/.claude`` or
``$CLAUDE_CONFIG_DIR``), ``{codex_home}`` and ``{root}`` (the file-system root, so tests can plant
"system" files under a temporary folder); a ``*`` is a glob.

Sources (the clients' own documentation):
- Claude Desktop: https://modelcontextprotocol.io/quickstart/user and
  https://support.claude.com/en/articles/10949351 (MSIX installs keep the file under
  ``%LOCALAPPDATA%\\Packages\\Claude_*\\LocalCache\\Roaming\\Claude``). Desktop extensions
  (MCPB, formerly DXT): the manifest's ``server.mcp_config`` and ``user_config`` are specified in
  https://github.com/anthropics/mcpb/blob/main/MANIFEST.md; Claude Desktop unpacks each into
  ``Claude Extensions/<id>/`` and keeps the owner's answers and its on/off switch (``isEnabled``)
  in ``Claude Extensions Settings/<id>.json`` (not documented by Anthropic: the shape the app writes).
- Claude Code: https://docs.anthropic.com/en/docs/claude-code/mcp and
  https://docs.anthropic.com/en/docs/claude-code/settings (``permissions.deny`` with
  ``mcp__server``, ``mcp__server__*`` or ``mcp__server__tool`` in ``~/.claude/settings.json``,
  ``<project>/.claude/settings.json``, ``settings.local.json`` and ``managed-settings.json``;
  ``disabledMcpjsonServers``, managed-mcp.json); ``deniedMcpServers``:
  https://code.claude.com/docs/en/managed-mcp.
- Cursor: https://docs.cursor.com/context/model-context-protocol
- VS Code: https://code.visualstudio.com/docs/copilot/chat/mcp-servers (JSONC, ``servers``) and
  https://code.visualstudio.com/docs/copilot/reference/mcp-configuration (``inputs`` with
  ``${input:ID}``: VS Code asks and keeps the answer in its secret storage; ``envFile``: a file of
  variables loaded for the server).
- Windsurf: https://docs.windsurf.com/windsurf/cascade/mcp (``serverUrl``, ``disabled``).
- Gemini CLI: https://github.com/google-gemini/gemini-cli/blob/main/docs/get-started/configuration.md
  (``httpUrl``/``url``, ``excludeTools``, ``mcp.excluded``).
- Codex: https://github.com/openai/codex/blob/main/docs/config.md (``[mcp_servers.<name>]``,
  ``enabled``, ``disabled_tools``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

LINUX, MACOS, WINDOWS = "linux", "macos", "windows"

Path = tuple[str, ...]  # keys from the document's root; "*" = every key at that level (a project path)


@dataclass(frozen=True)
class ServerMap:
    """Where a file keeps servers: ``path`` to an object of name → entry."""

    path: Path
    scope: str  # user | local | project | managed


@dataclass(frozen=True)
class ConfigFile:
    """One file a client reads. ``paths`` per OS for user/managed files; ``relative`` for project files."""

    scope: str  # user | project | managed
    syntax: str  # json (the client uses JSON.parse) | jsonc (comments and trailing commas) | toml
    maps: tuple[ServerMap, ...]
    paths: dict[str, tuple[str, ...]] = field(default_factory=dict)
    relative: str = ""  # inside a project folder
    shared: bool = False  # a general settings file: no server map in it is normal, not a finding


@dataclass(frozen=True)
class Client:
    id: str
    title: str
    files: tuple[ConfigFile, ...]
    url_keys: tuple[str, ...]  # keys that hold a remote server's URL, in the order the client tries them
    installed: dict[str, tuple[str, ...]]  # folders whose presence means the client is installed
    restart: str  # what the owner does after an edit
    # Disabling as the client honours it:
    disabled_flag: tuple[str, object] | None = None  # entry key and the value meaning "off"
    disabled_lists: tuple[Path, ...] = ()  # lists of server names in the same file (may contain "{project}")
    # Blocking tools (draft-only / read-only): how, or why it cannot.
    tool_block: str = ""  # permissions.deny | disabledTools | excludeTools | disabled_tools | ""
    tool_block_note: str = ""
    sse_keys: tuple[str, ...] = ()  # URL keys that mean SSE rather than streamable HTTP
    header_keys: tuple[str, ...] = ("headers",)
    env_file_key: str = ""  # an entry key naming a file of variables the client loads for the server
    asks_key: str = ""  # where the client's prompts are declared (``${input:ID}`` refers to one)
    # Files holding permission rules (Claude Code's ``permissions.deny`` and ``deniedMcpServers``).
    policy_files: tuple[ConfigFile, ...] = ()
    extension_dirs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # Claude Desktop extensions


def _every(path: str) -> dict[str, tuple[str, ...]]:
    return {LINUX: (path,), MACOS: (path,), WINDOWS: (path,)}


CLIENTS: tuple[Client, ...] = (
    Client(
        id="claude-desktop",
        title="Claude Desktop",
        files=(
            ConfigFile(
                scope="user",
                syntax="json",
                maps=(ServerMap(("mcpServers",), "user"),),
                paths={
                    MACOS: ("{home}/Library/Application Support/Claude/claude_desktop_config.json",),
                    WINDOWS: (
                        "{appdata}/Claude/claude_desktop_config.json",
                        "{localappdata}/Packages/Claude_*/LocalCache/Roaming/Claude/claude_desktop_config.json",
                    ),
                    LINUX: ("{xdg_config}/Claude/claude_desktop_config.json",),
                },
            ),
        ),
        url_keys=("url",),
        installed={
            MACOS: ("{home}/Library/Application Support/Claude",),
            WINDOWS: ("{appdata}/Claude", "{localappdata}/Packages/Claude_*"),
            LINUX: ("{xdg_config}/Claude",),
        },
        restart="quit and reopen Claude Desktop",
        tool_block_note="Claude Desktop's file has no per-tool block: Breaker can only take the whole server out",
        extension_dirs={
            MACOS: ("{home}/Library/Application Support/Claude",),
            WINDOWS: ("{appdata}/Claude", "{localappdata}/Packages/Claude_*/LocalCache/Roaming/Claude"),
            LINUX: ("{xdg_config}/Claude",),
        },
    ),
    Client(
        id="claude-code",
        title="Claude Code",
        files=(
            ConfigFile(
                scope="user",
                syntax="json",
                maps=(ServerMap(("mcpServers",), "user"), ServerMap(("projects", "*", "mcpServers"), "local")),
                paths=_every("{claude_config_dir}/.claude.json"),
                shared=True,
            ),
            ConfigFile(
                scope="project", syntax="json", maps=(ServerMap(("mcpServers",), "project"),), relative=".mcp.json"
            ),
            ConfigFile(
                scope="managed",
                syntax="json",
                maps=(ServerMap(("mcpServers",), "managed"),),
                paths={
                    LINUX: ("{root}etc/claude-code/managed-mcp.json",),
                    MACOS: ("{root}Library/Application Support/ClaudeCode/managed-mcp.json",),
                    WINDOWS: ("{root}Program Files/ClaudeCode/managed-mcp.json",),
                },
            ),
        ),
        url_keys=("url",),
        installed=_every("{claude_dir}"),
        restart="start a new Claude Code session (or run /mcp)",
        disabled_lists=(
            ("projects", "{project}", "disabledMcpServers"),
            ("projects", "{project}", "disabledMcpjsonServers"),
        ),
        tool_block="permissions.deny",
        policy_files=(
            ConfigFile(scope="user", syntax="json", maps=(), paths=_every("{claude_dir}/settings.json")),
            ConfigFile(scope="project", syntax="json", maps=(), relative=".claude/settings.json"),
            ConfigFile(scope="project", syntax="json", maps=(), relative=".claude/settings.local.json"),
            ConfigFile(
                scope="managed",
                syntax="json",
                maps=(),
                paths={
                    LINUX: ("{root}etc/claude-code/managed-settings.json",),
                    MACOS: ("{root}Library/Application Support/ClaudeCode/managed-settings.json",),
                    WINDOWS: ("{root}Program Files/ClaudeCode/managed-settings.json",),
                },
            ),
        ),
    ),
    Client(
        id="cursor",
        title="Cursor",
        files=(
            ConfigFile(
                scope="user",
                syntax="jsonc",
                maps=(ServerMap(("mcpServers",), "user"),),
                paths=_every("{home}/.cursor/mcp.json"),
            ),
            ConfigFile(
                scope="project",
                syntax="jsonc",
                maps=(ServerMap(("mcpServers",), "project"),),
                relative=".cursor/mcp.json",
            ),
        ),
        url_keys=("url",),
        installed=_every("{home}/.cursor"),
        restart="restart Cursor (or toggle the server under Settings › MCP)",
        tool_block_note="Cursor's file has no per-tool block: Breaker can only take the whole server out",
    ),
    Client(
        id="vscode",
        title="VS Code",
        files=(
            ConfigFile(
                scope="user",
                syntax="jsonc",
                maps=(ServerMap(("servers",), "user"),),
                paths={
                    LINUX: ("{xdg_config}/Code/User/mcp.json", "{xdg_config}/Code - Insiders/User/mcp.json"),
                    MACOS: (
                        "{home}/Library/Application Support/Code/User/mcp.json",
                        "{home}/Library/Application Support/Code - Insiders/User/mcp.json",
                    ),
                    WINDOWS: ("{appdata}/Code/User/mcp.json", "{appdata}/Code - Insiders/User/mcp.json"),
                },
            ),
            ConfigFile(
                scope="user",
                syntax="jsonc",
                maps=(ServerMap(("mcp", "servers"), "user"),),
                paths={
                    LINUX: ("{xdg_config}/Code/User/settings.json",),
                    MACOS: ("{home}/Library/Application Support/Code/User/settings.json",),
                    WINDOWS: ("{appdata}/Code/User/settings.json",),
                },
                shared=True,
            ),
            ConfigFile(
                scope="project", syntax="jsonc", maps=(ServerMap(("servers",), "project"),), relative=".vscode/mcp.json"
            ),
        ),
        url_keys=("url",),
        installed={
            LINUX: ("{xdg_config}/Code", "{xdg_config}/Code - Insiders"),
            MACOS: ("{home}/Library/Application Support/Code",),
            WINDOWS: ("{appdata}/Code",),
        },
        restart="restart the server from VS Code's MCP list (or reload the window)",
        tool_block_note="VS Code's file has no per-tool block: Breaker can only take the whole server out",
        env_file_key="envFile",
        asks_key="inputs",
    ),
    Client(
        id="windsurf",
        title="Windsurf",
        files=(
            ConfigFile(
                scope="user",
                syntax="json",
                maps=(ServerMap(("mcpServers",), "user"),),
                paths=_every("{home}/.codeium/windsurf/mcp_config.json"),
            ),
        ),
        url_keys=("serverUrl", "url"),
        installed=_every("{home}/.codeium/windsurf"),
        restart="press refresh in Windsurf's MCP panel (or restart Windsurf)",
        disabled_flag=("disabled", True),
        tool_block="disabledTools",
    ),
    Client(
        id="gemini",
        title="Gemini CLI",
        files=(
            ConfigFile(
                scope="user",
                syntax="jsonc",
                maps=(ServerMap(("mcpServers",), "user"),),
                paths=_every("{home}/.gemini/settings.json"),
                shared=True,
            ),
            ConfigFile(
                scope="project",
                syntax="jsonc",
                maps=(ServerMap(("mcpServers",), "project"),),
                relative=".gemini/settings.json",
                shared=True,
            ),
            ConfigFile(
                scope="managed",
                syntax="jsonc",
                maps=(ServerMap(("mcpServers",), "managed"),),
                paths={
                    LINUX: ("{root}etc/gemini-cli/settings.json",),
                    MACOS: ("{root}Library/Application Support/GeminiCli/settings.json",),
                    WINDOWS: ("{root}ProgramData/gemini-cli/settings.json",),
                },
                shared=True,
            ),
        ),
        url_keys=("httpUrl", "url"),
        sse_keys=("url",),
        installed=_every("{home}/.gemini"),
        restart="restart Gemini CLI (or run /mcp refresh)",
        disabled_lists=(("mcp", "excluded"), ("excludeMCPServers",)),
        tool_block="excludeTools",
    ),
    Client(
        id="codex",
        title="Codex",
        files=(
            ConfigFile(
                scope="user",
                syntax="toml",
                maps=(ServerMap(("mcp_servers",), "user"),),
                paths=_every("{codex_home}/config.toml"),
                shared=True,
            ),
            ConfigFile(
                scope="project",
                syntax="toml",
                maps=(ServerMap(("mcp_servers",), "project"),),
                relative=".codex/config.toml",
                shared=True,
            ),
        ),
        url_keys=("url",),
        installed=_every("{codex_home}"),
        restart="start a new Codex session",
        disabled_flag=("enabled", False),
        tool_block="disabled_tools",
        header_keys=("http_headers", "headers"),
    ),
)

BY_ID: dict[str, Client] = {c.id: c for c in CLIENTS}
