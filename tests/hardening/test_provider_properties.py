"""Issue 10, "what must be shown": every provider's probe and switch calls, fed ARBITRARY JSON (any
shape, any status, the key echoed in any form), end in a report or a result — no exception escapes
to become "provider error: KeyError" or "unexpected error" — and no form of the key survives in
anything they return. (The services' last-resort ``except Exception`` is not counted: the property
holds at the provider.)"""

from __future__ import annotations

import asyncio
import base64
import dataclasses

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import registry
from connectors.base import ActionResult, Credential, Level, ProbeReport, Secret
from tests.hardening.test_key_leaks import KEY, assert_clean

ADMIN = "sk-admin-SANDBOXLEAK" + "Qm4Rt7Wz2Kx9Np5Vb3Lc8Hd" + "Ad1n"
PROVIDERS = registry.names()

# Keys a provider's JSON is likely to be read by, so the shapes reach its parsing, not only its first check.
KEYS = st.sampled_from(
    [
        "ok", "error", "errors", "message", "data", "id", "name", "login", "user", "username", "email", "scopes",
        "scope", "team", "team_id", "user_id", "bot_id", "organization", "orgs", "projects", "api_keys", "object",
        "expires_at", "expiresAt", "created_at", "type", "token", "key", "value", "status", "results", "items",
        "grants", "permissions", "role", "owner", "workspace_name", "bot", "url", "access_token", "token_type",
        "hub_id", "app_id", "appId", "scp", "roles", "displayName", "userPrincipalName", "livemode", "account",
        "redacted_value", "partial_key_hint", "last_used_at", "revoked", "active", "key_id", "next", "links",
    ]
)  # fmt: skip
ECHOES = st.sampled_from(
    [KEY, KEY.upper(), KEY[:-4], base64.b64encode(KEY.encode()).decode(), f"Bearer {KEY}", ADMIN, ADMIN.lower()]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | ECHOES
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=8), inner, max_size=6),
    max_leaves=15,
)
RESPONSE = st.tuples(
    st.sampled_from([200, 200, 200, 201, 204, 400, 401, 403, 404, 409, 422, 429, 500, 503]),
    JSON,
    st.dictionaries(
        st.sampled_from(
            [
                "retry-after",
                "x-ratelimit-remaining",
                "x-oauth-scopes",
                "x-accepted-oauth-scopes",
                "x-ratelimit-reset",
                "link",
                "www-authenticate",
            ]
        ),  # fmt: skip
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30) | ECHOES,
        max_size=3,
    ),
)
CALLS = ("probe", "deep probe", "revoke", "restrict", "rotate", "reenable")


def credential() -> Credential:
    extra = {
        "grant_id": "g-1", "user_id": "u-1", "project_id": "proj_1", "key_id": "key_1", "client_id": "client-1",
        "token_type": "private_app", "url": "http://127.0.0.1:9/me", "auth_header": "Authorization: Bearer {token}",
        "identity_field": "user.login", "org": "acme", "organization_id": "org-1", "workspace_id": "ws-1",
    }  # fmt: skip
    return Credential(secret=Secret(KEY), base_url="http://127.0.0.1:9", extra=extra, admin_secret=Secret(ADMIN))


async def call(provider, name: str, responses: list) -> object:
    served = iter(responses * 50)

    def answer(request: httpx.Request) -> httpx.Response:
        status, body, headers = next(served)
        if status == 204:
            return httpx.Response(204, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer), timeout=2) as client:
        cred = credential()
        if name == "probe":
            return await provider.probe(client, cred)
        if name == "deep probe":
            return await provider.probe(client, cred, deep=True)
        if name == "restrict":
            return await provider.restrict(client, cred, Level.READ)
        return await getattr(provider, name)(client, cred)


def texts(value: object) -> str:
    """Every text a report or result carries, flattened."""
    if isinstance(value, Secret):
        return ""  # a rotation's new key travels as a Secret, never as text
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return " ".join(texts(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, dict):
        return " ".join(texts(k) + " " + texts(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return " ".join(texts(v) for v in value)
    return str(value)


@pytest.mark.parametrize("provider_name", PROVIDERS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(name=st.sampled_from(CALLS), responses=st.lists(RESPONSE, min_size=1, max_size=4))
def test_any_json_answer_ends_in_a_report_and_carries_no_key(provider_name, name, responses):
    provider = registry.get(provider_name)
    result = asyncio.run(call(provider, name, responses))
    expected = ProbeReport if "probe" in name else ActionResult
    assert isinstance(result, expected), f"{provider_name} {name} returned {result!r}"
    shown = texts(result)
    assert_clean(f"{provider_name} {name}", shown)
    assert ADMIN not in shown and ADMIN[:-4] not in shown and ADMIN.lower() not in shown
