"""The live level a probe leaves behind: one rule, used by the store and by the panel's rows."""

from __future__ import annotations

import pytest

from app.services.views import level_after_probe
from connectors.base import Level, Outcome


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (Outcome.OK, Level.READ),  # the provider said what the key can do now
        (Outcome.INVALID, None),  # a dead key holds no power
        (Outcome.REVOKED, None),
    ],
)
def test_ok_brings_the_reported_level_and_a_dead_key_holds_none(outcome, expected):
    assert level_after_probe(outcome, Level.READ if outcome is Outcome.OK else None, Level.ADMIN) == expected


def test_any_other_failure_leaves_the_last_known_level_standing():
    others = [o for o in Outcome if o not in (Outcome.OK, Outcome.INVALID, Outcome.REVOKED)]
    assert others, "Outcome has failures that are not a dead key"
    for outcome in others:
        assert level_after_probe(outcome, None, Level.SEND) is Level.SEND
