"""``breaker review``: the weekly review without the panel.

- ``breaker review`` walks this week's queue on the terminal (riskiest first): purpose, what
  changed, last use, findings, the least-privilege checklist and a decision per item. A decision
  that is a switch shows the same plan and asks the same question as ``breaker disable`` & co.,
  then runs it. ``q`` leaves; the next ``breaker review`` resumes where you left.
- ``breaker review --findings [--json] [--fail-on SEVERITY]``: every finding, for cron; exit 1 when
  one is at or above SEVERITY.
- ``breaker review --report FILE [--format md|html]``: the latest finished review's report.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path

from app.cli.context import CliContext
from app.cli.output import note, print_json
from app.cli.parser import CommandFailed, UsageError
from app.cli.prompts import ask_yes_no, read_key

FINDINGS_SCHEMA = "breaker.findings/1"
SEVERITIES = ("info", "low", "medium", "high", "critical")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "review",
        help="the weekly least-privilege review: walk the queue, list findings, or write the report",
        description="Without options: walk this week's review queue on the terminal (q leaves; run it "
        "again to resume). --findings lists every finding (exit 1 with --fail-on when one is at or above "
        "that severity). --report writes the latest finished review's report. Exit 0 fine, 1 findings "
        "at or above --fail-on or a failure, 2 usage.",
    )
    p.add_argument("--findings", action="store_true", help="list every finding and exit (no questions)")
    p.add_argument("--json", action="store_true", help=f"with --findings: print the {FINDINGS_SCHEMA} JSON document")
    p.add_argument(
        "--fail-on",
        metavar="SEVERITY",
        choices=SEVERITIES,
        help="with --findings: exit 1 when a finding is at or above SEVERITY (" + ", ".join(SEVERITIES) + ")",
    )
    p.add_argument("--report", metavar="FILE", help="write the latest finished review's report to FILE ('-' = stdout)")
    p.add_argument(
        "--format",
        choices=("md", "html"),
        help="with --report: md (Markdown) or html (self-contained); default from FILE's extension, else md",
    )
    p.set_defaults(run=run_review)


def run_review(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.findings and args.report:
        raise UsageError("--findings and --report are separate uses of `breaker review`; give one")
    if (args.json or args.fail_on) and not args.findings:
        raise UsageError("--json and --fail-on go with --findings")
    if args.format and not args.report:
        raise UsageError("--format goes with --report FILE")
    if args.findings:
        return run_findings(args, ctx)
    if args.report:
        return run_report(args, ctx)
    return run_walk(args, ctx)


# -- --findings ------------------------------------------------------------------------------------
def run_findings(args: argparse.Namespace, ctx: CliContext) -> int:
    from app.services.review import Severity

    found = ctx.services.review.findings()
    threshold = Severity.parse(args.fail_on) if args.fail_on else None
    hits = sum(1 for fs in found.values() for f in fs if threshold is not None and f.severity >= threshold)
    if args.json:
        print_json(
            {
                "schema": FINDINGS_SCHEMA,
                "generated_at": datetime.now(UTC).isoformat(),
                "fail_on": args.fail_on,
                "at_or_above": hits,
                "connectors": [
                    {"name": name, "findings": [f.as_dict() | {"advice": f.advice} for f in fs]}
                    for name, fs in sorted(found.items())
                ],
            },
            ctx.stdout,
        )
    else:
        out = ctx.stdout
        total = 0
        for name, fs in sorted(found.items(), key=lambda p: (-(p[1][0].severity if p[1] else -1), p[0])):
            if not fs:
                continue
            print(name, file=out)
            for f in fs:
                total += 1
                advice = f" → {f.advice}" if f.advice else ""
                print(f"  {f.severity.label:<8} {f.reason}{advice}", file=out)
        clean = sum(1 for fs in found.values() if not fs)
        print(f"{total} finding(s) on {len(found) - clean} connector(s); {clean} with none.", file=out)
        if threshold is not None:
            note(f"{hits} finding(s) at or above {threshold.label}.", ctx.stderr)
    return 1 if hits else 0


# -- --report --------------------------------------------------------------------------------------
def run_report(args: argparse.Namespace, ctx: CliContext) -> int:
    from app.services.review import ReviewError

    fmt = args.format or ("html" if args.report.lower().endswith((".html", ".htm")) else "md")
    try:
        text = ctx.services.review.report(fmt=fmt)
    except ReviewError as exc:
        raise CommandFailed(str(exc)) from None
    if args.report == "-":
        ctx.stdout.write(text)
        return 0
    path = Path(args.report).expanduser()
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CommandFailed(f"cannot write {path}: {exc.strerror}") from None
    note(f"Wrote the {fmt} report of the latest finished review to {path}.", ctx.stderr)
    return 0


# -- the walk --------------------------------------------------------------------------------------
class Leave(Exception):
    """The owner pressed q: the review stays open and resumes next time."""


def _ask(ctx: CliContext, prompt: str) -> str:
    ctx.stderr.write(prompt)
    ctx.stderr.flush()
    line = ctx.stdin.readline()
    if not line:
        raise Leave
    answer = line.strip()
    if answer.lower() in ("q", "quit"):
        raise Leave
    return answer


def run_walk(args: argparse.Namespace, ctx: CliContext) -> int:
    from app.services.review import CHECKLIST, CHECKLIST_QUESTIONS

    ctx.require_writable("review")
    if not ctx.stdin_is_terminal():
        raise UsageError(
            "the review asks questions, and stdin is not a terminal; for cron use "
            "`breaker review --findings --fail-on high` (nothing was changed)"
        )
    svc = ctx.services.review
    resumed = svc.open_review_id() is not None
    state = svc.start()
    out = ctx.stdout
    print(
        f"{'Resuming' if resumed else 'Starting'} the weekly review {state.iso_week}: {state.progress}.",
        file=out,
    )
    if not state.items:
        print("Nothing is due this week: no connector changed or looks risky.", file=out)
    print("Answer y (yes), n (no) or ? (don't know); Enter skips; q leaves (run again to resume).", file=out)
    try:
        for position, item in enumerate(state.items, 1):
            if item.decision is not None or item.view is None:
                continue
            _show_item(ctx, item, position, len(state.items))
            for check in CHECKLIST:
                current = item.answers.get(check, ("", ""))[0]
                suffix = f" [now {current}]" if current else ""
                raw = _ask(ctx, f"  {check}: {CHECKLIST_QUESTIONS[check]}{suffix} [y/n/?] ").lower()
                if not raw:
                    continue
                answer = {"y": "yes", "yes": "yes", "n": "no", "no": "no", "?": "dont_know", "d": "dont_know"}.get(raw)
                if answer is None:
                    print("    (not understood; skipped — y, n or ?)", file=out)
                    continue
                text = _ask(ctx, "    note (Enter for none): ")
                svc.answer(state.id, item.name, check, answer, text)
            state = svc.state(state.id)
            _decide(ctx, svc, state, item.name)
            state = svc.state(state.id)
    except Leave:
        state = svc.state(state.id)
        print(f"Left the review: {state.progress}. Run `breaker review` to resume.", file=out)
        return 0
    state = svc.state(state.id)
    if ask_yes_no(ctx, f"{state.progress}. Finish the review and write its report?", default=True):
        state = svc.finish(state.id)
        print(f"Review {state.iso_week} finished: {state.progress}.", file=out)
        print("Write its report with `breaker review --report review.html` (or .md).", file=out)
    else:
        print("The review stays open; run `breaker review` to resume.", file=out)
    return 0


def _show_item(ctx: CliContext, item, position: int, total: int) -> None:
    out = ctx.stdout
    view = item.view
    sev = item.severity.label if item.severity else "none"
    print(f"\n[{position}/{total}] {item.name} — {view.provider}, {view.mode.value}, risk {item.risk}, {sev}", file=out)
    print(f"  due: {item.why}", file=out)
    print(f"  purpose: {view.purpose or '(none written)'}", file=out)
    print(f"  owner: {view.owner or 'nobody'}", file=out)
    print(f"  last use: {item.last_use}", file=out)
    print("  changed since last review:", file=out)
    for line in item.changes:
        print(f"    - {line}", file=out)
    print("  findings:" if item.findings else "  findings: none", file=out)
    for f in item.findings:
        advice = f" → {f.advice}" if f.advice else ""
        print(f"    {f.severity.label:<8} {f.reason}{advice}", file=out)


DECISION_KEYS = {"k": "keep", "r": "reduce", "t": "rotate", "x": "disable", "a": "reassign", "s": "snooze"}


def _decide(ctx: CliContext, svc, state, name: str) -> None:
    from app.services.inventory import ValidationError

    out = ctx.stdout
    while True:
        item = state.item(name)
        rec, rec_detail = item.recommended
        hint = f" (recommended: {rec}{' ' + rec_detail if rec_detail else ''})" if rec else ""
        raw = _ask(
            ctx,
            f"  decision{hint}: [k]eep [r]educe ro[t]ate [x] disable re[a]ssign [s]nooze, "
            "[p] edit the purpose, Enter to skip: ",
        ).lower()
        if not raw:
            print("    no decision; it stays in the queue", file=out)
            return
        if raw in ("p", "purpose"):
            if _edit_purpose(ctx, svc, state, item):
                state = svc.state(state.id)  # the findings read the new sentence
                print("    findings now:" if state.item(name).findings else "    findings now: none", file=out)
                for f in state.item(name).findings:
                    print(f"    {f.severity.label:<8} {f.reason}", file=out)
            continue
        decision = DECISION_KEYS.get(raw[:1]) if raw not in DECISION_KEYS.values() else raw
        if decision is None:
            print("    not understood", file=out)
            continue
        reason = detail = ""
        until = None
        if decision == "reduce":
            default = rec_detail if rec == "reduce" and rec_detail else "draft-only"
            detail = _ask(ctx, f"    reduce to draft-only or read-only [{default}]: ") or default
        elif decision == "reassign":
            detail = _ask(ctx, "    new owner: ")
        elif decision == "snooze":
            text = _ask(ctx, "    until (YYYY-MM-DD, at most 90 days): ")
            try:
                until = datetime.fromisoformat(text).replace(tzinfo=UTC) if text else None
            except ValueError:
                print("    not a date (YYYY-MM-DD)", file=out)
                continue
        need = decision in ("snooze",) or (decision == "keep" and item.high_risk)
        reason = _ask(ctx, f"    reason{' (required)' if need else ' (Enter for none)'}: ")
        try:
            checked = svc.check_decision(state, name, decision, reason=reason, detail=detail, until=until)
        except ValidationError as exc:
            for message in exc.errors.values():
                print(f"    {message}", file=out)
            continue
        if checked.switch_action is None:
            svc.decide(state.id, checked)
            print(f"    recorded: {checked.describe()}", file=out)
            return
        outcome = _run_switch(ctx, name, checked.switch_action)
        if outcome is None:
            print("    nothing was changed; choose again or press Enter to skip", file=out)
            continue
        svc.decide(state.id, checked, outcome=outcome)
        return


def _edit_purpose(ctx: CliContext, svc, state, item) -> bool:
    """Ask for the purpose sentence's three parts (Enter keeps each); record it through the review
    service (an inventory edit, audited). False when nothing changed or it was refused."""
    from app.services.inventory import ValidationError

    out, view = ctx.stdout, item.view
    print(f"    now: {view.purpose or '(none written)'}", file=out)
    print("    This connector may use <what> to <task>, but may not <forbidden>. Enter keeps a part.", file=out)
    parts = []
    for label, current in (
        ("may use (what it reaches)", view.purpose_access),
        ("to (its task)", view.purpose_task),
        ("but may not ('-' for nothing)", view.purpose_forbidden),
    ):
        answer = _ask(ctx, f"    {label}{f' [{current}]' if current else ''}: ")
        parts.append("" if answer == "-" else (answer or current))
    if tuple(parts) == (view.purpose_access, view.purpose_task, view.purpose_forbidden):
        print("    the purpose is unchanged", file=out)
        return False
    try:
        edited = svc.edit_purpose(state.id, item.name, *parts)
    except ValidationError as exc:
        for message in exc.errors.values():
            print(f"    {message}", file=out)
        return False
    print(f"    purpose now: {edited.purpose or '(none written)'}", file=out)
    return True


def _run_switch(ctx: CliContext, name: str, action: str) -> str | None:
    """The switch, exactly as `breaker ACTION NAME` runs it: plan, question, run, honest state."""
    from app.cli.switch_cmds import _printer, print_report
    from app.services.switches import NeedsNewKey

    sw = ctx.services.switches
    plan = sw.plan(name, action)
    print(plan.text(), file=ctx.stdout)
    if not ask_yes_no(ctx, f"{plan.text().splitlines()[0]}?", default=False):
        return None
    try:
        if action == "rotate" and plan.guided:
            secret = read_key(ctx, "New key (input hidden): ")
            report = asyncio.run(sw.rotate_with(name, secret, on_event=_printer(ctx)))
        else:
            report = asyncio.run(sw.switch(name, action, on_event=_printer(ctx)))
    except NeedsNewKey:
        secret = read_key(ctx, "New key (input hidden): ")
        report = asyncio.run(sw.rotate_with(name, secret, on_event=_printer(ctx)))
    print_report(ctx, report)
    return report.state
