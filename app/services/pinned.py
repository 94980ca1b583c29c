"""Connect only to an address that was checked: the DNS answer a key's destination check saw is the
one the connection goes to (issue 10: DNS rebinding).

:func:`app.services.binding.check` looks a base URL's host name up before a key leaves Breaker and
refuses link-local, cloud-metadata and unconfirmed private addresses. An HTTP client that resolved
the name again when connecting could be handed a different answer (a rebinding DNS server answers
93.184.215.14 to the check, then 169.254.169.254 to the connection). So the check *pins* the
addresses it accepted (:func:`pin`), and the probe and switch clients connect through
:class:`PinnedBackend`, an httpcore network backend that

* connects an IP literal or this machine's name (the loopback sandbox) as it is — nothing added;
* connects a pinned host name to its pinned addresses only, never looking the name up again;
* looks any other name up once itself and connects to the address it checked: link-local, cloud
  metadata and addresses no provider can have are refused, and so is a private-network address of
  a host a destination check saw unless the owner confirmed that host (``--allow-private-url``).

TLS still verifies the certificate against the host name (httpcore passes the URL's host as SNI and
for verification, whatever address the socket went to), and the Host header is the URL's. A proxy
from the environment (HTTPS_PROXY) resolves names itself: this guard covers direct connections.
"""

from __future__ import annotations

import threading
import time
import typing
from collections import OrderedDict

if typing.TYPE_CHECKING:  # httpx and httpcore are imported by the clients that use this, not by the check
    import httpcore
    import httpx

PIN_TTL_S = 600.0  # an answer checked this recently is the one connected to
MAX_PINS = 4096

_lock = threading.Lock()
_pins: OrderedDict[str, tuple[tuple[str, ...], float]] = OrderedDict()
_checked: dict[str, bool] = {}  # host a destination check looked at → private addresses allowed (owner confirmed)


def pin(host: str, addresses: typing.Iterable[str], *, private_ok: bool) -> None:
    """The destination check accepted ``addresses`` for ``host`` (lower-case, no trailing dot)."""
    addresses = tuple(dict.fromkeys(str(a) for a in addresses))
    with _lock:
        _checked[host] = private_ok
        if addresses:
            _pins[host] = (addresses, time.monotonic() + PIN_TTL_S)
            _pins.move_to_end(host)
            while len(_pins) > MAX_PINS:
                _pins.popitem(last=False)
        else:
            _pins.pop(host, None)
        if len(_checked) > MAX_PINS:
            _checked.pop(next(iter(_checked)))


def checked(host: str, *, private_ok: bool) -> None:
    """A destination check looked at ``host`` but got no answer: a later answer is checked at connect."""
    with _lock:
        _checked[host] = private_ok


def pinned(host: str) -> tuple[str, ...] | None:
    with _lock:
        found = _pins.get(host)
        if found is None:
            return None
        if found[1] < time.monotonic():
            del _pins[host]
            return None
        return found[0]


def _refusal(host: str, address: str) -> str:
    """Why ``host`` must not be connected at ``address`` (looked up at connect), or ""."""
    from app.services import binding

    ip = binding._host_ip(address)
    if ip is None:
        return f"refused: {host} resolves to {address!r}, not an address"
    if binding._never_sent(ip):
        return f"refused: {host} resolves to {ip}, a link-local or cloud-metadata address: never sent a key"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return f"refused: {host} resolves to {ip}, not an address a provider can have"
    with _lock:
        private_ok = _checked.get(host, True)  # a host no check saw (a provider's own API host)
    if not private_ok and binding.is_private(str(ip)):
        return f"refused: {host} resolves to {ip}, a private-network address the owner did not confirm"
    return ""


class PinnedBackend:
    """httpcore's network backend (its ``AsyncNetworkBackend`` interface) with the connection's
    address checked (see the module docstring)."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self.inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        import httpcore

        from app.services import binding
        from app.services.netutil import CheapIdleCheck

        name = host.lower().rstrip(".")
        if binding._host_ip(host) is not None or binding.is_loopback(host):
            addresses: tuple[str, ...] = (host,)
        else:
            addresses = pinned(name) or await self._look_up(name)
        last: Exception | None = None
        for address in addresses:
            try:
                stream = await self.inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
                return CheapIdleCheck(stream)  # type: ignore[return-value]  (app.services.netutil)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last if last is not None else httpcore.ConnectError(f"{host}: no address to connect to")

    async def _look_up(self, name: str) -> tuple[str, ...]:
        import anyio.to_thread
        import httpcore

        from app.services import binding

        try:
            found = await anyio.to_thread.run_sync(lambda: list(binding.resolve(name)))
        except (OSError, UnicodeError, ValueError) as exc:
            raise httpcore.ConnectError(f"DNS lookup failed (getaddrinfo): {type(exc).__name__}") from None
        refusals = [r for r in (_refusal(name, str(a)) for a in found) if r]
        if refusals:  # one bad answer among good ones is enough: the name is not trusted
            raise httpcore.ConnectError(refusals[0] + ". Nothing was sent.")
        return tuple(dict.fromkeys(str(a) for a in found))

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self.inner.connect_unix_socket(path, timeout=timeout, socket_options=socket_options)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def transport(limits: httpx.Limits, verify) -> httpx.AsyncHTTPTransport:
    """httpx's own transport, its connections made through :class:`PinnedBackend`."""
    import httpx

    out = httpx.AsyncHTTPTransport(verify=verify, limits=limits)
    pool = out._pool  # httpx builds the httpcore pool; only its network backend is replaced
    pool._network_backend = PinnedBackend(pool._network_backend)  # tests/hardening/test_rebinding.py holds this
    return out
