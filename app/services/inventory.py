"""The inventory: connectors, owners, declared scopes and credential records.

Every change goes through here and leaves an audit event in the same transaction. Callers get
plain frozen views (:class:`ConnectorView`), never ORM rows, so the panel and the CLI cannot
write behind the service's back.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import replace
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.services import binding
from app.services.audit import AuditLog
from app.services.secrets import SecretStore
from app.services.views import (  # noqa: F401  (views re-exported: where callers have always found them)
    ENVIRONMENTS,
    ConnectorInput,
    ConnectorView,
    CredentialView,
    Summary,
    ValidationError,
    build_views,
    connector_view,
    filter_views,
    summarize,
)
from app.store.db import session_scope
from app.store.errors import StoreError, explain
from app.store.models import Connector, Credential, GatewayRoute, Owner, ScopeGrant, utcnow
from app.store.snapshot import read_inventory
from connectors import registry
from connectors.base import Grant, Secret

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
ENV_VAR_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class NotFound(LookupError):
    """``NotFound(name, known_names)``: the message suggests the closest known name, if any."""

    def __str__(self) -> str:
        name = self.args[0]
        known = self.args[1] if len(self.args) > 1 else ()
        return f"no connector named {name!r}" + did_you_mean(name, known)


def did_you_mean(word: str, choices) -> str:
    """``" — did you mean 'x'?"`` for the closest of ``choices`` (difflib), or ``""``."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=2, cutoff=0.6)
    return f" — did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


