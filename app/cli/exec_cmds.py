"""``breaker exec NAME -- COMMAND [ARGS…]``: run one command with the connector's key in its environment.

The key goes to that child process only, in the connector's variable (e.g. GITHUB_TOKEN). Refused
(exit 1) while the connector is disabled. Each use is audited, without the key. The exit code is the
command's own (127: not found, 126: not executable).
"""

from __future__ import annotations

import argparse

from app.cli.context import CliContext
from app.cli.output import error_line, note
from app.cli.parser import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "exec",
        help="run a command with a connector's key in its environment (never while disabled)",
        description="Hand the connector's active key to one child process in an environment variable, "
        "audit it, and exit with the child's exit code. Put the command after --.",
        usage="breaker exec [--var VAR] NAME -- COMMAND [ARGS...]",
    )
    p.add_argument(
        "--var", metavar="VAR", default="", help="hand the key over in VAR instead of the connector's variable"
    )
    p.add_argument("name", metavar="NAME", help="the connector")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND", help="the command and its arguments")
    p.set_defaults(run=run_exec)


def run_exec(args: argparse.Namespace, ctx: CliContext) -> int:
    from app.services import exec as exec_service

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise UsageError("give the command after --, e.g. breaker exec NAME -- python agent.py")
    from app.services.inventory import ENV_VAR_RE

    if args.var and not ENV_VAR_RE.match(args.var):
        raise UsageError("--var takes a variable name: upper-case letters, digits and underscores")
    try:
        return exec_service.run(
            ctx.services,
            args.name,
            command,
            warn=lambda text: note(f"breaker: {text}", ctx.stderr),
            env_var=args.var,
        )
    except exec_service.ExecRefused as exc:
        error_line(f"refused: {exc}", ctx.stderr)
        return 1
    except FileNotFoundError:
        error_line(f"{command[0]}: command not found", ctx.stderr)
        return 127
    except PermissionError:
        error_line(f"{command[0]}: permission denied", ctx.stderr)
        return 126
