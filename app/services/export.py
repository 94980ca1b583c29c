"""The inventory as JSON, CSV or Markdown — for `breaker list --json`, `breaker export` and reports.

One record shape per connector (:func:`connector_record`) feeds every format, so the JSON of
``breaker list --json`` and of ``breaker export --format json`` cannot drift apart. Nothing here
can carry a secret: records are built from views that hold fingerprints only, and :func:`dumps`
refuses a :class:`~connectors.base.Secret` anywhere in a document. Every export is audited.

Schemas (documented in the README; bump the number on an incompatible change):
``breaker.list/1`` = {"schema", "connectors": [record…]};
``breaker.export/1`` = {"schema", "generated_at", "summary", "connectors": [record…]}.
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from app.services.drift import drift_findings
from app.services.views import ConnectorView, Summary, live_word, purpose_sentence, split_grants
from app.services.views import _level as view_level
from app.services.views import _mode as view_mode
from app.services.vocabulary import JobState
from app.store.snapshot import ListingRows, parse_time, utcnow
from connectors.base import Grant, Mode, Secret
from connectors.textsafe import csv_cell, json_text, plain

# The records and renderers load no database library (`breaker list --json` builds its records
# from the fast read path); the three functions at the end that read or audit through the store
# import it when they run.

if TYPE_CHECKING:
    from app.services.context import Services

PURPOSE_FIELDS = ("purpose_access", "purpose_task", "purpose_forbidden")
LIST_SCHEMA = "breaker.list/1"
EXPORT_SCHEMA = "breaker.export/1"
FORMATS = ("json", "csv", "md")

CSV_COLUMNS = (
    "name",
    "provider",
    "owner",
    "purpose",
    "environment",
    "mode",
    "client",
    "tags",
    "declared",
    "live_level",
    "live_scopes",
    "drift",
    "key_fingerprint",
    "key_last4",
    "key_age_days",
    "key_tier",
    "key_shared_with",
    "last_probe_at",
    "last_probe_outcome",
    "switch_state",
)


# -- JSON that refuses secrets -------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, Secret):
        from app.services.audit import SecretInAuditError

        raise SecretInAuditError("a secret cannot be written to an export or to --json output")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot export a {type(value).__name__}")


def dumps(document: Any, *, pretty: bool = True) -> str:
    """JSON for people and programs. Raises :class:`SecretInAuditError` if a Secret is anywhere inside."""
    # Text from the database or a provider may hold an escape sequence or a right-to-left override:
    # written as JSON escapes (lossless), never raw (connectors.textsafe.json_text).
    if pretty:
        return json_text(json.dumps(document, default=_json_default, indent=2, ensure_ascii=False))
    return json_text(json.dumps(document, default=_json_default, separators=(",", ":"), ensure_ascii=False))


# -- one record per connector ---------------------------------------------------------------------


def _grants(grants: Iterable[Grant]) -> list[dict[str, str]]:
    return [{"scope": g.scope, "level": g.level.label} for g in grants]


def safe_url(url: str) -> str:
    """A base URL without any user:password part (a URL is not a place for a key, but people try)."""
    if "@" not in url:  # the common case, without parsing
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[1], parts.path, parts.query, parts.fragment))


def shared_keys(views: Iterable[ConnectorView]) -> dict[str, list[str]]:
    """fingerprint → names of the connectors holding that same key."""
    holders: dict[str, list[str]] = defaultdict(list)
    for v in views:
        for c in v.credentials:
            if v.name not in holders[c.fingerprint]:
                holders[c.fingerprint].append(v.name)
    return holders


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def connector_record(
    view: ConnectorView,
    holders: dict[str, list[str]] | None = None,
    key_age_warn_days: int = 90,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The stable JSON shape of one connector (see the README, "JSON output"); ages are counted to
    ``now`` (default: this moment)."""
    cred = view.credential
    key = None
    if cred is not None:
        others = [n for n in (holders or {}).get(cred.fingerprint, []) if n != view.name]
        age = cred.age_days_at(now or utcnow())
        key = {
            "fingerprint": cred.fingerprint,
            "last4": cred.last4,
            "kind": cred.kind,
            "tier": cred.tier,
            "age_days": age,
            "stale": age > key_age_warn_days,
            "expires_at": _iso(cred.expires_at),
            "shared_with": others,
        }
    last_probe = {"at": _iso(view.last_probe_at), "outcome": view.last_outcome} if view.last_probe_at else None
    # Text fields as stored (lossless; every renderer escapes them: json_text, csv_cell, _md).
    text = view.stored if view.raw else partial(getattr, view)
    return {
        "name": text("name"),
        "provider": view.provider,
        "owner": text("owner") or None,
        "purpose": replace(view, **{k: text(k) for k in PURPOSE_FIELDS}).purpose if view.raw else view.purpose,
        "environment": text("environment"),
        "mode": view.mode.value,
        "client": text("client"),
        "tags": list(text("tags")),
        "base_url": safe_url(text("base_url")) or None,
        "declared": _grants(view.declared),
        "live_level": view.live_word,
        "live_scopes": _grants(view.observed),
        "drift": list(view.drift),
        "key": key,
        "last_probe": last_probe,
        "switch_state": view.switch_state,
        "off": view.off,
        "key_still_live": view.key_may_work_while_disabled,
    }