class Inventory:
    def __init__(self, engine: Engine, secrets: SecretStore, audit: AuditLog) -> None:
        self.engine = engine
        self.secrets = secrets
        self.audit = audit

    # -- reading ---------------------------------------------------------------------------
    def list(self, text: str = "") -> list[ConnectorView]:
        """Every connector, optionally filtered by free text: four plain queries whatever the size
        (see app.store.snapshot), on a connection from the engine's pool."""
        raw = self.engine.raw_connection()
        try:
            rows = read_inventory(raw.driver_connection)
        except sqlite3.Error as exc:  # the driver's own error, in the store's words
            raise StoreError(explain(exc, "the database")) from None
        finally:
            raw.close()
        views = build_views(rows)
        return filter_views(views, text) if text else views

    def get(self, name: str) -> ConnectorView:
        with Session(self.engine) as s:
            row = s.exec(select(Connector).where(Connector.name == name)).first()
            if row is None:
                raise NotFound(name, s.exec(select(Connector.name)).all())
            owners = {o.id: o.name for o in s.exec(select(Owner)).all()}
            grants = list(s.exec(select(ScopeGrant).where(ScopeGrant.connector_id == row.id)).all())
            creds = list(
                s.exec(
                    select(Credential).where(Credential.connector_id == row.id, col(Credential.revoked_at).is_(None))
                ).all()
            )
            routed = s.get(GatewayRoute, row.id) is not None
        return self._view(row, owners, grants, creds, routed)

    def _view(
        self, c: Connector, owners: dict, grants: list[ScopeGrant], creds: list[Credential], routed: bool = False
    ) -> ConnectorView:
        return connector_view(c, owners, grants, creds, routed)

    def owners(self) -> list[str]:
        with Session(self.engine) as s:
            return [o.name for o in s.exec(select(Owner).order_by(col(Owner.name))).all()]

    def summary(
        self,
        views: list[ConnectorView] | None = None,
        key_age_warn_days: int = 90,
        last_review_at: datetime | None = None,
    ) -> Summary:
        return summarize(self.list() if views is None else views, key_age_warn_days, last_review_at)

    # -- validation ---------------------------------------------------------------------------
    def validate(
        self,
        data: ConnectorInput,
        secret: Secret | None,
        *,
        existing: str | None = None,
        require_key: bool = True,
        kind: str = "",
    ) -> ConnectorInput:
        """Check every field; return the input with the provider filled in from the key if it was empty."""
        errors: dict[str, str] = {}
        name = data.name.strip()
        if not name:
            errors["name"] = "a name is required"
        elif not NAME_RE.match(name):
            errors["name"] = "use letters, digits, spaces, dots, dashes or underscores (at most 64)"
        elif name != existing and self._exists(name):
            errors["name"] = f"a connector named {name!r} already exists"
        provider = data.provider.strip().lower()
        if secret is not None:
            key_error = key_problem(secret)
            if key_error:
                errors["key"] = key_error
            elif not provider:
                hits = registry.recognise(secret.reveal())
                if hits:
                    provider = hits[0].provider
                else:
                    errors["provider"] = "Breaker does not recognise this key; choose the provider"
            elif provider in registry.names() and provider != "generic":
                # An OAuth refresh token the owner says is one (`breaker add --refresh-token`): Microsoft's,
                # HubSpot's and Notion's have no shape of their own to check.
                is_refresh = bool(kind) and kind in registry.get(provider).refresh_kinds
                if (
                    not is_refresh
                    and registry.get(provider).key_patterns
                    and registry.get(provider).recognise(secret.reveal()) is None
                ):
                    errors["key"] = f"this does not look like a {registry.get(provider).title} key"
        elif require_key:
            errors["key"] = "paste the key (it goes to the OS keyring, never to the database)"
        if provider and provider not in registry.names():
            errors["provider"] = f"unknown provider {provider!r}; known: {', '.join(registry.names())}"
        elif not provider and "provider" not in errors and secret is None:
            errors["provider"] = "choose the provider"
        if data.environment not in ENVIRONMENTS:
            errors["environment"] = "prod or test"
        base_url = data.base_url.strip().rstrip("/")
        problem = binding.url_problem(base_url, private_confirmed=data.allow_private_url)
        if problem:
            errors["base_url"] = problem
        extra_url = str(data.extra.get("url", "")).strip() if isinstance(data.extra, dict) else ""
        if extra_url.startswith(("http://", "https://")):
            problem = binding.url_problem(extra_url.rsplit("?", 1)[0], private_confirmed=data.allow_private_url)
            if problem:
                errors["extra"] = f"url: {problem}"
        if data.env_var and not ENV_VAR_RE.match(data.env_var):
            errors["env_var"] = "upper-case letters, digits and underscores, e.g. GITHUB_TOKEN"
        elif data.env_var and env_var_problem(data.env_var):
            errors["env_var"] = env_var_problem(data.env_var)
        if data.owner and len(data.owner) > 80:
            errors["owner"] = "at most 80 characters"
        if errors:
            raise ValidationError(errors)
        return replace(data, name=name, provider=provider, base_url=base_url)

    def _exists(self, name: str) -> bool:
        with Session(self.engine) as s:
            return s.exec(select(Connector.id).where(Connector.name == name)).first() is not None

    # -- changing -------------------------------------------------------------------------------
    def _owner_id(self, s: Session, name: str) -> int | None:
        name = name.strip()
        if not name:
            return None
        owner = s.exec(select(Owner).where(Owner.name == name)).first()
        if owner is None:
            owner = Owner(name=name)
            s.add(owner)
            s.flush()
            self.audit.record(s, "owner.add", new={"owner": name})
        return owner.id

    @staticmethod
    def _fields(c: Connector, owner: str) -> dict:
        return {
            "provider": c.provider,
            "owner": owner,
            "purpose_access": c.purpose_access,
            "purpose_task": c.purpose_task,
            "purpose_forbidden": c.purpose_forbidden,
            "environment": c.environment,
            "mode": c.mode,
            "base_url": c.base_url or "",
            "env_var": c.env_var,
            "client": c.client,
            "tags": c.tags,
        }

    def add(self, data: ConnectorInput, secret: Secret | None, *, kind: str = "") -> ConnectorView:
        """Validate, put the key in the keyring, then write the connector and its audit event."""
        data = self.validate(data, secret, kind=kind)
        provider = registry.get(data.provider)
        cred_row = None
        ref = None
        if secret is not None:
            ref = SecretStore.new_credential_ref()
            fp = self.secrets.fingerprint(secret)  # keyring trouble surfaces here, before anything is written
            self.secrets.put(ref, secret)
            pattern = provider.recognise(secret.reveal())
            cred_row = Credential(
                connector_id=0,
                keyring_ref=ref,
                fingerprint=fp.digest,
                last4=fp.last4,
                kind=kind or (pattern.kind if pattern else ""),
            )
        try:
            with session_scope(self.engine) as s:
                row = Connector(
                    name=data.name,
                    provider=data.provider,
                    owner_id=self._owner_id(s, data.owner),
                    purpose_access=data.purpose_access.strip(),
                    purpose_task=data.purpose_task.strip(),
                    purpose_forbidden=data.purpose_forbidden.strip(),
                    environment=data.environment,
                    base_url=data.base_url or None,
                    env_var=data.env_var or provider.env_var,
                    client=data.client.strip(),
                    tags=data.tags.strip(),
                    extra_json=json.dumps(
                        binding.with_private_hosts(
                            dict(data.extra), _urls(data.base_url, data.extra), confirmed=data.allow_private_url
                        )
                    ),
                )
                s.add(row)
                s.flush()
                for g in data.declared or ():
                    s.add(ScopeGrant(connector_id=row.id, scope=g.scope, level=int(g.level), source="declared"))
                new = self._fields(row, data.owner.strip())
                new["declared"] = [[g.scope, g.level.label] for g in data.declared or ()]
                if cred_row is not None:
                    cred_row.connector_id = row.id
                    cred_row.binding = binding.seal(self.secrets, cred_row.keyring_ref, binding.of_row(row))
                    s.add(cred_row)
                    new["credential"] = {"fingerprint": cred_row.fingerprint, "last4": cred_row.last4}
                if data.allow_private_url and (
                    binding.is_private(urlsplit_host(row.base_url)) or binding.PRIVATE_HOSTS in row.extra_json
                ):
                    new["private_url_confirmed"] = True
                self.audit.record(s, "connector.add", row.name, new=new)
        except IntegrityError:
            if ref:
                self.secrets.delete(ref)
            raise ValidationError({"name": f"a connector named {data.name!r} already exists"}) from None
        except BaseException:
            if ref:
                self.secrets.delete(ref)  # nothing was written: leave no orphan in the keyring
            raise
        return self.get(data.name)

    def edit(self, name: str, data: ConnectorInput, secret: Secret | None = None) -> ConnectorView:
        """Change fields (and optionally the key) of ``name``. Audited with old and new values."""
        current = self.get(name)
        confirmed_private = data.allow_private_url
        # A base URL kept as it was needs no new confirmation (its seal says whether it may be used).
        kept = data.base_url.strip().rstrip("/") == (current.base_url or "")
        data = self.validate(
            replace(data, provider=data.provider or current.provider, allow_private_url=confirmed_private or kept),
            secret,
            existing=name,
            require_key=False,
        )
        new_ref = None
        if secret is not None:
            new_ref = SecretStore.new_credential_ref()
            fp = self.secrets.fingerprint(secret)
            self.secrets.put(new_ref, secret)
        old_refs: list[str] = []
        try:
            with session_scope(self.engine) as s:
                row = s.exec(select(Connector).where(Connector.name == name)).one()
                old = self._fields(row, current.owner)
                old_destination = binding.of_row(row)
                row.name = data.name
                row.provider = data.provider
                row.owner_id = self._owner_id(s, data.owner)
                row.purpose_access, row.purpose_task = data.purpose_access.strip(), data.purpose_task.strip()
                row.purpose_forbidden = data.purpose_forbidden.strip()
                row.environment, row.base_url = data.environment, data.base_url or None
                row.env_var = data.env_var or row.env_var
                row.client, row.tags = data.client.strip(), data.tags.strip()
                try:
                    old_extra = json.loads(row.extra_json or "{}")
                except ValueError:
                    old_extra = {}
                extra = dict(data.extra or (old_extra if isinstance(old_extra, dict) else {}))
                # Hosts confirmed private: kept while still used, all of them when confirmed now (audited).
                extra = binding.with_private_hosts(extra, _urls(row.base_url, extra), confirmed=confirmed_private)
                if data.extra or extra != old_extra:
                    row.extra_json = json.dumps(extra)
                row.updated_at = utcnow()
                new = self._fields(row, data.owner.strip())
                if data.declared is not None:
                    old["declared"] = [[g.scope, g.level.label] for g in current.declared]
                    new["declared"] = [[g.scope, g.level.label] for g in data.declared]
                    for g in s.exec(
                        select(ScopeGrant).where(ScopeGrant.connector_id == row.id, ScopeGrant.source == "declared")
                    ).all():
                        s.delete(g)
                    for g in data.declared:
                        s.add(ScopeGrant(connector_id=row.id, scope=g.scope, level=int(g.level), source="declared"))
                if secret is not None:
                    # The pasted key replaces the one Breaker hands out (the active credential, whatever
                    # its tier: primary, reduced or an organisation admin key), keeping that tier.
                    live = s.exec(
                        select(Credential).where(
                            Credential.connector_id == row.id, col(Credential.revoked_at).is_(None)
                        )
                    ).all()
                    replaced = [c for c in live if c.active] or [c for c in live if c.tier == "primary"]
                    tier = replaced[0].tier if replaced else "primary"
                    for c in replaced:
                        old_refs.append(c.keyring_ref)
                        old.setdefault("credential", {"fingerprint": c.fingerprint, "last4": c.last4})
                        s.delete(c)
                    pattern = registry.get(data.provider).recognise(secret.reveal())
                    s.add(
                        Credential(
                            connector_id=row.id,
                            keyring_ref=new_ref,
                            fingerprint=fp.digest,
                            last4=fp.last4,
                            tier=tier,
                            active=True,
                            kind=pattern.kind if pattern else "",
                        )
                    )
                    new["credential"] = {"fingerprint": fp.digest, "last4": fp.last4}
                s.flush()
                if data.confirm_destination or binding.of_row(row) != old_destination:
                    # The owner set (or confirmed) where the keys go: seal every live key to it.
                    binding.seal_rows(self.secrets, s, row)
                    if data.confirm_destination:
                        new["destination_confirmed"] = True
                elif secret is not None:
                    added = s.exec(select(Credential).where(Credential.keyring_ref == new_ref)).one()
                    binding.seal_new(self.secrets, s, row, added)
                if confirmed_private and (
                    binding.is_private(urlsplit_host(row.base_url)) or binding.PRIVATE_HOSTS in row.extra_json
                ):
                    new["private_url_confirmed"] = True
                changed_old = {k: v for k, v in old.items() if new.get(k) != v}
                changed_new = {k: new[k] for k in changed_old if k in new}
                for flag in ("destination_confirmed", "private_url_confirmed"):  # the owner's confirmations
                    if new.get(flag):
                        changed_new[flag] = True
                if data.name != name:
                    changed_old["name"], changed_new["name"] = name, data.name
                self.audit.record(s, "connector.edit", data.name, old=changed_old, new=changed_new)
        except IntegrityError:
            if new_ref:
                self.secrets.delete(new_ref)
            raise ValidationError({"name": f"a connector named {data.name!r} already exists"}) from None
        except BaseException:
            if new_ref:
                self.secrets.delete(new_ref)
            raise
        for ref in old_refs:  # the replaced key leaves the keyring only once the new one is recorded
            self.secrets.delete(ref)
        return self.get(data.name)

    def remove(self, name: str, *, delete_key: bool) -> None:
        """Remove a connector and its history rows; its keys leave the keyring only if asked."""
        from sqlalchemy import update

        from app.store.models import Probe, ReviewAnswer, SwitchJob  # local: only removal touches these tables

        refs: list[str] = []
        with session_scope(self.engine) as s:
            row = s.exec(select(Connector).where(Connector.name == name)).first()
            if row is None:
                raise NotFound(name, s.exec(select(Connector.name)).all())
            creds = s.exec(select(Credential).where(Credential.connector_id == row.id)).all()
            refs = [c.keyring_ref for c in creds]
            old = {
                "provider": row.provider,
                "mode": row.mode,
                "credentials": [{"fingerprint": c.fingerprint, "last4": c.last4} for c in creds],
            }
            for table in (ScopeGrant, Credential, Probe, SwitchJob):
                for dep in s.exec(select(table).where(table.connector_id == row.id)).all():
                    s.delete(dep)
            # Review answers and decisions stay with their review (its report names the connector).
            s.execute(update(ReviewAnswer).where(ReviewAnswer.connector_id == row.id).values(connector_id=None))
            s.flush()
            s.delete(row)
            self.audit.record(s, "connector.remove", name, old=old, new={"key_deleted_from_keyring": delete_key})
        if delete_key:
            for ref in refs:
                self.secrets.delete(ref)

    def declare(self, name: str, grants: list[Grant]) -> ConnectorView:
        current = self.get(name)
        data = ConnectorInput(
            name=current.name,
            provider=current.provider,
            owner=current.owner,
            purpose_access=current.purpose_access,
            purpose_task=current.purpose_task,
            purpose_forbidden=current.purpose_forbidden,
            environment=current.environment,
            base_url=current.base_url,
            env_var=current.env_var,
            client=current.client,
            tags=",".join(current.tags),
            declared=tuple(grants),
        )
        return self.edit(name, data)

    def as_input(self, view: ConnectorView) -> ConnectorInput:
        """The form values for editing ``view``."""
        return ConnectorInput(
            name=view.name,
            provider=view.provider,
            owner=view.owner,
            purpose_access=view.purpose_access,
            purpose_task=view.purpose_task,
            purpose_forbidden=view.purpose_forbidden,
            environment=view.environment,
            base_url=view.base_url,
            env_var=view.env_var,
            client=view.client,
            tags=", ".join(view.tags),
            declared=None,
            extra=dict(view.extra),
        )

    def secret_for(self, name: str, tier: str | None = None) -> Secret | None:
        """The active credential's secret (or the one of ``tier``), read from the keyring."""
        view = self.get(name)
        creds = [c for c in view.credentials if (c.tier == tier if tier else c.active)]
        if not creds:
            return None
        return self.secrets.get(creds[0].keyring_ref)


