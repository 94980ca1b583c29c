"""The words the inventory is listed in: levels, modes, probe outcomes, switch verbs and grants.

:mod:`connectors.base` imports them (providers use them from there); the panel's first frame and the
listings import only this module, not the provider machinery (bench_startup's panel at 1,000
connectors, callgrind to the first frame with rows: 1,528 → 1,504 M instructions).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Level(IntEnum):
    """Power of a scope, least to most. ``send`` reaches people outside, spends money, runs workflows."""

    READ = 1
    DRAFT = 2
    WRITE = 3
    SEND = 4
    ADMIN = 5

    @property
    def label(self) -> str:
        return _LEVEL_LABELS[self._value_]  # a dict lookup: Enum.name is slow, and listings call this per row

    @classmethod
    def parse(cls, text: str) -> Level:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown level {text!r}; use one of: read, draft, write, send, admin") from None


_LEVEL_LABELS = {level.value: level.name.lower() for level in Level}


class Mode(StrEnum):
    """The ceiling a connector may hold. ``disabled`` allows nothing at all."""

    FULL = "full"
    DRAFT_ONLY = "draft-only"
    READ_ONLY = "read-only"
    DISABLED = "disabled"

    @property
    def ceiling(self) -> Level | None:
        """Highest level this mode allows; ``None`` for disabled (no level is allowed)."""
        return {
            Mode.FULL: Level.ADMIN,
            Mode.DRAFT_ONLY: Level.DRAFT,
            Mode.READ_ONLY: Level.READ,
            Mode.DISABLED: None,
        }[self]

    @property
    def rank(self) -> int:
        return {Mode.FULL: 3, Mode.DRAFT_ONLY: 2, Mode.READ_ONLY: 1, Mode.DISABLED: 0}[self]

    def allows(self, level: Level) -> bool:
        ceiling = self.ceiling
        return ceiling is not None and level <= ceiling


class Outcome(StrEnum):
    OK = "ok"
    INVALID = "invalid"  # 401: the provider does not know this key
    REVOKED = "revoked"  # the provider says the key was revoked or disabled
    FORBIDDEN = "forbidden"  # valid key, but the verify call is not allowed
    RATE_LIMITED = "rate_limited"
    UNREACHABLE = "unreachable"  # DNS, TLS, connection refused or dropped, timeout
    ERROR = "error"  # anything else: 5xx, malformed body, unexpected status


class Verb(StrEnum):
    """What a provider is asked to do for a switch: the name of the :class:`Provider` method."""

    REVOKE = "revoke"  # disable
    RESTRICT = "restrict"  # draft-only, read-only
    ROTATE = "rotate"
    REENABLE = "reenable"  # enable


@dataclass(frozen=True)
class Grant:
    """One scope (or permission, capability, role) and the level it confers."""

    scope: str
    level: Level
    note: str = ""
