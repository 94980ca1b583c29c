"""A temporary home with realistic config files for every MCP client Breaker knows, .env files and a
shell profile. Every key is a sandbox-looking key of its provider's shape; the canary appears in one
config file only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from connectors.discovery import Machine

GITHUB = "ghp_SANDBOX" + "a1B2c3D4e5" * 3 + "XYZW9"
GITHUB_2 = "ghp_SANDBOX" + "Z9y8X7w6V5" * 3 + "QRST1"
OPENAI = "sk-proj-SANDBOX" + "Ab12Cd34Ef" * 2 + "T3BlbkFJ" + "Gh56Ij78Kl" * 2
SLACK = "xoxb-1234567890-1234567890-SANDBOXslackBot42"
STRIPE = "sk_test_SANDBOX" + "0123456789abcdef" * 2
NOTION = "secret_SANDBOX" + "n0t10nK3y" * 4
ANTHROPIC = "sk-ant-api03-SANDBOX" + "a" * 86 + "AA"
CANARY = "sk-proj-SANDBOXCANARY" + "Zz99Yy88Xx" * 2 + "T3BlbkFJ" + "Ww77Vv66Uu" * 2
DB_PASSWORD = "SANDBOXdbPassw0rd"
QUERY_KEY = "SANDBOXqueryKey123456"
LOOSE_SECRET = "SANDBOXunrecognised-secret-987"


@dataclass
class Home:
    machine: Machine
    project: Path
    files: dict[str, Path]


CLAUDE_DESKTOP = {
    "mcpServers": {
        "github": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-github"],
            "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": GITHUB},
        },
        "postgres": {
            "command": "npx",
            "args": [
                "-y",
                "@modelcontextprotocol/server-postgres",
                f"postgresql://app:{DB_PASSWORD}@db.internal:5432/app",
            ],
        },
        "broken-entry": "not an object",
    },
    "preferences": {"theme": "dark"},
}

VSCODE = """{
  // MCP servers for every workspace
  "inputs": [{"type": "promptString", "id": "k", "description": "key", "password": true}],
  "servers": {
    "stripe": {
      "type": "stdio",
      "command": "npx",
      "args": ["-y", "@stripe/mcp", "--api-key=__STRIPE__"], // pasted in a hurry
    },
    "safe": {"type": "stdio", "command": "node", "args": ["server.js"], "env": {"K": "${input:k}"}},
  },
}
""".replace("__STRIPE__", STRIPE)

CURSOR = """{
  /* remote servers */
  "mcpServers": {
    "notion": {"url": "https://mcp.notion.example/mcp", "headers": {"Authorization": "Bearer __NOTION__"}},
    "search": {"url": "https://search.example/sse?api_key=__QUERY_KEY__&region=eu"}
  }
}
""".replace("__NOTION__", NOTION).replace("__QUERY_KEY__", QUERY_KEY)

WINDSURF = {
    "mcpServers": {
        "slack": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-slack"],
            "env": {"SLACK_BOT_TOKEN": SLACK},
        },
        "old-github": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-github"],
            "env": {"GITHUB_TOKEN": GITHUB},
            "disabled": True,
        },
        "remote": {"serverUrl": "https://remote.example/mcp"},
    }
}

GEMINI = """{
  // Gemini CLI settings
  "theme": "Default",
  "mcp": {"excluded": ["anthropic-tools"]},
  "mcpServers": {
    "openai-tools": {"command": "uvx", "args": ["openai-mcp"], "env": {"OPENAI_API_KEY": "__CANARY__"}, "excludeTools": []},
    "anthropic-tools": {"httpUrl": "https://anthropic-mcp.example/mcp", "headers": {"x-api-key": "__ANTHROPIC__"}}
  }
}
""".replace("__CANARY__", CANARY).replace("__ANTHROPIC__", ANTHROPIC)

CODEX = """# Codex config
model = "o4-mini"

[mcp_servers.github]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-github"]
env = { GITHUB_PERSONAL_ACCESS_TOKEN = "__GITHUB_2__" }

