"""Connect only to an address that was checked: the DNS answer a key's destination check saw is the
one the connection goes to (issue 10: DNS rebinding).

:func:`app.services.binding.check` looks a base URL's host name up before a key leaves Breaker and
refuses link-local, cloud-metadata and unconfirmed private addresses. An HTTP client that resolved
the name again when connecting could be handed a different answer (a rebinding DNS server answers
93.184.215.14 to the check, then 169.254.169.254 to the connection). So the check *pins* the
addresses it accepted (:func:`pin`), and every key-sending client (probes, switches, the gateway's
upstream: all made by :func:`transport`) resolves names through :func:`addresses`, which

* leaves an IP literal or this machine's name (the loopback sandbox) as it is — nothing added
  (aiohttp never asks a resolver about an IP literal; ``localhost`` is answered by the system);
* gives a pinned host name its pinned addresses only, never looking the name up again;
* looks any other name up once itself and gives the address it checked: link-local, cloud
  metadata and addresses no provider can have are refused, and so is a private-network address of
  a host a destination check saw unless the owner confirmed that host (``--allow-private-url``).

The transport (:mod:`app.services.aiotransport`) hands these to aiohttp as its resolver, so the
socket goes to one of them. TLS still verifies the certificate against the URL's host name (aiohttp
takes SNI and verification from the URL, whatever address the socket went to), and the Host header
is the URL's. A proxy from the environment (HTTPS_PROXY) resolves names itself: httpx's client
mounts its own transport for it, outside this guard, which covers direct connections.
"""

from __future__ import annotations

import asyncio
import threading
import time
import typing
from collections import OrderedDict

if typing.TYPE_CHECKING:  # httpx and aiohttp are imported by the clients that use this, not by the check
    import httpx

    from app.services.aiotransport import AiohttpTransport

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


class Refused(OSError):
    """A connection the guard will not make (its text says why and that nothing was sent)."""


async def addresses(host: str) -> tuple[str, ...] | None:
    """The addresses a connection to ``host`` may go to; None for this machine's names (connected as
    the system answers them). Raises :class:`Refused` (an ``OSError``, as a failed lookup is)."""
    from app.services import binding

    if binding.is_loopback(host):
        return None
    name = host.lower().rstrip(".")
    return pinned(name) or await _look_up(name)


async def _look_up(name: str) -> tuple[str, ...]:
    from app.services import binding

    try:
        found = await asyncio.to_thread(lambda: list(binding.resolve(name)))
    except (OSError, UnicodeError, ValueError) as exc:
        raise Refused(f"DNS lookup failed (getaddrinfo): {type(exc).__name__}") from None
    refusals = [r for r in (_refusal(name, str(a)) for a in found) if r]
    if refusals:  # one bad answer among good ones is enough: the name is not trusted
        raise Refused(refusals[0] + ". Nothing was sent.")
    if not found:
        raise Refused(f"DNS lookup failed (getaddrinfo): no address for {name}")
    return tuple(dict.fromkeys(str(a) for a in found))


def transport(limits: httpx.Limits, verify) -> AiohttpTransport:
    """The transport of every key-sending httpx client: aiohttp's connection pool with names
    resolved through :func:`addresses` (:mod:`app.services.aiotransport`; aiohttp is imported here,
    when the first client is made, never at start-up)."""
    from app.services.aiotransport import AiohttpTransport

    return AiohttpTransport(limits, verify)
