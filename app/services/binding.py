"""Where a key may be sent, bound to the key: checked before any key leaves Breaker.

Whoever can write the database must not be able to redirect a key: ``UPDATE connector SET
base_url = 'http://attacker/'`` and the next probe would send the key there. So each credential
row carries a seal: an HMAC-SHA256, under a per-install key kept in the keyring (not in the
database), over the credential's keyring reference and its connector's destination — provider,
base URL, the variable ``breaker exec`` sets, and the provider settings (a generic connector's URL
and header template). Breaker writes a seal only where the owner set or confirmed those fields
(add, edit, ``edit --confirm-destination``), and checks it wherever a key is read to be sent
(probe, switches, exec). A seal that does not match is refused loudly, audited, and nothing is sent.

Credentials recorded before seals existed are sealed once, on first use, if this install has never
sealed anything (trust on first use); after that an unsealed credential is refused like a
tampered one.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import unicodedata
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from app.services.secrets import SecretStore

if TYPE_CHECKING:  # the store stack loads where a seal is written, not to check one (`breaker probe`
    # checks every key while SQLAlchemy is still being imported: app.services.context.OpeningServices)
    from sqlmodel import Session

    from app.store.models import Connector, Credential

KEY_NAME = "binding"
SEAL_HEX = 32


class DestinationChanged(Exception):
    """Where a key may be sent no longer matches what the owner set: nothing was sent."""


# -- destinations -----------------------------------------------------------------------------------


def destination(provider: str, base_url: str | None, env_var: str, extra: dict[str, Any] | str) -> str:
    """The canonical text of where a key goes and how it is handed out."""
    if isinstance(extra, str):
        try:
            extra = json.loads(extra or "{}")
        except ValueError:
            extra = {"unreadable": extra}
    extra = {str(k): str(v) for k, v in extra.items()} if isinstance(extra, dict) else {}
    return json.dumps(
        [provider or "", (base_url or "").rstrip("/"), env_var or "", extra],
        sort_keys=True,
        separators=(",", ":"),
    )


def of_view(view) -> str:
    return destination(view.provider, view.base_url, view.env_var, dict(view.extra))


def of_row(row: Connector) -> str:
    return destination(row.provider, row.base_url, row.env_var, row.extra_json)


def seal(secrets: SecretStore, ref: str, dest: str) -> str:
    message = json.dumps([ref, dest], separators=(",", ":")).encode()
    return hmac.new(secrets.install_key(KEY_NAME), message, hashlib.sha256).hexdigest()[:SEAL_HEX]


def matches(secrets: SecretStore, ref: str, dest: str, stored: str) -> bool:
    return bool(stored) and hmac.compare_digest(seal(secrets, ref, dest), stored)


# -- sealing (only where the owner set or confirmed the destination) --------------------------------


def seal_rows(secrets: SecretStore, s: Session, row: Connector, creds: list[Credential] | None = None) -> int:
    """Seal ``creds`` (default: every live credential of ``row``) to ``row``'s destination now."""
    from sqlmodel import col, select

    from app.store.models import Credential

    if creds is None:
        creds = list(
            s.exec(select(Credential).where(Credential.connector_id == row.id, col(Credential.revoked_at).is_(None)))
        )
    dest = of_row(row)
    for c in creds:
        c.binding = seal(secrets, c.keyring_ref, dest)
        s.add(c)
    return len(creds)


def seal_new(secrets: SecretStore, s: Session, row: Connector, cred: Credential) -> None:
    """Seal a credential added to an existing connector — only if the connector's other live keys
    still match its destination: a new key must not inherit a destination someone else changed."""
    from sqlmodel import col, select

    from app.store.models import Credential

    dest = of_row(row)
    others = s.exec(
        select(Credential).where(
            Credential.connector_id == row.id,
            col(Credential.revoked_at).is_(None),
            Credential.keyring_ref != cred.keyring_ref,
        )
    ).all()
    if all(matches(secrets, c.keyring_ref, dest, c.binding or "") for c in others):
        cred.binding = seal(secrets, cred.keyring_ref, dest)


def seal_for_view(secrets: SecretStore, view, ref: str) -> str:
    """The seal for a new key of ``view``, if the view's own keys still match; else "" (refused on use)."""
    dest = of_view(view)
    live = [c for c in view.credentials if c.revoked_at is None]
    if all(matches(secrets, c.keyring_ref, dest, c.binding) for c in live):
        return seal(secrets, ref, dest)
    return ""


# -- checking (before a key leaves) ----------------------------------------------------------------------


def check(services, view, cred) -> None:
    """Raise :class:`DestinationChanged` (and audit it) unless ``cred`` may be sent where ``view`` says."""
    problem = url_problem(view.base_url or "")
    if problem:
        _refuse(services, view, f"its base URL is refused: {problem}")
    dest = of_view(view)
    if not matches(services.secrets, cred.keyring_ref, dest, cred.binding) and not (
        not cred.binding and _first_use(services)
    ):
        _refuse(
            services,
            view,
            "where its key may be sent (provider, base URL, variable or settings) no longer matches what was set in "
            "Breaker — the database was changed outside Breaker",
        )
    # The seal holds: the fields are the owner's. Where do their host names lead now?
    extra = dict(view.extra)
    for url in (view.base_url or "", str(extra.get("url", ""))):
        problem = resolved_problem(url, confirmed_hosts(extra), view.name)
        if problem:
            _refuse(services, view, problem, confirm=False)


