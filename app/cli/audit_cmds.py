"""``breaker audit [--verify] [--json] [--limit N] [--connector NAME]``: the hash-chained audit log."""

from __future__ import annotations

import argparse
import json
from typing import Any

from app.cli.context import CliContext
from app.cli.output import clip, print_json, table

AUDIT_SCHEMA = "breaker.audit/1"
DEFAULT_LIMIT = 50


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "audit",
        help="show the audit log; --verify checks its hash chain",
        description="Show the newest audit events. --verify walks the whole hash chain and names the "
        "first broken event (exit code 1 when it is broken).",
    )
    p.add_argument("--verify", action="store_true", help="verify the hash chain (exit 1 if broken)")
    p.add_argument("--json", action="store_true", help="print the breaker.audit/1 JSON document")
    p.add_argument(
        "--limit",
        type=_positive,
        default=None,
        metavar="N",
        help=f"show the newest N events (default {DEFAULT_LIMIT}; with --verify, none unless given)",
    )
    p.add_argument("--connector", metavar="NAME", default=None, help="only events about this connector")
    p.set_defaults(run=run_audit)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def event_record(ev) -> dict[str, Any]:
    def parsed(raw: str) -> Any:
        try:
            return json.loads(raw)
        except ValueError:  # an edited row: show it as text rather than fail the listing
            return raw

    return {
        "seq": getattr(ev, "seq", None),
        "at": ev.at.isoformat(),
        "actor": ev.actor,
        "connector": ev.connector,
        "action": ev.action,
        "old": parsed(ev.old_json),
        "new": parsed(ev.new_json),
        "outcome": ev.outcome,
    }


def run_audit(args: argparse.Namespace, ctx: CliContext) -> int:
    services = ctx.services
    limit = args.limit if args.limit is not None else (0 if args.verify else DEFAULT_LIMIT)
    events = []
    if limit:
        rows = services.audit.recent(services.engine, limit, args.connector)
        events = [event_record(ev) for ev in reversed(rows)]  # oldest first, like a log
        # written while the keyring could not be read: newest of all, not in the chain yet
        waiting = services.audit.recent_pending(services.engine, limit, args.connector)
        events += [{**event_record(ev), "seq": None, "sealed": False} for ev in reversed(waiting)]
        events = events[-limit:]
    status = services.audit.verify(services.engine) if args.verify else None
    if args.json:
        chain = None
        if status is not None:
            chain = {
                "ok": status.ok,
                "events": status.events,
                "first_broken": status.first_broken,
                "reason": status.reason,
                "summary": status.summary(),
            }
        print_json({"schema": AUDIT_SCHEMA, "chain": chain, "events": events}, ctx.stdout)
    else:
        if events:
            table(
                ["SEQ", "AT (UTC)", "ACTOR", "ACTION", "CONNECTOR", "OUTCOME", "CHANGE"],
                [
                    [
                        str(e["seq"]) if e["seq"] is not None else "unsealed",
                        e["at"][:19].replace("T", " "),
                        e["actor"],
                        e["action"],
                        e["connector"],
                        e["outcome"],
                        clip(_change(e), 70),
                    ]
                    for e in events
                ],
                ctx.stdout,
            )
        elif not args.verify:
            print("The audit log is empty.", file=ctx.stdout)
        if status is not None:
            print(status.summary(), file=ctx.stdout)
    return 1 if status is not None and not status.ok else 0


def _change(event: dict[str, Any]) -> str:
    old, new = event["old"], event["new"]
    if isinstance(old, dict) and isinstance(new, dict) and old:
        return ", ".join(f"{k}: {_short(old.get(k))} → {_short(new.get(k))}" for k in sorted(set(old) | set(new)))
    if new is None:
        return ""
    return _short(new)


def _short(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
