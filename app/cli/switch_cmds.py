"""``breaker draft-only|read-only|disable|enable|rotate NAME``, ``breaker confirm NAME`` and
``breaker verify NAME``.

Each prints exactly what will be done where (the same text as the panel's confirmation), asks
(or takes ``--yes``; without a terminal ``--yes`` is required), then runs the switch and reports
its honest state. Exit 0: verified by probe · 1: not verified, failed or pending · 2: usage.

``rotate`` for a provider without a rotation API is guided: the new key is read from stdin (when
it is not a terminal) or a hidden prompt, never from an argument, and probed before it is used.
A ``rotate`` while an earlier rotation of the connector was interrupted (a crash after the new key
was stored) finishes that rotation with the stored key instead of asking the provider again.
``verify`` probes again and finishes a switch that was cut off midway. ``admin-key NAME`` registers
a connector's key as its provider's organisation admin key (used for the other connectors' switches).
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace

from app.cli.context import CliContext
from app.cli.output import note, print_json
from app.cli.parser import UsageError
from app.cli.prompts import ask_yes_no, read_key
from app.services.vocabulary import SwitchAction

SWITCH_SCHEMA = "breaker.switch/1"

HELP = {
    SwitchAction.DRAFT_ONLY: "lower a connector to draft-only (read + draft): reduced key, provider restrict, or manual steps",
    SwitchAction.READ_ONLY: "lower a connector to read-only: reduced key, provider restrict, or manual steps",
    SwitchAction.DISABLE: "disable a connector: recorded at once, then the key is revoked at the provider",
    SwitchAction.ENABLE: "re-enable a connector (mode full; the provider re-activates the key where it can)",
    SwitchAction.ROTATE: "replace a connector's key: by the provider's API, or guided (paste the new key)",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    for action, text in HELP.items():
        p = subparsers.add_parser(
            action.value,  # a plain name: argparse prints its choices with repr()
            help=text,
            description=text[0].upper() + text[1:] + ". "
            "Shows what will be called where, whether it can be undone and what will stop "
            "working, and asks first. Exit 0 verified, 1 not verified or failed, 2 usage.",
        )
        p.add_argument("name", metavar="NAME", help="the connector")
        p.add_argument("--yes", "-y", action="store_true", help="do not ask (required when stdin is not a terminal)")
        p.add_argument("--json", action="store_true", help=f"print the {SWITCH_SCHEMA} JSON document")
        if action is not SwitchAction.ROTATE:
            p.add_argument(
                "--force",
                action="store_true",
                help="if the provider call fails, keep the local switch anyway (marked out-of-sync)",
            )
        if action.reduces:
            p.add_argument(
                "--revoke-full",
                action="store_true",
                help="after switching to the reduced credential, revoke the full key at the provider",
            )
        p.set_defaults(run=run_switch, action=action)

    p = subparsers.add_parser(
        "confirm",
        help="say you did a switch's manual steps; Breaker then verifies by probe",
        description="Mark the latest switch of NAME as applied by hand, then probe to "
        "verify it. Exit 0 verified, 1 not verified.",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("--json", action="store_true", help=f"print the {SWITCH_SCHEMA} JSON document")
    p.set_defaults(run=run_confirm)

    text = (
        "make NAME's key the organisation admin key of its provider: switches of the other connectors of "
        "that provider (same base URL) then call the provider's admin API with it"
    )
    p = subparsers.add_parser(
        "admin-key",
        help=text,
        description=text[0].upper() + text[1:] + " — an Anthropic or OpenAI admin key, or a "
        "SendGrid key with API Keys access. The key stays in the OS keyring; the change is "
        "audited. Exit 0 done, 2 usage.",
    )
    p.add_argument("name", metavar="NAME", help="the connector holding the admin key")
    p.add_argument(
        "--app-secret",
        action="store_true",
        help="instead, read an app's credential (hidden, or on stdin) and keep it as NAME's own admin "
        "credential: a GitHub App's private key (its .pem file, e.g. `< app.pem`; with extra app_id) or an "
        "OAuth app's client secret (GitHub, HubSpot; with extra client_id)",
    )
    p.add_argument("--app-id", metavar="ID", default=None, help="with --app-secret: the GitHub App's id (extra app_id)")
    p.add_argument(
        "--client-id", metavar="ID", default=None, help="with --app-secret: the app's client id (extra client_id)"
    )
    p.set_defaults(run=run_admin_key)

    p = subparsers.add_parser(
        "verify",
        help="probe again to verify a connector's latest switch (finishes an interrupted one)",
        description="Probe NAME again and update its latest switch; a switch cut off midway "
        "(crash, kill) is finished first, looking before anything is sent again. "
        "Exit 0 verified, 1 not verified.",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("--json", action="store_true", help=f"print the {SWITCH_SCHEMA} JSON document")
    p.set_defaults(run=run_verify)


def confirm_or_refuse(ctx: CliContext, yes: bool, question: str) -> bool:
    """--yes, or a yes on the terminal (default No). Without a terminal, --yes is required."""
    if yes:
        return True
    if not ctx.stdin_is_terminal():
        raise UsageError("stdin is not a terminal, so Breaker cannot ask: add --yes to confirm (nothing was changed)")
    return ask_yes_no(ctx, question, default=False)


def show_plan(ctx: CliContext, text: str, *, as_note: bool) -> None:
    """The confirmation text: on stdout, or on stderr when stdout carries JSON."""
    if as_note:
        note(text, ctx.stderr)
    else:
        print(text, file=ctx.stdout)


def _printer(ctx: CliContext):
    def on_event(event) -> None:
        line = f"  {event.connector}: {event.label}"
        if event.message:
            line += f" — {event.message}"
        note(line, ctx.stderr)

    return on_event


def report_document(report, plan=None) -> dict:
    doc = {"schema": SWITCH_SCHEMA, **report.as_dict()}
    if plan is not None:
        doc["plan"] = plan.as_dict()
    return doc


def print_report(ctx: CliContext, report) -> None:
    out = ctx.stdout
    print(f"{report.connector}: {report.label}", file=out)
    if report.message:
        print(f"  {report.message}", file=out)
    if report.verify_note:
        # a routed connector's switch is checked at the gateway, not by a probe of the provider
        print(f"  {'check' if report.at else 'probe'}: {report.verify_note}", file=out)
    if report.manual_steps and not report.verified:
        print("  By hand:", file=out)
        for i, step in enumerate(report.manual_steps, 1):
            print(f"    {i}. {step}", file=out)


def run_switch(args: argparse.Namespace, ctx: CliContext) -> int:
    from app.services.switches import NeedsNewKey, Switches

    action = args.action
    ctx.require_writable(action)
    sw = Switches(ctx.services)
    try:
        if action is SwitchAction.ROTATE:
            latest = sw.latest(args.name)
            if latest is not None and latest.interrupted and latest.action is SwitchAction.ROTATE:
                return _finish_rotation(args, ctx, sw, latest)
        plan = sw.plan(args.name, action, revoke_full=getattr(args, "revoke_full", False))
        show_plan(ctx, plan.text(), as_note=args.json)
        if action is SwitchAction.ROTATE and plan.guided:
            return _guided_rotation(args, ctx, sw, plan)
        if not confirm_or_refuse(ctx, args.yes, f"{plan.text().splitlines()[0]}?"):
            note("Nothing was changed.", ctx.stderr)
            return 0
        try:
            report = asyncio.run(
                sw.switch(
                    args.name,
                    action,
                    force=getattr(args, "force", False),
                    revoke_full=getattr(args, "revoke_full", False),
                    on_event=_printer(ctx),
                )
            )
        except NeedsNewKey:  # the plan changed under us (another process); be explicit
            raise UsageError(f"{plan.provider_title} cannot rotate this key by API; run the command again") from None
    finally:
        sw.close()
    _finish(ctx, args, report, plan)
    return 0 if report.verified else 1


def _finish_rotation(args: argparse.Namespace, ctx: CliContext, sw, latest) -> int:
    """An earlier rotation was cut off: finish it (no new rotation at the provider)."""
    text = (
        f"An earlier rotation of {args.name} was interrupted.\n  {latest.message}\n"
        "Breaker finishes it now: it does not ask the provider for another key."
    )
    show_plan(ctx, text, as_note=args.json)
    if not confirm_or_refuse(ctx, args.yes, f"Finish the rotation of {args.name}?"):
        note("Nothing was changed.", ctx.stderr)
        return 0
    report = asyncio.run(sw.rotate(args.name, on_event=_printer(ctx)))
    _finish(ctx, args, report)
    return 0 if report.verified else 1


def _guided_rotation(args: argparse.Namespace, ctx: CliContext, sw, plan) -> int:
    terminal = ctx.stdin_is_terminal()
    if not terminal and not args.yes:
        raise UsageError(
            "pipe the new key on stdin together with --yes, or run this on a terminal (nothing was changed)"
        )
    if terminal and not ask_yes_no(ctx, "Create the new key as described above. Ready to paste it?", default=False):
        note("Nothing was changed.", ctx.stderr)
        return 0
    secret = read_key(ctx, "New key (input hidden): ")
    report = asyncio.run(sw.rotate_with(args.name, secret, on_event=_printer(ctx)))
    _finish(ctx, args, report, plan)
    return 0 if report.verified else 1


def _finish(ctx: CliContext, args: argparse.Namespace, report, plan=None) -> None:
    if args.json:
        print_json(report_document(report, plan), ctx.stdout)
    else:
        print_report(ctx, report)


def run_confirm(args: argparse.Namespace, ctx: CliContext) -> int:
    from app.services.switches import Switches, SwitchRefused

    ctx.require_writable("confirm")
    sw = Switches(ctx.services)
    try:
        report = asyncio.run(sw.confirm(args.name, on_event=_printer(ctx)))
    except SwitchRefused as exc:
        raise UsageError(str(exc)) from None
    finally:
        sw.close()
    _finish(ctx, args, report)
    return 0 if report.verified else 1


def run_verify(args: argparse.Namespace, ctx: CliContext) -> int:
    from app.services.switches import Switches, SwitchRefused

    ctx.require_writable("verify")
    sw = Switches(ctx.services)
    try:
        report = asyncio.run(sw.verify(args.name, on_event=_printer(ctx)))
    except SwitchRefused as exc:
        raise UsageError(str(exc)) from None
    finally:
        sw.close()
    _finish(ctx, args, report)
    return 0 if report.verified else 1


def _app_secret(args: argparse.Namespace, ctx: CliContext) -> int:
    """``admin-key NAME --app-secret``: an app's credential kept beside NAME's key (tier admin): only the
    provider calls of NAME's switches use it; `breaker exec` never hands it out."""
    from app.services.inventory import NotFound, ValidationError
    from app.services.switches import Switches
    from connectors.base import Secret

    secret = read_key(ctx, "The app's private key or client secret (input hidden): ")
    value = secret.reveal()
    kind = "OAuth client secret"
    if "-----BEGIN" in value and "PRIVATE KEY-----" in value:  # a .pem file: kept as its body on one line
        body = "".join(line.strip() for line in value.splitlines() if line.strip() and "-----" not in line)
        secret, kind = Secret(body), "GitHub App private key"
    inventory = ctx.services.inventory
    sw = Switches(ctx.services)
    try:
        ids = {k: v for k, v in (("app_id", args.app_id), ("client_id", args.client_id)) if v}
        if ids:  # first, so a refused id stores nothing
            data = inventory.as_input(inventory.get(args.name))
            inventory.edit(args.name, replace(data, extra={**data.extra, **ids}))
        view = sw.add_credential(args.name, secret, tier="admin", kind=kind)
    except NotFound as exc:
        raise UsageError(str(exc)) from None
    except ValidationError as exc:
        raise UsageError(f"nothing was stored: {exc}") from None
    finally:
        sw.close()
    needs = "app_id" if kind.startswith("GitHub App") else "client_id"
    note(f"{view.name}: the {kind} is in the keyring as its admin credential (used only for its switches).", ctx.stderr)
    if not view.extra.get(needs) and not (needs == "app_id" and view.extra.get("client_id")):
        flag = "--app-id" if needs == "app_id" else "--client-id"
        note(f"Give the app's {needs} too (run again with {flag}), or the switches cannot use it.", ctx.stderr)
    return 0


def run_admin_key(args: argparse.Namespace, ctx: CliContext) -> int:
    from app.services.switches import Switches, SwitchRefused
    from app.services.switches.plan import dependants

    ctx.require_writable("admin-key")
    if args.app_secret:
        return _app_secret(args, ctx)
    if args.app_id or args.client_id:
        raise UsageError("--app-id and --client-id go with --app-secret (nothing was changed)")
    sw = Switches(ctx.services)
    try:
        view = sw.mark_admin_connector(args.name)
    except SwitchRefused as exc:
        raise UsageError(str(exc)) from None
    finally:
        sw.close()
    views = ctx.services.inventory.list()
    served = dependants(next(v for v in views if v.name == view.name), views)  # compared by identity
    note(
        f"{view.name}: its key {view.credential.display} is now the {view.provider} organisation admin key.", ctx.stderr
    )
    note(
        f"Switches of {', '.join(v.name for v in served)} will use it."
        if served
        else f"No other {view.provider} connector with the same base URL uses it yet.",
        ctx.stderr,
    )
    return 0
