"""The demo home: a throwaway inventory of about a dozen connectors wired to the loopback sandbox.

``prepare_demo_home(home)`` makes the folder a demo home: a config file with ``[demo] enabled``
(so that keys live in the home's own :class:`~app.services.keyrings.DemoFileKeyring`, never the
OS keyring) and a loopback port for the sandbox, chosen once and kept so that the connectors'
base URLs stay right across runs. On first use it seeds connectors whose keys are sandbox tokens
(each carries the word SANDBOX) minted by the sandbox's own route modules, and saves the
sandbox's state as JSON in the home, so a key revoked in one run is still revoked in the next.

A few connectors are risky on purpose, for the panel and the weekly review to find: an admin key
(registered as the Anthropic organisation admin key, so the other Anthropic connector's switches go
through the Admin API), one key shared by two connectors, a connector with no owner, a key 200 days
old, and one whose declared scopes are narrower than what the sandbox reports (drift after the
first probe).

The demo never touches the owner's real inventory: a folder that holds a real inventory is refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import select

from app.services.context import Services, open_services
from app.services.inventory import ConnectorInput
from app.services.keyrings import DEMO_KEYRING_FILE
from app.settings import CONFIG_FILE, DB_FILE, ConfigError, Settings, load_settings, read_config
from app.store.db import session_scope
from app.store.models import Connector, Credential, utcnow
from connectors import registry
from connectors.base import Credential as ProviderCredential
from connectors.base import Grant, Outcome, Secret
from connectors.sandbox.core import SandboxState, TokenRecord, state_from_json, state_to_json

log = logging.getLogger(__name__)

DEMO_PORT_KEY = "sandbox_port"  # [demo] sandbox_port = N in the demo home's config.toml
SANDBOX_STATE_FILE = "sandbox-state.json"
LOOPBACK = "127.0.0.1"
# Files a demo home may hold; any other file in the folder means it is not ours to take over.
HOME_FILES = {
    CONFIG_FILE,
    DB_FILE,
    f"{DB_FILE}-wal",
    f"{DB_FILE}-shm",
    f"{DB_FILE}-journal",
    DEMO_KEYRING_FILE,
    SANDBOX_STATE_FILE,
    "demo-keyring.tmp",
    f"{SANDBOX_STATE_FILE}.tmp",
}


class DemoError(Exception):
    """The demo home cannot be prepared. The message says why and what to do."""


# -- the demo inventory ------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoConnector:
    name: str
    provider: str  # registry name; also the sandbox prefix
    kinds: tuple[str, ...]  # preferred sandbox token kinds, first one the sandbox knows wins
    owner: str
    access: str
    task: str
    forbidden: str
    environment: str = "prod"
    client: str = ""
    tags: str = ""
    identity: str = ""
    scopes: tuple[str, ...] | None = None  # the token's scopes at the sandbox; None = the kind's defaults
    shares_key_with: str = ""  # reuse the key of this (earlier) demo connector
    declare_narrower: bool = False  # declare less than the key can do: drift after a probe
    key_age_days: int = 0
    org_admin_key: bool = False  # registered as its provider's organisation admin key (breaker admin-key)


DEMO_CONNECTORS: tuple[DemoConnector, ...] = (
    DemoConnector(
        "support-replies",
        "slack",
        ("bot",),
        "Maria Lopez",
        "the #support channel",
        "post answers to customer questions",
        "post in other channels or read direct messages",
        client="Support assistant (Claude Desktop)",
        tags="support",
        identity="acme-support-bot",
    ),
    DemoConnector(
        "standup-summaries",
        "slack",
        ("user",),
        "Maria Lopez",
        "read access to the team channels",
        "summarise the daily stand-up",
        "post messages",
        client="n8n stand-up flow",
        tags="internal",
        identity="maria",
        declare_narrower=True,
    ),
    DemoConnector(
        "release-notes",
        "github",
        ("fine_grained",),
        "Priya Shah",
        "the product repository",
        "draft release notes as issues",
        "push code or merge pull requests",
        client="GitHub Actions + Claude",
        tags="engineering",
        identity="acme-release-bot",
    ),
    DemoConnector(
        "org-admin-sync",
        "github",
        ("classic",),
        "Tom Becker",
        "the company's GitHub organisation",
        "sync team membership from the HR list",
        "delete repositories",
        client="nightly cron script",
        tags="engineering,admin",
        identity="tom-admin",
        scopes=("repo", "admin:org", "delete_repo"),
    ),
    DemoConnector(
        "meeting-notes",
        "openai",
        ("project",),
        "Ana Lima",
        "the meeting-notes project",
        "summarise recorded meetings",
        "train or fine-tune models",
        client="Zapier meeting flow",
        tags="operations",
    ),
    DemoConnector(
        "blog-drafts",
        "openai",
        ("project",),
        "Sam Ortiz",
        "the meeting-notes project",
        "draft blog posts",
        "publish anything",
        client="Marketing assistant (ChatGPT actions)",
        tags="marketing",
        shares_key_with="meeting-notes",
    ),
    DemoConnector(
        "code-review-bot",
        "anthropic",
        ("api",),
        "Priya Shah",
        "the Claude API",
        "review pull requests in the test repository",
        "use production data",
        environment="test",
        client="Claude Code in CI",
        tags="engineering",
    ),
    DemoConnector(
        "anthropic-admin",
        "anthropic",
        ("admin",),
        "Tom Becker",
        "the Anthropic organisation's admin API",
        "create and disable API keys",
        "invite or remove members",
        client="key-rotation script",
        tags="admin",
        org_admin_key=True,
    ),
    DemoConnector(
        "revenue-report",
        "stripe",
        ("restricted_live",),
        "Sam Ortiz",
        "read-only access to charges and the balance",
        "build the monthly revenue report",
        "create charges, refunds or payouts",
        client="Finance assistant (Claude Desktop)",
        tags="finance",
    ),
    DemoConnector(
        "checkout-tests",
        "stripe",
        ("secret_test",),
        "Priya Shah",
        "Stripe's test mode",
        "run the checkout test suite",
        "touch live data",
        environment="test",
        client="CI",
        tags="engineering",
    ),
    DemoConnector(
        "newsletter",
        "sendgrid",
        ("restricted",),
        "",
        "the newsletter templates and mail send",
        "send the monthly newsletter to subscribers",
        "send to anyone who did not subscribe",
        client="old Zapier flow",
        tags="marketing",
    ),
    DemoConnector(
        "inbox-triage",
        "google",
        ("oauth",),
        "Maria Lopez",
        "read access to the support mailbox",
        "label and sort incoming mail",
        "send or delete mail",
        client="Gmail triage assistant",
        tags="support",
        declare_narrower=True,
    ),  # its token also holds gmail.compose, which can send
    DemoConnector(
        "docs-search",
        "notion",
        ("read_only", "internal"),
        "Ana Lima",
        "the shared company wiki",
        "answer questions from the handbook",
        "edit or delete pages",
        client="Claude Desktop (MCP)",
        tags="operations",
    ),
    DemoConnector(
        "crm-enrichment",
        "hubspot",
        ("private_app",),
        "Sam Ortiz",
        "contacts and companies in the CRM",
        "fill in company details from public sources",
        "email contacts or delete records",
        client="n8n enrichment flow",
        tags="sales",
    ),
    DemoConnector(
        "ci-pipeline",
        "gitlab",
        ("personal",),
        "Priya Shah",
        "the deployment project",
        "open merge requests with dependency updates",
        "change CI variables or protected branches",
        client="Renovate-style bot",
        tags="engineering",
        identity="ci-bot",
        key_age_days=200,
    ),
    DemoConnector(
        "calendar-assistant",
        "microsoft",
        ("delegated_drafts", "delegated"),
        "Ana Lima",
        "her Outlook calendar and mailbox",
        "prepare meeting invitations as drafts",
        "send mail on her behalf",
        environment="test",
        client="Copilot Studio agent",
        tags="operations",
    ),
)


# -- the home folder ---------------------------------------------------------------------------


def default_demo_home() -> Path:
    """Beside the owner's inventory, never inside it: <user data dir>/breaker/demo."""
    import platformdirs

    return platformdirs.user_data_path("breaker", appauthor=False) / "demo"


