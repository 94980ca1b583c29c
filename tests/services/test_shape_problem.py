"""A pasted key of the wrong shape is told apart (before anything is sent) from a refused key."""

from __future__ import annotations

from app.services.inventory import shape_problem
from connectors.base import Secret


def test_a_slack_token_is_not_a_github_key():
    said = shape_problem("github", Secret("xoxb-1234-5678-FAKEabcdefghijkl"))
    assert "does not look like a GitHub key" in said and "Nothing was sent" in said


def test_a_key_of_the_right_shape_passes_and_the_generic_provider_takes_anything():
    assert shape_problem("github", Secret("ghp_" + "a" * 36)) == ""
    assert shape_problem("generic", Secret("anything-at-all-1234")) == ""
