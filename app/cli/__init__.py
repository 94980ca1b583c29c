"""The ``breaker`` command: no subcommand opens the panel; subcommands script the same services.

Commands live in small modules in this package, one per group, each with
``register(subparsers)``. A command parser sets ``run=`` to a function ``run(args, ctx) -> int``
where ``ctx`` is an :class:`app.cli.context.CliContext` (settings and services, opened lazily).

To add a command group, create ``app/cli/<group>_cmds.py`` with ``register`` and name it in
:data:`COMMAND_MODULES` with the commands it registers. Every name listed must exist: a missing module is an error, never skipped
(a typo would otherwise hide a whole command group). The global options ``--home``, ``--db`` and
``--read-only`` are added to every subcommand by the parser, so they work before or after it.
"""

from __future__ import annotations

# Each command module, with the commands it registers (order = order in `breaker --help`). A command
# line naming one command imports only that command's module: the others cost about 100 ms together
# (bench_startup's listing). tests/cli/test_command_modules.py holds this table to what each module
# really registers.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "inventory_cmds": ("list", "add", "edit", "remove"),
    "probe_cmds": ("probe",),
    "switch_cmds": ("draft-only", "read-only", "disable", "enable", "rotate", "confirm", "admin-key", "verify"),
    "panic_cmds": ("panic",),
    "checklist_cmds": ("checklist",),
    "exec_cmds": ("exec",),
    "review_cmds": ("review",),
    "scan_cmds": ("scan", "secure", "mcp-probe", "mcp-disable", "mcp-enable", "mcp-limit"),
    "gateway_cmds": ("gateway", "route", "token"),
    "audit_cmds": ("audit",),
    "export_cmds": ("export",),
    "demo_cmds": ("demo", "sandbox"),
    "doctor_cmds": ("doctor",),
}


def main(argv: list[str] | None = None) -> int:
    """Run ``breaker`` with ``argv`` (default: the process's arguments); returns the exit code."""
    from app.cli.runner import run

    return run(argv)


__all__ = ["COMMAND_MODULES", "main"]
