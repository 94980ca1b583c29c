"""Opening the Textual panel from the command line. Textual is imported only here, and only when
the panel really opens, so every other command starts fast and works without a terminal."""

from __future__ import annotations

import sys

from app.cli.context import CliContext
from app.cli.parser import UsageError


def terminal_ok() -> bool:
    """The panel draws on a terminal; in a pipe or a cron job it would wait forever for keys."""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def open_panel(services, *, read_only: bool = False, sandbox=None, settings=None) -> str | None:
    """``services`` may be a factory: the panel then paints its first frame before opening the store."""
    if not terminal_ok():
        raise UsageError(
            "the panel needs a terminal; in scripts use a command such as `breaker list` (see `breaker --help`)"
        )
    from app.services.tuning import pause_cyclic_gc

    resume_gc = pause_cyclic_gc()  # until the first frame is painted (what it buys: app.services.tuning)
    try:
        try:
            from app.tui.app import run_panel
        except ModuleNotFoundError as exc:
            if exc.name and (exc.name == "app.tui" or exc.name.startswith("app.tui.")):
                raise UsageError(
                    "this installation has no panel (app.tui is missing); the commands still work: see `breaker --help`"
                ) from None
            raise
        return run_panel(services, read_only=read_only, sandbox=sandbox, settings=settings, first_frame=resume_gc)
    finally:
        resume_gc()


def open_panel_command(ctx: CliContext) -> int:
    """``breaker`` with no command: the panel on the owner's inventory (or the --home one)."""
    settings = ctx.settings
    if settings.demo and settings.home is not None:  # a demo home: bring its sandbox up too
        from app.cli.demo_cmds import open_demo_panel

        return open_demo_panel(ctx, settings.home)
    chosen = open_panel(lambda: ctx.services, read_only=settings.read_only, settings=settings)
    if chosen == "demo":  # the welcome screen's "Try the demo": the demo home, never this inventory
        import argparse

        from app.cli.demo_cmds import open_demo_panel, prepare

        ctx.close()
        demo = CliContext(argparse.Namespace(read_only=False))
        return open_demo_panel(demo, prepare(demo, "demo", None))
    return 0