def records(views: list[ConnectorView], key_age_warn_days: int = 90) -> list[dict[str, Any]]:
    holders, now = shared_keys(views), utcnow()
    return [connector_record(v, holders, key_age_warn_days, now) for v in views]


def list_document(views: list[ConnectorView], key_age_warn_days: int = 90) -> dict[str, Any]:
    return {"schema": LIST_SCHEMA, "connectors": records(views, key_age_warn_days)}


def listing_document(rows: ListingRows, key_age_warn_days: int = 90) -> dict[str, Any]:
    """:func:`list_document` of the whole inventory, from the listed columns (:func:`listing_records`)."""
    return {"schema": LIST_SCHEMA, "connectors": listing_records(rows, key_age_warn_days)}


def _listed_credential_order(c: tuple) -> tuple:
    return (not c[1], c[2] != "primary", c[0] or 0)  # views._credential_order, on (id, active, tier, …)


def listing_records(
    rows: ListingRows, key_age_warn_days: int = 90, now: datetime | None = None
) -> list[dict[str, Any]]:
    """:func:`records` of every connector, built straight from the columns a record shows
    (app.store.snapshot.read_listing_file) instead of through views: for `breaker list --json`
    of 10,000 connectors the views cost as much as the records themselves
    (tests/benchmarks/bench_startup.py). The same rules as :func:`connector_record` on a view made
    by :func:`app.services.views.connector_view`, through the same helpers;
    tests/services/test_snapshot_read.py holds the two equal on a varied inventory."""
    now = now or utcnow()
    owners, grants_of, credentials_of = rows.owners, rows.grants, rows.credentials
    # shared_keys(): fingerprint -> the (shown) names of the connectors holding it, in listing order
    holders: dict[str, list[str]] = defaultdict(list)
    names = []
    for c in rows.connectors:
        name = plain(c[1])
        names.append(name)
        for cred in credentials_of.get(c[0], ()):
            holding = holders[cred[3]]
            if name not in holding:
                holding.append(name)
    out = []
    disabled, verified = Mode.DISABLED, JobState.VERIFIED
    for c, name in zip(rows.connectors, names, strict=True):
        cid, stored_name, provider, owner_id, access, task, forbidden, environment = c[:8]
        mode_text, base_url, client, tags, probe_at, outcome, live, switch = c[8:]
        mode = view_mode(mode_text)
        declared, observed = split_grants(grants_of.get(cid, ()))
        level = view_level(live) if live is not None else None
        state = JobState.read(switch)
        key = None
        creds = credentials_of.get(cid)
        if creds:
            _, _, tier, fingerprint, last4, kind, created_at, rotated_at, expires_at = (
                creds[0] if len(creds) == 1 else min(creds, key=_listed_credential_order)
            )
            holding = holders[fingerprint]
            age = max(0, (now - parse_time(rotated_at if rotated_at is not None else created_at)).days)
            key = {
                "fingerprint": fingerprint,
                "last4": last4,
                "kind": kind,
                "tier": tier,
                "age_days": age,
                "stale": age > key_age_warn_days,
                "expires_at": None if expires_at is None else parse_time(expires_at).isoformat(),
                "shared_with": [n for n in holding if n != name] if len(holding) > 1 else [],
            }
        # Text fields as stored (lossless; json_text escapes them), as connector_record's view.stored
        out.append(
            {
                "name": stored_name,
                "provider": plain(provider),
                "owner": owners.get(owner_id) or None,
                "purpose": purpose_sentence(access, task, forbidden),
                "environment": environment,
                "mode": mode.value,
                "client": client,
                "tags": list(filter(None, map(str.strip, tags.split(",")))),
                "base_url": safe_url(base_url or "") or None,
                "declared": _grants(declared),
                "live_level": live_word(level, outcome),
                "live_scopes": _grants(observed),
                "drift": drift_findings(mode, declared, observed, level) if outcome == "ok" else [],
                "key": key,
                "last_probe": None
                if probe_at is None
                else {"at": parse_time(probe_at).isoformat(), "outcome": outcome},
                "switch_state": state,
                "off": mode is disabled and state is verified,
                "key_still_live": mode is disabled and state is not verified,
            }
        )
    return out


