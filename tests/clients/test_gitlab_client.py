"""python-gitlab against the sandbox: https://python-gitlab.readthedocs.io/en/stable/api-usage.html
(``url`` is the instance root; the client appends ``/api/v4`` itself)."""

from __future__ import annotations

import gitlab
from gitlab.const import DEFAULT_URL

from connectors.base import Outcome
from tests.clients.conftest import on_sandbox


def client(sandbox, token: str) -> gitlab.Gitlab:
    url = on_sandbox(sandbox, "gitlab", DEFAULT_URL)  # https://gitlab.com → …/gitlab
    return gitlab.Gitlab(url=url, private_token=token, retry_transient_errors=False)


def test_the_probe_calls_and_the_user_object_python_gitlab_follows(sandbox):
    record = sandbox.mint("gitlab", "personal", identity="ada")
    gl = client(sandbox, record.token)
    gl.auth()  # GET /api/v4/user
    assert gl.user.username == "ada"
    assert gl.user.web_url == f"{sandbox.url}/gitlab/ada"  # links lead back to the sandbox
    token = gl.personal_access_tokens.get("self")  # what Breaker's probe reads
    assert token.scopes == ["api", "read_user"] and token.active
    # https://docs.gitlab.com/api/users/#get-a-single-user, from the id the user object carried.
    assert gl.users.get(gl.user.id).username == "ada"
    assert {path for _, path in sandbox.calls("gitlab")} >= {
        "/gitlab/api/v4/user",
        "/gitlab/api/v4/personal_access_tokens/self",
        f"/gitlab/api/v4/users/{gl.user.id}",
    }


def test_a_revoke_through_python_gitlab_is_seen_by_breaker_probe(sandbox, breaker_probe):
    record = sandbox.mint("gitlab", "personal")
    assert breaker_probe("gitlab", record.token).outcome is Outcome.OK
    # https://docs.gitlab.com/api/personal_access_tokens/#revoke-a-personal-access-token
    client(sandbox, record.token).personal_access_tokens.get("self").delete()  # DELETE …/:id
    assert breaker_probe("gitlab", record.token).outcome is Outcome.REVOKED
