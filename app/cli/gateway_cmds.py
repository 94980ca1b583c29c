"""``breaker gateway`` (run the loopback gateway in the foreground), ``breaker route NAME`` (hand a
connector out through it, or as its key again) and ``breaker token NAME`` (issue, list, revoke the
Breaker tokens agents use instead of the key)."""

from __future__ import annotations

import argparse
import contextlib
from typing import TYPE_CHECKING

from app.cli.context import CliContext
from app.cli.output import ago, note, print_json, table
from app.cli.parser import CommandFailed, UsageError

if TYPE_CHECKING:
    import asyncio


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "gateway",
        help="run the loopback gateway in the foreground: every routed connector's mode enforced per request",
        description="Serve the routed connectors on loopback (Ctrl-C stops). Agents send the Breaker token "
        "to http://127.0.0.1:PORT/NAME/…; the gateway classifies each request, refuses what the mode does "
        "not allow (or holds it for your answer), adds the real key and forwards it.",
    )
    p.add_argument("--port", type=int, default=None, metavar="N", help="loopback port (default 8791)")
    p.add_argument("--host", default="127.0.0.1", metavar="ADDR", help="a loopback address (default 127.0.0.1)")
    p.add_argument(
        "--run-by",
        metavar="LABEL",
        help="run for another program (the panel does this): one JSON line per event on stdout (listening, "
        "held, stopped), no answers read from stdin, and the gateway stops when its stdin closes",
    )
    p.set_defaults(run=run_gateway)

    p = subparsers.add_parser(
        "route",
        help="hand a connector to agents through the gateway instead of as its key (--off: as its key again)",
        description="Route NAME through the gateway: `breaker exec NAME` then gives the child a Breaker "
        "token and the gateway's URL, never the key. --above ask holds requests above the mode for your "
        "answer instead of refusing them. Without NAME, lists the routes.",
    )
    p.add_argument("name", nargs="?", metavar="NAME", help="the connector")
    p.add_argument("--upstream", metavar="URL", help="where requests go (default: the connector's base URL)")
    p.add_argument("--rules-host", metavar="HOST", help="the provider host the upstream stands for (sandbox)")
    p.add_argument("--above", choices=("refuse", "ask"), help="requests above the mode: refuse (default) or ask")
    p.add_argument("--off", action="store_true", help="hand the connector out as its key again (revokes its tokens)")
    p.add_argument(
        "--oauth-client",
        metavar="CLIENT_ID",
        help="the connector holds an OAuth refresh token: the client it belongs to (its secret is read hidden, "
        "or from stdin); the gateway then refreshes access tokens itself",
    )
    p.add_argument(
        "--tenant",
        metavar="TENANT",
        help="Microsoft Graph: the tenant whose token endpoint refreshes the access tokens (its ID, a domain "
        "name such as contoso.onmicrosoft.com, or organizations / consumers / common; default common)",
    )
    p.add_argument("--json", action="store_true", help="one JSON document")
    p.set_defaults(run=run_route)

    p = subparsers.add_parser(
        "token",
        help="issue a Breaker token for a routed connector and one client (shown once), list or revoke them",
        description="Print a new token for NAME and --client (shown this once; Breaker keeps only its hash), "
        "list the tokens (--list) or revoke one (--revoke ID).",
    )
    p.add_argument("name", metavar="NAME", help="the connector")
    p.add_argument("--client", metavar="LABEL", help="who gets the token (e.g. 'invoice agent')")
    p.add_argument("--list", action="store_true", help="list the tokens (never their values)")
    p.add_argument("--revoke", type=int, metavar="ID", help="revoke token ID")
    p.set_defaults(run=run_token)


def _gateway(ctx: CliContext):
    from app.services.gateway import Gateway

    return Gateway(ctx.services)


