"""The HTML report in a real headless Chromium (the system package; .ci/run installs it): it renders,
and the page makes no request at all — checked in Chromium's own network log, where requests the
page starts carry the page's origin and Chromium's own background traffic says "not an origin"."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import app.services.review.figures
import app.services.review.report
import app.services.review.service  # noqa: F401
from tests.tui.seed import NOW, frozen_time, seed


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("Chromium is not installed: `apt-get install chromium` (.ci/run installs it)")
    return found


def open_in_chromium(page: Path, tmp: Path) -> tuple[str, list[str]]:
    """(the rendered DOM, URLs the page itself requested)."""
    netlog = tmp / f"{page.stem}-netlog.json"
    result = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            f"--user-data-dir={tmp / ('profile-' + page.stem)}",
            f"--log-net-log={netlog}",
            "--virtual-time-budget=3000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    log = json.loads(netlog.read_text())
    types = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    requested = [
        e["params"]["url"]
        for e in log["events"]
        if types.get(e["type"]) == "URL_REQUEST_START_JOB"
        and "url" in e.get("params", {})
        and e["params"].get("initiator") != "not an origin"  # Chromium's own (updates, time sync)
    ]
    return result.stdout, requested


def test_the_network_log_sees_a_page_that_fetches(tmp_path):
    # The check below must be able to fail: a page with an image and a stylesheet is caught.
    page = tmp_path / "control.html"
    page.write_text('<!DOCTYPE html><h1>x</h1><img src="http://127.0.0.1:9/x.png">')
    _dom, requested = open_in_chromium(page, tmp_path)
    assert requested == ["http://127.0.0.1:9/x.png"]


def test_the_html_report_renders_with_no_request(services, tmp_path):
    with frozen_time(NOW) as clock:
        seed(services, clock)
        svc = services.review
        state = svc.start(NOW)
        svc.answer(state.id, state.items[0].name, "task", "yes", "checked")
        svc.finish(state.id)
        html = svc.report(fmt="html")
    page = tmp_path / "review.html"
    page.write_text(html, encoding="utf-8")
    dom, requested = open_in_chromium(page, tmp_path)
    assert requested == []
    assert "<title>Breaker weekly review 2026-W10</title>" in dom
    assert dom.count("<svg") == 6 and "Every connector" in dom
    for view in services.inventory.list():
        assert view.name in dom
