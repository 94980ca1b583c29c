"""Switch-call plumbing shared by providers: run a switch, read a refusal, ask for an admin key.

A switch action never raises for network or provider trouble. A provider writes the calls of one
action as a coroutine that returns an :class:`ActionResult` (each call through :func:`call`, which
hands back the response or the FAILED result of a refusal) and runs it through :func:`guard_action`,
which turns transport failures and garbled answers into FAILED results and scrubs the credential's
secrets (and a rotated-in one) out of everything the result says.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Container

import httpx

from connectors.base import ActionResult, ActionState, Credential, Provider, Verb
from connectors.http import HANDLED, describe_failure, scrubbed, secrets_of

SUCCESS = range(200, 300)


async def guard_action(action: Verb, run: Callable[[], Awaitable[ActionResult]], *, cred: Credential) -> ActionResult:
    """Run one switch action; a network problem or garbled answer becomes a FAILED result."""
    try:
        result = await run()
    except httpx.TransportError as exc:  # the network, not the provider, said no: worth another try
        result = ActionResult(action, ActionState.FAILED, describe_failure(exc)[1], retryable=True)
    except HANDLED as exc:
        result = ActionResult(action, ActionState.FAILED, describe_failure(exc)[1])
    secrets = secrets_of(cred, result.new_secret)
    result.message = scrubbed(result.message, secrets)
    result.manual_steps = scrubbed(result.manual_steps, secrets)
    result.details = scrubbed(result.details, secrets)
    return result


async def call(
    action: Verb,
    send: Awaitable[httpx.Response],
    *,
    cred: Credential,
    refused: str,
    reason: Callable[[httpx.Response, Credential], str] | None = None,
    ok: Container[int] = SUCCESS,
) -> httpx.Response | ActionResult:
    """Await one switch call: its response when the status is in ``ok``, else the FAILED result to return.

    Meant to run inside :func:`guard_action`, which handles the network. ``reason(response, cred)``
    reads the provider's own error text (scrubbed of ``cred``); without it the status is the reason.
    """
    response = await send
    if response.status_code in ok:
        return response
    return action_failed(action, response, refused, reason(response, cred) if reason else "")


def action_failed(action: Verb, response: httpx.Response, what: str, reason: str = "") -> ActionResult:
    """A provider said no: ``what`` was refused, for ``reason`` (default the status). 429 and 5xx may pass.

    ``reason`` is provider text read with :func:`connectors.http.error_text`, so it is already short.
    """
    status = response.status_code
    return ActionResult(
        action,
        ActionState.FAILED,
        f"{what}: {reason or f'HTTP {status}'}",
        status=status,
        retryable=status == 429 or status >= 500,
    )


def needs_admin(provider: Provider, action: Verb, admin_key: str, get_it_at: str) -> ActionResult:
    """The provider's API can do this, but only with an admin credential that is not registered."""
    steps = [
        f"Register {admin_key} (from {get_it_at}) as this connector's admin credential in Breaker, "
        f"then run {action} again. Or do it by hand:",
        *provider.manual_steps(action),
    ]
    return provider.manual(action, f"{action} needs {admin_key}", steps)


# -- finding a key's id from the provider's redacted hint ---------------------------------------

_REDACTION = re.compile(r"(?:\.{3,}|…|\*+)")


def matches_redacted(key: str, hint: str) -> bool:
    """Whether ``key`` fits a provider's redacted form.

    Anthropic's documented example is ``sk-ant-api03-R2D...igAA``. The visible parts must appear
    in order, the first at the start and the last at the end, and at
    least eight characters must be visible: a hint that hides everything matches nothing.
    """
    parts = _REDACTION.split(hint)
    if len(parts) < 2 or sum(len(p) for p in parts) < 8:
        return False
    if not key.startswith(parts[0]) or not key.endswith(parts[-1]):
        return False
    position = len(parts[0])
    for middle in parts[1:-1]:
        found = key.find(middle, position)
        if found < 0:
            return False
        position = found + len(middle)
    return position <= len(key) - len(parts[-1])