# -- the gateway's upstream -----------------------------------------------------------------------------
#
# A routed connector's key is added by the gateway to requests it forwards to the route's upstream
# (``gateway_route.upstream``, a database column). Whoever can write the database must not be able to
# point it elsewhere: the gateway sends a key only to an upstream its connector's seal covers — the
# sealed base URL, the provider's own API, or an upstream the owner set with ``breaker route
# --upstream`` (kept in the connector's settings under GATEWAY_UPSTREAM, sealed with the rest), each
# also without the provider's API path at its end (Provider.gateway_upstream).

GATEWAY_UPSTREAM = "gateway_upstream"


def sealed_upstreams(provider: str, base_url: str | None, extra: dict[str, Any] | str) -> set[str]:
    """Where the gateway may send this connector's key (each without a trailing slash)."""
    from connectors import registry

    if isinstance(extra, str):
        try:
            extra = json.loads(extra or "{}")
        except ValueError:
            extra = {}
    extra = extra if isinstance(extra, dict) else {}
    found = {base_url or "", str(extra.get(GATEWAY_UPSTREAM, ""))}
    try:
        known = registry.get(provider)
    except Exception:
        known = None
    if known is not None:
        found.add(known.gateway_url or "")
        # The same URLs without the provider's API path (Provider.gateway_upstream): the same sealed
        # scheme, host and port, a shorter path — where the gateway sends what the client's full path adds.
        found |= {known.gateway_upstream(u) for u in found if u}
    return {u.rstrip("/") for u in found if u}


def check_upstream(services, view, cred, upstream: str) -> None:
    """The gateway is about to add ``cred``'s key to a request for ``upstream``: the seal must hold
    (:func:`check`) and ``upstream`` must be one it covers; else :class:`DestinationChanged`, audited."""
    check(services, view, cred)
    if upstream.rstrip("/") not in sealed_upstreams(view.provider, view.base_url, dict(view.extra)):
        _refuse(
            services,
            view,
            f"the gateway's upstream for it ({upstream}) is not where its key may be sent — the database was "
            f"changed outside Breaker; if that upstream is yours, set it with `breaker route {view.name} --upstream URL`",
            confirm=False,
        )


def _refuse(services, view, why: str, *, confirm: bool = True) -> None:
    message = f"refused: {view.name}: {why}. Nothing was sent."
    if confirm:
        message += (
            f" Check it with `breaker list {view.name} --json`; if the destination is right, confirm it with "
            f"`breaker edit {view.name} --confirm-destination`."
        )
    try:
        from app.store.db import session_scope

        with session_scope(services.engine) as s:
            services.audit.record(
                s,
                "key.refused",
                view.name,
                new={"reason": why, "provider": view.provider, "base_url": view.base_url or ""},
                outcome="refused",
            )
    except Exception:  # the refusal stands even if the audit cannot be written
        pass
    raise DestinationChanged(message)


def _first_use(services) -> bool:
    """Seal every credential once, when this install has never sealed one (an upgrade from before
    seals existed). True if that just happened; afterwards an unsealed credential is refused."""
    from sqlmodel import col, select

    from app.store.db import session_scope
    from app.store.models import Connector, Credential

    secrets = services.secrets
    if secrets.get_value(f"install:{KEY_NAME}") is not None:
        return False
    with session_scope(services.engine) as s:
        if s.exec(select(Credential.id).where(col(Credential.binding) != "")).first() is not None:
            return False  # some were sealed, and the seal key is gone: loud, never re-sealed silently
        rows = s.exec(select(Connector)).all()
        count = sum(seal_rows(secrets, s, row) for row in rows)
        services.audit.record(s, "key.sealed", new={"credentials": count, "why": "first use of destination seals"})
    return True


# -- base URL rules --------------------------------------------------------------------------------------

METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data", "metadata.azure.com"}
_METADATA_IPS = {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("169.254.169.254")}


def has_control(text: str) -> bool:
    """Control, format (bidi overrides, zero-width) or separator characters other than a plain space."""
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text)


def _host_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:  # ::ffff:169.254.169.254 is 169.254.169.254
        return ip.ipv4_mapped
    return ip


