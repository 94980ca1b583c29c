"""The main screen's alert for requests the gateway holds for the owner's yes (issue 13).

Held requests live in the store (``gateway_hold``), whichever process runs the gateway — this panel
or ``breaker gateway`` in another terminal — so the banner reads them every :data:`EVERY_S` seconds
in a thread worker while the main screen is the one shown. Hidden when nothing is held; ``g`` (or a
click on the line) opens the held-requests screen, where y approves and n denies.
"""

from __future__ import annotations

from textual import on, work
from textual.message import Message
from textual.widgets import Static

from app.tui.markup import escape

EVERY_S = 1.0
BANNER_WHAT = 60  # characters of what the oldest would do; the held-requests screen shows all of it


class HeldCount(Message, bubble=False):
    def __init__(self, holds: list) -> None:
        super().__init__()
        self.holds = holds


def banner_text(holds: list, now) -> str:
    """``2 requests wait for your yes — oldest: mail-bot, Send an e-mail to …; refused in 41 s without an
    answer. Press g to approve or deny them.``"""
    lost = [h for h in holds if getattr(h, "lost", False)]
    holds = [h for h in holds if not getattr(h, "lost", False)]
    if not holds:
        if not lost:
            return ""
        one = len(lost) == 1
        after_yes = any(getattr(h, "answered_by", "") not in ("", "gateway stopped") for h in lost)
        what = "what happened to each" if after_yes else "nothing was sent and the agent got no answer"
        return (
            f"[b]The gateway stopped:[/b] {len(lost)} held request{'' if one else 's'} lost — {what}. "
            f"Press g to see {'it' if one else 'them'}."
        )
    first = holds[0]
    left = first.seconds_left(now)
    many = len(holds) > 1
    head = f"{len(holds)} request{'s' if many else ''} wait{'' if many else 's'} for your yes"
    what = first.what if len(first.what) <= BANNER_WHAT else first.what[: BANNER_WHAT - 1] + "…"  # all of it: g
    oldest = f"{'oldest: ' if many else ''}{first.connector}, {what}"
    return (
        f"[b]{head}[/b] — {escape(oldest)}; refused in {left} s without an answer. "
        f"Press g to approve or deny{' them' if many else ' it'}."
    )


class HeldBanner(Static):
    """One line above the connector table while the gateway holds requests."""

    def on_mount(self) -> None:
        self.display = False
        self.holds: list = []
        self.set_interval(EVERY_S, self.check)
        self.call_after_refresh(self.check)

    def check(self) -> None:
        app = self.app
        if (
            getattr(self, "reading", False)
            or not getattr(app, "services_ready", False)
            or app.screen is not self.screen
        ):
            return
        # One read at a time, never cancelling the one in flight (an exclusive worker would be cancelled
        # by the next tick, and whoever waits for the workers would see it fail).
        self.reading = True
        self.read_holds()

    @work(thread=True, group="held-banner", exit_on_error=False, description="checking held requests")
    def read_holds(self) -> None:
        from app.services.queue import Queue

        try:
            self.post_message(HeldCount(Queue(self.app.services).pending(with_lost=True)))
        finally:
            self.reading = False

    @on(HeldCount)
    def _counted(self, message: HeldCount) -> None:
        from app.store.snapshot import utcnow

        self.holds = message.holds
        self.update(banner_text(self.holds, utcnow()))
        self.display = bool(self.holds)

    async def on_click(self) -> None:
        await self.app.run_action("held_requests")
