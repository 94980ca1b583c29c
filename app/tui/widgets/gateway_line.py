"""The panel running the gateway (issue 13): ``G`` starts or stops it, and this line on the main
screen says what it is doing — starting, listening on which address, why it could not start, or
that it stopped unexpectedly. The gateway is ``breaker gateway`` in a child process
(:class:`app.gateway.child.GatewayChild`), so agents' traffic never takes the panel's interpreter;
starting and stopping happen in thread workers, so the panel never waits for them; both are audited.
A request the gateway holds for the owner's yes shows at once in the held-requests line (the child
says so on its pipe). Quitting the panel stops the gateway.

A gateway another terminal runs (``breaker gateway``) on the address G would use is said here too,
once its start is in the audit log and its port answers (:func:`app.services.changes.serving_elsewhere`):
looked up when the panel opens, when another process starts or stops a gateway, and when G finds
the address taken; while it is shown, its port is tried every :data:`RECHECK_S` seconds.
"""

from __future__ import annotations

import contextlib

from textual import on, work
from textual.message import Message
from textual.widgets import Static

from app.tui.markup import escape

RECHECK_S = 5.0  # a gateway serving from another terminal: is its port still answering


def elsewhere_text(url: str, where: str) -> str:
    by = f" by {where}" if where else ""
    return (
        f"[b]Gateway serving on {escape(url)}[/b] — started{escape(by)} outside this panel; the requests it holds "
        "show here. Stop it where it runs (Ctrl-C there)."
    )


class GatewayState(Message, bubble=False):
    def __init__(self, text: str, *, failed: bool = False, toast: str = "", elsewhere=None) -> None:
        super().__init__()
        self.text = text
        self.failed = failed
        self.toast = toast
        self.elsewhere = elsewhere  # app.services.changes.Serving: what the line shows is another's gateway


class GatewayElsewhere(Message, bubble=False):
    def __init__(self, serving) -> None:
        super().__init__()
        self.serving = serving


class GatewayLine(Static):
    """Hidden until the panel runs (or tries to run) the gateway."""

    def on_mount(self) -> None:
        self.display = False
        self.runner = None  # app.gateway.child.GatewayChild, once started here
        self.elsewhere = None  # a gateway another process serves on our address (changes.Serving)
        self.looked = False  # looked for one since the inventory opened
        self.looking = False
        self.ticks = 0
        self.set_interval(1.0, self._tick)
        self.app.store_changed_signal.subscribe(self, self._store_changed)

    @property
    def running(self) -> bool:
        return self.runner is not None and self.runner.running

    def toggle(self) -> None:
        if not getattr(self.app, "services_ready", False):
            self.notify("The inventory is still opening; try again in a moment.", severity="warning")
            return
        if self.running:
            self._show(GatewayState(f"Stopping the gateway on {escape(self.runner.url)}…"))
            self.stop()
        elif getattr(self.app, "read_only", False):
            self.notify("Read-only panel: the gateway is not started from here.", severity="warning")
        else:
            self._show(GatewayState("Starting the gateway…"))
            self.start()

    @work(thread=True, group="gateway-run", exit_on_error=False, description="starting the gateway")
    def start(self) -> None:
        from app.gateway.child import GatewayChild

        if self.runner is None:
            self.runner = GatewayChild(self.app.services, where="panel", on_held=self._held, on_exit=self._ended)
        try:
            url = self.runner.start()
        except (OSError, ValueError) as exc:
            serving = self._serving_elsewhere()
            if serving is not None:  # the address is taken by a gateway run from another terminal
                self.post_message(
                    GatewayState(
                        elsewhere_text(serving.url, serving.where),
                        toast=f"A gateway already serves on {serving.url} ({serving.where}): this panel uses it.",
                        elsewhere=serving,
                    )
                )
                return
            text = f"The gateway did not start: {exc}. Press G to try again."
            self.post_message(GatewayState(escape(text), failed=True, toast=str(exc)))
            return
        self.post_message(
            GatewayState(
                f"[b]Gateway listening on {escape(url)}[/b] — agents handed a connector through it reach the "
                "provider while this panel is open. Press G to stop it.",
                toast=f"Gateway listening on {url}",
            )
        )

    @work(thread=True, group="gateway-run", exit_on_error=False, description="stopping the gateway")
    def stop(self) -> None:
        url = self.runner.url if self.runner else ""
        if self.runner is not None:
            self.runner.stop()
        self.post_message(GatewayState("", toast=f"Gateway on {url} stopped: routed agents are refused until it runs."))

    def _held(self, _hold_id: int) -> None:
        """From the child's reader thread: a request now waits for the owner; read the holds at once."""
        with contextlib.suppress(RuntimeError):  # the panel is closing
            self.app.call_from_thread(self._read_holds_now)

    def _read_holds_now(self) -> None:
        from app.tui.screens.held import HeldScreen

        self.screen.query_one("#held-banner").check()
        if isinstance(self.app.screen, HeldScreen):
            self.app.screen.load()

    def _ended(self, why: str) -> None:
        """From the child's reader thread: the gateway ended without being asked (audited there)."""
        text = f"Gateway stopped unexpectedly ({why}) — press G to start it again."
        self.post_message(GatewayState(escape(text), failed=True, toast=f"Gateway stopped unexpectedly ({why})"))

    # -- a gateway another process runs --------------------------------------------------------------
    def _serving_elsewhere(self):
        """From a worker thread: the gateway another process serves on our address, or None."""
        from app.services.changes import serving_elsewhere
        from app.services.gateway import base_url

        try:
            return serving_elsewhere(self.app.services, base_url())
        except Exception:  # a busy store, a bad BREAKER_GATEWAY_URL: G says what is wrong
            return None

    def _tick(self) -> None:
        if self.looking or self.running or not getattr(self.app, "services_ready", False):
            return
        self.ticks += 1
        if not self.looked:
            self.looked = True
            self._look()
        elif self.elsewhere is not None and self.ticks % int(RECHECK_S) == 0:
            self._look()

    def _store_changed(self, message) -> None:
        """Another process started or stopped a gateway: look again (our own child's are ours)."""
        own = f"(process {self.runner.pid})" if self.runner is not None and self.runner.pid else None
        if any(not (own and str(fields.get("where", "")).endswith(own)) for _action, fields in message.gateway):
            if not self.running:
                self._look()

    def _look(self) -> None:
        self.looking = True
        self.look_elsewhere()

    @work(thread=True, group="gateway-elsewhere", exit_on_error=False, description="looking for a running gateway")
    def look_elsewhere(self) -> None:
        try:
            serving = self._serving_elsewhere()
        finally:
            self.looking = False
        self.post_message(GatewayElsewhere(serving))

    @on(GatewayElsewhere)
    def _elsewhere_found(self, message: GatewayElsewhere) -> None:
        if self.running:
            return
        serving = message.serving
        if serving is not None:
            if serving != self.elsewhere:
                self._show(GatewayState(elsewhere_text(serving.url, serving.where), elsewhere=serving))
        elif self.elsewhere is not None:  # it stopped (or its port no longer answers)
            self._show(GatewayState(""))

    @on(GatewayState)
    def _show(self, message: GatewayState) -> None:
        self.elsewhere = message.elsewhere
        self.update(message.text)
        self.display = bool(message.text)
        self.set_class(message.failed, "-failed")
        if message.toast:
            self.notify(message.toast, severity="error" if message.failed else "information")

    def on_unmount(self) -> None:
        if self.runner is not None and self.runner.running:
            self.runner.stop()  # the panel is closing: stop serving before the store closes