def summary_record(summary: Summary) -> dict[str, Any]:
    return {
        "total": summary.total,
        "by_mode": dict(summary.by_mode),
        "drift": summary.drift,
        "stale_keys": summary.stale_keys,
        "never_probed": summary.never_probed,
        "failing": summary.failing,
        "shared_keys": summary.shared_keys,
        "review_due": summary.review_due,
        "off": summary.off,
        "still_live": summary.still_live,
    }


def export_document(
    views: list[ConnectorView], summary: Summary, generated_at: datetime, key_age_warn_days: int = 90
) -> dict[str, Any]:
    return {
        "schema": EXPORT_SCHEMA,
        "generated_at": generated_at.isoformat(),
        "summary": summary_record(summary),
        "connectors": records(views, key_age_warn_days),
    }


# -- the three formats -------------------------------------------------------------------------


def _scopes_text(grants: list[dict[str, str]]) -> str:
    return "; ".join(f"{g['scope']}:{g['level']}" for g in grants)


def _flat(record: dict[str, Any]) -> dict[str, str]:
    key = record["key"] or {}
    probe = record["last_probe"] or {}
    return {
        "name": record["name"],
        "provider": record["provider"],
        "owner": record["owner"] or "",
        "purpose": record["purpose"],
        "environment": record["environment"],
        "mode": record["mode"],
        "client": record["client"],
        "tags": ", ".join(record["tags"]),
        "declared": _scopes_text(record["declared"]),
        "live_level": record["live_level"] or "",
        "live_scopes": _scopes_text(record["live_scopes"]),
        "drift": "; ".join(record["drift"]),
        "key_fingerprint": key.get("fingerprint", ""),
        "key_last4": key.get("last4", ""),
        "key_age_days": "" if not key else str(key["age_days"]),
        "key_tier": key.get("tier", ""),
        "key_shared_with": ", ".join(key.get("shared_with", [])),
        "last_probe_at": probe.get("at") or "",
        "last_probe_outcome": probe.get("outcome") or "",
        "switch_state": record["switch_state"] or "",
    }


def _csv_cell(value: str) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet: an export must not run anything.
    return csv_cell(value)  # type: ignore[return-value]  (connectors.textsafe: controls escaped too)


def render_csv(document: dict[str, Any]) -> str:
    buffer = io.StringIO()
    import csv  # only CSV exports need it

    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in document["connectors"]:
        writer.writerow({k: _csv_cell(v) for k, v in _flat(record).items()})
    return buffer.getvalue()


def _md(text: Any) -> str:
    """A Markdown table cell: no pipes, no line breaks."""
    return plain(str(text if text is not None else "")).replace("|", "\\|").strip() or "—"