def _existing_inventory(db: Path) -> int:
    """Connectors plus audit events in a Breaker database file, read without changing it."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.Error:
        return 1  # cannot tell: treat it as precious
    try:
        total = 0
        for table in ("connector", "audit_event"):
            try:
                total += conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            except sqlite3.OperationalError as exc:
                if "no such table" not in str(exc):
                    return 1
        return total
    except sqlite3.DatabaseError:
        return 1
    finally:
        conn.close()


def _check_home(home: Path) -> None:
    """Refuse a folder that is not (or cannot become) a demo home."""
    if home.exists() and not home.is_dir():
        raise DemoError(f"{home} is a file, not a folder; choose another --home for the demo")
    if not home.exists():
        return
    config = read_config(home / CONFIG_FILE)
    demo = config.get("demo", {})
    if isinstance(demo, Mapping) and demo.get("enabled") is True:
        return
    strangers = sorted(p.name for p in home.iterdir() if p.name not in HOME_FILES)
    if strangers:
        raise DemoError(
            f"{home} is not empty and is not a Breaker demo home (it holds {strangers[0]!r}…); "
            "choose an empty or new folder for --home"
        )
    db = home / DB_FILE
    if db.exists() and _existing_inventory(db):
        raise DemoError(
            f"{home} holds a Breaker inventory that is not a demo; the demo will not touch it. "
            "Choose another --home, e.g. a new folder"
        )


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def _valid_port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1024 <= value <= 65535


def demo_port(settings: Settings) -> int | None:
    """The sandbox port recorded in a demo home's config, or None."""
    demo = read_config(settings.config_path).get("demo", {})
    port = demo.get(DEMO_PORT_KEY) if isinstance(demo, Mapping) else None
    return port if _valid_port(port) else None


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"cannot write a {type(value).__name__} to config.toml")


