"""Pytest fixtures for the loopback sandbox. ``tests/conftest.py`` imports them with
``from tests.sandbox_fixtures import *``.

``sandbox`` is a started :class:`~connectors.sandbox.server.SandboxServer` running in its own
thread and event loop, so sync tests and async tests (on pytest-asyncio's loop) can both talk to
it over the loopback socket: ``sandbox.base_url("github")``, ``sandbox.mint("github")``,
``sandbox.faults.set("github", status=503)``, ``sandbox.calls("github")``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.sandbox.core import SandboxState
from connectors.sandbox.server import SandboxServer, ThreadedSandbox

__all__ = ["sandbox_state", "sandbox"]


@pytest.fixture
def sandbox_state() -> SandboxState:
    """A fresh, empty sandbox state."""
    return SandboxState()


@pytest.fixture
def sandbox(sandbox_state: SandboxState) -> Iterator[SandboxServer]:
    """A sandbox server on a free loopback port, serving ``sandbox_state``; stopped at teardown."""
    runner = ThreadedSandbox(sandbox_state)
    server = runner.start()
    try:
        yield server
    finally:
        runner.stop()
