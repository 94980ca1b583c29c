"""Stripe: secret keys (``sk_``, full access) and restricted keys (``rk_``).

The verify call is ``GET /v1/charges``: 200 or 403 mean a valid key (403 = a restricted key
without charges read), 401 an invalid one. A secret key is full access, so ``admin``. A restricted
key's permissions (``rak_<resource>_<read|write>``, write implies read) have no introspection
endpoint: a deep probe lists collections (GET) and sends writes that cannot succeed: a POST to the
update endpoint of a nonexistent id (404 when permitted, 403 when not) — never an empty create,
which for invoices creates a draft — and, for account links (no update endpoint), an empty POST
that can only fail validation.

Switches are manual: Stripe's dashboard "Roll key…" replaces a key, with a chosen expiry for the
old one. (The v2 IAM API has ``/v2/iam/api_keys/{id}/expire`` and ``/rotate`` but is a private
preview behind a preview ``Stripe-Version``; we do not build on it.)
"""

from __future__ import annotations

import re

import httpx

from connectors.base import Credential, Grant, KeyPattern, Level, Outcome, ProbeReport, Provider, RateLimitState, Verb
from connectors.http import (
    PermissionProbe,
    field_text,
    guard,
    json_body,
    json_or_none,
    outcome_for_status,
    record_permission_run,
    retry_after_seconds,
    run_permission_probes,
)

BOGUS_ID = "nonexistent_breaker_probe"  # deliberately not shaped like a Stripe id (cus_…)

_W = (400,)  # an empty POST fails validation after the permission check
_MISSING = (404,)  # a POST to a nonexistent id


def _read(resource: str, scope: str) -> PermissionProbe:
    return PermissionProbe(scope, "GET", f"/v1/{resource}?limit=1", (200,), denied=(403,))


def _write(path: str, scope: str, permitted: tuple[int, ...] = _W) -> PermissionProbe:
    return PermissionProbe(scope, "POST", path, permitted, denied=(403,))


DEEP_PROBES: tuple[PermissionProbe, ...] = (
    PermissionProbe("rak_balance_read", "GET", "/v1/balance", (200,), denied=(403,)),
    _read("customers", "rak_customer_read"),
    _read("invoices", "rak_invoice_read"),
    _read("payment_intents", "rak_payment_intent_read"),
    _read("payouts", "rak_payout_read"),
    _read("products", "rak_product_read"),
    _read("prices", "rak_plan_read"),
    _read("subscriptions", "rak_subscription_read"),
    _read("events", "rak_event_read"),
    _read("webhook_endpoints", "rak_webhook_read"),
    # Writes go to the update endpoint of an id that does not exist: permitted → 404 resource_missing,
    # denied → 403. Never a create with an empty body: POST /v1/invoices needs no parameter at all
    # (`customer` is optional) and creates a draft invoice
    # (https://docs.stripe.com/api/invoices/create, https://docs.stripe.com/api/invoices/update).
    *(
        _write(f"/v1/{resource}/{BOGUS_ID}", scope, _MISSING)
        for resource, scope in (
            ("customers", "rak_customer_write"),
            ("products", "rak_product_write"),
            ("prices", "rak_plan_write"),
            ("charges", "rak_charge_write"),
            ("payment_intents", "rak_payment_intent_write"),
            ("payouts", "rak_payout_write"),
            ("transfers", "rak_transfer_write"),
            ("invoices", "rak_invoice_write"),
            ("subscriptions", "rak_subscription_write"),
            ("payment_links", "rak_payment_links_write"),
            ("webhook_endpoints", "rak_webhook_write"),
        )
    ),
    # Account links have no update endpoint; a create needs `account`, `type` and URLs, so an empty
    # body can only fail validation (https://docs.stripe.com/api/account_links/create).
    _write("/v1/account_links", "rak_account_link_write"),
)

_PERMISSION = re.compile(r"'(rak_[a-z_]+)' permission")
_ACCOUNT = re.compile(r"on account '(acct_[A-Za-z0-9]+)'")


def _message(response: httpx.Response) -> str:
    """The error message (it can quote a redacted key: only ever match patterns in it, never store it)."""
    return field_text(json_or_none(response), "error.message")