def _toml(data: Mapping[str, Any], prefix: str = "") -> str:
    """A small TOML writer for the plain tables config.toml holds (the stdlib only reads TOML)."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, Mapping)]
    out = "\n".join(lines) + ("\n" if lines else "")
    for key, value in data.items():
        if isinstance(value, Mapping):
            name = f"{prefix}.{key}" if prefix else key
            out += f"\n[{name}]\n" + _toml(value, name)
    return out


CONFIG_TEMPLATE = """\
# Breaker demo home. Everything in this folder is throwaway: the keys are sandbox tokens
# (they contain the word SANDBOX) kept in demo-keyring.json, and the providers are the loopback
# sandbox that `breaker demo` / `breaker sandbox` start on the port below.
# Delete the folder to start the demo afresh.

[demo]
enabled = true
{port_key} = {port}
"""


def _ensure_config(home: Path, port: int | None) -> tuple[int, int | None]:
    """Write or complete the demo config; return (port, previous port if it changed)."""
    path = home / CONFIG_FILE
    raw = read_config(path)
    demo = raw.get("demo", {})
    if not isinstance(demo, Mapping):
        raise ConfigError(f"{path}: [demo] must be a table")
    stored = demo.get(DEMO_PORT_KEY) if _valid_port(demo.get(DEMO_PORT_KEY)) else None
    wanted = port or stored or free_loopback_port()
    if stored == wanted and demo.get("enabled") is True:
        return wanted, None
    if not path.exists():
        text = CONFIG_TEMPLATE.format(port_key=DEMO_PORT_KEY, port=wanted)
    else:
        text = _toml({**raw, "demo": {**demo, "enabled": True, DEMO_PORT_KEY: wanted}})
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return wanted, (stored if stored and stored != wanted else None)


# -- sandbox state on disk -----------------------------------------------------------------------


def load_sandbox_state(home: Path) -> SandboxState:
    """The demo sandbox's tokens (an empty state when the file does not exist yet)."""
    path = Path(home) / SANDBOX_STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return SandboxState()
    except (OSError, ValueError) as exc:
        raise DemoError(
            f"{path} is unreadable ({type(exc).__name__}); delete it to forget the sandbox's "
            "tokens (the demo keys will then answer as invalid), or delete the folder to start afresh"
        ) from None
    try:
        return state_from_json(data)
    except (TypeError, ValueError, KeyError, AttributeError):
        raise DemoError(f"{path} is not a sandbox state file; delete it or the demo folder") from None


