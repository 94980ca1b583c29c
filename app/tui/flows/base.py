"""What a flow is: a widget the main screen composes, holding one kind of long-running work (its
workers and the messages they post) and talking to the screen only through :class:`FlowHost`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from textual.widget import Widget
from textual.worker import Worker

if TYPE_CHECKING:
    from app.services.context import Services
    from app.services.views import ConnectorView
    from app.tui.actions import PanelAction
    from app.tui.widgets.connector_table import ConnectorTable


class FlowHost(Protocol):
    """What a flow needs of the screen that composes it (MainScreen)."""

    views: list[ConnectorView]  # the whole inventory as last read

    @property
    def table(self) -> ConnectorTable: ...

    def target(self, spec: PanelAction, name: str | None) -> str | None:
        """The connector ``spec`` applies to ("" when it needs none), or None after saying why not."""
        ...


class Flow(Widget):
    """A composed piece of the main screen. Its workers post to it, so their messages land here;
    a failed worker is reported by the app in one line (Worker.StateChanged does not bubble)."""

    DEFAULT_CSS = """
    Flow {
        height: auto;
    }
    """

    def __init__(self, host: FlowHost, **kwargs) -> None:
        super().__init__(**kwargs)
        self.host = host

    @property
    def services(self) -> Services:
        return self.app.services  # type: ignore[attr-defined]

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.app.worker_changed(event)  # type: ignore[attr-defined]
