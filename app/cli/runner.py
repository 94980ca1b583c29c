"""Parse, dispatch, and turn every failure into one line on stderr and an exit code.

Exit codes: 0 fine · 1 findings or failures (a broken audit chain, a store or keyring problem)
· 2 usage or invalid input (argparse errors, validation, an unknown name) · 130 interrupted.
No traceback reaches the owner; ``BREAKER_DEBUG=1`` shows one for an unexpected error.
"""

from __future__ import annotations

import os
import sys
import traceback

from app.cli.context import CliContext
from app.cli.output import error_line
from app.cli.parser import CommandFailed, UsageError, parse

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def run(argv: list[str] | None) -> int:
    try:
        args = parse(argv)
    except UsageError as exc:
        error_line(str(exc))
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version print and "exit" 0
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    ctx = CliContext(args)
    try:
        return _dispatch(args, ctx)
    finally:
        ctx.close()


def _dispatch(args, ctx: CliContext) -> int:
    try:
        ctx.check_home()
        command = getattr(args, "run", None)
        if command is None:
            from app.cli.panel import open_panel_command

            return open_panel_command(ctx)
        return int(command(args, ctx) or 0)
    except UsageError as exc:
        error_line(str(exc))
        return EXIT_USAGE
    except CommandFailed as exc:
        error_line(str(exc))
        return EXIT_FINDINGS
    except KeyboardInterrupt:
        error_line("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`breaker list | head`): say nothing more, and keep Python's
        # own flush at exit from complaining about the closed pipe.
        _silence_stdout()
        return EXIT_FINDINGS
    except Exception as exc:
        return _explain(exc)


def _raised_by(exc: Exception, module: str, *names: str) -> bool:
    """Is ``exc`` one of ``module``'s error classes? Looked up only if the module was imported — an
    exception of a module nobody imported cannot have been raised — so the panel's start-up does
    not pay for importing the whole store stack just to name these classes."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(exc, tuple(getattr(loaded, n) for n in names))


def _explain(exc: Exception) -> int:
    """One line for the owner and the exit code, for every error a command can meet."""
    if _raised_by(exc, "app.services.views", "ValidationError"):
        for field, message in exc.errors.items():  # type: ignore[attr-defined]
            error_line(f"{field}: {message}")
        return EXIT_USAGE
    if _raised_by(exc, "app.services.inventory", "NotFound") or _raised_by(
        exc, "connectors.registry", "UnknownProvider"
    ):
        error_line(str(exc))
        return EXIT_USAGE
    if (
        _raised_by(exc, "app.store.errors", "StoreError")
        or _raised_by(exc, "app.settings", "ConfigError")
        or _raised_by(exc, "app.services.keyrings", "NoKeyringError")
        or _raised_by(exc, "app.services.secrets", "SecretStoreError")
    ):
        error_line(str(exc))
        return EXIT_FINDINGS
    if _raised_by(exc, "sqlalchemy.exc", "DatabaseError") or _raised_by(exc, "sqlite3", "DatabaseError"):
        from app.store.errors import explain  # a damaged or full database met outside a unit of work

        error_line(explain(exc, "Breaker's database"))
        return EXIT_FINDINGS
    if _raised_by(exc, "app.services.audit", "SecretInAuditError"):
        error_line(f"refused: {exc}")
        return EXIT_FINDINGS
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        error_line(f"{where}{exc.strerror or type(exc).__name__}")
        return EXIT_FINDINGS
    if os.environ.get("BREAKER_DEBUG"):
        # Masked: a third-party message (a keyring backend's, a library's) may quote a key.
        from connectors.masking import mask_known

        print(mask_known("".join(traceback.format_exception(exc))), end="", file=sys.stderr)
    # Only the type: a third-party message could quote a header, and headers carry keys.
    error_line(
        f"unexpected error ({type(exc).__name__}); run again with BREAKER_DEBUG=1 for details, and please report it"
    )
    return EXIT_FINDINGS


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