def save_sandbox_state(home: Path, state: SandboxState) -> None:
    """Write the state atomically (0600: sandbox tokens are not real keys, but still nobody else's)."""
    path = Path(home) / SANDBOX_STATE_FILE
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(state_to_json(state), fh, indent=1)
    os.replace(tmp, path)


class StateSaver:
    """Saves a running sandbox's state every few seconds when it changed, so a crash loses little."""

    def __init__(self, home: Path, state: SandboxState, every_s: float = 3.0) -> None:
        self.home, self.state, self.every_s = Path(home), state, every_s
        self._stop = threading.Event()
        self._last = json.dumps(state_to_json(state), sort_keys=True)
        self._thread = threading.Thread(target=self._run, name="breaker-demo-state", daemon=True)

    def start(self) -> StateSaver:
        self._thread.start()
        return self

    def save_if_changed(self) -> None:
        now = json.dumps(state_to_json(self.state), sort_keys=True)
        if now != self._last:
            save_sandbox_state(self.home, self.state)
            self._last = now

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.save_if_changed()
            except OSError as exc:  # keep serving; the final save reports a lasting problem
                log.debug("could not save the sandbox state: %s", exc.strerror)

    def stop(self) -> None:
        """Stop the thread and save one last time."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        save_sandbox_state(self.home, self.state)


# -- seeding -------------------------------------------------------------------------------------


def base_url(port: int, prefix: str) -> str:
    """The provider's documented base URL with the host swapped for the sandbox's prefix."""
    from connectors.sandbox.dispatch import base_url as sandbox_base_url

    return sandbox_base_url(f"http://{LOOPBACK}:{port}", prefix)


def _mint(module: Any, spec: DemoConnector, state: SandboxState) -> TokenRecord | None:
    kinds: dict[str, list[str]] = dict(getattr(module, "KINDS", None) or {})
    kind = next((k for k in spec.kinds if k in kinds), next(iter(kinds), ""))
    make = getattr(module, "make_token", None)
    if make is None:
        return None
    token = make(kind)
    if "SANDBOX" not in token:  # the contract; a real-looking key must never be seeded
        raise DemoError(f"the sandbox module for {spec.provider} made a token without SANDBOX in it")
    scopes = list(spec.scopes) if spec.scopes is not None else list(kinds.get(kind, []))
    record = TokenRecord(
        token=token,
        provider=getattr(module, "PROVIDER", spec.provider),
        kind=kind,
        identity=spec.identity or f"{spec.name}-bot",
        scopes=scopes,
    )
    return state.add(record)


async def _probe_grants(provider: Any, state: SandboxState, token: str, url: str) -> list[Grant] | None:
    """What the provider's own probe reads from the sandbox for this key (in-process, no socket).

    The demo declares exactly that, so only the connector meant to drift shows drift after the
    owner's first probe."""
    import httpx

    from connectors.sandbox.dispatch import SandboxTransport

    async with httpx.AsyncClient(transport=SandboxTransport(state), timeout=5) as client:
        report = await provider.probe(client, ProviderCredential(secret=Secret(token), base_url=url))
    return list(report.grants) if report.outcome == Outcome.OK else None


