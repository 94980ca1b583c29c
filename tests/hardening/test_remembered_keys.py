"""The process-wide memory of keys (connectors.masking.remember) masks keys, never ordinary words.

A Secret built from a one-letter test value once made every later "h" in the CLI's messages
print as a mask ("t••••is database uses sc••••ema version 99").
"""

from __future__ import annotations

import pytest

from connectors import masking


@pytest.fixture
def empty_memory(monkeypatch):
    monkeypatch.setattr(masking, "_SEEN", set())


def test_a_value_too_short_to_be_a_key_is_not_remembered(empty_memory):
    masking.remember("h")
    masking.remember("abc")
    assert masking.mask_known("this database uses schema version 99") == "this database uses schema version 99"


def test_a_remembered_key_is_masked_in_any_later_text(empty_memory):
    key = "SANDBOX-remembered-key-0123456789"
    masking.remember(key)
    assert key not in masking.mask_known(f"backend said: bad value {key!r}")
    assert masking.MASK in masking.mask_known(f"backend said: bad value {key.upper()}")
