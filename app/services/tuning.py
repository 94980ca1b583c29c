"""Every interpreter setting Breaker changes, in one place, each with what a benchmark shows it buys.

Two tricks, both scoped (a ``with`` block; what was there before is put back on leaving):

- :func:`many_requests` — while a probe-all runs: shorter GIL time slices
  (``sys.setswitchinterval``) so the event loop sending and reading the requests is not held
  5 ms at a time by the results writer's thread, and the young generation of the cyclic garbage
  collector collected every 50,000 allocations instead of 700 (``gc.set_threshold``), so a full
  collection of the whole process does not run in the middle of the probes.
  Measured by tests/benchmarks/bench_probe.py --compare-untuned: FIGURES_PROBE.

- :func:`no_cyclic_gc` — while a command builds a whole inventory's views and records
  (`breaker list`, `breaker export`), and while a panic records every connector disabled: tens of
  thousands of acyclic objects, freed by reference counting; the collector's passes over them
  free nothing.
  Measured by tests/benchmarks/bench_startup.py --compare-untuned (listing):
  FIGURES_LIST; and by tests/benchmarks/bench_panic.py --compare-untuned (recording): FIGURES_PANIC.

Nothing else in Breaker touches ``gc`` or ``sys.setswitchinterval`` (tests/unit/test_tuning.py
checks). ``ACTIVE = False`` turns both into plain blocks: the benchmarks' untuned runs set it, to
show the figures above again.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

ACTIVE = True  # the benchmarks' --compare-untuned runs set it to False

SHORT_SWITCH_INTERVAL_S = 0.0005
YOUNG_GC_THRESHOLD = 50_000

_lock = threading.Lock()
_users = 0
_saved_interval = 0.0
_saved_thresholds: tuple[int, ...] = ()


@contextmanager
def many_requests() -> Iterator[None]:
    """Short GIL slices and rarer young collections while many requests are in flight (see above).

    Nested and concurrent uses are counted; the last one out restores what the first one found.
    An owner who turned automatic collection off (threshold 0) keeps it off."""
    global _users, _saved_interval, _saved_thresholds
    if not ACTIVE:
        yield
        return
    with _lock:
        if _users == 0:
            _saved_interval, _saved_thresholds = sys.getswitchinterval(), gc.get_threshold()
            sys.setswitchinterval(min(_saved_interval, SHORT_SWITCH_INTERVAL_S))
            if _saved_thresholds[0]:
                gc.set_threshold(max(_saved_thresholds[0], YOUNG_GC_THRESHOLD), *_saved_thresholds[1:])
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                sys.setswitchinterval(_saved_interval)
                gc.set_threshold(*_saved_thresholds)


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
