"""stripe-python against the sandbox: https://github.com/stripe/stripe-python (``base_addresses``).

Stripe has no generally available API that revokes or expires a key (the v2 IAM ``…/expire`` is a
private preview this SDK version does not expose), so there is no revoke through the client here.
"""

from __future__ import annotations

import pytest
import stripe

from tests.clients.conftest import on_sandbox


def client(sandbox, token: str) -> stripe.StripeClient:
    base = on_sandbox(sandbox, "stripe", stripe.DEFAULT_API_BASE)  # https://api.stripe.com
    return stripe.StripeClient(token, base_addresses={"api": base}, max_network_retries=0)


def test_the_probe_calls_through_stripe_python(sandbox):
    record = sandbox.mint("stripe", "restricted_test")  # charges, customers (read/write), products
    api = client(sandbox, record.token)
    charges = api.v1.charges.list()  # https://docs.stripe.com/api/charges/list: the verify call
    assert charges.url == "/v1/charges" and list(charges.auto_paging_iter()) == []
    # A restricted key without the permission: Stripe's 403 names it (https://docs.stripe.com/keys#limit-access).
    with pytest.raises(stripe.PermissionError, match="rak_balance_read"):
        api.v1.balance.retrieve()
    # A write to an id that does not exist: the deep probe's way to learn write access.
    with pytest.raises(stripe.InvalidRequestError) as missing:
        api.v1.customers.update("cus_nowaythiscanexist", {"name": "x"})
    assert missing.value.code == "resource_missing" and missing.value.http_status == 404


def test_the_account_a_denial_names_is_the_one_the_client_retrieves(sandbox):
    restricted = sandbox.mint("stripe", "restricted_test")
    with pytest.raises(stripe.PermissionError) as denied:
        client(sandbox, restricted.token).v1.balance.retrieve()
    secret = sandbox.mint("stripe", "secret_test")
    account = client(sandbox, secret.token).v1.accounts.retrieve_current()  # GET /v1/account
    assert account.object == "account" and f"account '{account.id}'" in str(denied.value)


def test_a_revoked_key_is_refused_with_the_client_s_authentication_error(sandbox, breaker_probe):
    record = sandbox.mint("stripe", "secret_test")
    sandbox.state.revoke(record.token)  # rolled in the Dashboard: there is no API for it
    with pytest.raises(stripe.AuthenticationError):
        client(sandbox, record.token).v1.charges.list()
    assert breaker_probe("stripe", record.token).outcome.value == "invalid"