def _class_table() -> dict[str, Level]:
    table: dict[str, Level] = {"full_access": Level.ADMIN}
    for probe in DEEP_PROBES:
        table[probe.scope] = Level.READ if probe.scope.endswith("_read") else Level.WRITE
    send = (
        "charge",
        "payment_intent",
        "payout",
        "transfer",
        "topup",
        "invoice",
        "credit_note",
        "subscription",
        "checkout_session",
        "payment_links",
        "issuing_card",
    )  # moves money or notifies customers
    admin = ("webhook", "account_link", "edit_link")
    table |= {f"rak_{r}_write": Level.SEND for r in send} | {f"rak_{r}_write": Level.ADMIN for r in admin}
    table |= {f"rak_{r}_read": Level.READ for r in (*send, *admin)}
    return table


class Stripe(Provider):
    name = "stripe"
    title = "Stripe"
    base_url = "https://api.stripe.com"
    key_patterns = (
        KeyPattern(r"sk_live_[0-9a-zA-Z]{20,247}", "secret key (live)"),
        KeyPattern(r"sk_test_[0-9a-zA-Z]{20,247}", "secret key (test)"),
        KeyPattern(r"rk_live_[0-9a-zA-Z]{20,247}", "restricted key (live)"),
        KeyPattern(r"rk_test_[0-9a-zA-Z]{20,247}", "restricted key (test)"),
    )
    scope_levels = _class_table()
    dashboard_url = "https://dashboard.stripe.com/apikeys"
    env_var = "STRIPE_API_KEY"
    request_table = "connectors.rules.simple:STRIPE"  # what the gateway allows, per request
    gateway_url = "https://api.stripe.com"
    gateway_env = {"STRIPE_API_BASE": ""}  # see README "Routing a connector through the gateway"
    deep_probe_requests = 1 + len(DEEP_PROBES)

    async def probe(self, client: httpx.AsyncClient, cred: Credential, *, deep: bool = False) -> ProbeReport:
        return await guard(lambda: self._probe(client, cred, deep), deep=deep, cred=cred)

    async def _probe(self, client: httpx.AsyncClient, cred: Credential, deep: bool) -> ProbeReport:
        key = cred.secret.reveal()
        restricted, live = key.startswith("rk_"), "_live_" in key
        headers = {"Authorization": f"Bearer {key}"}
        response = await client.get(self.url(cred, "/v1/charges"), headers=headers, params={"limit": 1})
        status = response.status_code
        # unconfirmed: Stripe's rate-limit headers are not documented; only Retry-After is read
        report = ProbeReport(
            outcome_for_status(status),
            status=status,
            requests=1,
            rate_limit=RateLimitState(retry_after_s=retry_after_seconds(response.headers)),
            token_kind=f"{'restricted' if restricted else 'secret'} key ({'live' if live else 'test'})",
            details={"mode": "live" if live else "test"},
        )
        if status not in (200, 403):
            report.error = f"HTTP {status}"
            return report
        report.outcome = Outcome.OK  # 403 = valid restricted key without charges read (TH)
        if status == 200:
            if json_body(response).get("object") != "list":
                report.outcome, report.error = Outcome.ERROR, "malformed response: not a list"
                return report
            report.grants.append(
                Grant("rak_charge_read", Level.READ)
                if restricted
                else Grant("full_access", Level.ADMIN, note="secret key: every API resource")
            )
        else:
            denial = _message(response)
            report.details["denied"] = _PERMISSION.findall(denial) or ["rak_charge_read"]
            if account := _ACCOUNT.search(denial):
                report.identity = account.group(1)
        if not restricted:
            return report
        if not deep:
            report.grants.append(self.assumed_grant("restricted-key permissions are only known after a deep probe"))
            return report
        run = await run_permission_probes(client, self, cred, DEEP_PROBES, headers)
        record_permission_run(report, self, run)
        if not report.identity:
            report.identity = next((a.group(1) for r in run.denials if (a := _ACCOUNT.search(_message(r)))), "")
        return report

    def manual_steps(self, action: Verb) -> list[str]:
        where = f"Open {self.dashboard_url} (test-mode keys: https://dashboard.stripe.com/test/apikeys)"
        steps = {
            Verb.REVOKE: [
                where,
                "On the key's row choose ⋯ → Roll key…, set the old key to expire now, and do not "
                "hand out the new one (or Delete, for a restricted key).",
            ],
            Verb.ROTATE: [
                where,
                "On the key's row choose ⋯ → Roll key…, pick an expiry for the old key, copy the new "
                "key and paste it into Breaker (it probes it before swapping).",
            ],
            Verb.RESTRICT: [
                where,
                "Create a restricted key (rk_…) with only the permissions the task needs; register "
                "it as the reduced credential, then roll the old key.",
            ],
        }.get(action)
        if steps is None:
            return super().manual_steps(action)
        return [*steps, "Come back to Breaker and probe the connector to verify."]
