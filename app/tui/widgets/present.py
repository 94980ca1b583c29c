"""How facts look on screen: ages, times, levels, the state light, scope lists.

Plain functions, no widgets, so they are easy to test and share between screens. Colours are
never written here: a level or a state names a theme variable (``level-admin``, ``success``),
and :func:`tone` resolves it against the running app's theme.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from rich.text import Text
from textual.color import Color

from app.services.vocabulary import JobState

if TYPE_CHECKING:  # imported lazily: the first frame is painted before SQLModel and httpx load
    from connectors.base import Grant, Level

NEVER = "never"
NOTHING = "—"

LEVEL_VARIABLE = {  # by Level.label
    "read": "level-read",
    "draft": "level-draft",
    "write": "level-write",
    "send": "level-send",
    "admin": "level-admin",
}


def now() -> datetime:
    """The panel's one clock, looked up at call time because tests freeze ``utcnow`` in every loaded
    module. From app.store.snapshot (standard library only), not app.store.models: the first rows
    are drawn before SQLModel is imported, and importing it here would hold them up."""
    from app.store import snapshot

    return snapshot.utcnow()


def aware(moment: datetime) -> datetime:
    """SQLite may hand back naive datetimes; Breaker writes them as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def span(delta: timedelta) -> str:
    """A short, honest duration: "40 s", "12 min", "5 h", "200 d"."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def ago(moment: datetime | None, *, short: bool = False) -> str:
    """ "3 h ago" ("3 h" when ``short``: a narrow column whose header already says it is the past)."""
    if moment is None:
        return NEVER
    return span(now() - aware(moment)) + ("" if short else " ago")


def until(moment: datetime | None) -> str:
    if moment is None:
        return NOTHING
    delta = aware(moment) - now()
    if delta.total_seconds() < 0:
        return f"expired {span(-delta)} ago"
    return f"in {span(delta)}"


def local_time(moment: datetime | None) -> str:
    """Wall-clock time in the owner's time zone (tests pin TZ=UTC)."""
    if moment is None:
        return NOTHING
    return aware(moment).astimezone().strftime("%Y-%m-%d %H:%M")


def days(value: int | None) -> str:
    return NOTHING if value is None else f"{value} d"


# -- colours --------------------------------------------------------------------------------
def tone(variables: Mapping[str, str], name: str) -> str:
    """A theme variable as a solid hex colour Rich can use (translucent ones are laid on the background)."""
    raw = variables.get(name) or variables.get("foreground", "#e0e0e0")
    try:
        colour = Color.parse(raw)
    except Exception:  # e.g. "auto 60%": not a colour on its own
        colour = Color.parse(variables.get("foreground", "#e0e0e0"))
    if colour.a < 1:
        background = Color.parse(variables.get("background", "#000000"))
        colour = background.blend(colour.with_alpha(1), colour.a)
    return colour.hex


def level_variables(primary: Color, warning: Color, error: Color, success: Color, accent: Color) -> dict[str, str]:
    """Five distinct level colours taken from the theme's roles: read = success, draft = primary,
    write = warning, send = accent, admin = error.

    Where the theme's accent looks like its warning or error colour (the stock Textual themes
    share one amber for both), ``send`` becomes a mix of error and primary instead.
    """

    def close(a: Color, b: Color) -> bool:
        return sum(abs(x - y) for x, y in zip(a.rgb, b.rgb)) < 120

    send = accent
    if close(accent, warning) or close(accent, error):
        send = error.blend(primary, 0.5).lighten(0.12)
    return {
        "level-read": success.hex,
        "level-draft": primary.lighten(0.1).hex,
        "level-write": warning.hex,
        "level-send": send.hex,
        "level-admin": error.hex,
    }


def level_text(level: Level | None, variables: Mapping[str, str], *, empty: str = NOTHING) -> Text:
    if level is None:
        return Text(empty, style=tone(variables, "foreground-darken-2"))
    style = tone(variables, LEVEL_VARIABLE[level.label])
    return Text(level.label, style=f"bold {style}" if level.label == "admin" else style)


def level_markup(level: Level | None, empty: str = NOTHING) -> str:
    """Content markup for a level, resolved against the theme by Textual."""
    if level is None:
        return f"[$text-muted]{empty}[/]"
    bold = "bold " if level.label == "admin" else ""
    return f"[{bold}${LEVEL_VARIABLE[level.label]}]{level.label}[/]"


# -- the state light --------------------------------------------------------------------------
@dataclass(frozen=True)
class Light:
    symbol: str
    variable: str
    meaning: str


