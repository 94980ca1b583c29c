"""``breaker scan``, ``breaker secure`` and ``breaker mcp-probe``: the connectors already on this machine.

``breaker scan`` reads the config files of the MCP clients Breaker knows, the ``.env`` files of the
folders given (remembered for next time) and the shell profiles. It never starts a server and never
sends a key; keys are shown masked, joined by fingerprint. What it finds is kept: each key Breaker
does not hold yet becomes a connector tagged ``unreviewed`` (its key copied into the keyring), and a
second scan updates what it kept and says what vanished. ``--dry-run`` (or ``--read-only``) only looks.
Exit code 1 when a key sits in a plain file or something could not be read.

``breaker secure NAME`` takes NAME's key out of the plain files (preview first); ``--undo`` puts
them back byte for byte. ``breaker mcp-probe SERVER`` starts one server (opt-in) and lists its tools.
"""

from __future__ import annotations

import argparse

from app.cli.context import CliContext
from app.cli.output import clip, error_line, note, print_json, table
from app.cli.parser import UsageError

SERVER_HEADERS = ("CLIENT", "SCOPE", "SERVER", "RUNS", "STATE", "KEYS")
KEY_HEADERS = ("KEY", "PROVIDER", "CONNECTOR", "WIRED IN")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "scan",
        help="find the MCP servers and keys already on this machine (reads files only)",
        description="Read the MCP configs of Claude Desktop, Claude Code, Cursor, VS Code, Windsurf, "
        "Gemini CLI and Codex, the .env files in the folders you name (remembered) and your shell "
        "profiles. Nothing is started and no key is sent anywhere; keys are shown masked. Keys Breaker "
        "does not hold yet become unreviewed connectors (copied into the keyring; the files are not "
        "changed). Exit code 1 when a key sits in a plain file or a file could not be read.",
    )
    p.add_argument(
        "--folder",
        action="append",
        default=[],
        metavar="DIR",
        help="also read DIR's .env files and project MCP configs (remembered; repeatable)",
    )
    p.add_argument("--forget", action="append", default=[], metavar="DIR", help="stop reading DIR in later scans")
    p.add_argument("--no-profiles", action="store_true", help="do not read the shell profiles")
    p.add_argument("--dry-run", action="store_true", help="only look: keep nothing, add no connector")
    p.add_argument("--json", action="store_true", help="print the breaker.scan/1 JSON document")
    p.set_defaults(run=run_scan)

    s = subparsers.add_parser(
        "secure",
        help="take a found key out of its plain files: into the keyring, the entry launched via breaker exec",
        description="Show the exact change to each file where NAME's key sits in plain text, then make it: "
        "the key stays only in the keyring, an MCP entry is rewritten to start through `breaker exec`, a "
        ".env or profile line becomes a note on how to get the value from Breaker. --undo puts the files "
        "back byte for byte. Without --yes, asks (or, without a terminal, only shows the preview).",
    )
    s.add_argument("name", metavar="NAME", help="the connector (see `breaker list unreviewed`)")
    s.add_argument("--undo", action="store_true", help="put back what Breaker changed for NAME")
    s.add_argument("--yes", action="store_true", help="make the change without asking")
    s.add_argument("--json", action="store_true", help="print the plans (previews masked) as JSON")
    s.set_defaults(run=run_secure)

    m = subparsers.add_parser(
        "mcp-probe",
        help="start one found MCP server (opt-in) and list its tools with their levels",
        description="Probing starts the server's command (or reaches its URL) with its configured "
        "environment and headers, asks initialize and tools/list, and classifies each tool from its "
        "annotations and name. The server's level is its most powerful tool's.",
    )
    m.add_argument("server", metavar="SERVER", help="the server's name as `breaker scan` shows it")
    m.add_argument("--client", metavar="CLIENT", help="which client's entry, when several share the name")
    m.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the server (default 30)")
    m.add_argument("--json", action="store_true", help="print the result as JSON")
    m.set_defaults(run=run_mcp_probe)

    for command, helptext in (
        ("mcp-disable", "turn a found MCP server off in its client's config (Breaker keeps the entry)"),
        ("mcp-enable", "turn a found MCP server back on (its entry put back as it was)"),
        ("mcp-limit", "block a found MCP server's tools above draft-only or read-only, where its client can"),
    ):
        w = subparsers.add_parser(
            command,
            help=helptext,
            description=helptext + ". Each edit keeps a timestamped backup, is written atomically with the "
            "file's comments and key order kept, and is read back to check it held. The client must be "
            "restarted to see it (Breaker says how).",
        )
        w.add_argument("server", metavar="SERVER", help="the server's name as `breaker scan` shows it")
        w.add_argument("--client", metavar="CLIENT", help="which client's entry, when several share the name")
        if command == "mcp-limit":
            w.add_argument("--mode", required=True, choices=("draft-only", "read-only"), help="the ceiling to keep")
        w.add_argument("--json", action="store_true", help="print the result as JSON")
        w.set_defaults(run=run_mcp_switch, mcp_command=command)


