"""Verdicts kept by the gateway's enforcement (app/services/enforcement.py): only those whose
classification follows from host, method, override headers and path (connectors.requests.classified),
and always keyed by the connector's mode — a switch, or a body that decides the level, is never
answered from what was kept."""

from __future__ import annotations

import json

import pytest

from app.services import enforcement
from app.services.enforcement import AboveCeiling, Decision, check
from connectors import registry
from connectors.base import Level, Mode
from connectors.requests import Request, classified, table_for

GITHUB, OPENAI = "api.github.com", "api.openai.com"
QUERY = json.dumps({"query": "query { viewer { login } }"}).encode()
MUTATION = json.dumps({"query": 'mutation { addStar(input: {starrableId: "x"}) { clientMutationId } }'}).encode()


@pytest.fixture(autouse=True)
def _nothing_kept():
    enforcement._VERDICTS.clear()
    yield
    enforcement._VERDICTS.clear()


def test_a_path_table_answer_is_static_and_a_graphql_body_is_not():
    openai = table_for(registry.get("openai"))
    github = table_for(registry.get("github"))
    assert classified(openai, Request("GET", OPENAI, "/v1/models")) == (
        openai.classify(Request("GET", OPENAI, "/v1/models")),
        True,
    )
    found, static = classified(github, Request("POST", GITHUB, "/graphql", body=QUERY))
    assert (found.level, static) == (Level.READ, False)


def test_a_static_verdict_is_kept_and_reused():
    first = check("c", "openai", Mode.READ_ONLY, Request("GET", OPENAI, "/v1/models"))
    again = check("c", "openai", Mode.READ_ONLY, Request("GET", OPENAI, "/v1/models"))
    assert first.decision is Decision.ALLOW
    assert again is first


@pytest.mark.parametrize("order", [(QUERY, MUTATION), (MUTATION, QUERY)])
def test_a_verdict_a_body_decided_is_never_reused_for_another_body(order):
    decisions = {}
    for body in (*order, *order):
        verdict = check("gh", "github", Mode.READ_ONLY, Request("POST", GITHUB, "/graphql", body=body))
        decisions.setdefault(body, set()).add(verdict.decision)
    assert decisions == {QUERY: {Decision.ALLOW}, MUTATION: {Decision.REFUSE}}


def test_a_switch_is_a_new_key_never_a_kept_verdict():
    request = Request("POST", OPENAI, "/v1/chat/completions", body=b"{}")
    assert check("c", "openai", Mode.FULL, request).decision is Decision.ALLOW
    assert check("c", "openai", Mode.READ_ONLY, request).decision is Decision.REFUSE
    assert check("c", "openai", Mode.READ_ONLY, request, AboveCeiling.ASK).decision is Decision.ASK
    assert check("c", "openai", Mode.DISABLED, request).decision is Decision.REFUSE
    assert check("c", "openai", Mode.FULL, request).decision is Decision.ALLOW


def test_a_method_override_header_is_part_of_the_key():
    plain = Request("GET", OPENAI, "/v1/models", headers={})
    overridden = Request("GET", OPENAI, "/v1/models", headers={"x-http-method-override": "DELETE"})
    assert check("c", "openai", Mode.READ_ONLY, plain).decision is Decision.ALLOW
    assert check("c", "openai", Mode.READ_ONLY, overridden).decision is Decision.REFUSE
    assert check("c", "openai", Mode.READ_ONLY, plain).decision is Decision.ALLOW


def test_kept_verdicts_are_bounded():
    for i in range(enforcement.VERDICTS_KEPT + 10):
        check("c", "openai", Mode.READ_ONLY, Request("GET", OPENAI, f"/v1/models/m{i}"))
    assert len(enforcement._VERDICTS) <= enforcement.VERDICTS_KEPT
