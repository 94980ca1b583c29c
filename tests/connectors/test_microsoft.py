"""Microsoft Graph provider and its sandbox (sources: the documentation URLs cited in connectors/microsoft.py)."""

import base64
import json
from datetime import UTC, datetime

import httpx
import pytest

from connectors import registry
from connectors.base import ActionState, Credential, Level, Outcome, Secret
from connectors.microsoft import jwt_claims
from connectors.sandbox.core import SandboxState, TokenRecord
from connectors.sandbox.providers import microsoft as sandbox_ms
from connectors.sandbox.server import SandboxServer
from tests.connectors.fixtures.contract import (
    Routes,
    Unreachable,
    assert_same_shape,
    cred,
    load,
    sandbox_client,
)
from tests.sandbox_fixtures import *  # noqa: F403  (sandbox, sandbox_state)

PROVIDER = registry.get("microsoft")
REAL_API = "https://graph.example.test/v1.0"
ME = "/v1.0/me"


def jwt(claims: dict, signature: str = "SANDBOXsignature") -> str:
    """A JWT-shaped string around ``claims`` (unsigned: Breaker never verifies Graph's signature)."""
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")  # noqa: E731
    return f"{enc({'typ': 'JWT', 'alg': 'RS256', 'kid': 'example'})}.{enc(claims)}.{signature}"


DOC_TOKEN = jwt(load("microsoft", "access_token_claims")["body"])


def real(token: str = DOC_TOKEN, **kwargs) -> Credential:
    return Credential(Secret(token), base_url=REAL_API, **kwargs)


def add(
    state: SandboxState, kind: str, scopes: list[str] | None = None, identity: str | None = None, **fields
) -> TokenRecord:
    """A sandbox token whose JWT claims and grant (record scopes) agree."""
    token = sandbox_ms.make_token(kind, scopes=scopes, identity=identity)
    claims = jwt_claims(token)
    granted = scopes if scopes is not None else sandbox_ms.KINDS[kind]
    return state.add(
        TokenRecord(
            token=token,
            provider="microsoft",
            kind=kind,
            scopes=list(granted),
            identity=identity or claims.get("upn", "app"),
            **fields,
        )
    )


# -- key recognition and levels ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", [k for k in sandbox_ms.KINDS if k != "refresh"])
def test_sandbox_tokens_are_graph_jwts_that_say_sandbox(kind):  # recognition: test_recognition.py
    token = sandbox_ms.make_token(kind)
    assert "SANDBOX" in token and token.count(".") == 2
    assert jwt_claims(token)["aud"] == "https://graph.microsoft.com"
    assert "SANDBOX" in jwt_claims(token)["xms_sandbox"]


def test_a_sandbox_refresh_token_is_opaque_like_the_identity_platforms():
    token = sandbox_ms.make_token("refresh")
    assert token.startswith("0.ASANDBOX") and PROVIDER.recognise(token) is None  # `breaker add --refresh-token`


def test_a_jwt_for_another_audience_is_not_a_graph_token():
    assert PROVIDER.recognise(jwt({"aud": "api://something-else", "scp": "x"})) is None


# -- contract: the provider reads the documented responses ------------------------------------------


