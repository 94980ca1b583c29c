"""Talking to providers for a switch: credentials, bounded calls with timeouts and backoff, probes.

No provider call raises here: a timeout, a transport error or a provider bug becomes a FAILED
:class:`ActionResult`, and a probe that cannot answer becomes an outcome (as in probing).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from app.services import binding, pinned
from app.services.credentials import provider_credential
from app.services.inventory import ConnectorView, CredentialView
from app.services.netutil import gated, tls_context  # shared with probing (one TLS context, one gate helper)
from app.services.probing import Prober, ProbeResult
from app.services.switches.plan import admin_credential, admin_source, live_credentials
from connectors.base import ActionResult, ActionState, Outcome, ProbeReport, Secret, Verb
from connectors.base import Credential as ProviderCredential
from connectors.http import ACCEPT_IDENTITY, cap_body

__all__ = [
    "CallPolicy",
    "Calls",
    "Gate",
    "MissingKey",
    "dead",
    "gated",
    "provider_credential",
    "tls_context",
]

log = logging.getLogger(__name__)


class MissingKey(Exception):
    """The keyring holds no secret for a credential the switch needs."""


@dataclass(frozen=True)
class CallPolicy:
    """How hard Breaker tries one provider call."""

    timeout_s: float = 10.0  # per request (every request inside an action has the same timeout)
    attempts: int = 3  # including the first
    backoff_s: float = 0.5  # first wait; doubles, with jitter

    def limit(self, requests: int = 1) -> float:
        """Breaker's own deadline for one action of ``requests`` HTTP requests: each request's client
        timeout fires first; this only catches a provider module that hangs outside its requests."""
        return self.timeout_s * max(1, requests) + 1.0


Gate = asyncio.Semaphore | None


class Calls:
    """Provider calls and probes for one switch run (a single switch or a whole panic)."""

    def __init__(
        self, services, transport: httpx.AsyncBaseTransport | None = None, policy: CallPolicy | None = None
    ) -> None:
        self.services = services
        self.transport = transport
        self.policy = policy or CallPolicy(timeout_s=services.settings.probe.timeout_s)
        self.prober = Prober(services, transport)
        self._creds: dict[tuple[str, str], ProviderCredential] = {}  # (connector, keyring ref) → credential

    def client(self, connections: int = 16) -> httpx.AsyncClient:
        connections = max(4, min(connections, 512))
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        return httpx.AsyncClient(
            timeout=httpx.Timeout(self.policy.timeout_s),
            limits=limits,
            transport=self.transport or pinned.transport(limits, tls_context()),  # checked addresses only
            follow_redirects=False,
            verify=tls_context(),
            headers={"user-agent": "breaker/0.1 (+switch)", **ACCEPT_IDENTITY},
            event_hooks={"response": [cap_body]},  # bodies are capped (connectors.http.BODY_LIMIT)
        )

    # -- credentials ---------------------------------------------------------------------------------
    def secret(self, cred: CredentialView) -> Secret:
        secret = self.services.secrets.get(cred.keyring_ref)
        if secret is None:
            raise MissingKey(f"no key in the keyring for the {cred.tier} credential …{cred.last4}")
        return secret

    def provider_credential(
        self, view: ConnectorView, cred: CredentialView, views: list[ConnectorView]
    ) -> ProviderCredential:
        """What a provider call needs, with the organisation admin key where one is registered."""
        admin = admin_credential(view, views)
        try:
            if admin is not None:
                binding.check(self.services, admin_source(view, views) or view, admin)
            binding.check(self.services, view, cred)
        except binding.DestinationChanged as exc:  # loud, audited; the step fails with this reason
            raise MissingKey(str(exc)) from None
        admin_secret = self.services.secrets.get(admin.keyring_ref) if admin is not None else None
        return provider_credential(view, self.secret(cred), admin_secret)

    async def credential(
        self, view: ConnectorView, cred: CredentialView, views: list[ConnectorView]
    ) -> ProviderCredential:
        found = self._creds.get((view.name, cred.keyring_ref))
        if found is not None:
            return found
        return await asyncio.to_thread(self.provider_credential, view, cred, views)

    def preload(self, views: list[ConnectorView], wanted: list[ConnectorView]) -> None:
        """Read the keys of ``wanted`` connectors in one go (one thread hop for a whole panic, not 400).

        Called by a panic once the owner has confirmed; :meth:`forget` drops them when it ends. Keys
        already loaded are not read again. A key that cannot be read is left out; its step reads it
        again and reports why.
        """
        admins: dict[str, Secret | None] = {}
        for view in wanted:
            admin = admin_credential(view, views)
            if admin is not None and admin.keyring_ref not in admins:
                try:
                    binding.check(self.services, admin_source(view, views) or view, admin)
                    admins[admin.keyring_ref] = self.services.secrets.get(admin.keyring_ref)
                except Exception:
                    admins[admin.keyring_ref] = None
            for cred in live_credentials(view):
                if (view.name, cred.keyring_ref) in self._creds:
                    continue
                try:
                    binding.check(self.services, view, cred)
                    secret = self.services.secrets.get(cred.keyring_ref)
                except Exception:  # refused or unreadable: its step reads it again and says why
                    continue
                if secret is None:
                    continue
                self._creds[(view.name, cred.keyring_ref)] = provider_credential(
                    view, secret, admins.get(admin.keyring_ref) if admin is not None else None
                )

    def forget(self) -> None:
        """Drop every key read for this run."""
        self._creds.clear()

    # -- calls -----------------------------------------------------------------------------------------
    async def call(
        self,
        action: Verb,
        send: Callable[[], Awaitable[ActionResult]],
        *,
        gate: Gate = None,
        repeatable: bool,
        already_done: Callable[[], Awaitable[bool | None]] | None = None,
        on_retry: Callable[[int, ActionResult], Awaitable[None]] | None = None,
        attempts: int | None = None,
        requests: int = 1,
        mints: bool = False,
        on_late: Callable[[float], Awaitable[None]] | None = None,
    ) -> tuple[ActionResult, int]:
        """Send one provider action with a time limit; retry a retryable failure with backoff, bounded.

        ``requests``: how many HTTP requests the action sends (``Provider.requests_for``); the limit
        is sized by it. ``mints``: the action can create a key (a rotation). Such an action is never
        cut off: past the limit ``on_late(limit)`` is told (the job shows pending) and Breaker keeps
        waiting for the answer, because the provider may already have replaced the old key.

        A call that is not ``repeatable`` (a permanent revoke, a rotation) is sent again only when the
        previous attempt surely did not reach the provider (it answered with an error status), or
        when ``already_done`` (a probe) shows that the change has not happened. An answer that
        carries a new key is never followed by another attempt (it would kill that key). Returns the
        result and the number of attempts made.
        """
        attempts = attempts or self.policy.attempts
        made = 0
        result = ActionResult(action, ActionState.FAILED, "not attempted")
        for attempt in range(1, attempts + 1):
            made = attempt
            async with gated(gate):
                result = await self._once(action, send, requests=requests, mints=mints, on_late=on_late)
            if result.new_secret is not None:
                break  # a key came back, whatever the rest of the answer says: it must be kept
            if result.state is not ActionState.FAILED or not result.retryable or attempt == attempts:
                break
            ambiguous = result.status is None  # no answer: the provider may or may not have done it
            if ambiguous and not repeatable:
                done = await already_done() if already_done is not None else None
                if done is True:
                    return ActionResult(
                        action,
                        ActionState.APPLIED,
                        "already in effect at the provider (an earlier attempt went through)",
                        irreversible=result.irreversible,
                    ), made
                if done is None:  # cannot tell: never risk sending a permanent call twice
                    result.message += "; Breaker cannot tell whether it reached the provider, so it does not resend it"
                    break
            if on_retry is not None:
                await on_retry(attempt, result)
            await asyncio.sleep(self.policy.backoff_s * (2 ** (attempt - 1)) * random.uniform(0.8, 1.2))
        return result, made

    async def _once(
        self,
        action: Verb,
        send: Callable[[], Awaitable[ActionResult]],
        *,
        requests: int = 1,
        mints: bool = False,
        on_late: Callable[[float], Awaitable[None]] | None = None,
    ) -> ActionResult:
        limit = self.policy.limit(requests)
        task = asyncio.ensure_future(send())
        try:
            if mints:
                try:
                    # shield: the limit stops our waiting, never the action itself
                    result = await asyncio.wait_for(asyncio.shield(task), limit)
                except TimeoutError:
                    await _tell_late(on_late, limit)
                    result = await task  # past the limit: the provider may have minted the key already
            else:
                result = await asyncio.wait_for(task, limit)
        except TimeoutError:
            return ActionResult(action, ActionState.FAILED, f"no answer within {limit:g} s", retryable=True)
        except httpx.TransportError as exc:  # a provider that forgot to guard its call
            return ActionResult(action, ActionState.FAILED, f"network error ({type(exc).__name__})", retryable=True)
        except Exception as exc:  # a provider bug must not stop a panic
            return ActionResult(action, ActionState.FAILED, f"provider error: {type(exc).__name__}")
        if not isinstance(result, ActionResult):
            return ActionResult(action, ActionState.FAILED, "provider returned no result")
        return result

    # -- probes ----------------------------------------------------------------------------------------
    async def probe(
        self,
        client: httpx.AsyncClient,
        view: ConnectorView,
        cred: CredentialView | None = None,
        *,
        gate: Gate = None,
        views: list[ConnectorView] | None = None,
    ) -> ProbeReport:
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
            except TimeoutError:
                return ProbeReport(Outcome.UNREACHABLE, error=f"no answer within {deadline:g} s")
            except Exception as exc:
                return ProbeReport(Outcome.ERROR, error=f"probe failed: {type(exc).__name__}")

    def probe_result(self, view: ConnectorView, report: ProbeReport) -> ProbeResult:
        return ProbeResult(view.name, report, tuple(Prober._drift(view, report)))


async def _tell_late(on_late: Callable[[float], Awaitable[None]] | None, limit: float) -> None:
    if on_late is None:
        return
    try:
        await on_late(limit)
    except Exception:
        log.exception("on_late callback failed")


def dead(report: ProbeReport) -> bool | None:
    """True: the key no longer works; False: it still works; None: the probe could not tell."""
    if report.outcome in (Outcome.INVALID, Outcome.REVOKED):
        return True
    if report.outcome in (Outcome.OK, Outcome.FORBIDDEN):
        return False
    return None
