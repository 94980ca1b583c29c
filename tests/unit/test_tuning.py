"""app.services.tuning: the only place Breaker changes interpreter settings, each change scoped."""

from __future__ import annotations

import gc
import re
from pathlib import Path

import pytest

from app.services import tuning

ROOT = Path(__file__).resolve().parents[2]
TUNING_CALLS = re.compile(r"\bgc\.(disable|enable|freeze|unfreeze|set_threshold|collect)\(|setswitchinterval\(")


def test_no_module_but_tuning_changes_the_interpreter():
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("app", "connectors")
        for path in (ROOT / package).rglob("*.py")
        if path.name != "tuning.py" and TUNING_CALLS.search(path.read_text())
    ]
    assert offenders == []


def test_no_cyclic_gc_pauses_the_collector_only_in_the_block():
    assert gc.isenabled()
    with pytest.raises(KeyError):
        with tuning.no_cyclic_gc():
            assert not gc.isenabled()
            raise KeyError("a failing listing")
    assert gc.isenabled()
    gc.disable()
    try:
        with tuning.no_cyclic_gc():
            pass
        assert not gc.isenabled()  # one that was off stays off
    finally:
        gc.enable()


def test_inactive_tuning_changes_nothing(monkeypatch):
    monkeypatch.setattr(tuning, "ACTIVE", False)
    with tuning.no_cyclic_gc():
        assert gc.isenabled()


def test_pause_cyclic_gc_lasts_until_resumed_then_freezes_what_exists():
    assert gc.isenabled()
    frozen_before = gc.get_freeze_count()
    resume = tuning.pause_cyclic_gc()
    try:
        assert not gc.isenabled()
        resume()
        assert gc.isenabled() and gc.get_freeze_count() > frozen_before
        gc.disable()
        resume()  # a second call changes nothing
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_pause_cyclic_gc_leaves_a_collector_that_was_off_alone(monkeypatch):
    gc.disable()
    try:
        tuning.pause_cyclic_gc()()
        assert not gc.isenabled()
    finally:
        gc.enable()
    monkeypatch.setattr(tuning, "ACTIVE", False)
    resume = tuning.pause_cyclic_gc()
    assert gc.isenabled()
    resume()
    assert gc.isenabled()


def test_long_run_collector_freezes_and_raises_the_threshold_only_in_the_block():
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    with pytest.raises(KeyError):
        with tuning.long_run_collector(young=12_345):
            assert gc.get_threshold() == (12_345, *before[1:])
            assert gc.get_freeze_count() > 0  # what was alive at the start is out of the collector's passes
            raise KeyError("a failing probe-all")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0 if not frozen else gc.get_freeze_count() >= frozen


def test_inactive_long_run_collector_changes_nothing(monkeypatch):
    monkeypatch.setattr(tuning, "ACTIVE", False)
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    with tuning.long_run_collector():
        assert gc.get_threshold() == before and gc.get_freeze_count() == frozen


def test_no_collection_at_exit_registers_one_freeze_and_nothing_when_inactive(monkeypatch):
    registered = []
    monkeypatch.setattr(tuning.atexit, "register", registered.append)
    monkeypatch.setattr(tuning, "_EXIT_FREEZE", False)
    monkeypatch.setattr(tuning, "ACTIVE", False)
    tuning.no_collection_at_exit()
    assert registered == []
    monkeypatch.setattr(tuning, "ACTIVE", True)
    tuning.no_collection_at_exit()
    tuning.no_collection_at_exit()
    assert registered == [gc.freeze]


def test_without_httpx_cli_keeps_an_imported_httpx_and_httpx_imports_without_it(monkeypatch):
    import subprocess
    import sys

    monkeypatch.delitem(sys.modules, "httpx._main", raising=False)
    tuning.without_httpx_cli()  # httpx is imported in this test process: nothing changes
    assert "httpx._main" not in sys.modules
    code = (
        "import sys; from app.services import tuning; tuning.without_httpx_cli(); import httpx; "
        "httpx.AsyncClient(); print('rich' in sys.modules, 'click' in sys.modules, sys.modules['httpx._main'])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.split() == ["False", "False", "None"]
