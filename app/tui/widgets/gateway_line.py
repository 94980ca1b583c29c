"""The panel running the gateway (issue 13): ``G`` starts or stops it, and this line on the main
screen says what it is doing — starting, listening on which address, why it could not start, or
that it stopped unexpectedly. The gateway is ``breaker gateway`` in a child process
(:class:`app.gateway.child.GatewayChild`), so agents' traffic never takes the panel's interpreter;
starting and stopping happen in thread workers, so the panel never waits for them; both are audited.
A request the gateway holds for the owner's yes shows at once in the held-requests line (the child
says so on its pipe). Quitting the panel stops the gateway.
"""

from __future__ import annotations

import contextlib

from textual import on, work
from textual.message import Message
from textual.widgets import Static

from app.tui.markup import escape


class GatewayState(Message, bubble=False):
    def __init__(self, text: str, *, failed: bool = False, toast: str = "") -> None:
        super().__init__()
        self.text = text
        self.failed = failed
        self.toast = toast


class GatewayLine(Static):
    """Hidden until the panel runs (or tries to run) the gateway."""

    def on_mount(self) -> None:
        self.display = False
        self.runner = None  # app.gateway.child.GatewayChild, once started here

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

    @on(GatewayState)
    def _show(self, message: GatewayState) -> None:
        self.update(message.text)
        self.display = bool(message.text)
        self.set_class(message.failed, "-failed")
        if message.toast:
            self.notify(message.toast, severity="error" if message.failed else "information")

    def on_unmount(self) -> None:
        if self.runner is not None and self.runner.running:
            self.runner.stop()  # the panel is closing: stop serving before the store closes
