"""``breaker probe NAME… | --all [--deep] [--json]``: what each key can do right now.

Exit code 1 when any probe failed or shows drift (live power beyond what was declared or what
the mode allows), so cron can alert on it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Any

from app.cli.context import CliContext
from app.cli.output import clip, note, print_json, table
from app.cli.parser import UsageError
from app.services.tuning import long_run_collector, no_collection_at_exit, no_cyclic_gc, without_httpx_cli
from connectors import registry
from connectors.base import Outcome

if TYPE_CHECKING:  # the probing stack (httpx) loads when a probe runs, not to parse arguments
    from app.services.probing import ProbeResult

SCHEMA = "breaker.probe/1"
HEADERS = ("NAME", "OUTCOME", "LIVE", "SCOPES", "LATENCY", "DRIFT / REASON")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "probe",
        help="probe connectors live (read-only calls to each provider)",
        description="Ask each provider what the key can do now: identity, live scopes and their levels, "
        "expiry, rate-limit state. Ordinary probes only read. --deep adds deliberately invalid "
        "writes aimed at objects that do not exist, to learn write permissions the provider does "
        "not report; the number of requests per provider is printed before it runs. "
        "Exit code 1 when any probe fails or shows drift.",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="connectors to probe")
    p.add_argument("--all", action="store_true", help="probe every connector")
    p.add_argument("--deep", action="store_true", help="also run write-permission probes (opt-in)")
    p.add_argument("--json", action="store_true", help=f"print the {SCHEMA} JSON document")
    p.set_defaults(run=run_probe)


def result_record(result: ProbeResult, provider: str) -> dict[str, Any]:
    r = result.report
    ok = r.outcome is Outcome.OK
    return {
        "name": result.connector,
        "provider": provider,
        "outcome": r.outcome.value,
        "status": r.status,
        "identity": r.identity or None,
        "token_kind": r.token_kind or None,
        "live_level": live_word(r),
        "live_scopes": [{"scope": g.scope, "level": g.level.label} for g in r.grants] if ok else [],
        "expires_at": r.expires_at.isoformat() if r.expires_at else None,
        "latency_ms": r.latency_ms,
        "requests": r.requests,
        "deep": r.deep,
        "error": r.error or None,
        "drift": list(result.drift),
    }


def live_word(r) -> str:
    """A level, "none" (the key no longer works) or "unknown" (the probe could not tell)."""
    if r.outcome is Outcome.OK and r.live_level is not None:
        return r.live_level.label
    return "none" if r.outcome in (Outcome.INVALID, Outcome.REVOKED) else "unknown"


def _row(result: ProbeResult) -> list[str]:
    r = result.report
    ok = r.outcome is Outcome.OK
    reason = "; ".join(result.drift) if result.drift else (r.error if not ok else "")
    return [
        result.connector,
        r.outcome.value,
        live_word(r),
        str(len(r.grants)) if ok else "-",
        f"{r.latency_ms:.0f} ms",
        clip(reason, 70),
    ]


def _warm_network() -> None:
    """Load the TLS certificate store and the HTTP transport's modules on a thread while the main
    thread reads the inventory: OpenSSL reads the CA bundle without the GIL (25–120 ms on the shared
    test machine), so it overlaps the inventory read instead of delaying the first request; the
    first client would do the same work, later (docs/benchmarks.md, session 7: first request median
    0.63 -> 0.55 s)."""
    try:
        from app.services import aiotransport, netutil  # noqa: F401 (imported for its module-level work)

        netutil.tls_context()
    except Exception:  # the first client meets (and reports) any real problem
        logging.getLogger(__name__).debug("warming the HTTP stack failed", exc_info=True)


def run_probe(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.all and args.names:
        raise UsageError("give connector names or --all, not both")
    if not args.all and not args.names:
        raise UsageError("name the connectors to probe, or use --all")
    without_httpx_cli()  # what it buys: app.services.tuning
    warming = threading.Thread(target=_warm_network, name="breaker-warm-network")
    warming.start()  # joined at exit at the latest; a failure there only leaves the work to the first client
    with no_cyclic_gc():  # start-up: the views, the HTTP stack's modules, nothing cyclic to free
        # The store opens on the first worker thread that needs it (writing the first results), while
        # the first requests are on the wire: its import is half a second of CPU (docs/benchmarks.md).
        views, services = ctx.views_and_opening_services()
        from app.services.probing import Prober

        prober = Prober(services)
    known = {v.name: v for v in views}
    for name in args.names:
        if name not in known:
            from app.services.inventory import NotFound

            raise UsageError(str(NotFound(name, known)))
    chosen = views if args.all else [known[n] for n in dict.fromkeys(args.names)]
    if not chosen:
        note("No connectors to probe.", ctx.stderr)
        return 0
    if args.deep:
        providers = sorted({v.provider for v in chosen})
        note("Deep probe: deliberately invalid writes to objects that do not exist, never to real ones.", ctx.stderr)
        for name in providers:
            try:
                count = registry.get(name).deep_probe_requests
            except KeyError:
                continue
            extra = f"up to {count} extra requests per connector" if count else "nothing more than an ordinary probe"
            note(f"  {name}: {extra}", ctx.stderr)

    provider_of = {v.name: v.provider for v in chosen}
    streamed: list[ProbeResult] = []

    def on_result(result: ProbeResult) -> None:
        streamed.append(result)
        if not args.json and len(chosen) > 1 and ctx.stderr.isatty():  # progress as results arrive
            note(f"  [{len(streamed)}/{len(chosen)}] {result.connector}: {result.report.outcome.value}", ctx.stderr)

    no_collection_at_exit()  # what it buys: app.services.tuning
    with long_run_collector():  # what both buy: app.services.tuning
        results = asyncio.run(prober.probe([v.name for v in chosen], deep=args.deep, on_result=on_result, views=views))
    with no_cyclic_gc():  # 1,000 records, acyclic: a collection here walks all the probe-all left (~0.1 s)
        return _report(args, ctx, results, provider_of)


def _report(args: argparse.Namespace, ctx: CliContext, results: list[ProbeResult], provider_of: dict[str, str]) -> int:
    findings = [r for r in results if r.finding]
    if args.json:
        print_json(
            {
                "schema": SCHEMA,
                "results": [result_record(r, provider_of[r.connector]) for r in results],
                "findings": len(findings),
            },
            ctx.stdout,
        )
    else:
        table(HEADERS, [_row(r) for r in results], ctx.stdout)
        failed = sum(r.failed for r in results)
        drift = sum(bool(r.drift) for r in results)
        note(f"{len(results)} probed: {len(results) - failed} ok, {failed} failed, {drift} with drift.", ctx.stderr)
        if ctx.settings.demo and results and all(r.report.outcome is Outcome.UNREACHABLE for r in results):
            note(
                "The demo sandbox is not running: start it in another terminal with "
                f"`breaker sandbox --home {ctx.settings.home}`.",
                ctx.stderr,
            )
    return 1 if findings else 0
