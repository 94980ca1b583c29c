"""Stripe provider and its sandbox (sources: the documentation URLs cited in connectors/stripe.py)."""

import httpx
import pytest

from connectors import registry
from connectors.base import ActionState, Credential, Level, Outcome, Secret
from connectors.sandbox.core import SandboxState
from connectors.sandbox.providers import stripe as sandbox_stripe
from connectors.stripe import BOGUS_ID, DEEP_PROBES
from tests.connectors.fixtures.contract import (
    Routes,
    assert_same_shape,
    cred,
    load,
    mint,
    real_looking_ids,
    sandbox_client,
)
from tests.sandbox_fixtures import *  # noqa: F403  (sandbox, sandbox_state)

PROVIDER = registry.get("stripe")
REAL_API = "https://api.stripe.test"


def example_cred(prefix: str) -> Credential:
    return Credential(Secret(prefix + "EXAMPLE" + "0" * 30), base_url=REAL_API)


# -- key recognition --------------------------------------------------------------------------------


def test_does_not_claim_publishable_keys():  # other providers' tokens: test_recognition.py
    assert PROVIDER.recognise("pk_test_EXAMPLE" + "0" * 30) is None  # not a secret


# -- contract: the provider reads the documented responses ---------------------------------------------


async def test_secret_key_with_documented_list_is_full_access():
    routes = Routes({("GET", "/v1/charges"): load("stripe", "charges_list")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, example_cred("sk_live_"))
    assert report.outcome is Outcome.OK and report.token_kind == "secret key (live)"
    assert report.live_level is Level.ADMIN and report.details["mode"] == "live"
    assert routes.calls[0].url.params["limit"] == "1"


async def test_restricted_key_documented_403_is_valid_and_names_account_and_permission():
    routes = Routes({("GET", "/v1/charges"): load("stripe", "error_permission")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, example_cred("rk_test_"))
    assert report.outcome is Outcome.OK and report.status == 403
    assert report.identity == "acct_1EXAMPLE" and report.details["denied"] == ["rak_charge_read"]
    assert "does not have" not in repr(report)  # the message quotes a key: only patterns are kept
    assert {g.scope for g in report.grants} == {"*"}


async def test_documented_invalid_key_is_invalid():
    routes = Routes({("GET", "/v1/charges"): load("stripe", "error_invalid_key")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, example_cred("sk_test_"))
    assert report.outcome is Outcome.INVALID and report.error == "HTTP 401"


async def test_deep_probe_reads_documented_write_answers():
    """Permitted writes answer 400 (empty POST) or 404 (nonexistent id); denied ones 403."""
    answers = {
        ("GET", "/v1/charges"): load("stripe", "charges_list"),
        ("GET", "/v1/balance"): load("stripe", "balance"),
    }
    for probe in DEEP_PROBES:
        path = probe.path.split("?")[0]
        if probe.method == "POST":
            answers[("POST", path)] = load(
                "stripe", "error_resource_missing" if BOGUS_ID in path else "error_parameter_missing"
            )
        elif path != "/v1/balance":
            answers[("GET", path)] = load("stripe", "error_permission")
    routes = Routes(answers)
    async with routes.client() as client:
        report = await PROVIDER.probe(client, example_cred("rk_test_"), deep=True)
    writes = {p.scope for p in DEEP_PROBES if p.method == "POST"}
    granted = {g.scope for g in report.grants}
    assert granted == {"rak_charge_read", "rak_balance_read"} | writes
    assert report.live_level is Level.ADMIN  # rak_webhook_write
    assert report.identity == "acct_1EXAMPLE"
    assert report.requests == PROVIDER.deep_probe_requests


# -- contract: the sandbox answers with the documented shapes ------------------------------------------


async def _ask(state: SandboxState, method: str, path: str, token: str) -> httpx.Response:
    client, _ = sandbox_client(state)
    async with client:
        return await client.request(
            method, f"http://sandbox.invalid/stripe{path}", headers={"Authorization": f"Bearer {token}"}
        )


@pytest.mark.parametrize(
    "fixture, kind, method, path",
    [
        ("charges_list", "secret_test", "GET", "/v1/charges"),
        ("balance", "secret_test", "GET", "/v1/balance"),
        ("error_invalid_key", None, "GET", "/v1/charges"),
        ("error_permission", "restricted_live", "GET", "/v1/customers"),
        ("error_resource_missing", "secret_test", "POST", f"/v1/customers/{BOGUS_ID}"),
        ("error_parameter_missing", "secret_test", "POST", "/v1/charges"),
    ],
)
async def test_sandbox_answers_like_the_documentation(fixture, kind, method, path):
    state = SandboxState()
    token = sandbox_stripe.make_token("secret_test") if kind is None else mint(state, "stripe", kind).token
    assert_same_shape(await _ask(state, method, path, token), load("stripe", fixture))


# -- end to end through the in-process sandbox -----------------------------------------------------------


async def _probe(state: SandboxState, token: str, *, deep: bool = False):
    client, transport = sandbox_client(state)
    async with client:
        report = await PROVIDER.probe(client, cred(token, "stripe"), deep=deep)
    return report, transport


async def test_sandbox_outcomes():
    state = SandboxState()
    ok, transport = await _probe(state, mint(state, "stripe", "secret_test").token)
    assert ok.outcome is Outcome.OK and ok.live_level is Level.ADMIN and ok.details["mode"] == "test"
    assert [m for m, _ in transport.calls] == ["GET"]

    assert (await _probe(state, sandbox_stripe.make_token("secret_live")))[0].outcome is Outcome.INVALID
    limited, _ = await _probe(state, mint(state, "stripe", "secret_test", meta={"rate_limited": True}).token)
    assert limited.outcome is Outcome.RATE_LIMITED


async def test_sandbox_restricted_key_normal_probe_reads_only():
    state = SandboxState()
    report, transport = await _probe(state, mint(state, "stripe", "restricted_live").token)
    assert report.outcome is Outcome.OK and report.token_kind == "restricted key (live)"
    assert {g.scope for g in report.grants} == {"rak_charge_read", "*"}
    assert transport.calls == [("GET", "/stripe/v1/charges")]


async def test_sandbox_deep_probe_finds_restricted_permissions_with_bogus_ids_only():
    state = SandboxState()
    key = mint(
        state,
        "stripe",
        "restricted_test",
        scopes=["rak_charge_read", "rak_customer_write", "rak_product_read", "rak_payment_intent_write"],
    )
    report, transport = await _probe(state, key.token, deep=True)
    granted = {g.scope: g.level for g in report.grants}
    # write implies read: rak_customer_write also opens the customer list
    assert granted == {
        "rak_charge_read": Level.READ,
        "rak_customer_read": Level.READ,
        "rak_product_read": Level.READ,
        "rak_payment_intent_read": Level.READ,
        "rak_customer_write": Level.WRITE,
        "rak_payment_intent_write": Level.SEND,
    }
    assert "rak_webhook_write" in report.details["denied"]
    assert report.identity == sandbox_stripe.DEFAULT_ACCOUNT
    assert report.requests == PROVIDER.deep_probe_requests == len(transport.calls)
    paths = [path for _, path in transport.calls]
    assert real_looking_ids(paths) == []
    writes = [p for m, p in transport.calls if m == "POST"]
    assert writes and all(p.endswith(f"/{BOGUS_ID}") for p in writes if not p.endswith("/account_links")), writes


async def test_sandbox_deep_probe_of_a_secret_key_sends_nothing_more():
    state = SandboxState()
    report, transport = await _probe(state, mint(state, "stripe", "secret_live").token, deep=True)
    assert report.live_level is Level.ADMIN and len(transport.calls) == 1


# -- switches -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["revoke", "rotate", "restrict"])
async def test_switches_are_manual_roll_key_steps(action):
    state = SandboxState()
    key = mint(state, "stripe", "secret_live")
    client, transport = sandbox_client(state)
    async with client:
        call = getattr(PROVIDER, action)
        result = await (
            call(client, cred(key.token, "stripe"), Level.READ)
            if action == "restrict"
            else call(client, cred(key.token, "stripe"))
        )
    assert result.state is ActionState.MANUAL and transport.calls == []
    assert "dashboard.stripe.com/apikeys" in result.manual_steps[0]
    if action != "restrict":
        assert "Roll key" in result.manual_steps[1]


# -- through real HTTP on a loopback port ---------------------------------------------------------------


async def test_probe_over_loopback(sandbox):
    key = sandbox.mint("stripe", "restricted_test")
    base = sandbox.base_url("stripe").rsplit("/", 1)[0]
    async with httpx.AsyncClient() as client:
        report = await PROVIDER.probe(client, cred(key.token, "stripe", base=base), deep=True)
    assert report.outcome is Outcome.OK
    assert {"rak_charge_read", "rak_customer_write", "rak_product_read"} <= {g.scope for g in report.grants}
    sandbox.state.revoke(key.token)  # e.g. rolled in the dashboard
    async with httpx.AsyncClient() as client:
        after = await PROVIDER.probe(client, cred(key.token, "stripe", base=base))
    assert after.outcome is Outcome.INVALID
