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


def test_the_owners_rule_is_set_against_what_the_key_can_do():
    from app.services.drift import purpose_against_power
    from connectors.base import Grant

    grants = [Grant("chat:write", Level.SEND), Grant("channels:history", Level.READ)]
    said = purpose_against_power("message customers", Level.SEND, grants)
    assert (
        said == "You wrote it may not message customers; the key can send on its own (post, mail, message): chat:write."
    )
    assert purpose_against_power("", Level.SEND, grants) == ""
    assert purpose_against_power("message customers", None, grants) == ""