[mcp_servers.docs]
command = "docs-mcp"
enabled = false
""".replace("__GITHUB_2__", GITHUB_2)


def make_home(root: Path, *, project_in_home: bool = False) -> Home:
    home = root / "home"
    project = (home if project_in_home else root) / "work" / "shop"
    (project / ".cursor").mkdir(parents=True)
    files: dict[str, Path] = {}

    def put(key: str, path: Path, content) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2) + "\n")
        files[key] = path

    put("claude-desktop", home / ".config/Claude/claude_desktop_config.json", CLAUDE_DESKTOP)
    put(
        "claude-code",
        home / ".claude.json",
        {
            "numStartups": 12,
            "mcpServers": {"sentry": {"type": "http", "url": "https://mcp.sentry.example/mcp"}},
            "projects": {
                str(project): {
                    "mcpServers": {
                        "local-openai": {
                            "command": "python",
                            "args": ["-m", "oa_mcp"],
                            "env": {"OPENAI_API_KEY": OPENAI},
                        }
                    },
                    "disabledMcpServers": [],
                    "disabledMcpjsonServers": ["team-github"],
                }
            },
        },
    )
    (home / ".claude").mkdir(parents=True)
    put(
        "project-mcp",
        project / ".mcp.json",
        {
            "mcpServers": {
                "team-github": {
                    "command": "npx",
                    "args": ["@modelcontextprotocol/server-github"],
                    "env": {"GITHUB_TOKEN": "${GITHUB_TOKEN}"},
                }
            }
        },
    )
    put("vscode", home / ".config/Code/User/mcp.json", VSCODE)
    put("cursor", home / ".cursor/mcp.json", CURSOR)
    put("cursor-project", project / ".cursor/mcp.json", '{\n  "mcpServers": {\n    "broken": {"command": "x",,}\n')
    put("windsurf", home / ".codeium/windsurf/mcp_config.json", WINDSURF)
    put("gemini", home / ".gemini/settings.json", GEMINI)
    put("codex", home / ".codex/config.toml", CODEX)
    put(
        "env",
        project / ".env",
        f"# shop secrets\nSTRIPE_SECRET_KEY={STRIPE}\nDEBUG=true\nSESSION_SECRET='{LOOSE_SECRET}'\n",
    )
    put(
        "profile",
        home / ".bashrc",
        f"alias ll='ls -l'\nexport OPENAI_API_KEY=\"{OPENAI}\"\nexport PATH=$PATH:/opt/bin\n",
    )
    machine = Machine(home=home, os="linux", env={}, root=root / "sysroot")
    return Home(machine, project, files)


# -- beside the server maps: a Claude Desktop extension, VS Code prompts and envFile, Claude Code rules --
SENDGRID = "SG." + "SANDBOXsg0123456789abc" + "." + "SANDBOXsendgridKey0123456789abcdefghijklmno"
EXTENSION_KEY = "acme_live_SANDBOX7f3k9q2m8x4w"
LICENSE = "LIC-SANDBOX-55aa77bb99cc"  # no provider shape, no secret-like name: the manifest marks it sensitive
EXTENSION_ID = "ant.dir.gh.acme.invoices"

EXTENSION_MANIFEST = {
    "manifest_version": "0.3",
    "name": "acme-invoices",
    "display_name": "Acme Invoices",
    "version": "1.2.0",
    "description": "Invoices from Acme",
    "author": {"name": "Acme"},
    "server": {
        "type": "node",
        "entry_point": "server/index.js",
        "mcp_config": {
            "command": "node",
            "args": ["${__dirname}/server/index.js"],
            "env": {"ACME_API_KEY": "${user_config.api_key}", "ACME_LICENSE": "${user_config.license}"},
        },
    },
    "user_config": {
        "api_key": {"type": "string", "title": "API key", "sensitive": True, "required": True},
        "license": {"type": "string", "title": "Licence", "sensitive": True},
        "region": {"type": "string", "title": "Region", "default": "eu"},
    },
}

VSCODE_PROJECT = """{
  // this project's servers
  "inputs": [
    {"type": "promptString", "id": "crm-key", "description": "CRM API key", "password": true}
  ],
  "servers": {
    "crm": {"type": "stdio", "command": "npx", "args": ["-y", "@acme/crm-mcp"], "env": {"CRM_API_KEY": "${input:crm-key}"}},
    "mailer": {"type": "stdio", "command": "node", "args": ["mailer.js"], "envFile": "${workspaceFolder}/config/mailer.env"},
    "reports": {"type": "stdio", "command": "node", "args": ["reports.js"], "envFile": "${workspaceFolder}/config/missing.env"}
  }
}
"""


def add_extras(h: Home) -> Home:
    """Plant what clients keep beside their server maps (see connectors/discovery/extras.py)."""
    home, project = h.machine.home, h.project

    def put(key: str, path: Path, content) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2) + "\n")
        h.files[key] = path

    claude = home / ".config/Claude"
    put("extension-manifest", claude / "Claude Extensions" / EXTENSION_ID / "manifest.json", EXTENSION_MANIFEST)
    put(
        "extension",
        claude / "Claude Extensions Settings" / f"{EXTENSION_ID}.json",
        {"isEnabled": True, "userConfig": {"api_key": EXTENSION_KEY, "license": LICENSE, "region": "eu"}},
    )
    put("extension-off", claude / "Claude Extensions Settings" / "local.dxt.old-notes.json", {"isEnabled": False})
    put("vscode-project", project / ".vscode/mcp.json", VSCODE_PROJECT)
    put("mailer-env", project / "config/mailer.env", f"# mailer\nSENDGRID_API_KEY={SENDGRID}\nFROM=shop@example.com\n")
    put(
        "claude-settings",
        home / ".claude/settings.json",
        {"permissions": {"allow": ["mcp__sentry"], "deny": ["mcp__local-openai__delete_file", "mcp__sentry__*"]}},
    )
    put(
        "claude-managed-settings",
        h.machine.root / "etc/claude-code/managed-settings.json",
        {"deniedMcpServers": [{"serverUrl": "https://mcp.sentry.example/*"}]},
    )
    return h
