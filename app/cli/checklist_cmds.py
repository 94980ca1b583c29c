"""``breaker checklist``: the keys a switch or an emergency disable left working — recorded disabled
but not proven dead, reduced by a switch but still holding more than asked, or replaced by a rotation
but still alive — with how to find each at its provider and the exact steps; ``--markdown FILE``
writes the same list to hand to a partner; ``--done NAME`` is "I did it": a fresh probe ticks the key
off only when it proves it.

Exit 0: nothing is left (or the key given to ``--done`` is now dead) · 1: keys still work · 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from app.cli.context import CliContext
from app.cli.output import note, print_json

CHECKLIST_SCHEMA = "breaker.checklist/1"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "checklist",
        help="the keys still working after a switch or panic, with the steps to kill each",
        description="Every key still working with more power than Breaker records — recorded disabled but "
        "not shown dead by a probe, left above its ceiling by a draft-only or read-only switch, or replaced "
        "by a rotation but still alive: how to recognise it at the provider (last four characters, key id or "
        "name, account, when it was added), the dashboard and the steps. --done NAME probes it and ticks it "
        "off only when the probe proves it. Exit 0 nothing left, 1 keys still work, 2 usage.",
    )
    p.add_argument("--markdown", metavar="FILE", default=None, help="also write the list as Markdown to FILE")
    p.add_argument("--json", action="store_true", help=f"print the {CHECKLIST_SCHEMA} JSON document")
    p.add_argument(
        "--done", metavar="NAME", default=None, help="I did it: probe NAME's keys, tick them off if the probe proves it"
    )
    p.set_defaults(run=run_checklist)


def run_checklist(args: argparse.Namespace, ctx: CliContext) -> int:
    from app.services import checklist

    services = ctx.services
    if args.done:
        ctx.require_writable("checklist --done")
        checked = asyncio.run(checklist.done(services, args.done))
        note(checked.message, ctx.stderr)
        for i, step in enumerate(checked.steps, 1):
            note(f"    {i}. {step}", ctx.stderr)
    found = checklist.items(services)
    if args.markdown:
        Path(args.markdown).expanduser().write_text(checklist.markdown(found), encoding="utf-8")
        note(f"Wrote the checklist ({len(found)} key(s)) to {args.markdown}.", ctx.stderr)
    if args.json:
        print_json({"schema": CHECKLIST_SCHEMA, "still_live": [i.as_dict() for i in found]}, ctx.stdout)
    else:
        _print(ctx, found)
    if args.done:
        return 0 if checked.ticked else 1
    return 1 if found else 0


def _print(ctx: CliContext, found) -> None:
    from app.services.checklist import NOTHING_LEFT, recognise

    out = ctx.stdout
    if not found:
        print(NOTHING_LEFT, file=out)
        return
    print(
        f"{len(found)} key(s) still work at their provider with more power than Breaker records. "
        "Deal with each at the provider:",
        file=out,
    )
    for item in found:
        print(f"\n[ ] {item.connector} ({item.provider_title}) — {item.reason.words} — {item.state}", file=out)
        if item.why:
            print(f"    {item.why}", file=out)
        for line in recognise(item):
            print(f"    recognise it: {line}", file=out)
        if item.dashboard_url:
            print(f"    dashboard: {item.dashboard_url}", file=out)
        for i, step in enumerate(item.steps, 1):
            print(f"      {i}. {step}", file=out)
    print(
        "\nDone one? `breaker checklist --done NAME` probes it and ticks it off only when the probe proves it.",
        file=out,
    )
