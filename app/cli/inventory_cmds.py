"""``breaker list | add | edit | remove``: the inventory from the command line."""

from __future__ import annotations

import argparse
from dataclasses import replace

from app.cli.context import CliContext
from app.cli.output import ago, clip, note, print_json, table
from app.cli.parser import UsageError
from app.cli.prompts import ask_yes_no, read_key
from app.services.tuning import no_cyclic_gc
from app.services.views import ENVIRONMENTS, ConnectorInput, ValidationError
from connectors.base import Grant, Level


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "list",
        help="list every connector (--json for scripts)",
        description="List every connector: owner, mode, live level, drift, key age, last probe.",
    )
    p.add_argument("filter", nargs="*", metavar="WORD", help="show only connectors matching every word")
    p.add_argument("--json", action="store_true", help="print the breaker.list/1 JSON document")
    p.set_defaults(run=run_list)

    p = subparsers.add_parser(
        "add",
        help="add a connector; the key is read from stdin or a hidden prompt",
        description="Add a connector. The key is read from stdin when it is not a terminal "
        "(e.g. `pass show slack/bot | breaker add --name …`), else from a hidden prompt. "
        "There is deliberately no option that takes a key: arguments land in shell history.",
    )
    _connector_options(p, editing=False)
    p.add_argument(
        "--refresh-token",
        action="store_true",
        help="the key is an OAuth refresh token (Google, Microsoft, HubSpot, Notion): routed through the gateway "
        "with `breaker route NAME --oauth-client ID`, it is traded for access tokens",
    )
    p.set_defaults(run=run_add)

    p = subparsers.add_parser(
        "edit",
        help="change a connector's fields (only the options given)",
        description="Change a connector. Only the options given are changed.",
    )
    p.add_argument("target", metavar="NAME", help="the connector to change (--name renames it)")
    _connector_options(p, editing=True)
    p.add_argument(
        "--replace-key", action="store_true", help="replace the key: the new one is read from stdin or a hidden prompt"
    )
    p.add_argument("--clear-scopes", action="store_true", help="remove every declared scope")
    p.add_argument(
        "--confirm-destination",
        action="store_true",
        help="confirm the provider, base URL and variable shown by `list NAME --json` are right (audited)",
    )
    p.set_defaults(run=run_edit)

    p = subparsers.add_parser(
        "remove",
        help="remove a connector (asks about its key in the keyring)",
        description="Remove a connector from the inventory. This does not revoke the key "
        "at the provider (see `breaker disable`).",
    )
    p.add_argument("target", metavar="NAME")
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--delete-key",
        dest="delete_key",
        action="store_const",
        const=True,
        default=None,
        help="also delete its key from the keyring",
    )
    which.add_argument(
        "--keep-key", dest="delete_key", action="store_const", const=False, help="leave its key in the keyring"
    )
    p.set_defaults(run=run_remove)


def _connector_options(p: argparse.ArgumentParser, *, editing: bool) -> None:
    """The connector fields. On edit every default is None: "not given, leave it alone"."""
    p.add_argument("--name", default=None, help="new name" if editing else "connector name (unique)")
    p.add_argument(
        "--provider", default=None, help="provider (github, slack, openai …); recognised from the key when omitted"
    )
    p.add_argument("--owner", default=None, help="the person answerable for it")
    p.add_argument("--access", default=None, metavar="TEXT", help='purpose: "may use ACCESS …"')
    p.add_argument("--task", default=None, metavar="TEXT", help='purpose: "… to do TASK …"')
    p.add_argument("--forbidden", default=None, metavar="TEXT", help='purpose: "… but may not do FORBIDDEN"')
    p.add_argument("--env", default=None, choices=ENVIRONMENTS, help="environment (default prod)")
    p.add_argument(
        "--base-url",
        default=None,
        metavar="URL",
        help="API root override (GitHub Enterprise, self-managed GitLab, the sandbox)",
    )
    p.add_argument(
        "--allow-private-url",
        action="store_true",
        help="the base URL is a private-network address of yours (10.x, 192.168.x …): allow it (audited)",
    )
    p.add_argument("--env-var", default=None, metavar="NAME", help="variable `breaker exec` sets, e.g. GITHUB_TOKEN")
    p.add_argument("--client", default=None, help='the assistant or automation using it, e.g. "Claude Desktop"')
    p.add_argument("--tags", default=None, help="comma-separated tags")
    p.add_argument(
        "--scope",
        action="append",
        default=None,
        metavar="SCOPE:LEVEL",
        help="a declared scope and its level (read, draft, write, send, admin); repeatable",
    )


