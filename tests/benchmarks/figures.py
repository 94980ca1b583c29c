"""What every benchmark script prints (runs as min / median / max, a ratio to its ideal, a verdict),
and what several of them start (the sandbox).

Not a test module; the scripts beside it import it (they put this folder on ``sys.path``).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def spread(values: Sequence[float], unit: str = "ms", scale: float = 1000.0) -> str:
    """``min 1 / median 2 / max 3 ms (n runs)``."""
    lo, mid, hi = min(values), statistics.median(values), max(values)
    return f"min {lo * scale:.0f} / median {mid * scale:.0f} / max {hi * scale:.0f} {unit} ({len(values)} runs)"


def ratios(values: Sequence[float], ideal: float) -> str:
    return "x / ".join(f"{v / ideal:.2f}" for v in (min(values), statistics.median(values), max(values))) + "x"


def verdict(name: str, measured: float, ideal: float, target: float, against: str = "the ideal") -> tuple[str, bool]:
    """The one line a reader looks for: the median against ``target`` × the ideal (or the comparison)."""
    ratio = measured / ideal
    ok = ratio <= target
    return f"VERDICT {name}: median {ratio:.2f}x {against} (target <= {target:.2f}x): {'MET' if ok else 'MISSED'}", ok


def machine_load() -> str:
    """How busy the machine was (the other processes' share, roughly): the 1-minute load average."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


def compile_like_an_install() -> None:
    """Byte-compile Breaker's modules as `pip install .` does: with PYTHONDONTWRITEBYTECODE set (as on
    some machines) a checkout's modules would otherwise be compiled from source on every start."""
    import compileall

    for package in ("app", "connectors"):
        compileall.compile_dir(ROOT / package, quiet=1)


def breaker_env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("BREAKER_HOME", None)
    env.pop("BREAKER_DB", None)
    return env


def breaker(*args: str) -> list[str]:
    """The command line a user runs (``breaker ARGS``), as this interpreter runs it."""
    return [sys.executable, "-m", "app", *args]


def timed(argv: list[str], *, env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess]:
    """Wall seconds of the whole process, from spawning it to its exit."""
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=env or breaker_env(), cwd=ROOT, check=False)
    return time.perf_counter() - started, done


UNTUNED = (
    "import sys; import app.services.tuning as tuning; tuning.ACTIVE = False; "
    "from app.cli import main; raise SystemExit(main(sys.argv[1:]))"
)


def breaker_untuned(*args: str) -> list[str]:
    """The same command line with app.services.tuning switched off: what the tuning buys."""
    return [sys.executable, "-c", UNTUNED, *args]


def start_sandbox(home: Path, port: int) -> subprocess.Popen:
    """`breaker --home DIR sandbox`, until its admin API answers."""
    proc = subprocess.Popen(
        breaker("--home", str(home), "sandbox"),
        env=breaker_env(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/_sandbox/", timeout=1).raise_for_status()
            return proc
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise SystemExit(f"the sandbox exited with {proc.returncode}") from None
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the sandbox did not answer within 30 s")