async def test_parses_documented_claims_and_me():
    routes = Routes({("GET", ME): load("microsoft", "me")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real())
    assert report.outcome is Outcome.OK and report.status == 200
    assert report.token_kind == "delegated token"
    assert report.identity == "MeganB@contoso.com"
    assert {g.scope: g.level for g in report.grants} == {
        "Mail.ReadWrite": Level.DRAFT,
        "User.Read": Level.READ,
        "openid": Level.READ,
        "profile": Level.READ,
        "email": Level.READ,
    }
    assert report.live_level is Level.DRAFT  # Mail.ReadWrite without Mail.Send: a real draft-only level
    assert report.expires_at == datetime.fromtimestamp(1767225600, tz=UTC)
    assert report.details["tid"] == "72f988bf-86f1-41af-91ab-2d7cd011db47"
    assert [r.method for r in routes.calls] == ["GET"]


async def test_documented_invalid_token_and_throttling():
    invalid = Routes({("GET", ME): load("microsoft", "invalid_token")})
    async with invalid.client() as client:
        bad = await PROVIDER.probe(client, real())
    throttled = Routes({("GET", ME): load("microsoft", "throttled")})
    async with throttled.client() as client:
        slow = await PROVIDER.probe(client, real())
    assert bad.outcome is Outcome.INVALID and "InvalidAuthenticationToken" in bad.error
    assert "expired at" in bad.error  # the documented claims' exp lies in the past
    assert slow.outcome is Outcome.RATE_LIMITED and slow.rate_limit.retry_after_s == 10


async def test_parses_documented_organization_for_an_app_token():
    claims = {**load("microsoft", "access_token_claims")["body"], "roles": ["Mail.Send", "Organization.Read.All"]}
    del claims["scp"], claims["upn"], claims["unique_name"]
    routes = Routes({("GET", "/v1.0/organization"): load("microsoft", "organization")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real(jwt(claims)))
    assert report.outcome is Outcome.OK and report.token_kind == "application token"
    assert report.identity == "Contoso Mail Drafter (Contoso)"
    assert report.live_level is Level.SEND


async def test_parses_documented_grant_and_session_revocation():
    grant_id = load("microsoft", "oauth2_permission_grant")["body"]["id"]
    routes = Routes(
        {
            ("GET", ME): load("microsoft", "me"),
            ("GET", f"/v1.0/oauth2PermissionGrants/{grant_id}"): load("microsoft", "oauth2_permission_grant"),
            ("PATCH", f"/v1.0/oauth2PermissionGrants/{grant_id}"): {"status": 204, "body": None},
            ("POST", "/v1.0/users/48d31887-5fad-4d73-a9f5-3c356e68a038/revokeSignInSessions"): load(
                "microsoft", "revoke_sign_in_sessions"
            ),
        }
    )
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real(extra={"grant_id": grant_id}))
        restrict = await PROVIDER.restrict(client, real(extra={"grant_id": grant_id}), Level.DRAFT)
        revoke = await PROVIDER.revoke(client, real())
    assert report.details["grant_scope"] == "Mail.ReadWrite Mail.Send User.Read"
    assert restrict.state is ActionState.APPLIED and restrict.details["removed"] == ["Mail.Send"]
    assert json.loads(routes.calls[-2].content) == {"scope": "User.Read Mail.ReadWrite"}
    assert revoke.state is ActionState.APPLIED and "until they expire" in revoke.message


# -- contract: the sandbox answers with the documented shapes ---------------------------------------


async def test_sandbox_matches_documented_shapes():
    state = SandboxState()
    user = add(state, "delegated")
    app = add(state, "application")
    admin = add(state, "admin")
    client, _ = sandbox_client(state)
    base = cred(user.token, "microsoft").base_url
    bearer = lambda r: {"Authorization": f"Bearer {r.token}"}  # noqa: E731
    async with client:
        me = await client.get(f"{base}/me", headers=bearer(user))
        org = await client.get(f"{base}/organization", headers=bearer(app))
        unknown = await client.get(f"{base}/me", headers={"Authorization": "Bearer eyJnope.eyJnope.SANDBOX"})
        grant = await client.get(f"{base}/oauth2PermissionGrants/{user.key_id}", headers=bearer(admin))
        revoked = await client.post(
            f"{base}/users/{jwt_claims(user.token)['oid']}/revokeSignInSessions", headers=bearer(admin)
        )
    assert_same_shape(me, load("microsoft", "me"))
    assert_same_shape(org, load("microsoft", "organization"))
    assert_same_shape(unknown, load("microsoft", "invalid_token"))
    assert_same_shape(grant, load("microsoft", "oauth2_permission_grant"))
    assert_same_shape(revoked, load("microsoft", "revoke_sign_in_sessions"))


# -- every outcome, end to end through the in-process sandbox ---------------------------------------


async def test_outcomes_through_the_sandbox():
    state = SandboxState()
    drafts = add(state, "delegated_drafts")
    no_user_read = add(state, "delegated", scopes=["Mail.Read"])
    expired = sandbox_ms.make_token("delegated", lifetime_s=-60)
    state.add(TokenRecord(token=expired, provider="microsoft", kind="delegated"))
    client, transport = sandbox_client(state)
    async with client:
        ok = await PROVIDER.probe(client, cred(drafts.token, "microsoft"))
        forbidden = await PROVIDER.probe(client, cred(no_user_read.token, "microsoft"))
        dead = await PROVIDER.probe(client, cred(expired, "microsoft"))
        unknown = await PROVIDER.probe(client, cred(sandbox_ms.make_token("delegated"), "microsoft"))
    assert ok.outcome is Outcome.OK and ok.identity == "sandbox-user@sandbox.example"
    assert ok.live_level is Level.DRAFT
    assert forbidden.outcome is Outcome.FORBIDDEN and forbidden.live_level is Level.READ  # claims still read
    assert dead.outcome is Outcome.INVALID and "expired" in dead.error
    assert unknown.outcome is Outcome.INVALID
    assert {method for method, _ in transport.calls} == {"GET"}


async def test_opaque_token_is_ok_without_grants():  # unreachable, malformed: test_failures.py
    opaque = Routes({("GET", ME): load("microsoft", "me")})
    async with opaque.client() as client:
        report = await PROVIDER.probe(client, real("EwBSANDBOXopaque"))
    assert report.outcome is Outcome.OK and report.grants == [] and report.token_kind.startswith("opaque")


# -- switches ---------------------------------------------------------------------------------------


async def test_sandbox_mint_makes_the_token_from_the_records_scopes_and_identity():
    """The token carries its scopes as claims, so mint() must make it from the record's grant, not the kind's."""
    server = SandboxServer()  # minting needs no running server
    drafts = server.mint("microsoft", "delegated", scopes=["User.Read", "Mail.ReadWrite"], identity="ada")
    admin = server.mint("microsoft", "admin")
    app = server.mint("microsoft", "application", scopes=["Mail.Send"])
    assert jwt_claims(drafts.token)["scp"] == "User.Read Mail.ReadWrite"
    assert drafts.scopes == ["User.Read", "Mail.ReadWrite"]
    assert jwt_claims(drafts.token)["upn"] == "ada@sandbox.example" and drafts.identity == "ada"
    assert jwt_claims(admin.token)["upn"] == "sandbox-admin@sandbox.example" and admin.identity == "sandbox-admin"
    assert jwt_claims(app.token)["roles"] == ["Mail.Send"] and app.scopes == ["Mail.Send"]
    client, _ = sandbox_client(server.state)
    async with client:
        report = await PROVIDER.probe(client, cred(drafts.token, "microsoft"))
    assert report.outcome is Outcome.OK and report.live_level is Level.DRAFT and report.identity.startswith("ada@")


async def test_restrict_to_draft_only_narrows_the_grant():
    state = SandboxState()
    user = add(state, "delegated")
    admin = add(state, "admin")
    credential = cred(user.token, "microsoft", extra={"grant_id": user.key_id}, admin_secret=Secret(admin.token))
    client, transport = sandbox_client(state)
    async with client:
        result = await PROVIDER.restrict(client, credential, Level.DRAFT)
        after = await PROVIDER.probe(client, credential)
        again = await PROVIDER.restrict(client, credential, Level.DRAFT)
    assert result.state is ActionState.APPLIED and result.status == 204
    assert result.details == {"kept": ["User.Read", "Mail.ReadWrite", "offline_access"], "removed": ["Mail.Send"]}
    assert ("PATCH", f"/microsoft/v1.0/oauth2PermissionGrants/{user.key_id}") in transport.calls
    assert state.get(user.token).scopes == ["User.Read", "Mail.ReadWrite", "offline_access"]
    assert "Mail.Send" not in after.details["grant_scope"]
    # the issued token keeps Mail.Send until it expires, and the report says so
    mail_send = next(g for g in after.grants if g.scope == "Mail.Send")
    assert "removed from the grant" in mail_send.note
    assert again.state is ActionState.APPLIED and again.details["removed"] == []


async def test_restrict_needs_a_grant_id_a_delegated_token_and_permission():
    state = SandboxState()
    user = add(state, "delegated")
    app = add(state, "application")
    client, _ = sandbox_client(state)
    async with client:
        no_id = await PROVIDER.restrict(client, cred(user.token, "microsoft"), Level.DRAFT)
        app_only = await PROVIDER.restrict(
            client, cred(app.token, "microsoft", extra={"grant_id": app.key_id}), Level.READ
        )
        denied = await PROVIDER.restrict(
            client, cred(user.token, "microsoft", extra={"grant_id": user.key_id}), Level.DRAFT
        )
    assert no_id.state is ActionState.MANUAL and any("Mail.Send" in s for s in no_id.manual_steps)
    assert app_only.state is ActionState.MANUAL
    assert denied.state is ActionState.FAILED and denied.status == 403 and not denied.retryable


async def test_revoke_sessions_then_probe_is_invalid():
    state = SandboxState()
    user = add(state, "delegated", identity="ana")
    admin = add(state, "admin")
    client, transport = sandbox_client(state)
    async with client:
        denied = await PROVIDER.revoke(client, cred(user.token, "microsoft"))
        result = await PROVIDER.revoke(client, cred(user.token, "microsoft", admin_secret=Secret(admin.token)))
        after = await PROVIDER.probe(client, cred(user.token, "microsoft"))
        admin_after = await PROVIDER.probe(client, cred(admin.token, "microsoft"))
    assert denied.state is ActionState.FAILED and denied.status == 403
    assert result.state is ActionState.APPLIED and result.status == 200 and result.irreversible
    assert after.outcome is Outcome.INVALID
    assert admin_after.outcome is Outcome.OK  # another user's sessions are untouched


async def test_app_token_revoke_is_manual_and_failures_are_results():
    state = SandboxState()
    app = add(state, "application")
    client, _ = sandbox_client(state)
    async with client:
        manual = await PROVIDER.revoke(client, cred(app.token, "microsoft"))
    async with httpx.AsyncClient(transport=Unreachable()) as client:
        down = await PROVIDER.revoke(client, real())
        rotate = await PROVIDER.rotate(client, real())
    assert manual.state is ActionState.MANUAL and any("entra.microsoft.com" in s for s in manual.manual_steps)
    assert down.state is ActionState.FAILED and down.retryable
    assert rotate.state is ActionState.MANUAL


# -- real HTTP through the loopback sandbox ---------------------------------------------------------


async def test_probe_and_revoke_over_real_http(sandbox):
    record = sandbox.mint("microsoft", "delegated_drafts")
    admin = sandbox.mint("microsoft", "admin", token=sandbox_ms.make_token("admin"))
    credential = Credential(
        Secret(record.token), base_url=sandbox.base_url("microsoft"), admin_secret=Secret(admin.token)
    )
    async with httpx.AsyncClient(timeout=5) as client:
        before = await PROVIDER.probe(client, credential)
        result = await PROVIDER.revoke(client, credential)
        after = await PROVIDER.probe(client, credential)
    assert before.outcome is Outcome.OK and before.live_level is Level.DRAFT
    assert result.state is ActionState.APPLIED
    assert after.outcome is Outcome.INVALID
    oid = jwt_claims(record.token)["oid"]
    assert ("POST", f"/microsoft/v1.0/users/{oid}/revokeSignInSessions") in sandbox.calls("microsoft")