def shape_problem(provider_name: str, secret: Secret) -> str:
    """Why a pasted key cannot be a key of this provider (it matches none of the provider's key
    shapes), or "" when it may be. Told apart from the provider refusing a key: nothing is sent."""
    from connectors import registry

    try:
        provider = registry.get(provider_name)
    except Exception:  # unknown provider: nothing to compare with
        return ""
    value = secret.reveal().strip()
    if not provider.key_patterns or provider.recognise(value) is not None:
        return ""
    kinds = ", ".join(dict.fromkeys(p.kind for p in provider.key_patterns))
    return (
        f"this does not look like a {provider.title} key ({kinds}); check what you pasted. "
        f"Nothing was sent to {provider.title}."
    )


def key_problem(secret: Secret) -> str:
    """Why a pasted key cannot be right, or "" when it may be."""
    value = secret.reveal()
    if not value:
        return "the key is empty"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # bytes that were not UTF-8 text (stdin's surrogateescape)
        return "the key is not UTF-8 text; paste it as the provider shows it"
    if any(ch.isspace() for ch in value):
        return "the key contains spaces or line breaks; paste it again without them"
    if not value.isprintable():
        return "the key contains control characters; paste it again without them"
    if len(value) < 8:
        return "the key is too short to be an API key"
    if len(value) > 4096:
        return "the key is too long"
    return ""


