"""What each switch state is called on screen, and when a probe proves a switch.

The states themselves are :class:`app.services.vocabulary.JobState` (their docstring says what each
one means); the actions :class:`app.services.vocabulary.SwitchAction`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.services.vocabulary import JobState, SwitchAction
from connectors.base import Mode, Outcome, ProbeReport

LABELS: dict[JobState, str] = {
    JobState.JOURNALLED: "journalled — not yet recorded",
    JobState.RECORDED: "recorded locally — provider not yet asked",
    JobState.APPLYING: "recorded — provider call under way",
    JobState.APPLIED: "applied at the provider — not verified yet",
    JobState.MANUAL: "waiting for you — nothing was applied at the provider: do the steps",
    JobState.PENDING: "pending — provider call failed, will retry",
    JobState.FAILED: "failed at the provider — see the manual steps",
    JobState.OUT_OF_SYNC: "out of sync — forced locally, provider unchanged",
    JobState.VERIFIED: "verified by probe",
    JobState.SUPERSEDED: "superseded by a later switch",
    JobState.UNVERIFIED: "not verified by the probe",
}


# A routed connector's switch is verified at Breaker's gateway (a request of each level above the
# new ceiling refused there), not by a probe of the provider: the label says which (issue 13, "States").
AT_GATEWAY = "gateway"
VERIFIED_AT_GATEWAY = "verified at the gateway"


def label(state: JobState | str | None, at: str = "") -> str:
    """What the panel and the CLI show for a stored state; ``at="gateway"`` for a switch verified there."""
    if not state:
        return "no switch yet"
    if at == AT_GATEWAY and state == JobState.VERIFIED:
        return VERIFIED_AT_GATEWAY
    return LABELS.get(state, str(state))  # type: ignore[call-overload]


def view_label(state: JobState | str | None, routed: bool) -> str:
    """A connector's stored state, in full words. The connector row keeps the state, not where it was
    verified: a routed connector's "verified" may be the gateway's check or an earlier probe, and either
    way the gateway now enforces its mode on every request, so that is what it says."""
    if routed and state == JobState.VERIFIED:
        return "verified; enforced at the gateway"
    return label(state)


@dataclass(frozen=True)
class Verdict:
    """Whether a probe proves the switch, and why (one line for the owner)."""

    ok: bool
    why: str


def verdict(target: Mode, report: ProbeReport) -> Verdict:
    """Does ``report`` show the connector at or under ``target``'s ceiling?

    A key that no longer works (401, revoked) holds no power, so it satisfies every ceiling. For
    ``full`` (re-enable, rotate) the key must work again.
    """
    outcome = report.outcome
    if target is Mode.FULL:
        if outcome is Outcome.OK:
            return Verdict(True, "the key works")
        return Verdict(False, f"the key does not work: {outcome.value}{_err(report)}")
    if outcome in (Outcome.INVALID, Outcome.REVOKED):
        status = f" (HTTP {report.status})" if report.status else ""
        return Verdict(True, f"the key no longer works: {outcome.value}{status}")
    if outcome is Outcome.OK:
        ceiling = target.ceiling
        live = report.live_level
        if ceiling is None:
            held = f" at {live.label} level" if live is not None else ""
            return Verdict(False, f"the key still works{held}")
        if live is None:  # the probe learned no scope at all: that proves nothing about the level
            return Verdict(
                False,
                "the key works and the probe cannot see its scopes, so the level is unproven (a deep probe may tell)",
            )
        if live <= ceiling:
            return Verdict(True, f"live level {live.label} is within {target.value} ({ceiling.label})")
        return Verdict(False, f"the key still holds {live.label} (the {target.value} ceiling is {ceiling.label})")
    return Verdict(False, f"the probe could not tell: {outcome.value}{_err(report)}")


def _err(report: ProbeReport) -> str:
    return f" ({report.error})" if report.error else ""


@dataclass(frozen=True)
class SwitchEvent:
    """One step of one connector's switch, handed to ``on_event`` as it happens (panel, CLI progress)."""

    connector: str
    provider: str
    action: SwitchAction
    state: JobState
    message: str = ""
    manual_steps: tuple[str, ...] = ()
    job_id: int | None = None
    batch: str = ""
    elapsed_ms: float = 0.0  # since the switch (or panic) started
    at: str = ""  # "gateway" when verified at Breaker's gateway; "" at the provider

    @property
    def label(self) -> str:
        return label(self.state, self.at)

    def as_dict(self) -> dict[str, Any]:
        return {
            "connector": self.connector,
            "provider": self.provider,
            "action": self.action,
            "state": self.state,
            "message": self.message,
            "manual_steps": list(self.manual_steps),
            "job": self.job_id,
            "batch": self.batch,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


@dataclass(frozen=True)
class JobReport:
    """Where one connector's switch ended. What the CLI prints and the panel's summary lists."""

    connector: str
    provider: str
    action: SwitchAction
    state: JobState
    message: str = ""
    verify_note: str = ""
    manual_steps: tuple[str, ...] = ()
    provider_call: str = ""
    job_id: int | None = None
    irreversible: bool = False
    interrupted: bool = False  # a single switch cut off midway (crash, kill): `message` says how to finish it
    at: str = ""  # "gateway" when verified at Breaker's gateway; "" at the provider

    @property
    def verified(self) -> bool:
        return self.state is JobState.VERIFIED

    @property
    def label(self) -> str:
        return label(self.state, self.at)

    def as_dict(self) -> dict[str, Any]:
        return {
            "connector": self.connector,
            "provider": self.provider,
            "action": self.action,
            "state": self.state,
            "label": self.label,
            "verified": self.verified,
            "message": self.message,
            "verify_note": self.verify_note,
            "verified_at": self.at or ("provider" if self.verified else ""),
            "manual_steps": list(self.manual_steps),
            "provider_call": self.provider_call,
            "job": self.job_id,
            "irreversible": self.irreversible,
            "interrupted": self.interrupted,
        }


@dataclass
class PanicSummary:
    """The end of an emergency disable: who is verified, who is applied but unverified, who waits for
    the owner's manual steps, who failed."""

    batch: str
    total: int
    verified: list[JobReport] = field(default_factory=list)
    unverified: list[JobReport] = field(default_factory=list)  # applied at the provider, the probe did not confirm
    waiting: list[JobReport] = field(default_factory=list)  # manual steps: nothing was applied at the provider
    failed: list[JobReport] = field(default_factory=list)  # pending, failed, out of sync: with manual steps
    # recorded disabled in Breaker, but the provider call was not made: the keyring could not be read
    not_called: list[JobReport] = field(default_factory=list)
    keyring_problem: str = ""  # why the keyring could not be read ("" when it could)
    recorded_ms: float = 0.0  # from the call to every connector recorded disabled locally
    applied_ms: float = 0.0  # … to every provider call answered
    verified_ms: float = 0.0  # … to every verification probe answered
    resumed: bool = False
    superseded: list[str] = field(default_factory=list)  # batches this one replaced
    # MCP servers turned off in their clients' configs after the keys (app.services.mcp_switch);
    # None when the panic did not cover them (a selection, or a resume).
    mcp_off: list[Any] | None = None  # McpSwitchResult
    mcp_failed: list[str] = field(default_factory=list)  # one line each
    # A write that failed on the way (a full disk): why, and whose results are not in the database.
    write_problem: str = ""
    not_recorded: list[str] = field(default_factory=list)
    # False when not even the connectors' disabled mode could be recorded (the first write failed):
    # Breaker's own record still says they are enabled, and `breaker exec` still hands out their keys.
    recorded: bool = True
    note: str = ""  # where a panic that could not be recorded left its note for the resume ("" if none)

    @property
    def ok(self) -> bool:
        return self.total == len(self.verified) and not self.write_problem

    @property
    def reports(self) -> list[JobReport]:
        return [*self.verified, *self.unverified, *self.waiting, *self.failed, *self.not_called]

    @property
    def not_verified(self) -> list[JobReport]:
        """Every connector whose key may still work (applied, waiting for you, failed, not called)."""
        return [*self.unverified, *self.waiting, *self.failed, *self.not_called]

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch or None,
            "total": self.total,
            "ok": self.ok,
            "resumed": self.resumed,
            "recorded_ms": round(self.recorded_ms, 1),
            "applied_ms": round(self.applied_ms, 1),
            "verified_ms": round(self.verified_ms, 1),
            "write_problem": self.write_problem,
            "not_recorded": list(self.not_recorded),
            "recorded": self.recorded,
            "note": self.note,
            "verified": [r.as_dict() for r in self.verified],
            "unverified": [r.as_dict() for r in self.unverified],
            "waiting": [r.as_dict() for r in self.waiting],
            "failed": [r.as_dict() for r in self.failed],
            "not_called": [r.as_dict() for r in self.not_called],
            "keyring_problem": self.keyring_problem,
            "superseded": list(self.superseded),
            "mcp": None
            if self.mcp_off is None
            else {"disabled": [r.to_json() for r in self.mcp_off], "failed": list(self.mcp_failed)},
        }
