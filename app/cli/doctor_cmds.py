"""`breaker doctor`: the keyring, the database and its permissions, the config, the audit chain,
the key destinations and (for a demo home) the sandbox — each line ok, or what to do."""

from __future__ import annotations

import argparse

from app.cli.context import CliContext
from app.cli.output import print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "doctor",
        help="check the keyring, database, config, audit chain and sandbox; say what to fix",
        description="Check that this machine can keep keys: each line says ok, or what to do.",
    )
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(run=run_doctor)


def run_doctor(args: argparse.Namespace, ctx: CliContext) -> int:
    from app.services.doctor import run_checks

    checks = run_checks(ctx.home, ctx.db)
    if args.json:
        print_json(
            {
                "schema": "breaker.doctor/1",
                "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
            },
            ctx.stdout,
        )
    else:
        for check in checks:
            print(check.line(), file=ctx.stdout)
    return 0 if all(c.ok for c in checks) else 1
