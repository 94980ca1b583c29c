"""`pip install .` ships every package on disk.

setuptools finds the packages (pyproject.toml, [tool.setuptools.packages.find]); it finds only
folders with an ``__init__.py``. A sub-package without one works from a checkout (where the tests
run) but is missing from an installed Breaker. That happened once: app.tui.flows was left out, and
`pip install . && breaker demo` said the panel was missing.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_folder_of_python_modules_is_a_package_setuptools_finds():
    folders = {
        path.parent
        for top in ("app", "connectors")
        for path in (ROOT / top).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    missing = sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").exists())
    assert missing == [], "add an __init__.py so setuptools ships these"
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert find["include"] == ["app*", "connectors*"]


def test_the_panel_stylesheet_ships_with_the_package():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "*.tcss" in data["app.tui"] and (ROOT / "app/tui/breaker.tcss").exists()
