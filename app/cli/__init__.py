"""The ``breaker`` command: no subcommand opens the panel; subcommands script the same services.

Commands live in small modules in this package, one per group, each with
``register(subparsers)``. A command parser sets ``run=`` to a function ``run(args, ctx) -> int``
where ``ctx`` is an :class:`app.cli.context.CliContext` (settings and services, opened lazily).

To add a command group, create ``app/cli/<group>_cmds.py`` with ``register`` and name it in
:data:`COMMAND_MODULES`. Every name listed must exist: a missing module is an error, never skipped
(a typo would otherwise hide a whole command group). The global options ``--home``, ``--db`` and
``--read-only`` are added to every subcommand by the parser, so they work before or after it.
"""

from __future__ import annotations

# Order = order in `breaker --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "inventory_cmds",  # list, add, edit, remove
    "probe_cmds",  # probe
    "switch_cmds",  # draft-only, read-only, disable, enable, rotate
    "panic_cmds",  # panic
    "exec_cmds",  # exec
    "review_cmds",  # review
    "scan_cmds",  # scan
    "gateway_cmds",  # gateway, route, token
    "audit_cmds",  # audit
    "export_cmds",  # export
    "demo_cmds",  # demo, sandbox
    "doctor_cmds",  # doctor
)


def main(argv: list[str] | None = None) -> int:
    """Run ``breaker`` with ``argv`` (default: the process's arguments); returns the exit code."""
    from app.cli.runner import run

    return run(argv)


__all__ = ["COMMAND_MODULES", "main"]