def run_scan(args: argparse.Namespace, ctx: CliContext) -> int:
    from app.services import discovery, discovery_store

    dry = args.dry_run or ctx.read_only
    if args.forget:
        if dry:
            raise UsageError("--forget changes what Breaker remembers; it is refused with --dry-run/--read-only")
        discovery_store.forget_folders(ctx.services, args.forget)
    folders = list(args.folder)
    if folders and not dry:
        discovery_store.remember_folders(ctx.services, folders)
    folders = sorted({*folders, *discovery_store.remembered_folders(ctx.services)})
    report = discovery.run_scan(ctx.services, folders, profiles=not args.no_profiles)
    summary = None if dry else discovery_store.record(ctx.services, report)
    if args.json:
        doc = report.to_json()
        doc["recorded"] = summary.to_json() if summary is not None else None
        print_json(doc, ctx.stdout)
    else:
        _print(report, ctx)
        _print_summary(summary, ctx)
    return 1 if report.plain_keys() or report.problems or (summary and summary.failed) else 0


def _print(report, ctx: CliContext) -> None:
    from app.services import discovery

    out = ctx.stdout
    short = {g.fingerprint: f"••••{g.last4}" if g.last4 else "••••" for g in report.keys}
    if report.servers:
        rows = []
        for s in report.servers:
            runs = f"{s.command} {s.package}".strip() if s.transport == "stdio" else f"{s.transport} {s.url}"
            state = "secured (breaker exec)" if s.secured_by else ("off: " + s.disabled_by if s.disabled else "on")
            if s.blocked_tools and not s.disabled:
                state += ", " + ("every tool refused" if "*" in s.blocked_tools else f"{len(s.blocked_tools)} refused")
            keys = ", ".join(short[fp] for fp in report.server_keys(s)) or "-"
            rows.append([s.client_title, s.scope, s.name, clip(runs, 50), state, keys])
        table(SERVER_HEADERS, rows, out)
        for line in (n for s in report.servers for n in discovery.server_notes(s)):
            out.write(f"  {line}\n")
    else:
        out.write("No MCP servers found.\n")
    if report.keys:
        out.write("\n")
        rows = []
        for g in report.keys:
            first = g.places[0]
            where = f"{first.client_title}: {first.server or first.variable} ({first.file}:{first.line or '?'})"
            more = f" and {len(g.places) - 1} more" if len(g.places) > 1 else ""
            rows.append([short[g.fingerprint], g.provider or "unrecognised", g.connector or "-", where + more])
        table(KEY_HEADERS, rows, out)
    for p in report.problems:
        note(f"breaker: {p.message}", ctx.stderr)
    summary = f"{len(report.servers)} MCP servers, {len(report.keys)} keys in plain files"
    if report.problems:
        summary += f", {len(report.problems)} problems (above)"
    note(summary + ". Nothing was started and no key was sent.", ctx.stderr)


def _print_summary(summary, ctx: CliContext) -> None:
    if summary is None:
        note("Dry run: nothing was kept.", ctx.stderr)
        return
    if summary.new_connectors:
        note(
            f"New unreviewed connectors (keys copied into the keyring; the files still hold them): "
            f"{', '.join(summary.new_connectors)}. Take a key out of its files with `breaker secure NAME`.",
            ctx.stderr,
        )
    for line in summary.failed:
        note(f"breaker: not imported: {line}", ctx.stderr)
    for gone in summary.vanished_servers:
        note(f"Gone since the last scan: server {gone}", ctx.stderr)
    for gone in summary.vanished_places:
        note(f"Gone since the last scan: key at {gone}", ctx.stderr)


