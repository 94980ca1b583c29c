"""GitHub REST and GraphQL: request → level.

REST writes are classified from the generated table :mod:`connectors.rules.generated.github`, made
by ``python -m connectors.rules.generate github`` from GitHub's fine-grained permission map
(``src/github-apps/data/fpt-2022-11-28/fine-grained-pat-permissions.json`` in
https://github.com/github/docs; the permissions each endpoint needs,
https://docs.github.com/en/rest/authentication/permissions-required-for-fine-grained-personal-access-tokens).
Written by hand here: GraphQL (https://docs.github.com/en/graphql/guides/forming-calls-with-graphql),
whose body decides — a mutation is ``write`` (never a read), whatever its operation name; a
document holding anything else than queries, mutations and fragments is refused — and the
fallback for paths the permission map does not name (checked 2026-12-04 against
https://docs.github.com/en/rest): GitHub's REST reads are GETs; running workflows and dispatches is
``send``; repository, organisation, hook, key, collaborator and protection settings are ``admin``;
any other write is ``write``.
"""

from __future__ import annotations

from connectors.base import Level
from connectors.requests import Classification, Request, RequestTable, rule
from connectors.rules.bodies import graphql_body
from connectors.rules.generated import github as generated
from connectors.rules.routes import Routes

R, D, W, S, A = Level.READ, Level.DRAFT, Level.WRITE, Level.SEND, Level.ADMIN
WRITES = "POST PUT PATCH DELETE"
REPO = "/repos/{owner}/{repo}"


def graphql(request: Request, _params: dict[str, str]) -> Classification:
    ops = graphql_body(request.body)
    if any(op != "query" for op in ops):
        return Classification(W, f"{request.method} /graphql (mutation)", "a GraphQL mutation changes data")
    return Classification(R, f"{request.method} /graphql (query)")


TABLE = RequestTable(
    provider="github",
    hosts=frozenset({"api.github.com"}),
    sources=(
        generated.SOURCE,
        "https://docs.github.com/en/rest/authentication/permissions-required-for-fine-grained-personal-access-tokens",
        "https://docs.github.com/en/rest",
        "https://docs.github.com/en/graphql/guides/forming-calls-with-graphql",
    ),
    pinned=generated.GENERATED,
    rules=(
        rule("POST", "/graphql", graphql),
        rule("GET HEAD", "/graphql", graphql),  # a GET with a body is still read for what it holds
    ),
    routes=Routes(generated.ROWS),
    fallback=(
        # send: runs workflows or reaches people outside the repository
        rule("POST", REPO + "/actions/workflows/{workflow}/dispatches", S, "runs a workflow"),
        rule("POST", REPO + "/actions/runs/{run}/rerun", S, "runs a workflow"),
        rule("POST", REPO + "/actions/runs/{run}/rerun-failed-jobs", S, "runs a workflow"),
        rule("POST", REPO + "/actions/jobs/{job}/rerun", S, "runs a workflow"),
        rule("POST", REPO + "/dispatches", S, "triggers repository_dispatch workflows"),
        rule("POST", REPO + "/deployments", S, "starts a deployment"),
        rule("POST", "/orgs/{org}/invitations", S, "invites a person"),
        rule("PUT", REPO + "/collaborators/{user}", A, "adds a collaborator"),
        rule("DELETE", REPO + "/collaborators/{user}", A),
        # admin: the repository's and organisation's settings, keys, hooks, secrets, protection
        rule("PATCH DELETE", REPO, A, "changes or deletes the repository"),
        rule(WRITES, REPO + "/hooks", A),
        rule(WRITES, REPO + "/hooks/{rest*}", A),
        rule(WRITES, REPO + "/keys", A),
        rule(WRITES, REPO + "/keys/{rest*}", A),
        rule(WRITES, REPO + "/branches/{branch}/protection", A),
        rule(WRITES, REPO + "/branches/{branch}/protection/{rest*}", A),
        rule(WRITES, REPO + "/rulesets", A),
        rule(WRITES, REPO + "/rulesets/{rest*}", A),
        rule(WRITES, REPO + "/actions/secrets/{rest*}", A),
        rule(WRITES, REPO + "/actions/permissions", A),
        rule(WRITES, REPO + "/actions/permissions/{rest*}", A),
        rule(WRITES, REPO + "/transfer", A),
        rule(WRITES, "/orgs/{org}", A),
        rule(WRITES, "/orgs/{org}/{rest*}", A),
        rule(WRITES, "/user/keys", A),
        rule(WRITES, "/user/keys/{rest*}", A),
        rule(WRITES, "/user/gpg_keys", A),
        rule(WRITES, "/user/gpg_keys/{rest*}", A),
        rule(WRITES, "/admin/{rest*}", A),
        rule(WRITES, "/enterprises/{rest*}", A),
        rule(WRITES, "/applications/{rest*}", A),
        rule("POST", "/credentials/revoke", A, "revokes credentials"),
        # reads: GitHub's REST GETs change nothing
        rule("GET HEAD", "/", R),
        rule("GET HEAD", "/{rest*}", R),
        # write: everything else that is documented (issues, comments, pulls, contents, labels, git data …)
        rule(WRITES, REPO + "/{rest*}", W),
        rule(WRITES, "/user/repos", W),
        rule(WRITES, "/gists", W),
        rule(WRITES, "/gists/{rest*}", W),
        rule(WRITES, "/notifications", W),
        rule(WRITES, "/notifications/{rest*}", W),
        rule(WRITES, "/user/starred/{rest*}", W),
    ),
)
