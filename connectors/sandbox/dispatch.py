"""Route a request to the provider module that serves its path prefix.

Used by the loopback server (``connectors/sandbox/server.py``) and by :class:`SandboxTransport`,
an in-process ``httpx`` transport for unit tests that need no socket. End-to-end tests go
through the real server on a loopback port.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
from functools import cache
from types import ModuleType
from urllib.parse import parse_qs, urlsplit

import httpx

from connectors.sandbox import providers as _providers_pkg
from connectors.sandbox.core import SandboxRequest, SandboxResponse, SandboxState, json_response


@cache
def route_modules() -> dict[str, ModuleType]:
    """Every module in ``connectors/sandbox/providers``, by its PREFIX."""
    modules: dict[str, ModuleType] = {}
    for info in pkgutil.iter_modules(_providers_pkg.__path__):
        try:
            module = importlib.import_module(f"{_providers_pkg.__name__}.{info.name}")
        except Exception:  # one broken provider must not take the whole sandbox down
            logging.getLogger(__name__).exception("sandbox provider module %s failed to import", info.name)
            continue
        prefix = getattr(module, "PREFIX", None)
        if prefix:
            modules[prefix] = module
    return modules


@cache
def _compiled(prefix: str) -> list[tuple[str, re.Pattern[str], object]]:
    return [(m.upper(), re.compile(p), h) for m, p, h in route_modules()[prefix].ROUTES]


def api_path(prefix: str) -> str:
    """The path of the provider's documented base URL on its host ("/api/v4" for GitLab), or ""."""
    module = route_modules().get(prefix)
    return str(getattr(module, "API_PATH", "") or "")


def base_url(root: str, prefix: str) -> str:
    """The base URL a connector or client gets for ``prefix`` on a sandbox at ``root``: the provider's
    documented base URL with its host swapped for ``root/prefix`` (``…/gitlab/api/v4``)."""
    return f"{root.rstrip('/')}/{prefix}{api_path(prefix)}"


def split_prefix(path: str) -> tuple[str, str]:
    """'/github/user' → ('github', '/user')."""
    parts = path.lstrip("/").split("/", 1)
    return parts[0], "/" + (parts[1] if len(parts) > 1 else "")


def dispatch(state: SandboxState, prefix: str, request: SandboxRequest) -> SandboxResponse:
    if prefix not in route_modules():
        return json_response(404, {"message": f"the sandbox serves no provider at /{prefix}"})
    allowed = False
    for method, pattern, handler in _compiled(prefix):
        match = pattern.fullmatch(request.path)
        if match is None:
            continue
        if method != request.method:
            allowed = True
            continue
        return handler(request, state, match)  # type: ignore[operator]
    if allowed:
        return json_response(405, {"message": "Method Not Allowed"})
    return json_response(404, {"message": "Not Found"})


def request_from_parts(method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[str, SandboxRequest]:
    parts = urlsplit(raw_path)
    prefix, rest = split_prefix(parts.path)
    return prefix, SandboxRequest(
        method=method.upper(),
        path=rest,
        query=parse_qs(parts.query),
        headers={k.lower(): v for k, v in headers.items()},
        body=body,
        prefix=prefix,
    )


class SandboxTransport(httpx.AsyncBaseTransport):
    """Serve requests from a :class:`SandboxState` in-process. For unit tests; no faults, no socket."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.calls: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        raw = request.url.raw_path.decode()
        prefix, sreq = request_from_parts(request.method, raw, dict(request.headers), body)
        self.calls.append((sreq.method, f"/{prefix}{sreq.path}"))
        resp = dispatch(self.state, prefix, sreq)
        return httpx.Response(resp.status, headers=resp.headers, content=resp.body, request=request)
