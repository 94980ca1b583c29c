"""Messages the panel's workers and screens post. Workers only post these; handlers own the widgets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from textual.message import Message

# Messages are compared by identity and shown by Textual's own repr: a dataclass's __eq__ and
# __repr__ (a repr of every view of the inventory!) are two generated functions per class that
# the panel compiled at start for nothing (bench_startup's panel at 1,000 connectors, callgrind: 1,640 → 1,621 M
# instructions to the first frame with rows).
panel_message = dataclass(eq=False, repr=False)

if TYPE_CHECKING:  # the first frame is painted before SQLModel is imported: these cost nothing at start
    from app.services.audit import ChainStatus
    from app.services.context import Services
    from app.services.probing import ProbeResult
    from app.services.switches import JobReport, PanicPlan, PanicSummary, SwitchEvent, SwitchPlan
    from app.services.views import ConnectorView, Summary
    from app.services.vocabulary import SwitchAction
    from app.store.models import AuditEvent
    from connectors.base import ProbeReport


@panel_message
class InventoryChanged(Message):
    """A connector was added, edited or removed; every open screen refreshes what it shows.

    ``name`` is the connector to keep selected (the new name after a rename), ``None`` after removal.
    """

    name: str | None
    action: str  # "add" | "edit" | "remove"
    previous: str | None = None  # the name before an edit (renames) or the removed connector


@panel_message
class StoreChanged(Message):
    """App-wide: another process changed the store (``breaker disable`` in another terminal, a
    ``breaker gateway`` starting); screens showing what changed read it again."""

    names: frozenset[str]  # the connectors the new audit events changed (gateway.* events name none)
    actions: frozenset[str]
    gateway: tuple = ()  # (gateway.started / gateway.stopped, its fields), oldest first


@panel_message
class InventoryLoaded(Message):
    """The loading worker read the inventory (and opened the services, the first time)."""

    services: Services | None  # None for the read made before the store opened
    views: list[ConnectorView]
    summary: Summary | None  # None for the first screenful, read before the whole inventory
    last_review_at: datetime | None = None
    select: str | None = None
    generation: int = 0  # a newer reload wins over an older one that finishes late


@panel_message
class ServicesOpened(Message):
    """The store opened after the first rows were shown from a plain read (see MainScreen.load_inventory)."""

    services: Services


@panel_message
class InventoryFailed(Message):
    message: str


@panel_message
class ReadOnlyChanged(Message):
    read_only: bool


@panel_message
class ConnectorSaved(Message):
    """The form's save worker finished: the connector is in the store."""

    view: ConnectorView
    added: bool


@panel_message
class SaveRefused(Message):
    """The form's save worker was refused: field errors (shown beside fields) or one line for the form."""

    errors: dict[str, str]
    message: str = ""


@panel_message
class ConnectorRemoved(Message):
    name: str
    key_deleted: bool


@panel_message
class RemoveFailed(Message):
    name: str
    message: str


@panel_message
class AuditLoaded(Message):
    events: list[AuditEvent]
    total: int | None = None


@panel_message
class ChainVerified(Message):
    status: ChainStatus | None
    error: str = ""  # the chain could not be checked at all (no keyring, locked store)


# -- probing (issue 3) ---------------------------------------------------------------------------
# Messages a worker posts to the screen that started it do not bubble: the app has no use for them.
@panel_message
class ProbesArrived(Message, bubble=False):
    """A batch of probe results from a running probe worker (posted every ~200 ms, not per result,
    so a probe-all of 1,000 connectors costs the UI a few dozen updates)."""

    run: int  # which probe run they belong to
    results: list[ProbeResult]


@panel_message
class ProbesFinished(Message, bubble=False):
    """A probe run ended; every result is stored by now."""

    run: int
    names: list[str]
    results: list[ProbeResult]
    deep: bool = False
    error: str = ""  # the run could not start or broke off (one line for the owner)


@panel_message
class ProbesStored(Message):
    """App-wide: these connectors have fresh probes in the store; screens showing them reload."""

    names: list[str]


@panel_message
class KeyProbed(Message, bubble=False):
    """The add form's live probe of a pasted key (the key itself is not in here)."""

    generation: int
    report: ProbeReport  # already scrubbed by the probing service


# -- switches and panic (issue 4) -----------------------------------------------------------------
@panel_message
class PlanReady(Message, bubble=False):
    """The plan of a switch, read in a thread; the confirmation modal shows it."""

    name: str
    action: SwitchAction
    plan: SwitchPlan | None = None
    error: str = ""


@panel_message
class SwitchProgress(Message, bubble=False):
    """One step of a running switch (app.services.switches.SwitchEvent)."""

    event: SwitchEvent


@panel_message
class SwitchFinished(Message, bubble=False):
    """A switch, confirmation or verification ended: ``report`` is its JobReport."""

    name: str
    action: SwitchAction
    report: JobReport | None = None
    error: str = ""
    needs_key: SwitchPlan | None = None  # the provider turned out to need a pasted key


@panel_message
class SwitchesChanged(Message):
    """App-wide: switch states changed in the store (a switch or a panic); screens reload."""

    names: list[str]


@panel_message
class PanicPlanned(Message, bubble=False):
    plan: PanicPlan | None = None
    error: str = ""


@panel_message
class PanicProgress(Message, bubble=False):
    """A batch of SwitchEvents from the running emergency disable."""

    events: list[SwitchEvent]


@panel_message
class PanicFinished(Message, bubble=False):
    summary: PanicSummary | None = None  # None when there was nothing to resume
    error: str = ""


@panel_message
class UnfinishedPanics(Message, bubble=False):
    """The panel opened with interrupted emergency disables in the journal (newest first)."""

    batches: list[str]


@panel_message
class ReviewBanner(Message):
    """The main screen's line about the weekly review ("" hides it): due, open, keys expiring."""

    text: str
    nothing_due: bool = False  # the queue is empty and no review is open: the review tile says so