LIGHTS = {
    "ok": Light("●", "success", "probed ok, nothing beyond what is declared and allowed"),
    "drift": Light("▲", "warning", "drift: live power beyond what was declared or what the mode allows"),
    "failing": Light("✖", "error", "the last probe failed (invalid, revoked, unreachable …)"),
    "never": Light("○", "foreground-darken-2", "never probed"),
    "disabled": Light("■", "foreground-darken-2", "disabled in Breaker"),
}


def state_light(view) -> Light:
    """One symbol per connector; symbols differ as well as colours, for colour-blind owners."""
    if view.drift:
        return LIGHTS["drift"]
    if view.mode.value == "disabled" and view.last_outcome in (None, "invalid", "revoked"):
        return LIGHTS["disabled"]
    if view.last_outcome is None:
        return LIGHTS["never"]
    if view.last_outcome != "ok":
        return LIGHTS["failing"]
    return LIGHTS["ok"]


def light_text(view, variables: Mapping[str, str]) -> Text:
    light = state_light(view)
    return Text(light.symbol, style=tone(variables, light.variable))


# -- switch states --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SwitchLook:
    short: str  # what the table's narrow Switch column says
    variable: str  # theme variable for its colour


# The honest states (app.services.vocabulary.JobState), short for the table.
# The connector screen and the modals show the full words from app.services.switches.label().
SWITCH_LOOKS: dict[JobState, SwitchLook] = {
    JobState.JOURNALLED: SwitchLook("… journalled", "accent"),
    JobState.RECORDED: SwitchLook("… recorded", "accent"),
    JobState.APPLYING: SwitchLook("… applying", "accent"),
    JobState.APPLIED: SwitchLook("◐ applied", "warning"),
    JobState.MANUAL: SwitchLook("✎ waiting for you", "warning"),
    JobState.PENDING: SwitchLook("⟳ pending", "error"),
    JobState.FAILED: SwitchLook("✖ failed", "error"),
    JobState.OUT_OF_SYNC: SwitchLook("≠ out of sync", "error"),
    JobState.VERIFIED: SwitchLook("✔ verified", "success"),
    JobState.SUPERSEDED: SwitchLook("superseded", "foreground-darken-2"),
    JobState.UNVERIFIED: SwitchLook("◐ unverified", "warning"),
}


def switch_look(state: JobState | None) -> SwitchLook | None:
    if not state:
        return None
    return SWITCH_LOOKS[JobState(state)]


def switch_word(state: JobState | None) -> str:
    """The short state without its symbol ("manual steps", "out of sync")."""
    look = switch_look(state)
    if look is None:
        return ""
    symbol, _, rest = look.short.partition(" ")
    return rest if rest and not symbol.isalnum() else look.short


def switch_text(state: str | None, variables: Mapping[str, str], action: str = "") -> Text:
    """The Switch cell: a symbol and a word (colour-blind safe), e.g. "✔ verified"."""
    look = switch_look(state)
    if look is None:
        return Text("")
    return Text(f"{action} {look.short}" if action else look.short, style=tone(variables, look.variable))


# -- scopes -------------------------------------------------------------------------------------
def short_scope(scope: str, width: int) -> str:
    """A scope cut to ``width`` from the left: the telling part of a long scope is its end
    ("…/auth/gmail.compose", "…contacts.write"), never its common prefix."""
    if width < 8 or len(scope) <= width:
        return scope
    return "…" + scope[-(width - 1) :]


def format_grants(grants: Iterable[Grant]) -> str:
    """The form's text for declared scopes: "repo:write, read:org:read"."""
    return ", ".join(f"{g.scope}:{g.level.label}" for g in grants)


def parse_grants(text: str) -> tuple[Grant, ...]:
    """Parse "scope:level, scope:level". The level is after the LAST colon (scopes may hold colons).

    Raises ValueError with a message for the field.
    """
    from connectors.base import Grant, Level

    grants: list[Grant] = []
    seen: set[str] = set()
    for part in (p.strip() for p in text.replace("\n", ",").split(",")):
        if not part:
            continue
        scope, sep, level = part.rpartition(":")
        if not sep or not scope.strip():
            raise ValueError(f"{part!r}: write scope:level, e.g. repo:write (levels: read, draft, write, send, admin)")
        try:
            parsed = Level.parse(level)
        except ValueError:
            raise ValueError(
                f"{part!r}: unknown level {level.strip()!r}; use read, draft, write, send or admin"
            ) from None
        scope = scope.strip()
        if scope in seen:
            raise ValueError(f"{scope!r} is declared twice")
        seen.add(scope)
        grants.append(Grant(scope, parsed))
    return tuple(grants)


