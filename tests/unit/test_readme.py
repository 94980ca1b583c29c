"""The README's promises that code can check: the two-command quick start, .ci/run, the JSON schema."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.S | re.M)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def test_quick_start_is_exactly_two_commands():
    blocks = re.findall(r"```sh\n(.*?)```", _section("Quick start"), re.S)
    commands = [line for block in blocks for line in block.strip().splitlines()]
    assert commands == ["pip install . && breaker demo", "pip install '.[test]' && pytest"]


def test_ci_runs_the_readme_test_command_in_a_clean_virtualenv():
    script = ROOT / ".ci" / "run"
    text = script.read_text()
    assert os.access(script, os.X_OK)
    assert "python3 -m venv" in text and "pip install '.\\[test\\]' && pytest" in text
    assert 'eval "$test_command"' in text


def test_json_example_matches_the_records():
    from app.services.export import LIST_SCHEMA

    example = re.search(r"```json\n(.*?)```", _section("JSON output"), re.S).group(1)
    doc = json.loads(example)
    assert doc["schema"] == LIST_SCHEMA
    (record,) = doc["connectors"]
    from app.services.export import connector_record
    from tests.unit.test_export import sample_view

    assert set(record) == set(connector_record(sample_view()))
    assert set(record["key"]) == {
        "fingerprint",
        "last4",
        "kind",
        "tier",
        "age_days",
        "stale",
        "expires_at",
        "shared_with",
    }


def test_every_command_of_this_issue_is_documented():
    cli = _section("The command line")
    for command in ("list", "add", "edit", "remove", "audit", "export", "demo", "sandbox"):
        assert f"breaker {command}" in cli, command


def test_screenshots_are_referenced():
    for name in ("main", "connector", "add", "remove", "audit", "help", "probe_all", "confirm", "panic"):
        assert f"screenshots/{name}.svg" in README
