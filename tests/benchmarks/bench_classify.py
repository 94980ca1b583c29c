"""Classification cost: one request → level through each provider's table, and the generated tables' import.

    python tests/benchmarks/bench_classify.py [--number 20000]

The gateway classifies every request before it forwards it, so the lookup in the generated tables
(connectors/rules/generated/, a trie per method built on first use) must stay far below the
gateway's added-latency goal (p50 under 1 ms). Prints microseconds per classification (timeit,
best of 5), the first lookup (which builds that method's trie) and each generated module's
import time in a fresh interpreter, with and without its bytecode cached.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from connectors import registry  # noqa: E402
from connectors.requests import Request, table_for  # noqa: E402

CASES = [
    ("github", "api.github.com", "POST", "/repos/octo/hello/issues/12/comments"),
    ("github", "api.github.com", "PUT", "/repos/octo/hello/environments/prod/secrets/TOKEN"),
    ("github", "api.github.com", "GET", "/repos/octo/hello/pulls"),
    ("github", "api.github.com", "POST", "/something/unmapped"),
    ("google", "gmail.googleapis.com", "POST", "/gmail/v1/users/me/drafts"),
    ("google", "gmail.googleapis.com", "POST", "/upload/gmail/v1/users/me/messages/send"),
    ("microsoft", "graph.microsoft.com", "POST", "/v1.0/me/sendMail"),
    ("microsoft", "graph.microsoft.com", "PATCH", "/v1.0/users/u1/drive/items/i1/workbook/worksheets/w1"),
    ("microsoft", "graph.microsoft.com", "GET", "/v1.0/me/messages"),
    ("slack", "slack.com", "POST", "/api/chat.postMessage"),
]
MODULES = ["github", "google", "microsoft", "slack"]


def per_call(table, request: Request, number: int) -> float:
    return min(timeit.repeat(lambda: table.classify(request), number=number, repeat=5)) / number


def first_lookup(provider: str, request: Request) -> float:
    """A fresh table (no trie built yet) classifying one request, in a new interpreter."""
    code = (
        "import time, importlib; from connectors import registry; from connectors.requests import Request, table_for;"
        f"t = table_for(registry.get({provider!r})); r = Request({request.method!r}, {request.host!r}, {request.path!r});"
        "s = time.perf_counter(); t.classify(r); print(time.perf_counter() - s)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def import_time(module: str, cached: bool) -> float:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as prefix:
        if cached:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = prefix
            subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, env=env, check=True)
        else:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            env["PYTHONPYCACHEPREFIX"] = prefix
        code = f"import time; s = time.perf_counter(); import {module}; print(time.perf_counter() - s)"
        best = min(
            float(
                subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True).stdout
            )
            for _ in range(3)
        )
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=20000, help="classifications per timing run")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    worst = 0.0
    for provider, host, method, path in CASES:
        table = table_for(registry.get(provider))
        request = Request(method, host, path)
        found = table.classify(request)
        us = per_call(table, request, args.number) * 1e6
        worst = max(worst, us)
        print(f"{provider:9} {method:6} {path:62} {found.level.label:6} {us:6.1f} µs")
    for provider, host, method, path in (CASES[0], CASES[6]):
        ms = first_lookup(provider, Request(method, host, path)) * 1000
        print(f"first {method} through {provider} (builds that method's trie): {ms:.1f} ms")
    for name in MODULES:
        module = f"connectors.rules.generated.{name}"
        cold = import_time(module, cached=False) * 1000
        warm = import_time(module, cached=True) * 1000
        print(f"import {module}: {warm:.1f} ms with bytecode cached, {cold:.1f} ms compiling the source")
    ok = worst < 100
    print(f"VERDICT classify: slowest {worst:.1f} µs per request (target < 100 µs): {'MET' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
