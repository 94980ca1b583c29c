"""The words of the switches, typed once and used from the store to the screen.

- :class:`~connectors.base.Mode` — the ceiling a connector holds (``full`` … ``disabled``);
- :class:`SwitchAction` — what the owner asks for (``draft-only``, ``read-only``, ``disable``,
  ``enable``, ``rotate``): the CLI's sub-command names, the panel's actions, ``switch_job.action``;
- :class:`~connectors.base.Verb` — what a provider is asked to do (``revoke``, ``restrict``,
  ``rotate``, ``reenable``);
- :class:`JobState` — where a switch job stands (``switch_job.state``, ``connector.switch_state``);
- :class:`~connectors.base.Outcome` — what a probe learned about a key.

Every value equals the string already stored in databases, so old rows read back unchanged.
"""

from __future__ import annotations

from enum import StrEnum

from connectors.terms import Level, Mode, Outcome, Verb

__all__ = ["JobState", "Level", "Mode", "Outcome", "SwitchAction", "Verb"]


class SwitchAction(StrEnum):
    """A switch the owner asks for. The value is the CLI's sub-command and the stored action."""

    DRAFT_ONLY = "draft-only"
    READ_ONLY = "read-only"
    DISABLE = "disable"
    ENABLE = "enable"
    ROTATE = "rotate"

    @property
    def target_mode(self) -> Mode | None:
        """The mode the switch records; ``None`` for a rotation (it keeps the mode)."""
        return _TARGET[self]

    @property
    def ceiling(self) -> Level | None:
        mode = _TARGET[self]
        return mode.ceiling if mode is not None else None

    @property
    def verb(self) -> Verb:
        """What the provider is asked to do for this switch."""
        return _VERB[self]

    @property
    def reduces(self) -> bool:
        """draft-only or read-only: a lower ceiling, the key kept."""
        return self in (SwitchAction.DRAFT_ONLY, SwitchAction.READ_ONLY)

    @property
    def panel_action(self) -> str:
        """The panel's action name (``draft_only``, ``reenable`` …): Textual action names are identifiers."""
        return "reenable" if self is SwitchAction.ENABLE else self.value.replace("-", "_")

    @classmethod
    def of_panel(cls, action: str) -> SwitchAction:
        return next(a for a in cls if a.panel_action == action)

    @property
    def title(self) -> str:
        """The first words of its confirmation ("Disable", "Switch to draft-only:")."""
        return _TITLE[self]


_TARGET: dict[SwitchAction, Mode | None] = {
    SwitchAction.DRAFT_ONLY: Mode.DRAFT_ONLY,
    SwitchAction.READ_ONLY: Mode.READ_ONLY,
    SwitchAction.DISABLE: Mode.DISABLED,
    SwitchAction.ENABLE: Mode.FULL,
    SwitchAction.ROTATE: None,
}
_VERB: dict[SwitchAction, Verb] = {
    SwitchAction.DRAFT_ONLY: Verb.RESTRICT,
    SwitchAction.READ_ONLY: Verb.RESTRICT,
    SwitchAction.DISABLE: Verb.REVOKE,
    SwitchAction.ENABLE: Verb.REENABLE,
    SwitchAction.ROTATE: Verb.ROTATE,
}
_TITLE: dict[SwitchAction, str] = {
    SwitchAction.DRAFT_ONLY: "Switch to draft-only:",
    SwitchAction.READ_ONLY: "Switch to read-only:",
    SwitchAction.DISABLE: "Disable",
    SwitchAction.ENABLE: "Re-enable",
    SwitchAction.ROTATE: "Rotate the key of",
}


class JobState(StrEnum):
    """Where a switch job stands. The journal moves a job through

        journalled → recorded → applying → applied | manual | pending | failed | out-of-sync → verified

    - ``journalled``: the job row exists (a panic writes every job first, in one transaction);
    - ``recorded``: the mode is written in Breaker; ``breaker exec`` enforces it from now on;
    - ``applying``: the provider call may be on its way (a resume probes before repeating anything);
    - ``applied``: the provider's API accepted the change (or the owner said they did the steps);
    - ``manual``: waiting for you — nothing was applied at the provider; the owner has the steps;
    - ``pending``: the provider call failed and will be retried (or can be, with ``--resume``);
    - ``failed``: the provider refused, and retrying would not help; the manual steps say what to do;
    - ``out-of-sync``: forced: recorded locally although the provider call failed;
    - ``verified``: a fresh probe proves the switch (see ``states.verdict``);
    - ``superseded``: an interrupted job that a newer switch of the same connector replaced.

    ``unverified`` is never stored: it is the event of a verification that did not prove the switch
    (the job keeps its state).
    """

    JOURNALLED = "journalled"
    RECORDED = "recorded"
    APPLYING = "applying"
    APPLIED = "applied"
    MANUAL = "manual"
    PENDING = "pending"
    FAILED = "failed"
    OUT_OF_SYNC = "out-of-sync"
    VERIFIED = "verified"
    SUPERSEDED = "superseded"
    UNVERIFIED = "unverified"  # events only

    @classmethod
    def read(cls, value: str | None) -> JobState | None:
        """A stored state (``None`` or ``""`` when no switch ran yet)."""
        return cls(value) if value else None

    @property
    def provider_todo(self) -> bool:
        """The provider step is still to do (or to finish)."""
        return self in _PROVIDER_TODO

    @property
    def awaits_proof(self) -> bool:
        """Applied at the provider, or waiting for the owner's steps: a probe may prove it."""
        return self in (JobState.APPLIED, JobState.MANUAL)


_PROVIDER_TODO = frozenset({JobState.JOURNALLED, JobState.RECORDED, JobState.APPLYING, JobState.PENDING})
