"""A deterministic inventory for panel tests and snapshots: fixed names, fixed keys (all carrying
SANDBOX), fixed fingerprints (fixed per-install keys) and times relative to a frozen clock.

``frozen_time(NOW)`` patches every clock the panel reads (the store's default, the inventory's and
the audit log's) and pins the time zone to UTC, so "200 d" and "2 h ago" never depend on the day
the tests run.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from app.services.context import Services
from app.services.inventory import ConnectorInput
from app.store.db import session_scope
from app.store.models import Connector, Credential, Probe, ScopeGrant
from connectors.base import Grant, Level, Secret

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ACTOR = "owner"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@contextlib.contextmanager
def frozen_time(now: datetime = NOW) -> Iterator[Clock]:
    """Freeze the clocks the panel reads and pin TZ=UTC; restore both afterwards.

    Every loaded ``app`` module that imported ``utcnow`` from the store (the inventory, the audit
    log, the probing service, the switch journal …) gets the frozen clock, so probes and switches
    made during a test or a screenshot are stamped with it too.
    """
    import sys

    import app.services.audit
    import app.services.inventory
    import app.services.probing
    import app.services.switches  # noqa: F401  (and its journal)
    import app.store.models as models_mod

    clock = Clock(now)
    real = models_mod.utcnow
    patched = [
        m
        for name, m in list(sys.modules.items())
        if m is not None and (name == "app" or name.startswith("app.")) and getattr(m, "utcnow", None) is real
    ]
    saved_tz = os.environ.get("TZ")
    for module in patched:
        module.utcnow = clock
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield clock
    finally:
        for module in patched:
            module.utcnow = real
        if saved_tz is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved_tz
        time.tzset()


def fixed_install_keys(services: Services) -> None:
    """Fingerprints and audit MACs depend on per-install keys; fix them so snapshots are stable."""
    services.secrets.set_value("install:fingerprint", "11" * 32)
    services.secrets.set_value("install:audit", "22" * 32)
    services.audit.actor = ACTOR


def g(text: str) -> tuple[Grant, ...]:
    out = []
    for part in text.split(","):
        scope, _, level = part.strip().rpartition(":")
        out.append(Grant(scope, Level.parse(level)))
    return tuple(out)


# name, provider, key, owner, (access, task, forbidden), env, mode, declared, key age (days), kind, client, tags
KEYS = {
    "github": "ghp_SANDBOX" + "Qm7d2Lx9Pz" * 2 + "Kc4vTq8w0001",
    "slack": "xoxb-1234567890-1234567890123-SANDBOXdigestbot0002",
    "openai": "sk-proj-SANDBOXsupport" + "T3BlbkFJ" + "Wn5rYe2Uk80003",
    "anthropic": "sk-ant-api03-SANDBOX" + "a1B2c3D4e5" * 8 + "f6G7h8" + "AA",
    "stripe": "rk_live_SANDBOXrefundsKey0005",
    "sendgrid": "SG.SANDBOXnewsletter00006." + ("NewsletterKeySANDBOX" * 3)[:43],
    "notion": "ntn_12345678901SANDBOXwikiSearchIntegrationToken07",
    "hubspot": "pat-na1-SANDBOX8-crm0-ab12-cd34-SANDBOX00008",
    "gitlab": "glpat-SANDBOXciRunner000009",
}

CONNECTORS = [
    dict(
        name="github-issues-bot",
        provider="github",
        key="github",
        owner="Dana",
        purpose=("the GitHub API on acme/website", "triage and label issues", "push code or change settings"),
        environment="prod",
        declared="repo:write, read:org:read",
        age=40,
        kind="classic PAT",
        client="Claude Desktop",
        tags="support, triage",
    ),
    dict(
        name="slack-digest",
        provider="slack",
        key="slack",
        owner="Sam",
        purpose=("the #general channel", "post a daily digest draft", "message customers"),
        environment="prod",
        declared="channels:history:read",
        age=120,
        kind="bot token",
        client="n8n digest flow",
        tags="nightly",
    ),
    dict(
        name="openai-support",
        provider="openai",
        key="openai",
        owner="Dana",
        purpose=("GPT models", "draft support replies", "send email"),
        environment="prod",
        declared="model.request:write",
        age=30,
        kind="project key",
        client="helpdesk assistant",
        tags="support",
    ),
    dict(
        name="openai-support-test",
        provider="openai",
        key="openai",
        owner="Dana",
        purpose=("GPT models", "test the support prompts", "touch production data"),
        environment="test",
        declared="model.request:write",
        age=30,
        kind="project key",
        client="staging helpdesk",
        tags="support, test",
    ),
    dict(
        name="anthropic-admin",
        provider="anthropic",
        key="anthropic",
        owner="",
        purpose=("", "", ""),
        environment="prod",
        declared="",
        age=200,
        kind="API key",
        client="",
        tags="",
    ),
    dict(
        name="stripe-refunds",
        provider="stripe",
        key="stripe",
        owner="Priya",
        purpose=("Stripe charges and refunds", "look up refunds for customers", "issue refunds"),
        environment="prod",
        declared="charges:read, refunds:read",
        age=12,
        kind="restricted key (live)",
        client="support assistant",
        tags="finance",
    ),
    dict(
        name="sendgrid-newsletter",
        provider="sendgrid",
        key="sendgrid",
        owner="Sam",
        purpose=("the marketing list", "send the monthly newsletter", "send to other lists"),
        environment="prod",
        declared="mail.send:send",
        age=95,
        kind="API key",
        client="newsletter script",
        tags="marketing",
    ),
    dict(
        name="notion-wiki",
        provider="notion",
        key="notion",
        owner="Priya",
        purpose=("the team wiki", "answer questions from it", "edit pages"),
        environment="prod",
        declared="read_content:read",
        age=60,
        kind="integration token",
        client="Claude Desktop",
        tags="knowledge",
    ),
    dict(
        name="hubspot-crm",
        provider="hubspot",
        key="hubspot",
        owner="Lee",
        purpose=("CRM contacts", "enrich new leads", "delete contacts"),
        environment="prod",
        declared="crm.objects.contacts.read:read, crm.objects.contacts.write:write",
        age=5,
        kind="private-app token",
        client="lead enrichment flow",
        tags="sales",
    ),
    dict(
        name="gitlab-ci",
        provider="gitlab",
        key="gitlab",
        owner="Lee",
        purpose=("the infra project", "read pipeline status", "run pipelines"),
        environment="test",
        declared="read_api:read",
        age=20,
        kind="personal access token",
        client="status dashboard",
        tags="ci",
    ),
]

# name → (mode, outcome, live level, observed grants, latencies oldest→newest, hours since last probe, switch)
PROBES = {
    "github-issues-bot": ("full", "ok", Level.WRITE, "repo:write, read:org:read", [310, 280, 295, 240, 262], 2, None),
    "slack-digest": (
        "draft-only",
        "ok",
        Level.SEND,
        "channels:history:read, chat:write:send",
        [120, 140, 135],
        5,
        "recorded",
    ),
    "openai-support": ("full", "ok", Level.WRITE, "model.request:write", [410, 380], 26, None),
    "openai-support-test": ("full", "ok", Level.WRITE, "model.request:write", [400], 26, None),
    "anthropic-admin": ("full", "ok", Level.ADMIN, "organization:admin", [520, 505], 72, None),
    "sendgrid-newsletter": ("disabled", "revoked", None, "", [90, 95, 101], 30, "verified"),
    "notion-wiki": ("full", "unreachable", None, "", [150, 10000], 20, None),
    "gitlab-ci": ("full", "ok", Level.READ, "read_api:read", [210, 190, 205, 200], 8, None),
}


UNPROBED_MODES = {"stripe-refunds": "read-only"}


def seed(services: Services, clock: Clock, *, now: datetime = NOW) -> list[str]:
    """Fill ``services``'s inventory with the connectors above. Call inside ``frozen_time``."""
    fixed_install_keys(services)
    inventory = services.inventory
    names = []
    for spec in sorted(CONNECTORS, key=lambda c: -c["age"]):  # oldest first, as they were really added
        clock.now = now - timedelta(days=spec["age"], hours=1)
        access, task, forbidden = spec["purpose"]
        declared = g(spec["declared"]) if spec["declared"] else ()
        inventory.add(
            ConnectorInput(
                name=spec["name"],
                provider=spec["provider"],
                owner=spec["owner"],
                purpose_access=access,
                purpose_task=task,
                purpose_forbidden=forbidden,
                environment=spec["environment"],
                client=spec["client"],
                tags=spec["tags"],
                declared=declared,
            ),
            Secret(KEYS[spec["key"]]),
            kind=spec["kind"],
        )
        names.append(spec["name"])
    with session_scope(services.engine) as s:
        for spec in CONNECTORS:
            row = s.exec(select(Connector).where(Connector.name == spec["name"])).one()
            for cred in s.exec(select(Credential).where(Credential.connector_id == row.id)).all():
                cred.created_at = now - timedelta(days=spec["age"], hours=1)
                s.add(cred)
            probe = PROBES.get(spec["name"])
            if probe is None:
                row.mode = UNPROBED_MODES.get(spec["name"], "full")
                s.add(row)
                continue
            mode, outcome, live, observed, latencies, hours, switch = probe
            last = now - timedelta(hours=hours)
            for i, latency in enumerate(latencies):
                at = last - timedelta(days=len(latencies) - 1 - i)
                final = i == len(latencies) - 1
                s.add(
                    Probe(
                        connector_id=row.id,
                        at=at,
                        outcome=outcome if final else "ok",
                        status=200 if (outcome == "ok" or not final) else (401 if outcome == "revoked" else None),
                        live_level=int(live) if live and final else None,
                        latency_ms=float(latency),
                        live_scopes_json=json.dumps([[x.scope, int(x.level)] for x in g(observed)])
                        if observed
                        else "[]",
                    )
                )
            for grant in g(observed) if observed else ():
                s.add(
                    ScopeGrant(
                        connector_id=row.id,
                        scope=grant.scope,
                        level=int(grant.level),
                        source="observed",
                        first_seen=last,
                        last_seen=last,
                    )
                )
            row.mode, row.last_probe_at, row.last_outcome = mode, last, outcome
            row.live_level = int(live) if live else None
            row.switch_state = switch
            s.add(row)
    clock.now = now - timedelta(minutes=30)
    with session_scope(services.engine) as s:
        for name, (_mode, outcome, *_rest) in PROBES.items():
            services.audit.record(s, "probe", name, new={"outcome": outcome}, outcome=outcome)
    clock.now = now
    return names


def many(services: Services, count: int, *, prefix: str = "conn") -> None:
    """``count`` plain connectors (no keys) for filter and size tests, added through the service."""
    for i in range(count):
        services.inventory.add(
            ConnectorInput(name=f"{prefix}-{i:04d}", provider="github", owner=f"owner{i % 7}", declared=()),
            Secret(f"ghp_SANDBOX{i:029d}"),
        )
