"""``breaker panic``: disable every connector (or a selection) at once; ``--resume`` finishes an
interrupted one from its journal.

On a terminal the confirmation is a deliberate second step: type PANIC, or the number of
connectors. Without a terminal ``--yes`` is required. Progress goes to stderr as results arrive;
the summary (text, or ``--json``) to stdout. Exit 0: every connector verified · 1: some are not
(failed, pending, or applied but unverified — listed with manual steps) · 2: usage, including a
selection that matches no connector at all (``--provider githbu``). Connectors already disabled
are covered too: probed first, their provider called again only if the key works.
"""

from __future__ import annotations

import argparse
import asyncio

from app.cli.context import CliContext
from app.cli.output import note, print_json
from app.cli.parser import UsageError

PANIC_SCHEMA = "breaker.panic/1"
CONFIRM_WORD = "PANIC"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "panic",
        help="emergency: disable every connector at once (or --provider/--owner/--tag)",
        description="Record every selected connector disabled at once, then revoke the keys at every provider "
        "concurrently (one slow provider delays nobody), then verify each by probe. "
        "A panic killed midway resumes with --resume. Exit 0 all verified, 1 otherwise, 2 usage.",
    )
    p.add_argument("--yes", "-y", action="store_true", help="do not ask (required when stdin is not a terminal)")
    p.add_argument("--json", action="store_true", help=f"print the {PANIC_SCHEMA} JSON document")
    p.add_argument("--resume", action="store_true", help="finish the newest interrupted panic from its journal")
    p.add_argument("--batch", metavar="ID", default=None, help="with --resume: the panic to finish")
    p.add_argument("--provider", action="append", default=[], metavar="P", help="only this provider (repeatable)")
    p.add_argument("--owner", action="append", default=[], metavar="O", help="only this owner's (repeatable)")
    p.add_argument("--tag", action="append", default=[], metavar="T", help="only connectors with this tag (repeatable)")
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="seconds each provider call may take (default: the probe timeout)",
    )
    p.add_argument(
        "--per-provider",
        type=int,
        default=None,
        metavar="N",
        help="calls in flight per provider (default: the probe per_host setting)",
    )
    p.set_defaults(run=run_panic)


def _ask_deliberately(ctx: CliContext, count: int) -> bool:
    ctx.stderr.write(
        f"Type {CONFIRM_WORD} (or the number of connectors, {count}) to disable them all; anything else cancels: "
    )
    ctx.stderr.flush()
    answer = ctx.stdin.readline().strip()
    return answer == CONFIRM_WORD or answer == str(count)


def _printer(ctx: CliContext):
    from app.services.switches import JobState

    def on_event(event) -> None:
        if event.state is JobState.RECORDED:
            return  # all of them at once; the summary line below says so
        line = f"  [{event.elapsed_ms / 1000:6.2f}s] {event.connector} ({event.provider}): {event.label}"
        if event.message:
            line += f" — {event.message}"
        note(line, ctx.stderr)

    return on_event


def run_panic(args: argparse.Namespace, ctx: CliContext) -> int:
    from app.services.switches import Selection, Switches

    ctx.require_writable("panic")
    if args.batch and not args.resume:
        raise UsageError("--batch goes with --resume")
    options = {}
    if args.timeout is not None:
        if args.timeout <= 0:
            raise UsageError("--timeout must be positive")
        options["call_timeout"] = args.timeout
    if args.per_provider is not None:
        if args.per_provider < 1:
            raise UsageError("--per-provider must be 1 or more")
        options["per_provider"] = args.per_provider
    sw = Switches(ctx.services, **options)
    try:
        if args.resume:
            summary = asyncio.run(sw.resume(args.batch, on_event=_printer(ctx)))
            if summary is None:
                return _nothing(ctx, args, "No interrupted panic to resume.")
        else:
            selection = Selection(providers=tuple(args.provider), owners=tuple(args.owner), tags=tuple(args.tag))
            plan = sw.panic_plan(selection)
            if plan.count == 0:
                if not selection.empty:  # a typo must not read as "all safe"
                    raise UsageError(f"no connector matches {selection.describe()} (nothing was changed)")
                if not plan.mcp_servers:
                    return _nothing(ctx, args, "Nothing to disable: the inventory has no connectors.")
                if not args.yes:
                    if not ctx.stdin_is_terminal():
                        raise UsageError(
                            f"stdin is not a terminal, so Breaker cannot ask: add --yes to turn off "
                            f"{len(plan.mcp_servers)} MCP server(s) in their clients' configs (nothing was changed)"
                        )
                    note(plan.text(), ctx.stderr)
                    if not _ask_deliberately(ctx, len(plan.mcp_servers)):
                        note("Not confirmed. Nothing was changed.", ctx.stderr)
                        return 0
            else:
                sw.prepare(selection)  # the audit key and TLS now; connector keys only after the confirmation
            if plan.count and sw.unfinished_batches():
                note(
                    "An earlier panic was interrupted; this one replaces it for the connectors it covers "
                    "(`breaker panic --resume` would finish the old one instead).",
                    ctx.stderr,
                )
            if plan.count and not args.yes:
                if not ctx.stdin_is_terminal():
                    raise UsageError(
                        "stdin is not a terminal, so Breaker cannot ask: add --yes to disable "
                        f"{plan.count} connector(s) (nothing was changed)"
                    )
                note(plan.text(), ctx.stderr)
                if not _ask_deliberately(ctx, plan.count):
                    note("Not confirmed. Nothing was changed.", ctx.stderr)
                    return 0
            # The MCP servers a scan recorded are turned off by the same service, after the keys.
            summary = asyncio.run(sw.panic(selection, on_event=_printer(ctx)))
            if summary.total and summary.recorded:
                note(f"All {summary.total} recorded disabled locally in {summary.recorded_ms:.0f} ms.", ctx.stderr)
    finally:
        sw.close()
    if args.json:
        print_json({"schema": PANIC_SCHEMA, **summary.as_dict()}, ctx.stdout)
    else:
        if summary.total:
            print_summary(ctx, summary)
        _print_mcp(ctx, summary)
    return 0 if summary.ok and not summary.mcp_failed else 1