def _urls(base_url: str | None, extra: object) -> list[str]:
    """The URLs a connector's key may be sent to: its base URL and a generic connector's URL."""
    other = str(extra.get("url", "")) if isinstance(extra, dict) else ""
    return [base_url or "", other if other.startswith(("http://", "https://")) else ""]


def urlsplit_host(url: str | None) -> str:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url or "").hostname or ""
    except ValueError:
        return ""


# Variables that change how programs run, load or find code: handing a key out under one of these
# names would hijack the child (and the loader's error would print the key).
RESERVED_ENV_VARS = frozenset(
    {
        "PATH",
        "HOME",
        "SHELL",
        "IFS",
        "ENV",
        "BASH_ENV",
        "CDPATH",
        "PS4",
        "PROMPT_COMMAND",
        "TMPDIR",
        "USER",
        "LOGNAME",
        "TERM",
        "LANG",
        "LC_ALL",
        "TZ",
        "PWD",
        "OLDPWD",
        "SHLVL",
        "EDITOR",
        "VISUAL",
        "PAGER",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PYTHONINSPECT",
        "NODE_OPTIONS",
        "NODE_PATH",
        "PERL5LIB",
        "PERL5OPT",
        "PERLLIB",
        "RUBYOPT",
        "RUBYLIB",
        "GEM_PATH",
        "GEM_HOME",
        "CLASSPATH",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "JDK_JAVA_OPTIONS",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_EXEC_PATH",
        "SSH_AUTH_SOCK",
        "GCONV_PATH",
        "MALLOC_CHECK_",
        "HOSTALIASES",
        "RESOLV_HOST_CONF",
        "LOCALDOMAIN",
        "NLSPATH",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "PYTHON_KEYRING_BACKEND",
    }
)
RESERVED_ENV_PREFIXES = ("LD_", "DYLD_", "PYTHON", "BREAKER_", "LC_", "GIT_CONFIG", "NPM_CONFIG_")


def env_var_problem(name: str) -> str:
    """Why ``name`` may not carry a key into a child process, or ""."""
    upper = name.upper()
    if upper in RESERVED_ENV_VARS or upper.startswith(RESERVED_ENV_PREFIXES):
        return f"{name} changes how programs run or find their code; choose a name such as GITHUB_TOKEN"
    return ""