def run_secure(args: argparse.Namespace, ctx: CliContext) -> int:
    from app.services import secure

    ctx.require_writable("secure")
    if args.undo:
        try:
            files = secure.undo_secure(ctx.services, args.name)
        except secure.SecureError as exc:
            error_line(str(exc), ctx.stderr)
            return 1
        for f in files:
            note(f"Put back as it was: {f}", ctx.stderr)
        return 0
    try:
        plans = secure.plan_secure(ctx.services, args.name)
    except secure.SecureError as exc:
        error_line(str(exc), ctx.stderr)
        return 1
    if args.json and not args.yes:
        print_json({"schema": "breaker.secure/1", "plans": [p.to_json() for p in plans]}, ctx.stdout)
        return 0 if any(p.ok for p in plans) else 1
    for p in plans:
        if p.ok:
            ctx.stdout.write(p.preview if p.preview.endswith("\n") else p.preview + "\n")
        else:
            note(f"breaker: {p.where}: left as it is: {p.refusal}", ctx.stderr)
    doable = [p for p in plans if p.ok]
    if not doable:
        return 1
    if not args.yes:
        if not ctx.stdin_is_terminal():
            note("Nothing was changed: add --yes to make the change shown above.", ctx.stderr)
            return 1
        ctx.stderr.write(f"Make {len(doable)} change(s) shown above? [y/N] ")
        ctx.stderr.flush()
        if ctx.stdin.readline().strip().lower() not in ("y", "yes"):
            note("Nothing was changed.", ctx.stderr)
            return 1
    failed = 0
    for p in doable:
        try:
            secure.apply_secure(ctx.services, p)
            note(f"Secured {p.where}: {p.restart}. Undo: breaker secure {args.name} --undo", ctx.stderr)
        except secure.SecureError as exc:
            failed += 1
            error_line(f"{p.where}: {exc}", ctx.stderr)
    return 1 if failed or len(doable) < len(plans) else 0


def run_mcp_probe(args: argparse.Namespace, ctx: CliContext) -> int:
    from app.services import mcp_probe

    try:
        result = mcp_probe.probe_server(ctx.services, args.server, client=args.client, timeout=args.timeout)
    except mcp_probe.ProbeRefused as exc:
        error_line(str(exc), ctx.stderr)
        return 1
    if args.json:
        print_json({"schema": "breaker.mcp-probe/1", **result.to_json()}, ctx.stdout)
    else:
        if result.outcome != "ok":
            error_line(f"{args.server}: {result.outcome}: {result.error}", ctx.stderr)
        else:
            table(("TOOL", "LEVEL", "WHY"), [[t.name, t.level.label, t.reason] for t in result.tools], ctx.stdout)
            lvl = result.level.label if result.level is not None else "none (no tools)"
            note(f"{args.server}: {len(result.tools)} tools; its level is {lvl}.", ctx.stderr)
    return 0 if result.outcome == "ok" else 1


def run_mcp_switch(args: argparse.Namespace, ctx: CliContext) -> int:
    from app.services import mcp_switch
    from connectors.base import Mode

    ctx.require_writable(args.mcp_command)
    try:
        if args.mcp_command == "mcp-disable":
            result = mcp_switch.disable(ctx.services, args.server, client=args.client)
        elif args.mcp_command == "mcp-enable":
            result = mcp_switch.enable(ctx.services, args.server, client=args.client)
        else:
            result = mcp_switch.limit(ctx.services, args.server, Mode(args.mode), client=args.client)
    except mcp_switch.SwitchRefused as exc:
        error_line(str(exc), ctx.stderr)
        return 1
    if args.json:
        print_json({"schema": "breaker.mcp-switch/1", **result.to_json()}, ctx.stdout)
    else:
        note(f"{result.server} ({result.client}): {result.how}. Then: {result.restart}.", ctx.stderr)
    return 0 if result.verified else 1
