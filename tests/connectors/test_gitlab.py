"""GitLab provider and its sandbox (sources: the documentation URLs cited in connectors/gitlab.py)."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from connectors import registry
from connectors.base import ActionState, Credential, Level, Outcome, Secret
from connectors.sandbox.core import SandboxState
from connectors.sandbox.providers import gitlab as sandbox_gitlab
from tests.connectors.fixtures.contract import (
    Routes,
    Unreachable,
    assert_same_shape,
    cred,
    load,
    mint,
    sandbox_client,
)
from tests.sandbox_fixtures import *  # noqa: F403  (sandbox, sandbox_state)

PROVIDER = registry.get("gitlab")
REAL_API = "https://gitlab.example.test/api/v4"
TOKEN = "glpat-SANDBOXexample0000"


def real(token: str = TOKEN) -> Credential:
    return Credential(Secret(token), base_url=REAL_API)


SELF = "/api/v4/personal_access_tokens/self"


# -- key recognition --------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["glpat-SANDBOX" + "a" * 30 + ".01.abcdefghi", "SIE-glpat-SANDBOXabcdef12345678"])
def test_recognises_routable_and_instance_prefixed_tokens(token):
    assert PROVIDER.recognise(token) is not None


# -- contract: the provider reads the documented responses ------------------------------------------


async def test_parses_documented_token_self_and_user():
    routes = Routes({("GET", SELF): load("gitlab", "pat_self"), ("GET", "/api/v4/user"): load("gitlab", "user")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real())
    assert report.outcome is Outcome.OK and report.status == 200
    assert [(g.scope, g.level) for g in report.grants] == [("api", Level.SEND)]
    assert report.expires_at == datetime(2023, 10, 28, tzinfo=UTC)
    assert report.identity == "john_smith"
    assert report.details["name"] == "Test Token" and report.details["user_id"] == 43793
    assert report.rate_limit.limit == 2000 and report.rate_limit.remaining == 1999
    assert report.rate_limit.reset_at is not None
    assert [r.method for r in routes.calls] == ["GET", "GET"]
    assert routes.calls[0].headers["private-token"] == TOKEN


async def test_documented_revoked_answer_is_revoked():
    routes = Routes({("GET", SELF): load("gitlab", "token_revoked")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real())
    assert report.outcome is Outcome.REVOKED and report.status == 401


async def test_revoked_flag_in_the_body_is_revoked():
    body = {
        **load("gitlab", "pat_self"),
        "body": {**load("gitlab", "pat_self")["body"], "revoked": True, "active": False},
    }
    routes = Routes({("GET", SELF): body})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real())
    assert report.outcome is Outcome.REVOKED and len(routes.calls) == 1


async def test_documented_plain_401_is_invalid():
    routes = Routes({("GET", SELF): load("gitlab", "unauthorized")})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real())
    assert report.outcome is Outcome.INVALID and report.error == "401 Unauthorized"


async def test_parses_documented_rotation():
    routes = Routes({("POST", SELF + "/rotate"): load("gitlab", "pat_rotate")})
    async with routes.client() as client:
        result = await PROVIDER.rotate(client, real())
    assert result.state is ActionState.APPLIED and result.status == 200
    assert result.new_secret == Secret("glpat-SANDBOXplaceholder1")
    assert result.details == {"expires_at": "2023-10-05", "token_id": 34992}
    assert "glpat-" not in result.message and "glpat-" not in repr(result)


async def test_rotation_answer_without_a_token_fails_loudly():
    routes = Routes({("POST", SELF + "/rotate"): {"status": 200, "body": {"id": 1}}})
    async with routes.client() as client:
        result = await PROVIDER.rotate(client, real())
    assert result.state is ActionState.FAILED and result.new_secret is None


# -- contract: the sandbox answers with the documented shapes ---------------------------------------


async def test_sandbox_matches_documented_shapes():
    state = SandboxState()
    record = mint(state, "gitlab", "personal", expires_at=datetime.now(UTC) + timedelta(days=30))
    revoked = mint(state, "gitlab", "personal", revoked=True)
    client, _ = sandbox_client(state)
    base = cred(record.token, "gitlab").base_url
    async with client:
        token_self = await client.get(f"{base}/personal_access_tokens/self", headers={"PRIVATE-TOKEN": record.token})
        user = await client.get(f"{base}/user", headers={"PRIVATE-TOKEN": record.token})
        gone = await client.get(f"{base}/personal_access_tokens/self", headers={"PRIVATE-TOKEN": revoked.token})
        unknown = await client.get(f"{base}/personal_access_tokens/self", headers={"PRIVATE-TOKEN": "glpat-nope"})
        rotated = await client.post(
            f"{base}/personal_access_tokens/self/rotate", headers={"Authorization": f"Bearer {record.token}"}
        )
    assert_same_shape(token_self, load("gitlab", "pat_self"))
    assert_same_shape(user, load("gitlab", "user"))
    assert_same_shape(gone, load("gitlab", "token_revoked"))
    assert_same_shape(unknown, load("gitlab", "unauthorized"))
    assert_same_shape(rotated, load("gitlab", "pat_rotate"))


# -- every outcome, end to end through the in-process sandbox ---------------------------------------


async def test_outcomes_through_the_sandbox():
    state = SandboxState()
    live = mint(state, "gitlab", "personal", identity="ci-bot")
    expired = mint(state, "gitlab", "personal", expires_at=datetime.now(UTC) - timedelta(days=1))
    client, transport = sandbox_client(state)
    async with client:
        ok = await PROVIDER.probe(client, cred(live.token, "gitlab"))
        dead = await PROVIDER.probe(client, cred(expired.token, "gitlab"))
        unknown = await PROVIDER.probe(client, cred(sandbox_gitlab.make_token("personal"), "gitlab"))
    assert ok.outcome is Outcome.OK and ok.identity == "ci-bot" and ok.live_level is Level.SEND
    assert dead.outcome is Outcome.INVALID and "expired" in dead.error.lower()
    assert unknown.outcome is Outcome.INVALID
    assert {method for method, _ in transport.calls} == {"GET"}


async def test_token_that_may_not_read_user_is_named_by_user_id():
    state = SandboxState()
    record = mint(state, "gitlab", "personal", scopes=["read_repository"])  # may not read /user
    client, transport = sandbox_client(state)
    async with client:
        report = await PROVIDER.probe(client, cred(record.token, "gitlab"))
    assert report.outcome is Outcome.OK and report.identity == "user #4242"
    assert report.live_level is Level.READ and len(transport.calls) == 1


async def test_rate_limited():  # unreachable, malformed: test_failures.py
    limited = Routes(
        {
            ("GET", SELF): lambda r: httpx.Response(
                429, headers={"retry-after": "7"}, json={"message": "429 Too Many Requests"}
            )
        }
    )
    async with limited.client() as client:
        slow = await PROVIDER.probe(client, real())
    assert slow.outcome is Outcome.RATE_LIMITED and slow.rate_limit.retry_after_s == 7


async def test_forbidden_is_forbidden():
    routes = Routes({("GET", SELF): {"status": 403, "body": {"message": "403 Forbidden"}}})
    async with routes.client() as client:
        report = await PROVIDER.probe(client, real())
    assert report.outcome is Outcome.FORBIDDEN


# -- switches ---------------------------------------------------------------------------------------


async def test_revoke_then_the_token_is_revoked():
    state = SandboxState()
    record = mint(state, "gitlab", "personal")
    client, transport = sandbox_client(state)
    async with client:
        result = await PROVIDER.revoke(client, cred(record.token, "gitlab"))
        after = await PROVIDER.probe(client, cred(record.token, "gitlab"))
        again = await PROVIDER.revoke(client, cred(record.token, "gitlab"))
    assert result.state is ActionState.APPLIED and result.status == 204 and result.irreversible
    assert ("DELETE", "/gitlab/api/v4/personal_access_tokens/self") in transport.calls
    assert after.outcome is Outcome.REVOKED
    assert again.state is ActionState.FAILED and not again.retryable


async def test_rotate_new_secret_works_old_fails():
    state = SandboxState()
    record = mint(state, "gitlab", "personal", identity="ci-bot")
    client, _ = sandbox_client(state)
    async with client:
        result = await PROVIDER.rotate(client, cred(record.token, "gitlab"))
        new = await PROVIDER.probe(client, cred(result.new_secret.reveal(), "gitlab"))
        old = await PROVIDER.probe(client, cred(record.token, "gitlab"))
    assert result.state is ActionState.APPLIED and "SANDBOX" in result.new_secret.reveal()
    assert new.outcome is Outcome.OK and new.identity == "ci-bot"
    assert {g.scope for g in new.grants} == set(record.scopes)
    assert new.expires_at is not None  # the rotated token expires (a week by default)
    assert old.outcome is Outcome.REVOKED


async def test_rotating_with_an_already_rotated_token_kills_the_new_one():
    """gitlab issue 524639, as the sandbox reproduces it."""
    state = SandboxState()
    record = mint(state, "gitlab", "personal")
    client, _ = sandbox_client(state)
    async with client:
        first = await PROVIDER.rotate(client, cred(record.token, "gitlab"))
        second = await PROVIDER.rotate(client, cred(record.token, "gitlab"))
        new = await PROVIDER.probe(client, cred(first.new_secret.reveal(), "gitlab"))
    assert second.state is ActionState.FAILED
    assert new.outcome is Outcome.REVOKED


async def test_rotate_without_the_scope_fails_and_says_why():
    state = SandboxState()
    record = mint(state, "gitlab", "personal_read")
    client, _ = sandbox_client(state)
    async with client:
        result = await PROVIDER.rotate(client, cred(record.token, "gitlab"))
    assert result.state is ActionState.FAILED and result.status == 403 and "self_rotate" in result.message


async def test_switch_network_failures_are_retryable_results():
    async with httpx.AsyncClient(transport=Unreachable()) as client:
        revoke = await PROVIDER.revoke(client, real())
        rotate = await PROVIDER.rotate(client, real())
        restrict = await PROVIDER.restrict(client, real(), Level.READ)
    assert revoke.state is ActionState.FAILED and revoke.retryable
    assert rotate.state is ActionState.FAILED and rotate.retryable
    assert restrict.state is ActionState.MANUAL and restrict.manual_steps


# -- real HTTP through the loopback sandbox ---------------------------------------------------------


async def test_probe_rotate_revoke_over_real_http(sandbox):
    record = sandbox.mint("gitlab", "personal", identity="ci-bot")
    url = sandbox.base_url("gitlab")
    async with httpx.AsyncClient(timeout=5) as client:
        before = await PROVIDER.probe(client, Credential(Secret(record.token), base_url=url))
        rotated = await PROVIDER.rotate(client, Credential(Secret(record.token), base_url=url))
        fresh = Credential(rotated.new_secret, base_url=url)
        revoked = await PROVIDER.revoke(client, fresh)
        after = await PROVIDER.probe(client, fresh)
    assert before.outcome is Outcome.OK and before.identity == "ci-bot"
    assert rotated.state is ActionState.APPLIED and revoked.state is ActionState.APPLIED
    assert after.outcome is Outcome.REVOKED
    assert ("POST", "/gitlab/api/v4/personal_access_tokens/self/rotate") in sandbox.calls("gitlab")
