"""The providers' official client libraries, pointed at the loopback sandbox (issue 15).

Each client gets the provider's documented base URL with only the scheme and host swapped for
the sandbox's prefix (:func:`on_sandbox`), so a shared misreading of an API by the sandbox and
Breaker's connectors shows up as a failing client call. Each module drives one library through the
calls Breaker's probe makes, a revoke made through the library (seen afterwards by Breaker's own
probe, :func:`breaker_probe`) and one call that follows an object the library was handed.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from app.services.inventory import ConnectorInput
from connectors.base import ProbeReport, Secret
from connectors.sandbox.server import SandboxServer


def on_sandbox(sandbox: SandboxServer, prefix: str, documented: str) -> str:
    """``documented`` (a client's default base URL) with its scheme and host swapped for the
    sandbox's stand-in for that host: ``https://gitlab.com`` → ``http://127.0.0.1:PORT/gitlab``."""
    parts = urlsplit(documented)
    return sandbox.host_url(prefix) + parts.path


@pytest.fixture
def breaker_probe(services, sandbox) -> Callable[..., ProbeReport]:
    """``breaker_probe("github", token)``: register the key as a connector on the sandbox and probe
    it the way ``breaker probe`` does (the probing service), returning the report."""
    names = itertools.count(1)

    def probe(provider: str, token: str, **extra: str) -> ProbeReport:
        name = f"{provider}-{next(names)}"
        services.inventory.add(
            ConnectorInput(name=name, provider=provider, base_url=sandbox.base_url(provider), extra=dict(extra)),
            Secret(token),
        )
        return asyncio.run(services.prober.probe_one(name)).report

    return probe


def provider_probe(sandbox: SandboxServer, provider: str, token: str, **extra: str) -> ProbeReport:
    """The connector's own probe of ``token`` on the sandbox, for keys the inventory will not take
    (it refuses HubSpot OAuth tokens, whose shape it cannot recognise)."""
    import httpx

    from connectors import registry
    from connectors.base import Credential

    async def run() -> ProbeReport:
        async with httpx.AsyncClient() as client:
            credential = Credential(Secret(token), base_url=sandbox.base_url(provider), extra=dict(extra))
            return await registry.get(provider).probe(client, credential)

    return asyncio.run(run())
