"""The gateway in a thread of its own, for the panel (issue 13): start, stop, and what it is doing.

The gateway reads the store on every request and serves agents at their pace, so it gets its own
thread and asyncio loop rather than the panel's: the panel's loop never waits for an agent, and the
gateway never waits for a repaint. :meth:`BackgroundGateway.start` and :meth:`stop` block until
the gateway listens or has stopped — call them from a worker thread, never the UI's. The same
:func:`app.gateway.server.running` serves here as in ``breaker gateway``; starting and stopping are
audited (``gateway.started`` / ``gateway.stopped``, with the address and where it ran).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

from app.services.gateway import base_url, record_run
from app.services.queue import HoldView

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0

STOPPED, STARTING, LISTENING, STOPPING, FAILED = "stopped", "starting", "listening", "stopping", "failed"


class BackgroundGateway:
    def __init__(
        self,
        services,
        *,
        where: str = "panel",
        on_event: Callable[[str], None] | None = None,
        on_held: Callable[[HoldView], None] | None = None,
    ) -> None:
        self.services = services
        self.where = where
        self.on_event = on_event or (lambda _text: None)
        self.on_held = on_held
        self.state = STOPPED
        self.url = ""
        self.error = ""
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self.state in (STARTING, LISTENING, STOPPING)

    def start(self, url: str | None = None) -> str:
        """Listen on ``url`` (default: where ``breaker exec`` sends agents, :func:`base_url`); returns
        the URL once listening. Raises OSError / ValueError (one line) when it cannot."""
        with self._lock:
            if self.running:
                return self.url
            target = urlsplit(url or base_url())
            host, port = target.hostname or "127.0.0.1", target.port or 80
            self.state, self.error, self.url = STARTING, "", ""
            self._ready.clear()
            self._thread = threading.Thread(target=self._serve, args=(host, port), name="breaker-gateway", daemon=True)
            self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            self.stop()
            raise OSError(f"the gateway did not start within {START_TIMEOUT_S:.0f} s")
        if self.state == FAILED:
            raise OSError(self.error)
        return self.url

    def stop(self) -> None:
        """Stop serving (open requests are ended) and wait for the thread."""
        with self._lock:
            thread, loop, stop = self._thread, self._loop, self._stop
            if thread is None:
                return
            if self.state == LISTENING:
                self.state = STOPPING
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop.set)
        thread.join(STOP_TIMEOUT_S)
        with self._lock:
            self._thread = None

    # -- the gateway's thread ---------------------------------------------------------------------
    def _serve(self, host: str, port: int) -> None:
        try:
            asyncio.run(self._main(host, port))
        except Exception as exc:  # could not listen (port taken, not loopback): say so in one line
            self.error = _one_line(exc, host, port)
            self.state = FAILED
        else:
            if self.state != FAILED:
                self.state = STOPPED
        finally:
            self._ready.set()
            self._loop = self._stop = None

    async def _main(self, host: str, port: int) -> None:
        from app.gateway.queue import HoldQueue
        from app.gateway.server import running

        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        queue = HoldQueue(self.services, on_held=self.on_held)
        async with running(self.services, host, port, queue=queue, on_event=self.on_event) as gw:
            self.url = gw.url
            await asyncio.to_thread(record_run, self.services, True, gw.url, self.where)
            self.state = LISTENING
            self._ready.set()
            await self._stop.wait()
        await asyncio.to_thread(record_run, self.services, False, self.url, self.where)


def _one_line(exc: Exception, host: str, port: int) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"the gateway could not listen on {host}:{port}: {exc.strerror}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
