"""Talking to providers for a switch: credentials, bounded calls with timeouts and backoff, probes.

No provider call raises here: a timeout, a transport error or a provider bug becomes a FAILED
:class:`ActionResult`, and a probe that cannot answer becomes an outcome (as in probing).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache

import httpx

from app.services.inventory import ConnectorView, CredentialView
from app.services.probing import Prober, ProbeResult
from connectors.base import ActionResult, ActionState, Credential as ProviderCredential, Outcome, ProbeReport, Secret

from app.services.switches.plan import admin_credential, live_credentials


@cache
def tls_context() -> ssl.SSLContext:
    """One verified TLS context for every client of a switch run (loading the CA bundle takes tens of ms)."""
    return ssl.create_default_context()


class MissingKey(Exception):
    """The keyring holds no secret for a credential the switch needs."""


@dataclass(frozen=True)
class CallPolicy:
    """How hard Breaker tries one provider call."""

    timeout_s: float = 10.0  # per call (every request inside it has the same timeout)
    attempts: int = 3  # including the first
    backoff_s: float = 0.5  # first wait; doubles, with jitter


Gate = asyncio.Semaphore | None


@contextlib.asynccontextmanager
async def gated(gate: Gate):
    if gate is None:
        yield
    else:
        async with gate:
            yield


class Calls:
    """Provider calls and probes for one switch run (a single switch or a whole panic)."""

    def __init__(self, services, transport: httpx.AsyncBaseTransport | None = None,
                 policy: CallPolicy | None = None) -> None:
        self.services = services
        self.transport = transport
        self.policy = policy or CallPolicy(timeout_s=services.settings.probe.timeout_s)
        self.prober = Prober(services, transport)
        self._creds: dict[tuple[str, str], ProviderCredential] = {}  # (connector, keyring ref) → credential

    def client(self, connections: int = 16) -> httpx.AsyncClient:
        connections = max(4, min(connections, 512))
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        return httpx.AsyncClient(timeout=httpx.Timeout(self.policy.timeout_s), limits=limits,
                                 transport=self.transport, follow_redirects=False, verify=tls_context(),
                                 headers={"user-agent": "breaker/0.1 (+switch)"})

    # -- credentials ---------------------------------------------------------------------------------
    def secret(self, cred: CredentialView) -> Secret:
        secret = self.services.secrets.get(cred.keyring_ref)
        if secret is None:
            raise MissingKey(f"no key in the keyring for the {cred.tier} credential …{cred.last4}")
        return secret

    def provider_credential(self, view: ConnectorView, cred: CredentialView,
                            views: list[ConnectorView]) -> ProviderCredential:
        """What a provider call needs, with the organisation admin key where one is registered."""
        admin = admin_credential(view, views)
        admin_secret = self.services.secrets.get(admin.keyring_ref) if admin is not None else None
        return ProviderCredential(secret=self.secret(cred), base_url=view.base_url or None,
                                  extra={k: str(v) for k, v in view.extra.items()}, admin_secret=admin_secret)

    async def credential(self, view: ConnectorView, cred: CredentialView,
                         views: list[ConnectorView]) -> ProviderCredential:
        found = self._creds.get((view.name, cred.keyring_ref))
        if found is not None:
            return found
        return await asyncio.to_thread(self.provider_credential, view, cred, views)

    def preload(self, views: list[ConnectorView], wanted: list[ConnectorView]) -> None:
        """Read the keys of ``wanted`` connectors in one go (one thread hop for a whole panic, not 400).

        A key that cannot be read is left out; its step reads it again and reports why.
        """
        admins: dict[str, Secret | None] = {}
        for view in wanted:
            admin = admin_credential(view, views)
            if admin is not None and admin.keyring_ref not in admins:
                try:
                    admins[admin.keyring_ref] = self.services.secrets.get(admin.keyring_ref)
                except Exception:  # noqa: BLE001 — reported by the step that needs it
                    admins[admin.keyring_ref] = None
            for cred in live_credentials(view):
                try:
                    secret = self.services.secrets.get(cred.keyring_ref)
                except Exception:  # noqa: BLE001
                    continue
                if secret is None:
                    continue
                self._creds[(view.name, cred.keyring_ref)] = ProviderCredential(
                    secret=secret, base_url=view.base_url or None, extra={k: str(v) for k, v in view.extra.items()},
                    admin_secret=admins.get(admin.keyring_ref) if admin is not None else None)

    # -- calls -----------------------------------------------------------------------------------------
    async def call(self, action: str, send: Callable[[], Awaitable[ActionResult]], *, gate: Gate = None,
                   repeatable: bool, already_done: Callable[[], Awaitable[bool | None]] | None = None,
                   on_retry: Callable[[int, ActionResult], Awaitable[None]] | None = None,
                   attempts: int | None = None) -> tuple[ActionResult, int]:
        """Send one provider call with a timeout; retry a retryable failure with backoff, bounded.

        A call that is not ``repeatable`` (a permanent revoke, a rotation) is sent again only when the
        previous attempt surely did not reach the provider (it answered with an error status), or
        when ``already_done`` (a probe) shows that the change has not happened. Returns the result and
        the number of attempts made.
        """
        attempts = attempts or self.policy.attempts
        made = 0
        result = ActionResult(action, ActionState.FAILED, "not attempted")
        for attempt in range(1, attempts + 1):
            made = attempt
            async with gated(gate):
                result = await self._once(action, send)
            if result.state is not ActionState.FAILED or not result.retryable or attempt == attempts:
                break
            ambiguous = result.status is None  # no answer: the provider may or may not have done it
            if ambiguous and not repeatable:
                done = await already_done() if already_done is not None else None
                if done is True:
                    return ActionResult(action, ActionState.APPLIED, "already in effect at the provider "
                                        "(an earlier attempt went through)", irreversible=result.irreversible), made
                if done is None:  # cannot tell: never risk sending a permanent call twice
                    result.message += "; Breaker cannot tell whether it reached the provider, so it does not resend it"
                    break
            if on_retry is not None:
                await on_retry(attempt, result)
            await asyncio.sleep(self.policy.backoff_s * (2 ** (attempt - 1)) * random.uniform(0.8, 1.2))
        return result, made

    async def _once(self, action: str, send: Callable[[], Awaitable[ActionResult]]) -> ActionResult:
        timeout = self.policy.timeout_s + 1.0  # the client's own timeout fires first; this catches the rest
        try:
            result = await asyncio.wait_for(send(), timeout)
        except asyncio.TimeoutError:
            return ActionResult(action, ActionState.FAILED, f"no answer within {timeout:g} s", retryable=True)
        except httpx.TransportError as exc:  # a provider that forgot to guard its call
            return ActionResult(action, ActionState.FAILED, f"network error ({type(exc).__name__})", retryable=True)
        except Exception as exc:  # a provider bug must not stop a panic
            return ActionResult(action, ActionState.FAILED, f"provider error: {type(exc).__name__}")
        if not isinstance(result, ActionResult):
            return ActionResult(action, ActionState.FAILED, "provider returned no result")
        return result

    # -- probes ----------------------------------------------------------------------------------------
    async def probe(self, client: httpx.AsyncClient, view: ConnectorView, cred: CredentialView | None = None,
                    *, gate: Gate = None, views: list[ConnectorView] | None = None) -> ProbeReport:
        """A fresh probe of ``view``'s active credential (or of ``cred``). Never raises."""
        cred = cred or view.credential
        if cred is None:
            return ProbeReport(Outcome.ERROR, error="no key stored for this connector")
        try:
            pc = await self.credential(view, cred, views or [view])
        except MissingKey as exc:
            return ProbeReport(Outcome.ERROR, error=str(exc))
        except Exception as exc:  # keyring locked or gone: an outcome, not a crash
            return ProbeReport(Outcome.ERROR, error=f"keyring: {type(exc).__name__}")
        # probe_report has its own deadline; ours keeps a hanging provider to about two call timeouts
        deadline = self.policy.timeout_s * 2 + 1.0
        async with gated(gate):
            try:
                return await asyncio.wait_for(self.prober.probe_report(client, view, pc), deadline)
            except asyncio.TimeoutError:
                return ProbeReport(Outcome.UNREACHABLE, error=f"no answer within {deadline:g} s")
            except Exception as exc:  # noqa: BLE001
                return ProbeReport(Outcome.ERROR, error=f"probe failed: {type(exc).__name__}")

    def probe_result(self, view: ConnectorView, report: ProbeReport) -> ProbeResult:
        return ProbeResult(view.name, report, tuple(Prober._drift(view, report)))


def dead(report: ProbeReport) -> bool | None:
    """True: the key no longer works; False: it still works; None: the probe could not tell."""
    if report.outcome in (Outcome.INVALID, Outcome.REVOKED):
        return True
    if report.outcome in (Outcome.OK, Outcome.FORBIDDEN):
        return False
    return None
