"""`pip install .` ships every package on disk.

The packages are listed explicitly in pyproject.toml; a new sub-package that is not listed works
from a checkout (where the tests run) but is missing from an installed Breaker. That happened
once: app.tui.flows was left out, and `pip install . && breaker demo` said the panel was missing.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_on_disk_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(init.parent.relative_to(ROOT).parts)
               for top in ("app", "connectors") for init in (ROOT / top).rglob("__init__.py")
               if "__pycache__" not in init.parts}
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - on_disk == set(), "these listed packages do not exist"


def test_the_panel_stylesheet_ships_with_the_package():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "*.tcss" in data["app.tui"] and (ROOT / "app/tui/breaker.tcss").exists()
