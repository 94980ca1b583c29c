"""Audit rows read as sentences, not as `forced_allowed: False; job: 1`."""

from __future__ import annotations

import json

from app.tui.widgets.present import event_sentence


def test_a_switch_step_reads_as_a_sentence():
    said = event_sentence(
        "switch.recorded",
        "gh-bot",
        json.dumps({"mode": "full"}),
        json.dumps({"action": "disable", "mode": "disabled", "job": 1, "forced_allowed": False}),
        "ok",
    )
    assert said == "Disable gh-bot (mode full → disabled): recorded in Breaker."
    assert "job" not in said and "forced_allowed" not in said


def test_a_probe_and_an_unknown_event():
    said = event_sentence("probe", "mail", "{}", json.dumps({"outcome": "ok", "live_level": "send", "drift": []}), "ok")
    assert said == "Probed mail: ok, live level send."
    assert event_sentence("export", None, "{}", json.dumps({"rows": 3}), "ok") == "rows: 3"


def test_an_added_connector_names_its_key_by_fingerprint_as_the_panel_shows_it():
    new = {"provider": "slack", "credential": {"fingerprint": "6ae85f5c3549abcdef", "last4": "0002"}}
    said = event_sentence("connector.add", "slack-digest", "null", json.dumps(new), "ok")
    assert said == "Added slack-digest (slack), key 6ae85f5c3549…0002."
