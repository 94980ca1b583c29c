"""Every interpreter setting Breaker changes, in one place, with what a benchmark shows it buys.

Three tricks, each scoped:

- :func:`no_cyclic_gc` — no cyclic garbage collection while a command builds a whole inventory's
  views and records (`breaker list`, `breaker export`), and while a panic journals and records
  every connector disabled. Those are tens of thousands of acyclic objects, freed by reference
  counting; the collector's passes over them free nothing. What it buys, alternating runs with and
  without it in the same run (``--compare-untuned``), on the shared 2-core machine at load 8–11:
  `breaker list --json` of 10,000 connectors, median 4.03 s instead of 4.56 s (min 3.33 instead of
  3.58, 5 runs each; tests/benchmarks/bench_startup.py); a panic of 200 connectors, all recorded
  locally in a median 230 ms instead of 277 ms (min 202 instead of 273, 3 runs each;
  tests/benchmarks/bench_panic.py). Counted in instructions (callgrind, steady whatever the load),
  after `list --json` came to build its records straight from the columns: 2.12 G with it against
  2.23 G without (5 %; a bare sqlite3 + json dump of the same rows: 2.13 G).

- :func:`pause_cyclic_gc` — no cyclic garbage collection from the moment the panel command starts
  until the panel's first frame is painted; then everything that exists (Textual, the widgets, the
  styles, the first rows: long-lived, and what a collection would walk again and again) is frozen
  out of the collector's generations and collection resumes. The start allocates some 10^5
  objects and frees next to none, so the passes the collector made over them freed nothing:
  bench_startup's panel at 1,000 connectors, 1,690 → 1,646 M instructions to the first frame with
  rows (callgrind), the Textual import not even counted (the benchmark's child imports it earlier).

- :func:`long_run_collector` — around a probe-all's probing (`breaker probe --all`; its start-up,
  the store stack's modules and the views, runs under :func:`no_cyclic_gc`): ``gc.freeze`` of what
  start-up left alive, and a young generation of 50,000 allocations instead of 700. Measured with ``gc.callbacks`` (the collector's own CPU
  time, steady whatever the load) in `breaker probe --all` of tests/benchmarks/bench_probe.py's
  1,000 connectors: 151–159 ms instead of 366–377 ms (2 runs each; the 3 full collections of the
  untuned run alone cost 155 ms, the tuned run has none); peak memory 106 MB. A young generation
  of 1,000,000 saves nothing more: the collection is only put off to the next allocation after
  the block. Also `breaker gateway` once it serves (app.cli.gateway_cmds.serving_collector): with
  100 agents' requests in flight each young collection walked their live objects, ~1 ms each, 38
  of them and 4 middle ones (~3 ms each) in 2,200 requests — 52 ms of collector CPU and as many
  pauses for whichever request arrived then; with it, no collection in the same window (collector
  CPU from ``gc.callbacks``, tests/benchmarks/bench_gateway.py's 100 clients at 1,000 ms).

- :func:`no_collection_at_exit` — `breaker probe` freezes what is alive when the interpreter
  exits, so the interpreter's final collections skip it (the process's end frees it all anyway).
  After a probe-all of bench_probe's 1,000 connectors, from the last answer to the process's exit:
  median 0.44 s (0.40–0.52) before, 0.11 s (0.08–0.14) with it (4 alternated runs each, load 2);
  the command's own work in that span (the last batch, the JSON) is under 0.06 s.

- :func:`without_httpx_cli` — `breaker probe` marks httpx's command-line module as absent before
  httpx is first imported: httpx imports it (and with it rich and click, when they are installed,
  as Textual's dependencies are) only to offer its own `httpx` command, which Breaker never runs.
  ``python -X importtime -c "import httpx"``, 5 runs each at load 3: 134–146 ms with it, 69–106 ms
  without (httpx._main alone 58–79 ms).

Removed because no benchmark showed what they buy: shorter GIL slices (``sys.setswitchinterval``)
during a probe-all — 1,000 probes at 100 ms, 5 runs each way, wall clock at load 8–11: differences
inside the spread (a young-generation threshold was dropped with it then, and is back above with
the collector's own CPU time as its measure, which the load does not blur); and ``gc.freeze`` in
the panel's main screen, which no benchmark measured.

Nothing else in Breaker touches ``gc`` or ``sys.setswitchinterval`` (tests/unit/test_tuning.py
checks). ``ACTIVE = False`` turns the trick into a plain block: the benchmarks' --compare-untuned
runs set it, to show the figures above again.
"""

from __future__ import annotations

import atexit
import gc
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

ACTIVE = True  # the benchmarks' --compare-untuned runs set it to False
_EXIT_FREEZE = False


def without_httpx_cli() -> None:
    """Mark ``httpx._main`` (httpx's own command line: rich, click) as absent, so that importing
    httpx skips it — httpx then defines a ``main`` that only explains its extra is missing. Nothing
    changes when httpx is already imported."""
    if ACTIVE and "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[assignment]


def no_collection_at_exit() -> None:
    """At interpreter exit, freeze everything still alive (``gc.freeze``) before the interpreter's
    final collections, which then skip it; memory is the operating system's to reclaim. Atexit
    handlers run after non-daemon threads are joined, so nothing allocates after. Registered once."""
    global _EXIT_FREEZE
    if not ACTIVE or _EXIT_FREEZE:
        return
    _EXIT_FREEZE = True
    atexit.register(gc.freeze)


@contextmanager
def long_run_collector(young: int = 50_000) -> Iterator[None]:
    """A long run of small allocations (a probe-all) after a big start-up: what is alive now
    (modules, the inventory, the settings) is frozen out of the collector's passes
    (``gc.freeze``), and the young generation is collected every ``young`` allocations instead of
    700. Both undone after the block."""
    if not ACTIVE:
        yield
        return
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    gc.freeze()
    gc.set_threshold(young, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        if not frozen:  # someone else froze before: theirs (and so ours) stay frozen
            gc.unfreeze()


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """No cyclic garbage collection in the block (see above); re-enabled after, if it was on."""
    if not ACTIVE:
        yield
        return
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def pause_cyclic_gc() -> Callable[[], None]:
    """Pause cyclic collection (see above); the function returned freezes the objects that exist and
    resumes collection. Calling it again does nothing; if collection was off already, it stays off."""
    if not ACTIVE or not gc.isenabled():
        return lambda: None
    gc.disable()
    resumed = False

    def resume() -> None:
        nonlocal resumed
        if not resumed:
            resumed = True
            gc.freeze()
            gc.enable()

    return resume
