"""The layers hold: connectors → nothing of ours; app.store / app.services / app.cli load no Textual.

Imports are checked in a fresh interpreter (this test process has Textual loaded by other tests):
what really loads at run time. The static rule, imports inside functions included, is
import-linter's contracts in pyproject.toml, which .ci/run checks with `lint-imports`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _modules(package: str) -> list[str]:
    """Every module of a package, found on disk (so new provider modules are included automatically)."""
    base = ROOT / package.replace(".", "/")
    names = []
    for path in sorted(base.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__main__":
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def _import_in_fresh_python(modules: list[str]) -> dict:
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_connectors_import_nothing_from_app_and_no_textual():
    modules = _modules("connectors")
    assert "connectors.registry" in modules and "connectors.sandbox.server" in modules
    loaded = _import_in_fresh_python(modules)
    assert not [m for m in loaded if m == "app" or m.startswith("app.")]
    assert not [m for m in loaded if m == "textual" or m.startswith("textual.")]


def test_store_services_and_cli_load_no_textual():
    modules = [
        "connectors",
        "connectors.registry",
        *_modules("app/store"),
        *_modules("app/services"),
        *_modules("app/cli"),
    ]
    # every built-in provider, so a provider module that pulled in Textual would show here too
    from connectors.registry import BUILTIN

    modules += [
        target.split(":")[0]
        for target in BUILTIN.values()
        if (ROOT / (target.split(":")[0].replace(".", "/") + ".py")).exists()
    ]
    loaded = _import_in_fresh_python(modules)
    assert "app.services.inventory" in loaded and "app.cli.inventory_cmds" in loaded
    assert not [m for m in loaded if m == "textual" or m.startswith("textual.")]