def parse_scopes(values: list[str] | None) -> tuple[Grant, ...] | None:
    """``["repo:write", "https://…/gmail.readonly:read"]`` → grants. The level follows the last colon."""
    if values is None:
        return None
    grants: list[Grant] = []
    for value in values:
        scope, sep, level = value.rpartition(":")
        if not sep or not scope.strip():
            raise ValidationError({"scope": f"{value!r}: write SCOPE:LEVEL, e.g. repo:write"})
        try:
            grants.append(Grant(scope.strip(), Level.parse(level)))
        except ValueError as exc:
            raise ValidationError({"scope": f"{value!r}: {exc}"}) from None
    return tuple(grants)


def _given(args: argparse.Namespace) -> dict[str, object]:
    """ConnectorInput fields the command line set (None = not given)."""
    mapping = {
        "name": args.name,
        "provider": args.provider,
        "owner": args.owner,
        "purpose_access": args.access,
        "purpose_task": args.task,
        "purpose_forbidden": args.forbidden,
        "environment": args.env,
        "base_url": args.base_url,
        "env_var": args.env_var,
        "client": args.client,
        "tags": args.tags,
    }
    given = {k: v for k, v in mapping.items() if v is not None}
    if getattr(args, "allow_private_url", False):
        given["allow_private_url"] = True
    if getattr(args, "confirm_destination", False):
        given["confirm_destination"] = True
    return given


# -- list ------------------------------------------------------------------------------------


def run_list(args: argparse.Namespace, ctx: CliContext) -> int:
    from app.services.export import list_document, listing_document
    from app.services.views import summarize

    with no_cyclic_gc():  # what it buys: app.services.tuning
        warn = ctx.settings.key_age_warn_days
        if args.json and not args.filter:  # the whole inventory: records straight from its columns
            rows = ctx.listing_rows()
            if rows is not None:
                print_json(listing_document(rows, warn), ctx.stdout)
                return 0
        views = ctx.inventory_views(" ".join(args.filter))
        if args.json:
            print_json(list_document(views, warn), ctx.stdout)
            return 0
    if not views:
        note("No connectors yet." if not args.filter else "No connector matches.", ctx.stderr)
        if not args.filter:
            note(
                "Add one with `breaker add --name NAME` (the key is read from stdin or a prompt), "
                "or try `breaker demo`.",
                ctx.stderr,
            )
        return 0
    rows = []
    for v in views:
        age = v.key_age_days
        rows.append(
            [
                clip(v.name, 32),
                v.provider,
                clip(v.owner, 20) or "(none)",
                v.environment,
                v.mode.value,
                v.live_word,
                "DRIFT" if v.drift else "",
                "-" if age is None else f"{age}d" + ("!" if age > warn else ""),
                f"{v.last_outcome} {ago(v.last_probe_at)}" if v.last_probe_at else "never",
            ]
        )
    table(["NAME", "PROVIDER", "OWNER", "ENV", "MODE", "LIVE", "DRIFT", "KEY AGE", "LAST PROBE"], rows, ctx.stdout)
    s = summarize(views, warn)
    note(
        f"{_count(s.total, 'connector')} · {s.drift} with drift · {_count(s.stale_keys, 'key')} older than "
        f"{warn} days · {s.shared_keys} on shared keys · {s.never_probed} never probed"
        + (f" · {s.off} off (verified)" if s.off else "")
        + (f" · {_count(s.still_live, 'key')} still live though recorded disabled" if s.still_live else ""),
        ctx.stderr,
    )
    return 0


# -- add / edit ----------------------------------------------------------------------------------


