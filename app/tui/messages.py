"""Messages the panel's workers and screens post. Workers only post these; handlers own the widgets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:  # the first frame is painted before SQLModel is imported
    from app.services.audit import ChainStatus
    from app.services.inventory import ConnectorView, Summary
    from app.store.models import AuditEvent


@dataclass
class InventoryChanged(Message):
    """A connector was added, edited or removed; every open screen refreshes what it shows.

    ``name`` is the connector to keep selected (the new name after a rename), ``None`` after removal.
    """

    name: str | None
    action: str  # "add" | "edit" | "remove"
    previous: str | None = None  # the name before an edit (renames) or the removed connector


@dataclass
class InventoryLoaded(Message):
    """The loading worker read the inventory (and opened the services, the first time)."""

    services: Any  # app.services.context.Services
    views: list[ConnectorView]
    summary: Summary
    last_review_at: Any = None
    select: str | None = None
    generation: int = 0  # a newer reload wins over an older one that finishes late


@dataclass
class InventoryFailed(Message):
    message: str


@dataclass
class ReadOnlyChanged(Message):
    read_only: bool


@dataclass
class ConnectorSaved(Message):
    """The form's save worker finished: the connector is in the store."""

    view: ConnectorView
    added: bool


@dataclass
class SaveRefused(Message):
    """The form's save worker was refused: field errors (shown beside fields) or one line for the form."""

    errors: dict[str, str]
    message: str = ""


@dataclass
class ConnectorRemoved(Message):
    name: str
    key_deleted: bool


@dataclass
class RemoveFailed(Message):
    name: str
    message: str


@dataclass
class AuditLoaded(Message):
    events: list[AuditEvent]
    total: int | None = None


@dataclass
class ChainVerified(Message):
    status: ChainStatus | None
    error: str = ""  # the chain could not be checked at all (no keyring, locked store)
