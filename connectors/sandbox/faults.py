"""Per-provider fault injection for the loopback sandbox server.

A fault is set for one provider prefix (``"github"``) or for every provider (``"*"``; a
provider's own fault wins). The server consults the table once per provider request, never for
``/_sandbox/`` admin paths. What a fault does, in order:

- ``latency_ms``: wait that long (``asyncio.sleep``, so other connections carry on), then
- ``hang``: never answer; the connection is held until the client gives up or the server stops;
- ``drop``: close the connection without an answer;
- ``status``: answer with that status and a small JSON body instead of the provider's answer
  (``retry_after`` adds a ``Retry-After`` header; ``retry_after`` alone means status 429);
- otherwise the provider's normal answer, after the latency.

``times`` limits the fault to that many requests (``times=1`` with status 429: rate-limited
once, then fine); ``None`` keeps it until cleared. The table is thread-safe: tests and the demo
set faults from another thread than the server's.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, replace

ALL = "*"


@dataclass(frozen=True)
class Fault:
    latency_ms: float = 0.0
    status: int | None = None
    retry_after: float | None = None  # seconds; fractions allowed so tests can stay fast
    hang: bool = False
    drop: bool = False
    times: int | None = None  # requests still to be affected; None = until cleared

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError("status must be an HTTP status code (100-599)")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError("retry_after must be >= 0 seconds")
        if self.hang and self.drop:
            raise ValueError("a fault either hangs or drops, not both")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be >= 1 (or omitted for a lasting fault)")

    @property
    def answer_status(self) -> int | None:
        """The status the server answers with instead of the provider, if any."""
        if self.status is None and self.retry_after is not None:
            return 429
        return self.status

    def retry_after_header(self) -> str | None:
        if self.retry_after is None:
            return None
        return f"{self.retry_after:g}"

    def as_dict(self) -> dict:
        return asdict(self)


class FaultTable:
    """Faults by provider prefix, consumed one request at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}

    def set(
        self,
        provider: str,
        *,
        latency_ms: float = 0.0,
        status: int | None = None,
        retry_after: float | None = None,
        hang: bool = False,
        drop: bool = False,
        times: int | None = None,
    ) -> Fault:
        """Set (replace) the fault of one provider prefix, or of every provider with ``"*"``."""
        if not provider:
            raise ValueError("provider is required ('*' for every provider)")
        fault = Fault(
            latency_ms=float(latency_ms), status=status, retry_after=retry_after, hang=hang, drop=drop, times=times
        )
        with self._lock:
            self._faults[provider] = fault
        return fault

    def clear(self, provider: str | None = None) -> None:
        """Clear one provider's fault, or all of them."""
        with self._lock:
            if provider is None:
                self._faults.clear()
            else:
                self._faults.pop(provider, None)

    def get(self, provider: str) -> Fault | None:
        """The fault that would apply to the next request of ``provider``, without consuming it."""
        with self._lock:
            return self._faults.get(provider) or self._faults.get(ALL)

    def take(self, provider: str) -> Fault | None:
        """The fault for one request of ``provider``; counts it against ``times``."""
        with self._lock:
            key = provider if provider in self._faults else ALL
            fault = self._faults.get(key)
            if fault is None or fault.times is None:
                return fault
            if fault.times <= 1:
                del self._faults[key]
            else:
                self._faults[key] = replace(fault, times=fault.times - 1)
            return fault

    def snapshot(self) -> dict[str, dict]:
        with self._lock:
            return {name: fault.as_dict() for name, fault in self._faults.items()}