def run_route(args: argparse.Namespace, ctx: CliContext) -> int:
    from app.services.gateway import GatewayError, GatewayInputError

    gw = _gateway(ctx)
    if args.name is None:
        routes = gw.routes()
        if args.json:
            print_json(
                {
                    "routes": [
                        {
                            "connector": r.connector,
                            "provider": r.provider,
                            "upstream": r.upstream,
                            "rules_host": r.rules_host,
                            "above": r.on_above.value,
                            "tokens": r.tokens,
                            "tenant": r.tenant,
                        }
                        for r in routes
                    ]
                },
                ctx.stdout,
            )
        else:
            rows = [[r.connector, r.upstream, r.on_above.value, str(r.tokens)] for r in routes]
            headers = ["CONNECTOR", "UPSTREAM", "ABOVE MODE", "TOKENS"]
            if any(r.tenant for r in routes):  # only where a provider has tenants (Microsoft)
                rows = [row + [r.tenant or "-"] for row, r in zip(rows, routes, strict=True)]
                headers.append("TENANT")
            table(headers, rows, ctx.stdout)
        return 0
    ctx.require_writable("route")
    try:
        if args.off:
            done = gw.unroute(args.name)
            note(f"{args.name} is handed out as its key again" if done else f"{args.name} was not routed")
            if done and (left := gw.unrouted_note(args.name)):
                note(left)
            return 0
        if args.tenant is not None:  # first: a tenant refused changes nothing
            tenant = gw.set_tenant(args.name, args.tenant)
            note(f"{args.name}: the gateway redeems its refresh token at tenant {tenant}")
        view = gw.route(args.name, upstream=args.upstream, rules_host=args.rules_host, on_above=args.above)
        if args.oauth_client:
            from app.cli.prompts import read_key
            from app.services.gateway import set_oauth_client

            secret = read_key(ctx, "OAuth client secret (input hidden): ")
            set_oauth_client(ctx.services, args.name, args.oauth_client, secret)
            note(f"{args.name}: the gateway refreshes its access tokens with OAuth client {args.oauth_client}")
    except GatewayInputError as exc:  # bad input: exit 2, as every other command's
        raise UsageError(str(exc)) from None
    except GatewayError as exc:
        raise CommandFailed(str(exc)) from None
    note(
        f"{view.connector} goes through the gateway to {view.upstream} (rules of {view.rules_host}); "
        f"requests above its mode are {'held for your answer' if view.on_above.value == 'ask' else 'refused'}. "
        f"`breaker exec {view.connector} -- CMD` hands out a token, not the key."
    )
    return 0


def run_token(args: argparse.Namespace, ctx: CliContext) -> int:
    from app.services.gateway import GatewayError, GatewayInputError

    gw = _gateway(ctx)
    try:
        if args.list:
            rows = [
                [str(t.id), t.client, ago(t.created_at), "revoked " + ago(t.revoked_at) if t.revoked_at else "live"]
                for t in gw.tokens(args.name)
            ]
            table(["ID", "CLIENT", "ISSUED", "STATE"], rows, ctx.stdout)
            return 0
        ctx.require_writable("token")
        if args.revoke is not None:
            if not gw.revoke(args.name, args.revoke):
                raise CommandFailed(f"{args.name} has no live token {args.revoke}")
            note(f"token {args.revoke} of {args.name} revoked")
            return 0
        if not args.client:
            raise UsageError("name the client the token is for: --client LABEL")
        issued = gw.issue(args.name, args.client)
    except GatewayInputError as exc:  # bad input: exit 2, as every other command's
        raise UsageError(str(exc)) from None
    except GatewayError as exc:
        raise CommandFailed(str(exc)) from None
    note(f"token {issued.id} for {issued.client} (shown once; Breaker keeps only its hash):")
    ctx.stdout.write(issued.token + "\n")
    return 0


