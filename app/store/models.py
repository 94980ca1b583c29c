"""Tables of the inventory. A secret never has a column here: credentials keep a keyring
reference and a fingerprint only.

Times are timezone-aware UTC; :func:`utcnow` makes them.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.store.snapshot import utcnow


class Meta(SQLModel, table=True):
    """Key/value facts about this database: schema version, install id."""

    __tablename__ = "breaker_meta"
    key: str = Field(primary_key=True)
    value: str


class Owner(SQLModel, table=True):
    __tablename__ = "owner"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    email: str = ""
    created_at: datetime = Field(default_factory=utcnow)


class Connector(SQLModel, table=True):
    __tablename__ = "connector"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    provider: str
    owner_id: int | None = Field(default=None, foreign_key="owner.id", index=True)
    # The one-sentence rule: "may use ACCESS to do TASK, but may not do FORBIDDEN."
    purpose_access: str = ""
    purpose_task: str = ""
    purpose_forbidden: str = ""
    environment: str = "prod"  # prod | test
    mode: str = "full"  # connectors.base.Mode
    base_url: str | None = None  # override: GitHub Enterprise, self-managed GitLab, the sandbox
    env_var: str = ""  # variable `breaker exec` sets for the child process
    client: str = ""  # the assistant or automation wired to this key ("Claude Desktop", "n8n invoice flow")
    tags: str = ""  # comma-separated
    extra_json: str = "{}"  # provider settings that are not secret (generic URL template, key ids)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # Denormalised from the latest probe so the main table paints with one query.
    last_probe_at: datetime | None = None
    last_outcome: str | None = None
    live_level: int | None = None
    # Honest state of the latest switch: recorded | applied | verified | pending | failed | out-of-sync
    switch_state: str | None = None


class ScopeGrant(SQLModel, table=True):
    __tablename__ = "scope_grant"
    id: int | None = Field(default=None, primary_key=True)
    connector_id: int = Field(foreign_key="connector.id", index=True)
    scope: str
    level: int  # connectors.base.Level
    source: str = "declared"  # declared | observed
    first_seen: datetime = Field(default_factory=utcnow)
    last_seen: datetime = Field(default_factory=utcnow)


class Credential(SQLModel, table=True):
    __tablename__ = "credential"
    id: int | None = Field(default=None, primary_key=True)
    connector_id: int = Field(foreign_key="connector.id", index=True)
    keyring_ref: str  # username under the keyring service "breaker"; never the secret
    fingerprint: str = Field(index=True)  # short HMAC-SHA256 under the per-install key
    last4: str = ""
    tier: str = "primary"  # primary | reduced | admin
    active: bool = True  # the credential `breaker exec` hands out
    kind: str = ""  # provider's token kind (classic PAT, restricted key …)
    created_at: datetime = Field(default_factory=utcnow)
    rotated_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    # HMAC under a per-install key in the keyring over this key's ref and its connector's destination
    # (app.services.binding): whoever writes the database cannot redirect the key.
    binding: str = ""


class Probe(SQLModel, table=True):
    __tablename__ = "probe"
    id: int | None = Field(default=None, primary_key=True)
    connector_id: int = Field(foreign_key="connector.id", index=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    outcome: str
    status: int | None = None
    identity: str = ""
    live_scopes_json: str = "[]"  # [[scope, level], ...]
    live_level: int | None = None
    latency_ms: float = 0.0
    error: str = ""
    deep: bool = False
    token_kind: str = ""
    expires_at: datetime | None = None
    # The provider's own "last used" date for this key, where its API reports one (GitLab's
    # last_used_at …); read by the weekly review's "not used for 30 days" finding (migration 2).
    provider_last_used_at: datetime | None = None


class SwitchJob(SQLModel, table=True):
    """The journal: written before anything is sent, so a crash can resume."""

    __tablename__ = "switch_job"
    id: int | None = Field(default=None, primary_key=True)
    batch: str = Field(default="", index=True)  # panic run id; "" for a single switch
    connector_id: int = Field(foreign_key="connector.id", index=True)
    action: str  # draft-only | read-only | disable | rotate | enable
    target_mode: str = ""
    state: str = "recorded"  # journalled | recorded | applying | pending | applied | manual | verified | failed | out-of-sync | superseded
    attempts: int = 0
    provider_call: str = ""  # what was (or is to be) called, for the confirmation and the audit
    provider_done: bool = False  # the provider call succeeded: never repeat it on resume
    result: str = ""
    manual_steps_json: str = "[]"
    forced: bool = False
    # Added with the switches (issue 4): per-credential progress of a job ({"done": [credential ids],
    # "new_credential": id …}, never a secret) and when a probe confirmed it.
    details_json: str = "{}"
    verified_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    """Hash-chained: ``mac`` = HMAC(install key, prev_mac + canonical JSON of this event)."""

    __tablename__ = "audit_event"
    seq: int = Field(primary_key=True)  # 1, 2, 3 … with no gaps
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str
    connector: str = ""  # name at the time (the row may be gone later)
    action: str
    old_json: str = "null"
    new_json: str = "null"
    outcome: str = "ok"
    prev_mac: str
    mac: str


class AuditPending(SQLModel, table=True):
    """An audit entry written while the keyring (and so the chain's HMAC key) could not be read.

    Chained without a key: ``hash`` = SHA-256(prev_hash + canonical JSON of this entry), the first
    ``prev_hash`` being the sealed chain's last ``mac`` when it was written. The next audited write
    made with the keyring open seals every entry into ``audit_event`` (in order, with its own
    ``at``) and deletes it here (app.services.audit). Until then ``audit --verify`` counts them as
    waiting to be sealed: anyone who can write the database could rewrite them, which is why
    they are sealed at the first chance."""

    __tablename__ = "audit_pending"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str
    connector: str = ""
    action: str
    old_json: str = "null"
    new_json: str = "null"
    outcome: str = "ok"
    prev_hash: str
    hash: str


class Review(SQLModel, table=True):
    __tablename__ = "review"
    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    actor: str = ""
    report_md: str = ""
    # Added with the weekly review (issue 11, migration 2): the ISO week ("2026-W10"), the queue
    # frozen when the review started (connector names, riskiest first), the findings seen then
    # ({name: [finding, ...]}), how many were carried to next week, and the finished report.
    iso_week: str = ""
    queue_json: str = "[]"
    findings_json: str = "{}"
    carried: int = 0
    report_html: str = ""
    report_sha256: str = ""


class ReviewAnswer(SQLModel, table=True):
    __tablename__ = "review_answer"
    id: int | None = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="review.id", index=True)
    connector_id: int | None = Field(default=None, foreign_key="connector.id")
    item: str  # task, data, tools, actions, identity, validation, monitoring, revocation, decision
    answer: str = ""  # yes | no | dont_know; for item "decision": keep | reduce | rotate | disable | reassign | snooze
    note: str = ""  # the owner's note; for a decision, its reason
    # Added with the weekly review (issue 11, migration 2).
    at: datetime | None = None
    detail: str = ""  # a decision's target: draft-only / read-only for reduce, the new owner for reassign
    until: datetime | None = None  # snooze end, or when a keep lapses
    outcome: str = ""  # a switch decision's honest state (verified, applied, manual, failed …)
    digest: str = ""  # the connector's state when decided: a keep holds while it is unchanged
    severity: str = ""  # the highest finding severity when decided
    drift_since: datetime | None = None  # when the drift the decision answered was first seen


class ReviewWeek(SQLModel, table=True):
    """The weekly figures, one row per ISO week, computed from the store when a review ends."""

    __tablename__ = "review_week"
    iso_week: str = Field(primary_key=True)  # "2026-W10"
    computed_at: datetime = Field(default_factory=utcnow)
    figures_json: str = "{}"
    answer: str = ""
    note: str = ""


class ScanFolder(SQLModel, table=True):
    """A folder the owner named for `breaker scan` (its .env files and project MCP configs), remembered."""

    __tablename__ = "scan_folder"
    id: int | None = Field(default=None, primary_key=True)
    path: str = Field(index=True, unique=True)
    added_at: datetime = Field(default_factory=utcnow)


class FoundServer(SQLModel, table=True):
    """An MCP server entry a scan found in a client's config file. Never its arguments or keys."""

    __tablename__ = "found_server"
    id: int | None = Field(default=None, primary_key=True)
    ident: str = Field(index=True, unique=True)  # client|file|map path|name: stable across scans
    client: str
    file: str
    scope: str = ""
    project: str = ""
    name: str
    transport: str = ""
    command: str = ""  # the program's name only
    package: str = ""
    url: str = ""  # scheme://host/path only
    disabled_by: str = ""  # the client's own off switch as found ("" = on)
    connector_id: int | None = Field(default=None, foreign_key="connector.id", index=True)
    state: str = "present"  # present | vanished | parked (taken out by Breaker's disable)
    first_seen: datetime = Field(default_factory=utcnow)
    last_seen: datetime = Field(default_factory=utcnow)
    vanished_at: datetime | None = None
    details_json: str = "{}"  # probe results (tools and their levels), switch state: never a secret


class FoundPlace(SQLModel, table=True):
    """One place a key is wired (client, file, server, variable), joined to its connector by fingerprint."""

    __tablename__ = "found_place"
    id: int | None = Field(default=None, primary_key=True)
    ident: str = Field(index=True, unique=True)  # file|server|location
    fingerprint: str = Field(index=True)
    connector_id: int | None = Field(default=None, foreign_key="connector.id", index=True)
    server_id: int | None = Field(default=None, foreign_key="found_server.id", index=True)
    client: str
    file: str
    server: str = ""
    location: str = ""
    variable: str = ""
    line: int = 0
    state: str = "plain"  # plain (the key sits in the file) | secured (Breaker rewrote it) | vanished
    first_seen: datetime = Field(default_factory=utcnow)
    last_seen: datetime = Field(default_factory=utcnow)
    vanished_at: datetime | None = None
    undo_json: str = "{}"  # how to put the original back (offsets, hashes; the key itself stays in the keyring)


# -- the gateway (issue 13; migration 5) -----------------------------------------------------------


class GatewayRoute(SQLModel, table=True):
    """A connector handed out through the gateway instead of as its key. No row: handed out as its key."""

    __tablename__ = "gateway_route"
    connector_id: int = Field(foreign_key="connector.id", primary_key=True)
    upstream: str  # the API root requests are forwarded to (fixed here, never taken from a request)
    rules_host: str  # the provider host whose request table applies (the upstream's, or the one it stands for)
    on_above: str = "refuse"  # app.services.enforcement.AboveCeiling: refuse | ask
    created_at: datetime = Field(default_factory=utcnow)


class GatewayToken(SQLModel, table=True):
    """A Breaker-issued token for one connector and one client. Only its SHA-256 is kept."""

    __tablename__ = "gateway_token"
    id: int | None = Field(default=None, primary_key=True)
    connector_id: int = Field(foreign_key="connector.id", index=True)
    client: str = ""
    token_hash: str = Field(index=True, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class GatewayUse(SQLModel, table=True):
    """One request through the gateway: never a body, a query string, a real path or a key."""

    __tablename__ = "gateway_use"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    connector_id: int = Field(foreign_key="connector.id", index=True)
    client: str = ""
    method: str = ""
    template: str = ""  # the path template that matched, e.g. "POST /repos/{owner}/{repo}/issues"
    level: int | None = None  # connectors.base.Level; None when the request could not be classified
    decision: str = ""  # allow | refuse | ask
    status: int | None = None  # what the agent got back
    accepted_json: str = "{}"  # the provider's X-Accepted-* permission headers, when sent


class GatewayHold(SQLModel, table=True):
    """A request held for the owner's answer (the decision queue), tied to a hash of its exact bytes."""

    __tablename__ = "gateway_hold"
    id: int | None = Field(default=None, primary_key=True)
    connector_id: int = Field(foreign_key="connector.id", index=True)
    request_hash: str = Field(index=True)
    level: int
    template: str = ""
    summary_json: str = "{}"  # what it would do, in the owner's words; never a key
    state: str = "held"  # held | approved | denied | expired | forwarded
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(default_factory=utcnow)
    answered_at: datetime | None = None
    answered_by: str = ""
    holder: str = ""  # the gateway process holding it: "pid:start" (app.services.queue.holder_id)
