"""Keys inside config values: by the key's shape (the providers' prefixes) and by the name it sits under.

A value is a key when a provider recognises its shape (:func:`connectors.registry.recognise`), or
when it sits under a name that says "secret" (``*_API_KEY``, ``Authorization``, ``--token=``) and
looks like one. References (``${VAR}``, ``${env:X}``, ``${input:k}``, ``$VAR``) are not keys: the
client fills them in from elsewhere. Each hit carries the offsets of the key inside the value, so
an edit can replace exactly those characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from connectors import registry
from connectors.base import Secret

SECRET_WORDS = frozenset(
    {
        "key",
        "apikey",
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "pat",
        "credential",
        "credentials",
        "authorization",
        "auth",
        "bearer",
    }
)
AUTH_SCHEMES = ("bearer ", "token ", "basic ", "bot ")
REFERENCE_RE = re.compile(r"\$\{[^}]*\}|^\$[A-Za-z_]|\{\{.*\}\}|^op://|^keyring:")
NOT_KEYS = frozenset({"true", "false", "null", "none", "yes", "no", "on", "off"})


@dataclass(frozen=True)
class KeyHit:
    """One key inside a value: ``value[start:end]`` is the key."""

    secret: Secret
    provider: str  # "" when no provider recognises the shape (found by the name it sits under)
    kind: str
    start: int
    end: int


def is_secret_name(name: str) -> bool:
    parts = [p for p in re.split(r"[^a-z0-9]+", name.lower()) if p]
    return any(p in SECRET_WORDS for p in parts) or name.lower().replace("-", "").replace("_", "") in (
        "apikey",
        "xapikey",
        "accesstoken",
    )


def is_reference(value: str) -> bool:
    return REFERENCE_RE.search(value) is not None


def recognise(value: str) -> tuple[str, str] | None:
    """(provider, kind) of the first provider whose key shape ``value`` has, else None."""
    hits = registry.recognise(value)
    return (hits[0].provider, hits[0].kind) if hits else None


def _plausible(value: str) -> bool:
    return (
        len(value) >= 8
        and not any(ch.isspace() for ch in value)
        and value.lower() not in NOT_KEYS
        and not value.isdigit()
        and not is_reference(value)
        and not value.startswith(("/", "./", "~", "http://", "https://"))
    )


def _hit(value: str, start: int, end: int, by_name: bool, kind_if_unknown: str) -> KeyHit | None:
    piece = value[start:end]
    if not piece or is_reference(piece):
        return None
    known = recognise(piece)
    if known:
        return KeyHit(Secret(piece), known[0], known[1], start, end)
    if by_name and _plausible(piece):
        return KeyHit(Secret(piece), "", kind_if_unknown, start, end)
    return None


def in_named_value(name: str, value: str) -> list[KeyHit]:
    """Keys in an environment variable (or any ``NAME = value``): the whole value, or a DSN's password."""
    dsn = in_url(value)
    if dsn:
        return dsn
    hit = _hit(value, 0, len(value), is_secret_name(name), f"secret named {name}")
    return [hit] if hit else []


def in_sensitive(name: str, value: str) -> list[KeyHit]:
    """A value the program that keeps it marks secret (an extension's ``sensitive`` field), whatever its name."""
    hit = _hit(value, 0, len(value), True, f"secret setting {name}")
    return [hit] if hit else []


def in_header(name: str, value: str) -> list[KeyHit]:
    start = 0
    for scheme in AUTH_SCHEMES:
        if value.lower().startswith(scheme):
            start = len(scheme)
            break
    named = is_secret_name(name) or start > 0
    hit = _hit(value, start, len(value), named, f"secret in header {name}")
    return [hit] if hit else []


def in_url(value: str) -> list[KeyHit]:
    """A password in ``scheme://user:password@host`` and keys in the query string."""
    if "://" not in value:
        return []
    try:
        parts = urlsplit(value)
    except ValueError:
        return []
    hits: list[KeyHit] = []
    netloc_at = value.find(parts.netloc) if parts.netloc else -1
    if parts.password and netloc_at >= 0:
        # user:password@ — the password starts after the first ':' of the userinfo.
        userinfo = parts.netloc.rpartition("@")[0]
        colon = userinfo.find(":")
        start = netloc_at + colon + 1
        end = netloc_at + len(userinfo)
        if not is_reference(value[start:end]):
            known = recognise(value[start:end])
            hits.append(
                KeyHit(
                    Secret(value[start:end]),
                    known[0] if known else "",
                    known[1] if known else "DSN password",
                    start,
                    end,
                )
            )
    if parts.query:
        q_at = value.find("?") + 1
        offset = q_at
        for piece in parts.query.split("&"):
            name, eq, raw = piece.partition("=")
            if eq and raw and "%" not in raw:  # a percent-encoded value is not edited in place
                pairs = parse_qsl(piece)
                if pairs:
                    s = offset + len(name) + 1
                    hit = _hit(value, s, s + len(raw), is_secret_name(name), f"secret in URL parameter {name}")
                    if hit:
                        hits.append(hit)
            offset += len(piece) + 1
    return hits


@dataclass(frozen=True)
class ArgHit:
    index: int  # which argument
    hit: KeyHit  # offsets inside that argument


def in_args(args: list[str]) -> list[ArgHit]:
    """Keys in a command's arguments: ``--api-key=K``, ``--token K``, DSNs with passwords, bare keys."""
    found: list[ArgHit] = []
    for i, arg in enumerate(args):
        if arg.startswith("-") and "=" in arg:
            name, _, raw = arg.partition("=")
            s = len(name) + 1
            hits = [KeyHit(h.secret, h.provider, h.kind, h.start + s, h.end + s) for h in in_url(raw)]
            if not hits and raw:
                h = _hit(arg, s, len(arg), is_secret_name(name), f"secret in argument {name}")
                hits = [h] if h else []
            found.extend(ArgHit(i, h) for h in hits)
            continue
        if i > 0 and args[i - 1].startswith("-") and "=" not in args[i - 1] and is_secret_name(args[i - 1]):
            h = _hit(arg, 0, len(arg), True, f"secret after argument {args[i - 1]}")
            if h:
                found.append(ArgHit(i, h))
                continue
        for h in in_url(arg):
            found.append(ArgHit(i, h))
        if not arg.startswith("-") and "://" not in arg:
            h = _hit(arg, 0, len(arg), False, "")
            if h:
                found.append(ArgHit(i, h))
    return found
