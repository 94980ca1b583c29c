"""Stripe in the sandbox (https://docs.stripe.com/api, restricted keys: https://docs.stripe.com/keys#limit-access,
errors: https://docs.stripe.com/api/errors).

Kinds ``secret_test``/``secret_live`` are full-access keys; ``restricted_test``/``restricted_live``
hold the ``rak_<resource>_<read|write>`` permissions in ``scopes`` (write implies read). Collection
GETs answer empty lists, empty POSTs answer 400 and POSTs to an id answer 404: the sandbox never
creates anything, and it answers 403 with Stripe's "Having the 'rak_…' permission" text when a
restricted key lacks the permission. Stripe has no key-management API here (v2 IAM is a preview),
so there are no switch endpoints. ``meta["rate_limited"]`` makes calls 429.
"""

from __future__ import annotations

import base64
import secrets
import string

from connectors.sandbox.core import SandboxRequest, SandboxResponse, SandboxState, TokenRecord, json_response

PREFIX = "stripe"
KINDS = {
    "secret_test": [],
    "secret_live": [],
    "restricted_test": ["rak_charge_read", "rak_customer_read", "rak_customer_write", "rak_product_read"],
    "restricted_live": ["rak_charge_read", "rak_balance_read"],
}
_PREFIXES = {
    "secret_test": "sk_test_",
    "secret_live": "sk_live_",
    "restricted_test": "rk_test_",
    "restricted_live": "rk_live_",
}
DEFAULT_ACCOUNT = "acct_1SANDBOX"

# collection path → the resource part of its permission name (rak_<resource>_<read|write>, as the
# 403 text names it; the table follows TruffleHog's analyzers/stripe/restricted.yaml)
RESOURCES = {
    "balance": "balance",
    "charges": "charge",
    "customers": "customer",
    "invoices": "invoice",
    "payment_intents": "payment_intent",
    "payouts": "payout",
    "products": "product",
    "prices": "plan",
    "subscriptions": "subscription",
    "events": "event",
    "webhook_endpoints": "webhook",
    "transfers": "transfer",
    "payment_links": "payment_links",
    "account_links": "account_link",
}


def make_token(kind: str) -> str:
    return (
        _PREFIXES[kind] + "SANDBOX" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(92))
    )


def _error(status: int, message: str, code: str | None = None, param: str | None = None) -> SandboxResponse:
    error: dict = {"message": message, "type": "invalid_request_error"}
    if code:
        error |= {
            "code": code,
            "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
            "param": param,
        }
    return json_response(status, {"error": error}, {"request-id": f"req_SANDBOX{secrets.token_hex(6)}"})


def _basic_username(req: SandboxRequest) -> str | None:
    """Stripe's documented form: HTTP Basic with the key as the user name and no password
    (https://docs.stripe.com/api/authentication); the official libraries send it as Bearer."""
    auth = req.headers.get("authorization", "")
    if not auth.lower().startswith("basic "):
        return None
    try:
        return base64.b64decode(auth[6:].strip()).decode().partition(":")[0] or None
    except (ValueError, UnicodeDecodeError):
        return None


def _caller(req: SandboxRequest, state: SandboxState) -> tuple[TokenRecord | None, SandboxResponse | None]:
    token = req.bearer() or _basic_username(req)
    record = state.get(token, PREFIX)
    if record is None or not record.live:
        shown = (token or "")[:8]
        return None, _error(401, f"Invalid API Key provided: {shown}{'*' * 12}")
    if record.meta.get("rate_limited"):
        return None, _error(
            429,
            "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
            code="rate_limit",
        )
    return record, None


def _allowed(record: TokenRecord, resource: str, write: bool) -> bool:
    if record.kind.startswith("secret"):
        return True
    held = set(record.scopes)
    return f"rak_{resource}_write" in held or (not write and f"rak_{resource}_read" in held)


def _check(
    req: SandboxRequest, state: SandboxState, collection: str, write: bool
) -> tuple[TokenRecord | None, SandboxResponse | None]:
    record, refusal = _caller(req, state)
    if record is None:
        return None, refusal
    resource = RESOURCES.get(collection)
    if resource is None:
        return None, _error(404, f"Unrecognized request URL ({req.method}: /v1/{collection}).")
    if not _allowed(record, resource, write):
        permission = f"rak_{resource}_{'write' if write else 'read'}"
        shown = record.token[:8] + "*" * 12
        return None, _error(
            403,
            f"The provided key '{shown}' does not have the required permissions for this "
            f"endpoint on account '{record.meta.get('account_id', DEFAULT_ACCOUNT)}'. Having the "
            f"'{permission}' permission would allow this request to continue.",
        )
    return record, None


def account(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    """``GET /v1/account``: the account a key belongs to, the one Stripe's 403 text names
    (https://docs.stripe.com/api/accounts/retrieve). ❓ the restricted-key permission for it is
    assumed to be ``rak_account_read``."""
    record, refusal = _caller(req, state)
    if record is None:
        return refusal  # type: ignore[return-value]
    if not _allowed(record, "account", write=False):
        return _error(
            403,
            f"The provided key '{record.token[:8]}{'*' * 12}' does not have the required permissions for this "
            f"endpoint on account '{record.meta.get('account_id', DEFAULT_ACCOUNT)}'. Having the "
            "'rak_account_read' permission would allow this request to continue.",
        )
    body = {
        "id": record.meta.get("account_id", DEFAULT_ACCOUNT),
        "object": "account",
        "business_type": "company",
        "charges_enabled": True,
        "country": "US",
        "default_currency": "usd",
        "details_submitted": True,
        "email": f"{record.identity}@sandbox.invalid",
        "payouts_enabled": True,
        "settings": {"dashboard": {"display_name": "Sandbox Co", "timezone": "Etc/UTC"}},
        "type": "standard",
    }
    return json_response(200, body, {"request-id": f"req_SANDBOX{secrets.token_hex(6)}"})


def balance(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, refusal = _check(req, state, "balance", write=False)
    if record is None:
        return refusal  # type: ignore[return-value]
    money = [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}]
    return json_response(
        200, {"object": "balance", "available": money, "livemode": "_live_" in record.token, "pending": money}
    )


def list_collection(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    collection = match.group("collection")
    record, refusal = _check(req, state, collection, write=False)
    if record is None:
        return refusal  # type: ignore[return-value]
    return json_response(200, {"object": "list", "data": [], "has_more": False, "url": f"/v1/{collection}"})


def create(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    record, refusal = _check(req, state, match.group("collection"), write=True)
    if record is None:
        return refusal  # type: ignore[return-value]
    return _error(
        400, "Missing required param: the sandbox never creates anything.", code="parameter_missing", param="amount"
    )


def update(req: SandboxRequest, state: SandboxState, match) -> SandboxResponse:
    collection = match.group("collection")
    record, refusal = _check(req, state, collection, write=True)
    if record is None:
        return refusal  # type: ignore[return-value]
    return _error(404, f"No such {RESOURCES[collection]}: '{match.group('id')}'", code="resource_missing", param="id")


ROUTES = [
    ("GET", r"/v1/balance", balance),
    ("GET", r"/v1/account", account),
    ("GET", r"/v1/(?P<collection>[a-z_]+)", list_collection),
    ("POST", r"/v1/(?P<collection>[a-z_]+)", create),
    ("POST", r"/v1/(?P<collection>[a-z_]+)/(?P<id>[^/]+)", update),
]
