"""``breaker export --format json|csv|md [--output FILE]``: the inventory for a partner or an accountant."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.context import CliContext
from app.cli.output import note
from app.cli.parser import UsageError
from app.services.export import FORMATS
from app.services.tuning import no_cyclic_gc


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="export the inventory as JSON, CSV or Markdown (never a key)",
        description="Export the inventory. Keys are never included: each is named by its fingerprint and "
        "last four characters. Every export is recorded in the audit log.",
    )
    p.add_argument("--format", choices=FORMATS, default="md", help="json, csv or md (default md)")
    p.add_argument("--output", "-o", metavar="FILE", default=None, help="write to FILE instead of stdout")
    p.set_defaults(run=run_export)


def run_export(args: argparse.Namespace, ctx: CliContext) -> int:
    from app.services.export import export_inventory

    path = Path(args.output).expanduser() if args.output else None
    db_path = ctx.settings.db_path
    if path is not None and db_path is not None:
        own = {Path(db_path).expanduser().resolve(), ctx.settings.config_path.resolve()}
        own |= {p.with_name(p.name + suffix) for p in list(own) for suffix in ("-wal", "-shm", "-journal")}
        if path.resolve() in own:
            raise UsageError(
                f"--output {path} is one of Breaker's own files: choose another file (nothing was written)"
            )
    with no_cyclic_gc():  # what it buys: app.services.tuning
        result = export_inventory(ctx.services, args.format, path)
    if path is None:
        ctx.stdout.write(result.text)
    else:
        note(f"Exported {result.connectors} connectors to {path} ({result.fmt}).", ctx.stderr)
    return 0
