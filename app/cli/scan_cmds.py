"""``breaker scan [--folder DIR]… [--json]``: the MCP servers and keys already on this machine.

Reads the config files of the MCP clients Breaker knows, the ``.env`` files of the folders given
and the shell profiles. Never starts a server, never sends a key; keys are shown masked, joined by
fingerprint. Exit code 1 when a key sits in a plain file or something could not be read.
"""

from __future__ import annotations

import argparse

from app.cli.context import CliContext
from app.cli.output import clip, note, print_json, table

SERVER_HEADERS = ("CLIENT", "SCOPE", "SERVER", "RUNS", "STATE", "KEYS")
KEY_HEADERS = ("KEY", "PROVIDER", "WIRED IN")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "scan",
        help="find the MCP servers and keys already on this machine (reads files only)",
        description="Read the MCP configs of Claude Desktop, Claude Code, Cursor, VS Code, Windsurf, "
        "Gemini CLI and Codex, the .env files in the folders you name and your shell profiles. "
        "Nothing is started and no key is sent anywhere; keys are shown masked. "
        "Exit code 1 when a key sits in a plain file or a file could not be read.",
    )
    p.add_argument(
        "--folder",
        action="append",
        default=[],
        metavar="DIR",
        help="also read DIR's .env files and project MCP configs (repeatable)",
    )
    p.add_argument("--no-profiles", action="store_true", help="do not read the shell profiles")
    p.add_argument("--json", action="store_true", help="print the breaker.scan/1 JSON document")
    p.set_defaults(run=run_scan)


def run_scan(args: argparse.Namespace, ctx: CliContext) -> int:
    from app.services import discovery

    report = discovery.run_scan(ctx.services, args.folder, profiles=not args.no_profiles)
    if args.json:
        print_json(report.to_json(), ctx.stdout)
    else:
        _print(report, ctx)
    return 1 if report.plain_keys() or report.problems else 0


def _print(report, ctx: CliContext) -> None:
    out = ctx.stdout
    short = {g.fingerprint: f"••••{g.last4}" if g.last4 else "••••" for g in report.keys}
    if report.servers:
        rows = []
        for s in report.servers:
            runs = f"{s.command} {s.package}".strip() if s.transport == "stdio" else f"{s.transport} {s.url}"
            state = "secured (breaker exec)" if s.secured_by else ("off: " + s.disabled_by if s.disabled else "on")
            keys = ", ".join(short[fp] for fp in report.server_keys(s)) or "-"
            rows.append([s.client_title, s.scope, s.name, clip(runs, 50), state, keys])
        table(SERVER_HEADERS, rows, out)
    else:
        out.write("No MCP servers found.\n")
    if report.keys:
        out.write("\n")
        rows = []
        for g in report.keys:
            first = g.places[0]
            where = f"{first.client_title}: {first.server or first.variable} ({first.file}:{first.line or '?'})"
            more = f" and {len(g.places) - 1} more" if len(g.places) > 1 else ""
            rows.append([short[g.fingerprint], g.provider or "unrecognised", where + more])
        table(KEY_HEADERS, rows, out)
    for p in report.problems:
        note(f"breaker: {p.message}", ctx.stderr)
    summary = f"{len(report.servers)} MCP servers, {len(report.keys)} keys in plain files"
    if report.problems:
        summary += f", {len(report.problems)} problems (above)"
    note(summary + ". Nothing was started and no key was sent.", ctx.stderr)
