"""Verified at the gateway (issue 13, "States"): after a switch, a request of each level above the new
ceiling is sent through the gateway and must be refused there.

For a connector routed through the gateway that is what "verified" means: its agents hold only
Breaker tokens, every request of theirs passes the gateway, and the gateway reads the mode for
every request. It holds for every provider, with an API for switches or without one, and needs no
provider call.

The check requests are the provider's own example requests, one per level (``connectors.requests.
examples``). They carry a header signed with a per-install key instead of a token; the gateway
decides them like any request and answers without forwarding anything (``GatewayApp.check``).
They go to the gateway that is running at :func:`app.services.gateway.base_url`, when one answers
for this inventory, and always through the gateway's own code in this process, on the same store
(so a switch made while no gateway runs is verified too: nothing can pass it when it starts).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx

from app.services import gateway as gateway_service
from connectors import registry
from connectors.base import Level, Mode
from connectors.requests import examples, table_for

RUNNING_TIMEOUT_S = 1.0
# Where a check ran when no gateway was running: the same rules and store, in this process.
LOCAL_RULES = "Breaker's gateway rules, run in this process: no gateway was running"


@dataclass(frozen=True)
class LevelCheck:
    level: Level
    request: str  # "POST /v1/chat/completions"
    answer: str  # "refused" | "held" | "passes" | "error (…)"
    where: str  # "gateway at http://127.0.0.1:8791" | LOCAL_RULES (no gateway running: this process, same store)

    @property
    def enforced(self) -> bool:
        """Nothing reaches the provider without the owner: refused, or held for the owner's yes."""
        return self.answer in ("refused", "held")

    def as_dict(self) -> dict:
        return {"level": self.level.label, "request": self.request, "answer": self.answer, "where": self.where}


@dataclass
class GatewayCheck:
    """Whether the gateway enforces ``mode`` for ``connector``: one line for the owner in ``why``."""

    connector: str
    mode: Mode
    levels: list[LevelCheck] = field(default_factory=list)
    ms: float = 0.0
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and bool(self.levels) and all(c.enforced for c in self.levels)

    @property
    def why(self) -> str:
        if self.error:
            return f"not verified at the gateway: {self.error}"
        passed = [c for c in self.levels if not c.enforced]
        if passed:
            first = passed[0]
            if first.answer == "passes":
                return f"the gateway still lets a {first.level.label} request through ({first.request})"
            return f"not verified at the gateway: a {first.level.label} request got {first.answer}"
        labels = "/".join(dict.fromkeys(c.level.label for c in self.levels))
        held = any(c.answer == "held" for c in self.levels)
        how = "refused or held for your yes" if held else "refused"
        places = sorted({c.where for c in self.levels})
        return f"verified at the gateway: {labels} requests {how} ({', '.join(places)})"

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "mode": self.mode.value,
            "ms": round(self.ms, 1),
            "levels": [c.as_dict() for c in self.levels],
            **({"error": self.error} if self.error else {}),
        }


def above(provider: str, mode: Mode) -> dict[Level, object]:
    """The provider's example request for each level ``mode`` does not allow."""
    table = table_for(registry.get(provider))
    if table is None:
        return {}
    return {level: req for level, req in examples(table).items() if not mode.allows(level)}


async def check(services, targets: Mapping[str, tuple[str, Mode]]) -> dict[str, GatewayCheck]:
    """``targets``: connector → (provider, the mode its switch set). Every connector is checked
    through the gateway's code in this process, and through the running gateway when one answers
    for it; a level counts as enforced only where every gateway asked refused (or held) it."""
    if not targets:
        return {}
    from app.gateway.app import GatewayApp  # the adapter's code, run here on the same store

    results = {name: GatewayCheck(name, mode) for name, (_, mode) in targets.items()}
    app = GatewayApp(services)
    local = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")
    remote = await _running_gateway()
    try:
        await asyncio.gather(
            *(_one(services, results[name], provider, local, remote) for name, (provider, _) in targets.items())
        )
    finally:
        await local.aclose()
        if remote is not None:
            await remote.aclose()
        await app.aclose()
    return results


async def _running_gateway() -> httpx.AsyncClient | None:
    """A client for the gateway at ``base_url()`` when one answers there, else None."""
    try:
        url = gateway_service.base_url()
    except gateway_service.GatewayError:
        return None
    client = httpx.AsyncClient(base_url=url, timeout=RUNNING_TIMEOUT_S, trust_env=False)
    try:
        answer = await client.get("/_breaker")
        if answer.status_code == 200 and answer.json().get("gateway") == "breaker":
            return client
    except (httpx.HTTPError, ValueError):
        pass
    await client.aclose()
    return None


async def _one(
    services, result: GatewayCheck, provider: str, local: httpx.AsyncClient, remote: httpx.AsyncClient | None
) -> None:
    started = time.perf_counter()
    requests = above(provider, result.mode)
    if not requests:
        result.error = "the provider's request table gives no example request above the mode"
        return
    prefix = "/" + quote(result.connector, safe="")
    for level, req in requests.items():
        answers: list[LevelCheck] = []
        for client, where in ((remote, "running"), (local, "local")):
            if client is None:
                continue
            headers = {**dict(req.headers)}
            headers[gateway_service.CHECK_HEADER] = gateway_service.check_header(services.secrets, result.connector)
            try:
                response = await client.request(
                    req.method, prefix + req.path, content=req.body, headers=headers, params=req.query or None
                )
            except httpx.HTTPError as exc:
                answers.append(LevelCheck(level, f"{req.method} {req.path}", f"error ({type(exc).__name__})", where))
                continue
            if where == "running" and response.status_code in (401, 404):
                continue  # a gateway of another inventory (or an older one): this process's check stands
            label = "gateway at " + str(client.base_url).rstrip("/") if where == "running" else LOCAL_RULES
            answers.append(LevelCheck(level, f"{req.method} {req.path}", _answer(response), label))
        result.levels.extend(answers)
    result.ms = (time.perf_counter() - started) * 1000


def _answer(response: httpx.Response) -> str:
    if response.status_code == 403:
        try:
            if json.loads(response.content).get("refused_by") == "breaker-gateway":
                return "refused"
        except ValueError:
            pass
        return f"error (HTTP {response.status_code})"
    if response.status_code == 202:
        return "held"
    if response.status_code == 200:
        return "passes"
    return f"error (HTTP {response.status_code})"
