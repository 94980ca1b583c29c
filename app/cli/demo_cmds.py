"""``breaker demo`` (the panel on a throwaway demo inventory, with the sandbox running in-process)
and ``breaker sandbox`` (the demo's sandbox alone, so the CLI can be tried from another terminal)."""

from __future__ import annotations

import argparse
import errno
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from app.cli.context import CliContext
from app.cli.output import note
from app.cli.parser import CommandFailed, UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="open the panel on a demo inventory, with a loopback sandbox (no real keys)",
        description="Prepare a demo home (default: a 'demo' folder in Breaker's data folder; --home DIR "
        "chooses another), start the loopback provider sandbox and open the panel on it. "
        "Your real inventory and keyring are never touched.",
    )
    p.add_argument(
        "--port",
        type=int,
        default=None,
        metavar="N",
        help="move the demo sandbox to loopback port N (the demo connectors follow)",
    )
    p.set_defaults(run=run_demo)

    p = subparsers.add_parser(
        "sandbox",
        help="run the demo home's loopback sandbox in the foreground (Ctrl-C stops)",
        description="Run the provider sandbox of a demo home until Ctrl-C, so that commands such as "
        "`breaker --home DIR probe --all` can be tried from another terminal. Revoked keys stay "
        "revoked: the sandbox's state is saved in the demo home.",
    )
    p.add_argument(
        "--port",
        type=int,
        default=None,
        metavar="N",
        help="move the demo sandbox to loopback port N (the demo connectors follow)",
    )
    p.set_defaults(run=run_sandbox)


def _demo_home(ctx: CliContext, command: str) -> Path:
    if ctx.db:
        raise UsageError(f"--db cannot be used with `breaker {command}`: a demo keeps its own database in its home")
    if ctx.home:
        return Path(ctx.home).expanduser().resolve()
    from app.services.demo import default_demo_home

    return default_demo_home()


def _check_port(port: int | None) -> None:
    if port is not None and not 1024 <= port <= 65535:
        raise UsageError("--port must be between 1024 and 65535")


def prepare(ctx: CliContext, command: str, port: int | None) -> Path:
    from app.services.demo import DemoError, prepare_demo_home

    _check_port(port)
    home = _demo_home(ctx, command)
    try:
        settings = prepare_demo_home(home, port=port)
    except DemoError as exc:
        raise CommandFailed(str(exc)) from None
    ctx.use_settings(replace(settings, read_only=ctx.read_only or settings.read_only))
    return home


def _sandbox_answers(port: int) -> bool:
    """Is a Breaker sandbox (e.g. `breaker sandbox` in another terminal) already on this port?"""
    import httpx

    try:
        response = httpx.get(f"http://127.0.0.1:{port}/_sandbox/", timeout=1.0)
        return response.status_code == 200 and "providers" in response.json()
    except (httpx.HTTPError, ValueError):
        return False


def _busy(port: int, home: Path) -> CommandFailed:
    return CommandFailed(
        f"loopback port {port}, kept for this demo's sandbox, is used by another program; "
        f"choose another with `breaker --home {home} demo --port N`"
    )


@contextmanager
def running_sandbox(home: Path, port: int, *, allow_external: bool) -> Iterator[object | None]:
    """The demo sandbox on ``port`` for the duration; its state is saved as it changes and at the end.

    Yields the started server, or None when ``allow_external`` and a Breaker sandbox already
    serves the port (then that one owns the state)."""
    from app.services.demo import StateSaver, load_sandbox_state
    from connectors.sandbox.server import ThreadedSandbox

    try:
        state = load_sandbox_state(home)
    except Exception as exc:  # DemoError: an unreadable state file
        raise CommandFailed(str(exc)) from None
    runner = ThreadedSandbox(state, port=port)
    try:
        server = runner.start()
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
            raise CommandFailed(f"the demo sandbox could not start on port {port}: {exc.strerror}") from None
        if not (allow_external and _sandbox_answers(port)):
            raise _busy(port, home) from None
        server = None
    if server is None:
        note(f"Using the Breaker sandbox already running on port {port}.")
        yield None
        return
    saver = StateSaver(home, state).start()
    try:
        yield server
    finally:
        runner.stop()
        saver.stop()


def run_demo(args: argparse.Namespace, ctx: CliContext) -> int:
    home = prepare(ctx, "demo", args.port)
    return open_demo_panel(ctx, home)


def open_demo_panel(ctx: CliContext, home: Path) -> int:
    """The panel on a prepared demo home, with its sandbox (also used by `breaker --home DEMO`)."""
    from app.cli.panel import open_panel
    from app.services.demo import demo_port

    services = ctx.services
    port = demo_port(services.settings)
    if port is None:
        raise CommandFailed(
            f"{services.settings.config_path} has no [demo] sandbox_port; run `breaker demo --home {home}`"
        )
    note(f"Demo home: {home}  (sandbox on http://127.0.0.1:{port}; try `breaker --home {home} list` elsewhere)")
    with running_sandbox(home, port, allow_external=True) as server:
        open_panel(services, read_only=services.settings.read_only, sandbox=server)
    return 0


def run_sandbox(args: argparse.Namespace, ctx: CliContext) -> int:
    from app.services.demo import demo_port

    home = prepare(ctx, "sandbox", args.port)
    port = demo_port(ctx.settings)
    assert port is not None  # prepare wrote it
    ctx.close()  # the sandbox needs no database connection while it runs
    stop = threading.Event()
    previous = _on_sigterm(stop)
    try:
        with running_sandbox(home, port, allow_external=False) as server:
            print(f"Breaker sandbox for the demo home {home} on {server.url}", file=ctx.stdout)  # type: ignore[union-attr]
            print(f"Try in another terminal:  breaker --home {home} list   (then probe, disable …)", file=ctx.stdout)
            print("Ctrl-C stops it; its state (revoked keys …) is saved in the demo home.", file=ctx.stdout, flush=True)
            try:
                while not stop.wait(0.5):  # short waits keep Ctrl-C responsive
                    pass
            except KeyboardInterrupt:
                pass
    finally:
        _restore_sigterm(previous)
    print("Sandbox stopped; state saved.", file=ctx.stdout)
    return 0


def _on_sigterm(stop: threading.Event):
    """`kill PID` stops the sandbox as cleanly as Ctrl-C (state saved)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        return signal.signal(signal.SIGTERM, lambda *_: stop.set())
    except (ValueError, OSError):
        return None


def _restore_sigterm(previous) -> None:
    if previous is not None:
        try:
            signal.signal(signal.SIGTERM, previous)
        except (ValueError, OSError):
            pass