def _print_mcp(ctx: CliContext, summary) -> None:
    if not (summary.mcp_off or summary.mcp_failed):
        return
    print(f"MCP servers turned off in their clients' configs ({len(summary.mcp_off)}):", file=ctx.stdout)
    for r in summary.mcp_off:
        print(f"  {r.sentence}", file=ctx.stdout)
    for line in summary.mcp_failed:
        print(f"  not turned off: {line}", file=ctx.stdout)


def _nothing(ctx: CliContext, args: argparse.Namespace, message: str) -> int:
    if args.json:
        print_json(
            {
                "schema": PANIC_SCHEMA,
                "batch": None,
                "total": 0,
                "ok": True,
                "message": message,
                "verified": [],
                "unverified": [],
                "waiting": [],
                "failed": [],
            },
            ctx.stdout,
        )
    else:
        print(message, file=ctx.stdout)
    return 0


def print_summary(ctx: CliContext, summary) -> None:
    out = ctx.stdout
    head = "Panic resumed" if summary.resumed else "Panic"
    print(
        f"{head} {summary.batch}: {len(summary.verified)} of {summary.total} verified "
        f"(recorded in {summary.recorded_ms:.0f} ms, done in {summary.verified_ms / 1000:.1f} s)",
        file=out,
    )
    for title, reports in (
        ("Applied at the provider, not verified", summary.unverified),
        ("Waiting for you — nothing was applied at the provider; do these steps", summary.waiting),
    ):
        if not reports:
            continue
        print(f"{title} ({len(reports)}):", file=out)
        for r in reports:
            print(f"  {r.connector} ({r.provider}): {r.verify_note or r.message}", file=out)
            for i, step in enumerate(r.manual_steps, 1):
                print(f"      {i}. {step}", file=out)
    if summary.not_called:
        print(
            f"Recorded disabled in Breaker (`breaker exec` refuses them), but the provider calls were NOT made "
            f"({len(summary.not_called)}), because the keyring {summary.keyring_problem}. "
            "Unlock it and run `breaker panic --resume`, or do these steps by hand now; each key still works until then:",
            file=out,
        )
        for r in summary.not_called:
            print(f"  {r.connector} ({r.provider}): not made: {r.provider_call}", file=out)
            for i, step in enumerate(r.manual_steps, 1):
                print(f"      {i}. {step}", file=out)
    if summary.failed:
        print(
            f"Failed or pending ({len(summary.failed)}) — do these by hand, or `breaker panic --resume` later:",
            file=out,
        )
        for r in summary.failed:
            print(f"  {r.connector} ({r.provider}): {r.label} — {r.message}", file=out)
            for i, step in enumerate(r.manual_steps, 1):
                print(f"      {i}. {step}", file=out)
    if summary.write_problem:
        print(f"NOT RECORDED — {summary.write_problem}", file=out)
        if not summary.recorded:
            print(
                "  Breaker could not record even the start of this emergency disable. The provider calls above "
                f"were made all the same, but Breaker's own record still shows {', '.join(summary.not_recorded)} "
                "as enabled, so `breaker exec` still hands out their keys (a revoked key no longer works anywhere).",
                file=out,
            )
            if summary.note:
                print(f"  A note of what this panic covered was left in {summary.note}.", file=out)
        elif summary.not_recorded:
            print(
                f"  The provider calls above were made, but what happened to {len(summary.not_recorded)} connector(s) "
                f"is not in Breaker's database: {', '.join(summary.not_recorded)}.",
                file=out,
            )
        print(
            "  Free some space, then run `breaker panic --resume`: it looks at each key first and records what it "
            "finds (a key already revoked is not revoked again).",
            file=out,
        )