def render_markdown(document: dict[str, Any]) -> str:
    s = document["summary"]
    when = document["generated_at"][:16].replace("T", " ")
    lines = [
        "# Breaker inventory",
        "",
        f"Generated {when} UTC. No key is included: a key is identified by its fingerprint and last four characters.",
        "",
        "## Summary",
        "",
        f"- Connectors: {s['total']} ({', '.join(f'{n} {m}' for m, n in s['by_mode'].items() if n)})"
        if s["total"]
        else "- Connectors: 0",
        f"- With drift (more power live than declared or allowed): {s['drift']}",
        f"- Keys older than the warning age: {s['stale_keys']}",
        f"- Keys shared by more than one connector: {s['shared_keys']}",
        f"- Never probed: {s['never_probed']}; last probe failing: {s['failing']}",
        f"- Weekly review due: {'yes' if s['review_due'] else 'no'}",
        "",
        "## Connectors",
        "",
        "| Name | Provider | Owner | Env | Mode | Declared | Live | Drift | Key | Age (days) | Last probe |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in document["connectors"]:
        key = r["key"] or {}
        declared = max((g["level"] for g in r["declared"]), key=_level_rank, default="")
        probe = r["last_probe"] or {}
        probe_text = f"{probe.get('outcome')} ({(probe.get('at') or '')[:10]})" if probe else "never"
        key_text = f"{key['fingerprint']}…{key['last4']}" if key else ""
        if key.get("shared_with"):
            key_text += " (shared)"
        lines.append(
            "| "
            + " | ".join(
                _md(x)
                for x in (
                    r["name"],
                    r["provider"],
                    r["owner"] or "(no owner)",
                    r["environment"],
                    r["mode"],
                    declared,
                    r["live_level"],
                    "yes" if r["drift"] else "",
                    key_text,
                    key.get("age_days", ""),
                    probe_text,
                )
            )
            + " |"
        )
    lines += ["", "## Purposes and findings", ""]
    for r in document["connectors"]:
        lines.append(f"### {plain(r['name'])}")  # records hold the stored text: shown here as text
        lines.append("")
        lines.append(plain(r["purpose"]) or "_No purpose sentence yet._")
        if r["declared"]:
            lines.append("")
            lines.append("Declared: " + ", ".join(f"`{g['scope']}` ({g['level']})" for g in r["declared"]))
        if r["live_scopes"]:
            lines.append("")
            lines.append("Live: " + ", ".join(f"`{g['scope']}` ({g['level']})" for g in r["live_scopes"]))
        for finding in r["drift"]:
            lines.append(f"- Drift: {finding}")
        key = r["key"] or {}
        if key.get("shared_with"):
            lines.append(f"- The same key is used by: {', '.join(key['shared_with'])}")
        if key.get("stale"):
            lines.append(f"- The key is {key['age_days']} days old")
        if not r["owner"]:
            lines.append("- No owner")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _level_rank(label: str) -> int:
    return (
        ["read", "draft", "write", "send", "admin"].index(label)
        if label in ("read", "draft", "write", "send", "admin")
        else -1
    )


def render(document: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return dumps(document) + "\n"
    if fmt == "csv":
        return render_csv(document)
    if fmt == "md":
        return render_markdown(document)
    raise ValueError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")


# -- the service -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportResult:
    text: str
    connectors: int
    fmt: str
    path: Path | None


def last_review_at(services: Services) -> datetime | None:
    from sqlmodel import Session, col, select

    from app.store.models import Review

    with Session(services.engine) as s:
        return s.exec(
            select(Review.finished_at)
            .where(col(Review.finished_at).is_not(None))
            .order_by(col(Review.finished_at).desc())
            .limit(1)
        ).first()


def build_document(services: Services, views: list[ConnectorView] | None = None) -> dict[str, Any]:
    views = services.inventory.list() if views is None else views
    warn = services.settings.key_age_warn_days
    summary = services.inventory.summary(views, warn, last_review_at(services))
    return export_document(views, summary, utcnow(), warn)


def export_inventory(services: Services, fmt: str, path: Path | None = None) -> ExportResult:
    """Render the inventory in ``fmt``, write it to ``path`` if given, and audit the export.

    The caller prints ``text`` only after this returns, so every export that reaches anyone is in
    the audit log (an export nobody can account for is worse than none); a failed write to
    ``path`` is audited as failed."""
    from app.store.db import session_scope

    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")
    document = build_document(services)
    text = render(document, fmt)
    count = len(document["connectors"])
    facts = {"format": fmt, "connectors": count, "destination": str(path) if path else "stdout"}
    if path is not None:
        try:
            path.write_text(text, encoding="utf-8")
        except OSError:
            with session_scope(services.engine) as s:
                services.audit.record(s, "export", new=facts, outcome="failed")
            raise
    with session_scope(services.engine) as s:
        services.audit.record(s, "export", new=facts)
    return ExportResult(text, count, fmt, path)