def _prevalidate(ctx: CliContext, data: ConnectorInput, existing: str | None = None) -> None:
    """Check the fields before asking for the key, so nobody pastes a key only to hear the name is taken."""
    try:
        ctx.services.inventory.validate(data, None, existing=existing, require_key=False)
    except ValidationError as exc:
        errors = {k: v for k, v in exc.errors.items() if k != "key" and not (k == "provider" and not data.provider)}
        if errors:
            raise ValidationError(errors) from None


def _require_keyring(ctx: CliContext) -> None:
    """No usable keyring? Say so (NoKeyringError, with the fix) before anyone pastes a key."""
    _ = ctx.services.secrets.backend  # resolving the backend is the check


def run_add(args: argparse.Namespace, ctx: CliContext) -> int:
    ctx.require_writable("add")
    data = ConnectorInput(**{"name": "", **_given(args)}, declared=parse_scopes(args.scope))  # type: ignore[arg-type]
    services = ctx.services
    _prevalidate(ctx, data)
    kind = ""
    if getattr(args, "refresh_token", False):
        from connectors import registry

        kinds = registry.get(data.provider).refresh_kinds if data.provider in registry.names() else frozenset()
        if not kinds:
            raise UsageError("--refresh-token needs --provider, one whose refresh tokens the gateway can use")
        kind = sorted(kinds)[0]
    _require_keyring(ctx)
    view = services.inventory.add(data, read_key(ctx), kind=kind)
    cred = view.credential
    print(
        f"Added {view.name} ({view.provider}, {view.environment}); key {cred.display if cred else '-'} "
        "is in the keyring.",
        file=ctx.stdout,
    )
    missing = ([("an owner", "--owner …")] if not view.owner else []) + (
        [("a purpose sentence", "--access … --task … --forbidden …")] if not view.purpose else []
    )
    if missing:
        note(
            f"Tip: give it {' and '.join(m[0] for m in missing)}: breaker edit {_quoted(view.name)} "
            + " ".join(m[1] for m in missing),
            ctx.stderr,
        )
    return 0


def run_edit(args: argparse.Namespace, ctx: CliContext) -> int:
    ctx.require_writable("edit")
    inventory = ctx.services.inventory
    current = inventory.get(args.target)
    changes = _given(args)
    declared = parse_scopes(args.scope)
    if args.clear_scopes:
        if declared:
            raise UsageError("--clear-scopes and --scope together: choose one")
        declared = ()
    if not changes and declared is None and not args.replace_key:
        raise UsageError("nothing to change: give at least one option (see `breaker edit --help`)")
    data = replace(inventory.as_input(current), **changes, declared=declared)  # type: ignore[arg-type]
    secret = None
    if args.replace_key:
        _prevalidate(ctx, data, existing=current.name)
        _require_keyring(ctx)
        secret = read_key(ctx, "New key (input hidden): ")
    view = inventory.edit(args.target, data, secret)
    print(f"Updated {view.name}.", file=ctx.stdout)
    return 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _quoted(name: str) -> str:
    return f'"{name}"' if " " in name else name


# -- remove ------------------------------------------------------------------------------------


def run_remove(args: argparse.Namespace, ctx: CliContext) -> int:
    ctx.require_writable("remove")
    inventory = ctx.services.inventory
    view = inventory.get(args.target)  # NotFound before any question
    delete_key = args.delete_key
    if delete_key is None:
        if not ctx.stdin_is_terminal():
            raise UsageError(
                "say what happens to its key: --delete-key or --keep-key "
                "(stdin is not a terminal, so Breaker cannot ask)"
            )
        owner = f", owner {view.owner}" if view.owner else ""
        if not ask_yes_no(ctx, f"Remove {view.name} ({view.provider}{owner}) from the inventory?", default=False):
            note("Nothing was changed.", ctx.stderr)
            return 0
        delete_key = ask_yes_no(ctx, "Also delete its key from the keyring? (No keeps it there, unused.)", default=None)
    inventory.remove(view.name, delete_key=delete_key)
    print(
        f"Removed {view.name}; its key was {'deleted from' if delete_key else 'left in'} the keyring.", file=ctx.stdout
    )
    note(f"The key still works at {view.provider} until it is revoked there.", ctx.stderr)
    return 0