def _never_sent(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip in _METADATA_IPS or ip.is_link_local


def is_loopback(host: str) -> bool:
    ip = _host_ip(host)
    return (ip is not None and ip.is_loopback) or host.lower() in ("localhost", "localhost.")


def is_private(host: str) -> bool:
    """A private-network address (RFC 1918, unique-local, carrier-grade NAT) that is not loopback."""
    ip = _host_ip(host)
    if ip is None or ip.is_loopback:
        return False
    if ip.version == 4 and ip in ipaddress.ip_network("100.64.0.0/10"):
        return True
    return ip.is_private and not ip.is_link_local


def url_problem(url: str, *, private_confirmed: bool = True) -> str:
    """Why a base URL is refused, or "" when it may be used.

    https only, except to this machine (loopback); never a link-local or cloud-metadata address;
    a private-network address only when the owner confirmed it; no control characters; no
    user:password@, ?query or #fragment (a credential in a URL would land in the database).
    """
    if not url:
        return ""
    if has_control(url):
        return "it holds control characters"
    if " " in url:
        return "a full URL such as https://github.example.com/api/v3, without spaces"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        return "it is not a valid URL"
    if parts.scheme not in ("http", "https") or not host:
        return "a full URL such as https://github.example.com/api/v3"
    if parts.username or parts.password or parts.query or parts.fragment:
        return "no user:password@, ?query or #fragment here: the key goes in the key field"
    ip = _host_ip(host)
    if host.lower().rstrip(".") in METADATA_HOSTS or (ip is not None and _never_sent(ip)):
        return "link-local and cloud-metadata addresses are never sent a key"
    if ip is not None and (ip.is_multicast or ip.is_unspecified or ip.is_reserved):
        return "not an address a provider can have"
    if parts.scheme == "http" and not is_loopback(host):
        return "https only (plain http is allowed only to this machine: 127.0.0.1, ::1, localhost)"
    if is_private(host) and not private_confirmed:
        return "a private-network address: confirm it is yours with --allow-private-url (audited)"
    return ""


# -- where a host name leads, looked up when a key is about to be sent ---------------------------------
#
# A base URL's rules above see only its text: ``https://innocent.example`` may resolve to 169.254.169.254
# or to 10.0.0.5. So before a key leaves, the host is resolved: a link-local or cloud-metadata address
# is refused always; a private-network address only if the owner confirmed that host (``--allow-private-url``
# at add or edit, audited), which is kept in the connector's settings under PRIVATE_HOSTS and sealed
# with the rest of the destination. A name that does not resolve is not refused here: the request fails.
# The addresses accepted here are pinned: the probe and switch clients connect to them and never look the
# name up again (app.services.pinned), so a DNS answer that changes in between is never connected to.

PRIVATE_HOSTS = "private_hosts"


def _system_resolve(host: str) -> list[str]:
    """The system's answer, in its order of preference (RFC 6724), each address once."""
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


resolve: Callable[[str], Iterable[str]] = _system_resolve  # tests put a stub here: no real DNS


def named_host(url: str) -> str:
    """The host name of ``url`` when it is a name to look up (not an IP literal, not this machine), else ""."""
    try:
        host = (urlsplit(url).hostname or "") if url else ""
    except ValueError:
        return ""
    if not host or _host_ip(host) is not None or is_loopback(host):
        return ""
    return host.lower().rstrip(".")


def confirmed_hosts(extra: dict[str, Any]) -> set[str]:
    return {h for h in str(extra.get(PRIVATE_HOSTS, "")).split(",") if h}


def with_private_hosts(extra: dict[str, Any], urls: Iterable[str], *, confirmed: bool) -> dict[str, Any]:
    """``extra`` with PRIVATE_HOSTS set for ``urls``: every named host of theirs when the owner confirmed
    (``--allow-private-url``), else only the hosts confirmed before that are still used."""
    hosts = {h for h in (named_host(u) for u in urls) if h}
    kept = hosts if confirmed else hosts & confirmed_hosts(extra)
    out = {k: v for k, v in extra.items() if k != PRIVATE_HOSTS}
    if kept:
        out[PRIVATE_HOSTS] = ",".join(sorted(kept))
    return out


def resolved_problem(url: str, confirmed: set[str], name: str = "NAME") -> str:
    """Why a key must not go to ``url``'s host as it resolves now, or ""."""
    host = named_host(url)
    if not host:
        return ""
    from app.services import pinned

    try:
        addresses = [ip for ip in (_host_ip(str(a)) for a in resolve(host)) if ip is not None]
    except (OSError, UnicodeError, ValueError):
        pinned.checked(host, private_ok=host in confirmed)  # whatever answers at connect time is checked then
        return ""
    problem = _addresses_problem(host, addresses, confirmed, name)
    if problem:
        pinned.checked(host, private_ok=host in confirmed)
    else:
        pinned.pin(host, (str(ip) for ip in addresses), private_ok=host in confirmed)
    return problem


def _addresses_problem(host: str, addresses: list, confirmed: set[str], name: str) -> str:
    for ip in addresses:
        if _never_sent(ip):
            return (
                f"its base URL's host {host} resolves to {ip}, a link-local or cloud-metadata address: never sent a key"
            )
    for ip in addresses:
        if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
            return f"its base URL's host {host} resolves to {ip}, not an address a provider can have"
    if host not in confirmed:
        for ip in addresses:
            if is_private(str(ip)):
                return (
                    f"its base URL's host {host} resolves to {ip}, a private-network address; if it is yours, "
                    f"confirm it with `breaker edit {name} --allow-private-url` (audited)"
                )
    return ""