def _run_async(coro: Any) -> Any:
    """asyncio.run, also from code that already runs inside an event loop (the panel, async tests)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _declared(
    spec: DemoConnector, provider: Any, state: SandboxState, record: TokenRecord, url: str
) -> tuple[Grant, ...]:
    try:
        grants = _run_async(_probe_grants(provider, state, record.token, url))
    except Exception as exc:
        log.debug("demo seed: probing %s failed (%s)", spec.name, type(exc).__name__)
        grants = None
    if grants is None:
        grants = provider.grants_for(record.scopes)
    grants = sorted({g.scope: g for g in grants}.values(), key=lambda g: (g.level, g.scope))
    if spec.declare_narrower and grants:
        lowest = grants[0].level
        narrower = [g for g in grants if g.level == lowest]
        grants = narrower if len(narrower) < len(grants) else grants[:-1]
    return tuple(Grant(g.scope, g.level) for g in grants)


def seed_demo(services: Services, state: SandboxState, port: int) -> list[str]:
    """Add the demo connectors whose provider and sandbox module exist; return their names."""
    from connectors.sandbox.dispatch import route_modules

    modules = route_modules()
    added: list[str] = []
    tokens: dict[str, TokenRecord] = {}
    for spec in DEMO_CONNECTORS:
        module = modules.get(spec.provider)
        if module is None or spec.provider not in registry.names():
            log.debug("demo seed: no sandbox or provider module for %s yet; %s skipped", spec.provider, spec.name)
            continue
        try:
            provider = registry.get(spec.provider)
        except ImportError:
            log.debug("demo seed: provider %s does not import; %s skipped", spec.provider, spec.name)
            continue
        record = tokens.get(spec.shares_key_with) if spec.shares_key_with else None
        if record is None:
            record = _mint(module, spec, state)
            if record is None:
                continue
        tokens[spec.name] = record
        url = base_url(port, spec.provider)
        data = ConnectorInput(
            name=spec.name,
            provider=spec.provider,
            owner=spec.owner,
            purpose_access=spec.access,
            purpose_task=spec.task,
            purpose_forbidden=spec.forbidden,
            environment=spec.environment,
            base_url=url,
            client=spec.client,
            tags=spec.tags,
            declared=_declared(spec, provider, state, record, url),
        )
        services.inventory.add(data, Secret(record.token))
        added.append(spec.name)
    _age_keys(services, [s for s in DEMO_CONNECTORS if s.key_age_days and s.name in added], added)
    for spec in DEMO_CONNECTORS:
        if spec.org_admin_key and spec.name in added:
            # Switches of the provider's other connectors (a panic too) disable their keys through it.
            services.switches.mark_admin_connector(spec.name)
    return added


def _age_keys(services: Services, aged: list[DemoConnector], added: list[str]) -> None:
    """Set some keys' creation dates back (a demo needs an old key to find), and say so in the audit log."""
    with session_scope(services.engine) as s:
        backdated = {}
        for spec in aged:
            connector = s.exec(select(Connector).where(Connector.name == spec.name)).one()
            for cred in s.exec(select(Credential).where(Credential.connector_id == connector.id)).all():
                cred.created_at = utcnow() - timedelta(days=spec.key_age_days)
                s.add(cred)
            backdated[spec.name] = spec.key_age_days
        services.audit.record(s, "demo.seed", new={"connectors": added, "key_age_days_set_back": backdated})


def _relocate(services: Services, old_port: int, new_port: int) -> int:
    """Point connectors at the sandbox's new port (audited edits, like any other change).

    A base URL that is a bare sandbox prefix whose provider has an API path (``…/gitlab`` from a
    demo home made before the prefixes stood for hosts) gets the path: ``…/gitlab/api/v4``. A moved
    connector routed through the gateway is routed again, so its upstream follows (audited)."""
    from app.services.gateway import Gateway
    from connectors.sandbox.dispatch import api_path

    old_root, moved = f"http://{LOOPBACK}:{old_port}/", 0
    routed = Gateway(services).routed_names()
    for view in services.inventory.list():
        if not view.base_url.startswith(old_root):
            continue
        rest = view.base_url[len(old_root) :]
        new_url = base_url(new_port, rest) if api_path(rest) else f"http://{LOOPBACK}:{new_port}/" + rest
        if new_url != view.base_url:
            services.inventory.edit(view.name, replace(services.inventory.as_input(view), base_url=new_url))
            if view.name in routed:
                Gateway(services).route(view.name)
            moved += 1
    return moved


