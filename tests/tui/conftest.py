"""Panel fixtures: a frozen clock (and TZ=UTC), a deterministic seeded inventory, no cursor blink."""

from __future__ import annotations

import httpx
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


class LoopbackOnly(httpx.AsyncBaseTransport):
    """Panel tests never leave the machine: the loopback sandbox answers, any other host is refused
    at once (a probe of a seeded connector then ends "unreachable" instead of waiting on DNS)."""

    def __init__(self, **kwargs) -> None:
        self.inner = httpx.AsyncHTTPTransport(**kwargs)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host not in ("127.0.0.1", "localhost", "::1"):
            raise httpx.ConnectError(f"no network in tests ({request.url.host})", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    real_init = httpx.AsyncClient.__init__

    def init(self, *args, **kwargs):
        if kwargs.get("transport") is None:
            options = {k: kwargs[k] for k in ("verify", "limits") if k in kwargs}
            kwargs["transport"] = LoopbackOnly(**options)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", init)


@pytest.fixture
def live(services, sandbox):
    """An empty inventory whose connectors (added with ``live.add``) point at the running sandbox."""
    from tests.tui.live import Live

    services.secrets.set_value("install:fingerprint", "11" * 32)
    services.secrets.set_value("install:audit", "22" * 32)
    return Live(services, sandbox)
