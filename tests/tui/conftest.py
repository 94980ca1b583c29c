"""Panel fixtures: a frozen clock (and TZ=UTC), a deterministic seeded inventory, no cursor blink."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from tests.tui.seed import NOW, frozen_time, seed


@pytest.fixture(autouse=True)
def frozen_clock():
    """Every panel test sees the same 'now': ages and 'x h ago' never depend on the day."""
    with frozen_time(NOW) as clock:
        yield clock


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch):
    # A blinking cursor would make snapshots flip between two images.
    monkeypatch.setattr(Input, "_toggle_cursor", lambda _self: None)


@pytest.fixture
def seeded(services, frozen_clock):
    """``services`` holding the ten deterministic connectors of tests/tui/seed.py."""
    seed(services, frozen_clock)
    return services