def demo_settings(home: Path) -> Settings:
    """Settings of a demo home. BREAKER_DB is ignored: the demo's database lives in its home."""
    env = {k: v for k, v in os.environ.items() if k != "BREAKER_DB"}
    return load_settings(home=home, env=env)


def prepare_demo_home(home: Path, *, port: int | None = None) -> Settings:
    """Make ``home`` a demo home (seeded when its inventory is empty) and return its settings.

    ``port`` moves the sandbox to another loopback port (the connectors follow)."""
    home = Path(home).expanduser().resolve()
    _check_home(home)
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    port, old_port = _ensure_config(home, port)
    settings = demo_settings(home)
    if not settings.demo:  # cannot happen unless the config was edited between the two reads
        raise DemoError(f"{settings.config_path} does not enable the demo")
    services = open_services(settings)
    try:
        if not services.inventory.list():
            state = load_sandbox_state(home)
            seed_demo(services, state, port)
            save_sandbox_state(home, state)
        else:
            _relocate(services, old_port if old_port is not None else port, port)
    finally:
        services.close()
    return settings


# -- a key to paste (guided rotation in the demo) ------------------------------------------------------


async def mint_sandbox_key(services: Services, name: str) -> Secret:
    """The demo's stand-in for the provider's dashboard: a new sandbox key for connector ``name``, so
    a guided rotation (the owner pastes a key made at the provider) can be tried in the demo.

    The demo sandbox's admin API (``POST /_sandbox/tokens``) makes it with the kind, scopes and
    identity of the key the connector has now (read back from ``GET /_sandbox/tokens`` by its last
    four characters, never its value), so the new key can do what the old one could. Only in a demo
    home, and only for a connector that points at the demo's own sandbox: raises :class:`DemoError`
    (one line) otherwise, or when the sandbox does not answer."""
    import httpx

    from connectors.sandbox.server import ADMIN_PREFIX

    settings = services.settings
    port = demo_port(settings) if settings.demo else None
    if port is None:
        raise DemoError("only the demo can make a sandbox key; at a real provider, make the new key on its dashboard")
    view = await asyncio.to_thread(services.inventory.get, name)
    url = httpx.URL(view.base_url or "")
    if url.host not in (LOOPBACK, "localhost") or url.port != port:
        raise DemoError(f"{name} does not point at the demo sandbox; make its new key at the provider's dashboard")
    prefix = url.path.strip("/").split("/")[0] or view.provider
    admin = f"http://{LOOPBACK}:{port}/{ADMIN_PREFIX}/tokens"
    last4 = view.credential.last4 if view.credential else ""
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            listed = await client.get(admin)
            listed.raise_for_status()
            current = next(
                (
                    t
                    for t in listed.json().get("tokens", [])
                    if last4 and t.get("last4") == last4 and not t.get("revoked")
                ),
                None,
            )
            body: dict[str, Any] = {"provider": prefix}
            if current is not None:
                body |= {"kind": current.get("kind"), "scopes": current.get("scopes") or []}
                if current.get("identity"):
                    body["identity"] = current["identity"]
            made = await client.post(admin, json=body)
            if made.status_code != 201:
                raise DemoError(
                    f"the demo sandbox would not make a key: {made.json().get('message', made.status_code)}"
                )
            token = made.json()["token"]
    except httpx.HTTPError as exc:
        raise DemoError(
            f"the demo sandbox on port {port} did not answer ({type(exc).__name__}); is `breaker demo` running?"
        ) from None
    return Secret(token)
