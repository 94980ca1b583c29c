"""PyGithub against the sandbox: https://pygithub.readthedocs.io/en/stable/ (``base_url``)."""

from __future__ import annotations

import json

import github
from github import Auth, Github

from connectors.base import Outcome
from tests.cli.conftest import breaker, cli_home  # noqa: F401  (the `breaker` CLI fixture)
from tests.clients.conftest import on_sandbox


def client(sandbox, token: str | None) -> Github:
    base = on_sandbox(sandbox, "github", github.Consts.DEFAULT_BASE_URL)  # https://api.github.com
    return Github(auth=Auth.Token(token) if token else None, base_url=base, retry=None)


def test_the_probe_calls_and_the_objects_pygithub_follows(sandbox):
    record = sandbox.mint("github", "classic", scopes=["repo", "read:org"], identity="ada")
    gh = client(sandbox, record.token)
    user = gh.get_user()
    assert user.login == "ada" and gh.oauth_scopes == ["repo", "read:org"]  # GET /user, X-OAuth-Scopes
    repos = list(user.get_repos())  # GET /user/repos
    assert [r.full_name for r in repos] == ["ada/sandbox-repo", "ada/sandbox-site"]
    # https://docs.github.com/en/rest/repos/repos#get-a-repository and the lazy owner PyGithub
    # completes from its absolute `url` (https://docs.github.com/en/rest/users/users#get-a-user).
    repo = gh.get_repo("ada/sandbox-repo")
    assert repo.url == f"{sandbox.url}/github/repos/ada/sandbox-repo"
    assert repo.owner.bio == "A sandbox account"
    assert ("GET", "/github/users/ada") in sandbox.calls("github")


def test_a_revoke_through_pygithub_is_seen_by_breaker_probe(sandbox, breaker):  # noqa: F811
    record = sandbox.mint("github", "classic", scopes=["repo"])
    added = breaker(
        "add",
        "--name",
        "gh",
        "--provider",
        "github",
        "--base-url",
        sandbox.base_url("github"),
        stdin=record.token + "\n",
    )
    assert added.code == 0, added.err
    assert json.loads(breaker("probe", "gh", "--json").out)["results"][0]["outcome"] == "ok"
    # https://docs.github.com/en/rest/credentials/revoke: unauthenticated, through the client's requester.
    headers, body = client(sandbox, None).requester.requestJsonAndCheck(
        "POST", "/credentials/revoke", input={"credentials": [record.token]}
    )
    assert body == {}
    after = breaker("probe", "gh", "--json")
    assert json.loads(after.out)["results"][0]["outcome"] == Outcome.INVALID.value


def test_an_unknown_repository_is_a_404_the_client_reports(sandbox):
    record = sandbox.mint("github", "classic")
    try:
        client(sandbox, record.token).get_repo("someone/else")
    except github.UnknownObjectException as exc:
        assert exc.status == 404
    else:
        raise AssertionError("a repository the token cannot see must be a 404")
