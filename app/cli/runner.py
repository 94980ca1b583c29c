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
    # Imported here so that `breaker --help` stays fast and an import problem is reported like any error.
    from app.services.audit import SecretInAuditError
    from app.services.inventory import NotFound, ValidationError
    from app.services.keyrings import NoKeyringError
    from app.services.secrets import SecretStoreError
    from app.settings import ConfigError
    from app.store.db import StoreError
    from connectors.registry import UnknownProvider

    try:
        command = getattr(args, "run", None)
        if command is None:
            from app.cli.panel import open_panel_command

            return open_panel_command(ctx)
        return int(command(args, ctx) or 0)
    except UsageError as exc:
        error_line(str(exc))
        return EXIT_USAGE
    except ValidationError as exc:
        for field, message in exc.errors.items():
            error_line(f"{field}: {message}")
        return EXIT_USAGE
    except (NotFound, UnknownProvider) as exc:
        error_line(str(exc))
        return EXIT_USAGE
    except (CommandFailed, StoreError, ConfigError, NoKeyringError, SecretStoreError) as exc:
        error_line(str(exc))
        return EXIT_FINDINGS
    except SecretInAuditError as exc:
        error_line(f"refused: {exc}")
        return EXIT_FINDINGS
    except KeyboardInterrupt:
        error_line("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`breaker list | head`): say nothing more, and keep Python's
        # own flush at exit from complaining about the closed pipe.
        _silence_stdout()
        return EXIT_FINDINGS
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        error_line(f"{where}{exc.strerror or type(exc).__name__}")
        return EXIT_FINDINGS
    except Exception as exc:  # noqa: BLE001 — the last line of defence: never a traceback for the owner
        if os.environ.get("BREAKER_DEBUG"):
            traceback.print_exc()
        # Only the type: a third-party message could quote a header, and headers carry keys.
        error_line(f"unexpected error ({type(exc).__name__}); run again with BREAKER_DEBUG=1 for details, "
                   "and please report it")
        return EXIT_FINDINGS


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