# -- audit --------------------------------------------------------------------------------------
def _short(value: object) -> str:
    if isinstance(value, dict):
        if "fingerprint" in value:
            return f"{value.get('fingerprint')}…{value.get('last4', '')}"
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        if value and all(isinstance(x, list) and len(x) == 2 for x in value):
            return ", ".join(f"{a}:{b}" for a, b in value)
        return ", ".join(_short(x) for x in value)
    if value is None or value == "":
        return NOTHING
    return str(value)


def change_summary(old_json: str, new_json: str, limit: int = 160) -> str:
    """One line saying what an audit event changed ("owner: alice → bob; mode: full → read-only")."""
    try:
        old, new = json.loads(old_json), json.loads(new_json)
    except ValueError:
        return "(unreadable values)"
    parts: list[str] = []
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            if key in old and key in new:
                parts.append(f"{key}: {_short(old[key])} → {_short(new[key])}")
            elif key in new:
                parts.append(f"{key}: {_short(new[key])}")
            else:
                parts.append(f"{key} was {_short(old[key])}")
    elif isinstance(new, dict):
        parts = [f"{k}: {_short(v)}" for k, v in new.items() if v not in ("", None, [], {})]
    elif isinstance(old, dict):
        parts = [f"{k} was {_short(v)}" for k, v in old.items() if v not in ("", None, [], {})]
    elif new is not None:
        parts = [_short(new)]
    text = "; ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- audit events in words -------------------------------------------------------------------------
SWITCH_STEP_WORDS = {
    "switch.recorded": "recorded in Breaker",
    "switch.calling": "the provider is being asked",
    "switch.applied": "applied at the provider, not yet proved by a probe",
    "switch.verified": "verified: a probe showed the key really changed",
    "switch.unverified": "a probe could not prove it yet",
    "switch.failed": "the provider call failed",
    "switch.pending": "waiting for the provider to answer",
    "switch.confirmed": "you said you did the manual steps",
    "switch.resume": "resumed after an interruption",
}


def event_sentence(action: str, connector: str | None, old_json: str, new_json: str, outcome: str) -> str:
    """An audit event as a sentence for the owner ("Probed slack-digest: ok, live level send."),
    falling back to what changed for events it has no words for. The raw fields stay one ``enter``
    away in the audit screen."""
    try:
        old, new = json.loads(old_json or "null"), json.loads(new_json or "null")
    except ValueError:
        return change_summary(old_json, new_json)
    old = old if isinstance(old, dict) else {}
    new = new if isinstance(new, dict) else {}
    who = connector or "the inventory"
    if action == "connector.add":
        cred = new.get("credential")
        if isinstance(cred, dict):
            cred = f"{str(cred.get('fingerprint', ''))[:12]}…{cred.get('last4', '')}"  # as fingerprints are shown
        provider = f" ({new['provider']})" if new.get("provider") else ""
        return f"Added {who}{provider}" + (f", key {cred}" if cred else "") + "."
    if action == "owner.add":
        return f"Added the owner {new.get('owner', '?')}."
    if action == "connector.edit":
        fields = ", ".join(sorted(new.keys() | old.keys())) or "nothing"
        return f"Changed {who}: {fields}."
    if action == "connector.remove":
        kept = "its key was deleted from the keyring" if new.get("key_deleted_from_keyring") else "its key stays"
        return f"Removed {who}; {kept}."
    if action == "probe":
        level = f", live level {new['live_level']}" if new.get("live_level") else ""
        drift = f"; more than declared: {'; '.join(new['drift'])}" if new.get("drift") else ""
        return f"Probed {who}: {new.get('outcome', outcome)}{level}{drift}."
    if action in SWITCH_STEP_WORDS:
        what = new.get("action") or "switch"
        mode = f" (mode {old['mode']} → {new['mode']})" if old.get("mode") and new.get("mode") else ""
        note = new.get("message") or ""
        if action == "switch.verified" and new.get("at") == "gateway":
            return (
                f"{str(what).capitalize()} {who}: verified at the gateway — requests above the mode are refused there."
            )
        return (
            f"{str(what).capitalize()} {who}{mode}: {SWITCH_STEP_WORDS[action]}" + (f" — {note}" if note else "") + "."
        )
    if action == "gateway.route":
        return f"Handed {who} out through the gateway (requests above the mode: {new.get('on_above', 'refuse')})."
    if action == "gateway.unroute":
        left = "; its switch is no longer verified (the gateway held it)" if new.get("switch_state") else ""
        return f"Handed {who} out as its key again; {new.get('tokens_revoked', 0)} gateway token(s) revoked{left}."
    if action == "key.shown":
        return f"Showed the new key of {who} (…{new.get('last4', '')}) once, to hand it on by hand."
    if action == "panic.start":
        return f"Emergency disable started for {new.get('count', 'every')} connector(s)."
    if action == "panic.end":
        return "Emergency disable finished."
    return change_summary(old_json, new_json)