def run_gateway(args: argparse.Namespace, ctx: CliContext) -> int:
    import errno
    import signal

    from app.gateway.server import NotLoopback, run
    from app.services.gateway import DEFAULT_PORT, port_taken_message

    port = DEFAULT_PORT if args.port is None else args.port
    if not 1024 <= port <= 65535:
        raise UsageError("--port must be between 1024 and 65535")
    serve = _serve(ctx, args.host, port) if not args.run_by else _serve_for(ctx, args.host, port, args.run_by)
    # SIGTERM ends the gateway as Ctrl-C does. uvicorn catches both while it serves, then raises the
    # signal again once it has stopped; SIGTERM's default action would end the process there, before
    # the `finally` that records gateway.stopped (tests/gateway/test_process.py).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return run(serve)
    except NotLoopback as exc:
        _say_failed(args, str(exc), ctx)
        raise UsageError(str(exc)) from None
    except OSError as exc:
        message = f"the gateway could not listen on {args.host}:{port}: {exc.strerror}"
        if exc.errno == errno.EADDRINUSE:
            message = port_taken_message(args.host, port, for_panel=bool(args.run_by))
        _say_failed(args, message, ctx)
        raise CommandFailed(message) from None
    except KeyboardInterrupt:
        note("gateway stopped")
        return 0


async def _serve(ctx: CliContext, host: str, port: int) -> int:
    import asyncio

    from app.gateway.queue import HoldQueue
    from app.gateway.server import running
    from app.services.gateway import record_run
    from app.services.queue import Queue

    routes = _gateway(ctx).routes()
    here: set[int] = set()  # holds answered at this terminal (their reply is printed already)

    def answered(hold_id: int, state: str, status: int | None) -> None:
        if state == "forwarded":
            note(f"#{hold_id} sent, once (the provider answered {status})", ctx.stderr)
        elif state == "withdrawn" or hold_id not in here:
            note(answered_elsewhere(hold_id, state), ctx.stderr)

    queue = HoldQueue(ctx.services, on_held=lambda view: note(held_line(view), ctx.stderr), on_answered=answered)
    answers = Queue(ctx.services)
    async with running(ctx.services, host, port, queue=queue, on_event=lambda text: note(text, ctx.stderr)) as gw:
        note(f"Breaker gateway on {gw.url} (Ctrl-C stops). Routed: {', '.join(r.connector for r in routes) or 'none'}")
        note("Held requests are printed here; answer `y [ID]` or `n [ID]` (the oldest when no ID), or in the panel.")
        record_run(ctx.services, True, gw.url, "breaker gateway")
        try:
            with serving_collector():
                lines = _lines_of(ctx.stdin)
                while True:
                    line = await lines.get()
                    if not line:  # stdin closed: keep serving, answers come from the panel
                        await asyncio.Event().wait()
                    reply = await asyncio.to_thread(answer_line, answers, line, here)
                    if reply:
                        note(reply, ctx.stderr)
        finally:
            record_run(ctx.services, False, gw.url, "breaker gateway")


def serving_collector():
    """Once the gateway serves: what start-up left alive frozen out of the cyclic collector, and its
    young generation collected every 50,000 allocations instead of 700 (app.services.tuning). With
    100 agents' requests in flight, each young collection walked their live objects: ~1 ms each,
    ~40 of them (and 3-4 middle ones of ~3.8 ms) per 2,200 requests — a pause for whichever request
    arrived then; with this, none in the same window (docs/benchmarks.md, session 7)."""
    from app.services import tuning

    return tuning.long_run_collector()


def _lines_of(stream) -> asyncio.Queue[str]:
    """The owner's lines on ``stream``, then "" at its end, read by a daemon thread. Not the loop's
    executor: asyncio waits for the executor's threads when it ends, so a read still blocked on the
    terminal kept ``breaker gateway`` from ending at Ctrl-C until Enter was pressed."""
    import asyncio
    import threading

    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:
        with contextlib.suppress(RuntimeError):  # the loop already ended
            with contextlib.suppress(OSError, ValueError):
                for line in iter(stream.readline, ""):
                    loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, "")

    threading.Thread(target=read, name="stdin-lines", daemon=True).start()
    return lines


def emit(stream, event: str, **fields) -> None:
    """One machine-readable line for the program running the gateway (``--run-by``)."""
    import json

    stream.write(json.dumps({"event": event, **fields}) + "\n")
    stream.flush()


