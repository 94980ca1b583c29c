"""connectors.actions: switch calls that never raise, refusals, admin-key requests, redacted-hint matching."""

from __future__ import annotations

import httpx
import pytest

from connectors import registry
from connectors.actions import action_failed, call, guard_action, matches_redacted, needs_admin
from connectors.base import ActionResult, ActionState, Credential, Secret
from connectors.http import MalformedBody, error_text

TOKEN = "tok_SANDBOX_" + "q4W" * 12
CRED = Credential(Secret(TOKEN), admin_secret=Secret("adm_SANDBOX_" + "z8" * 10))


def _response(status: int, body: object = None) -> httpx.Response:
    return httpx.Response(status, json=body, request=httpx.Request("DELETE", f"https://x.invalid/keys/{TOKEN}"))


async def _answer(response: httpx.Response) -> httpx.Response:
    return response


def _reason(response: httpx.Response, cred: Credential) -> str:
    return error_text(response, "message", cred=cred)


async def test_call_returns_the_response_or_the_refusal():
    ok = await call("revoke", _answer(_response(204)), cred=CRED, refused="no")
    narrow = await call("revoke", _answer(_response(204)), cred=CRED, refused="no", ok=(202,))
    refused = await call(
        "revoke",
        _answer(_response(403, {"message": f"bad token {TOKEN}"})),
        cred=CRED,
        refused="the provider refused",
        reason=_reason,
    )
    plain = await call("revoke", _answer(_response(503)), cred=CRED, refused="the provider refused")
    assert isinstance(ok, httpx.Response) and ok.status_code == 204
    assert isinstance(narrow, ActionResult) and narrow.state is ActionState.FAILED and narrow.status == 204
    assert isinstance(refused, ActionResult) and refused.message == "the provider refused: bad token ••••"
    assert not refused.retryable and refused.status == 403
    assert isinstance(plain, ActionResult) and plain.message == "the provider refused: HTTP 503" and plain.retryable


def test_action_failed_retries_only_rate_limits_and_server_errors():
    assert [action_failed("rotate", _response(s), "no").retryable for s in (400, 401, 404, 429, 500, 502)] == [
        False,
        False,
        False,
        True,
        True,
        True,
    ]


def _raises(exc: Exception):
    async def run() -> ActionResult:
        raise exc

    return run


@pytest.mark.parametrize(
    "exc, retryable, words",
    [
        (httpx.ConnectError(f"cannot reach https://x.invalid/{TOKEN}"), True, "connection refused"),
        (httpx.ReadTimeout(f"timed out on https://x.invalid/{TOKEN}"), True, "timed out"),
        (MalformedBody("HTTP 200: the body is not JSON"), False, "malformed response"),
        (KeyError(TOKEN), False, "malformed response"),
        (TypeError(TOKEN), False, "malformed response"),
        (AttributeError(TOKEN), False, "malformed response"),
        (ValueError(TOKEN), False, "malformed response"),
        (httpx.InvalidURL(f"bad https://x.invalid/{TOKEN}"), False, "InvalidURL"),
    ],
)
async def test_guard_action_turns_failures_into_failed_results(exc, retryable, words):
    result = await guard_action("revoke", _raises(exc), cred=CRED)
    assert result.state is ActionState.FAILED and result.retryable is retryable and words in result.message
    assert TOKEN not in repr(result) and "x.invalid" not in result.message


async def test_guard_action_scrubs_the_old_the_admin_and_the_new_secret():
    new = Secret("new_SANDBOX_" + "m3" * 12)

    async def leaky() -> ActionResult:
        return ActionResult(
            "rotate",
            ActionState.APPLIED,
            f"rotated {TOKEN} into {new.reveal()}",
            new_secret=new,
            manual_steps=[f"use {CRED.admin_secret.reveal()}"],
            details={"echo": [TOKEN]},
        )

    result = await guard_action("rotate", leaky, cred=CRED)
    assert result.message == "rotated •••• into ••••" and result.manual_steps == ["use ••••"]
    assert result.details == {"echo": ["••••"]} and result.new_secret == new  # the new key itself is kept


def test_needs_admin_is_manual_with_the_way_to_register_the_key():
    provider = registry.get("openai")
    result = needs_admin(provider, "revoke", "an admin key", "https://example.invalid/admin-keys")
    assert result.state is ActionState.MANUAL and result.message == "revoke needs an admin key"
    assert result.manual_steps[0].startswith("Register an admin key") and len(result.manual_steps) > 1


@pytest.mark.parametrize(
    "key, hint, expected",
    [
        ("sk-ant-api03-EXAMPLExxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxigAA", "sk-ant-api03-EXA...igAA", True),
        ("sk-ant-api03-EXAMPLExxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxigAB", "sk-ant-api03-EXA...igAA", False),
        ("sk-proj-EXAMPLEabcdefghijklmnopqrstuvwxyz0123456789", "sk-proj-EXAMPLE*****************6789", True),
        ("sk-proj-EXAMPLEabcdefghijklmnopqrstuvwxyz0123456789", "sk-…9", False),  # too little shown to tell
        ("abcdefgh", "abcdef...efgh", False),  # the visible parts would overlap: not this key
    ],
)
def test_matches_redacted(key, hint, expected):
    assert matches_redacted(key, hint) is expected