def _say_failed(args: argparse.Namespace, message: str, ctx: CliContext) -> None:
    if args.run_by:
        emit(ctx.stdout, "failed", error=message)


async def _serve_for(ctx: CliContext, host: str, port: int, run_by: str) -> int:
    """``breaker gateway --run-by LABEL``: the same gateway, run by another program (the panel).

    It says what happens as JSON lines on stdout — ``listening`` (with the URL, once it accepts
    connections), ``held`` (a request now waits for the owner's answer, with its ID), ``stopped``
    (audited; open requests are ended next), ``failed`` (could not listen, with the reason) —
    and stops when its stdin closes: the program closes it to stop the gateway, and a program that
    dies closes it too, so the gateway never outlives it. SIGTERM also stops it gracefully.
    """
    import asyncio
    import os
    import signal
    import threading

    from app.gateway.queue import HoldQueue
    from app.gateway.server import running
    from app.services.gateway import record_run

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def wait_for_eof() -> None:  # a daemon thread: a read still blocked never holds the process at exit
        with contextlib.suppress(OSError, ValueError):
            while ctx.stdin.read(4096):
                pass
        with contextlib.suppress(RuntimeError):  # the loop already ended
            loop.call_soon_threadsafe(stop.set)

    where = f"{run_by} (process {os.getpid()})"
    queue = HoldQueue(ctx.services, on_held=lambda view: emit(ctx.stdout, "held", id=view.id))
    async with running(ctx.services, host, port, queue=queue, on_event=lambda _text: None) as gw:
        await asyncio.to_thread(record_run, ctx.services, True, gw.url, where)
        try:
            loop.add_signal_handler(signal.SIGTERM, stop.set)
            threading.Thread(target=wait_for_eof, name="stdin-eof", daemon=True).start()
            emit(ctx.stdout, "listening", url=gw.url, pid=os.getpid())
            with serving_collector():
                await stop.wait()
        finally:
            await asyncio.to_thread(record_run, ctx.services, False, gw.url, where)
            emit(ctx.stdout, "stopped")  # audited; open requests are ended next
    return 0


def held_line(view) -> str:
    from connectors.textsafe import plain

    said = list(view.summary.get("first_lines") or [])
    if said and f"“{said[0]}”" in view.what:  # the summary quotes the first line already
        said = said[1:]
    lines = " / ".join(said)
    more = f" — then: “{lines}”" if lines else ""
    return plain(
        f"HELD #{view.id} {view.connector} ({view.level.label}): {view.what}{more}. "
        f"Answer y {view.id} or n {view.id} within {int((view.expires_at - view.created_at).total_seconds())} s."
    )


def answered_elsewhere(hold_id: int, state: str) -> str:
    """A hold answered in the panel (or by another ``breaker`` process), as this terminal says it."""
    said = {
        "approved": "approved in the panel; sending it once",
        "denied": "denied in the panel",
        "withdrawn": "not sent after all: the draft changed after it was shown (withdrawn)",
    }
    return f"#{hold_id} {said.get(state, state)}"


def answer_line(queue, line: str, here: set[int] | None = None) -> str:
    """``y``/``n`` with an optional hold ID (default: the oldest held request) → what happened."""
    words = line.strip().lower().split()
    if not words:
        return ""
    if words[0] not in ("y", "yes", "n", "no") or len(words) > 2 or (len(words) == 2 and not words[1].isdigit()):
        return "answer `y [ID]` to approve or `n [ID]` to deny"
    pending = queue.pending()
    if len(words) == 2:
        hold_id = int(words[1])
    elif pending:
        hold_id = pending[0].id
    else:
        return "nothing is held"
    approve = words[0] in ("y", "yes")
    if here is not None:
        here.add(hold_id)
    view = queue.answer(hold_id, approve)
    if view is None:
        return f"#{hold_id} is not held any more (answered, timed out or unknown)"
    if view.lost:
        return f"#{hold_id} was not approved: {view.why_lost} ({view.connector})"
    return f"#{hold_id} {'approved; the gateway will send it once' if approve else 'denied'} ({view.connector})"
