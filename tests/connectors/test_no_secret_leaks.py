"""No provider lets a secret reach what Breaker shows, stores or logs.

Every provider module (each token kind that takes its own code path) is driven through transport
errors and through every kind of error status by a transport that echoes the request — URL, headers
and body, where the token travels — into the response: into the JSON fields providers read their
error text, identity and scopes from, into response headers, and as a plain-text body. A canary in
the secret (and one in the admin secret) must then appear nowhere in a probe report or a switch
result; not even a piece of it, since a cut-off token still leaks its head.
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from connectors import registry
from connectors.base import ActionResult, Credential, Level, Outcome, ProbeReport, Secret

CANARY = "CANARYq7Zr4Lm2Xw9Pt5Kd8Hs3Vb6Nf1Jg0"
ADMIN_CANARY = "ADMINCANARYw8Yt3Qp6Rn1Mz4Lk7Jh2Gf5"
WINDOW = 10  # any ten characters of a canary in a row count as a leak
API = "https://api.example.invalid"
IDS = {
    "project_id": "proj_breaker",
    "grant_id": "grant-breaker",
    "user_id": "user-breaker",
    "client_id": "client-breaker",
    "url": f"{API}/verify",
    "identity_field": "user",
}


def _jwt(claims: dict) -> str:
    part = lambda data: base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")  # noqa: E731
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.SANDBOX{CANARY}"


_GRAPH = {"aud": "https://graph.microsoft.com", "exp": 4_102_444_800, "oid": "oid-breaker"}

# (provider, secret, extra): one row per code path a token kind takes.
CASES: list[tuple[str, str, dict[str, str]]] = [
    ("github", f"ghp_SANDBOX{CANARY}", {}),
    ("github", f"github_pat_SANDBOX{CANARY}", {}),
    ("github", f"ghs_SANDBOX{CANARY}", {}),
    ("gitlab", f"glpat-SANDBOX{CANARY}", {}),
    ("slack", f"xoxb-1234567890-1234567890-SANDBOX{CANARY}", {}),
    ("openai", f"sk-proj-SANDBOX{CANARY}T3BlbkFJ{CANARY}", {}),
    ("openai", f"sk-proj-SANDBOX{CANARY}T3BlbkFJ{CANARY}", {"key_id": "key_breaker"}),
    ("openai", f"sk-admin-SANDBOX{CANARY}T3BlbkFJ{CANARY}", {}),
    ("anthropic", f"sk-ant-api03-SANDBOX{CANARY}AA", {}),
    ("anthropic", f"sk-ant-api03-SANDBOX{CANARY}AA", {"key_id": "apikey_breaker"}),
    ("anthropic", f"sk-ant-admin01-SANDBOX{CANARY}AA", {}),
    ("google", f"ya29.SANDBOX{CANARY}", {}),
    ("google", f"AIzaSANDBOX{CANARY}", {}),
    ("microsoft", _jwt({**_GRAPH, "scp": "User.Read Mail.Send", "upn": "ada@example.invalid"}), {}),
    ("microsoft", _jwt({**_GRAPH, "roles": ["Mail.Send"]}), {}),
    ("sendgrid", f"SG.SANDBOXkeyid0000000000.SANDBOX{CANARY}", {}),  # the middle segment is the key's public id
    ("stripe", f"rk_test_SANDBOX{CANARY}", {}),
    ("stripe", f"sk_test_SANDBOX{CANARY}", {}),
    ("hubspot", f"pat-na1-SANDBOX{CANARY}", {"token_type": "private_app"}),
    ("hubspot", f"SANDBOX{CANARY}", {"token_type": "oauth_access"}),  # HubSpot puts these in the URL path
    ("hubspot", f"SANDBOX{CANARY}", {"token_type": "oauth_refresh"}),
    ("notion", f"ntn_SANDBOX{CANARY}", {}),
    ("airtable", f"patSANDBOX{CANARY}.{'ab' * 32}", {}),
    ("airtable", f"oaaSANDBOX.v1.{CANARY}.{'ab' * 16}", {}),
    ("generic", f"gen_SANDBOX{CANARY}", {}),
]

STATUSES = (200, 400, 401, 403, 404, 409, 422, 429, 500, 503)
SHAPES = ("flat", "nested", "text")
ERRORS = (httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.InvalidURL, ValueError)


def _echo(request: httpx.Request) -> str:
    headers = "; ".join(f"{name}: {value}" for name, value in request.headers.items())
    return f"{request.method} {request.url} {headers} {request.content.decode('utf-8', 'replace')} END"


def _body(shape: str, echo: str) -> dict:
    """Every field a provider reads error text, an identity, ids or scopes from, holding the echo."""
    if shape == "nested":
        return {"ok": False, "error": {"message": echo, "code": echo, "type": echo, "status": echo}}
    item = {"id": echo, "redacted_value": echo, "partial_key_hint": echo, "full_name": echo, "name": echo}
    return {
        "ok": False,
        **{
            k: echo
            for k in (
                "message",
                "error",
                "error_description",
                "code",
                "category",
                "login",
                "email",
                "name",
                "id",
                "user",
                "team",
                "userPrincipalName",
                "mail",
                "hubId",
                "hub_id",
                "scope",
                "token",
                "expires_at",
                "type",
                "object",
                "last_id",
                "api_key",
                "status",
                "company",
                "user_id",
                "workspace_name",
            )
        },
        "scopes": [echo],
        "data": [item],
        "results": [item],
        "repositories": [item],
        "errors": [{"message": echo}],
        "value": [{"displayName": echo}],
        "bot": {"owner": {"type": echo}, "workspace_name": echo},
    }


def _transport(mode: str | type[Exception], status: int = 200) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        echo = _echo(request)
        if not isinstance(mode, str):
            raise mode(f"failed on {echo}")
        headers = {
            "x-oauth-scopes": echo,
            "x-ratelimit-resource": echo,
            "github-authentication-token-expiration": echo,
            "retry-after": echo,
            "x-ratelimit-remaining": "0",
        }
        if mode == "text":
            return httpx.Response(status, text=echo, headers=headers, request=request)
        return httpx.Response(status, json=_body(mode, echo), headers=headers, request=request)

    return httpx.MockTransport(answer)


def _modes() -> list[httpx.MockTransport]:
    return [*(_transport(shape, status) for status in STATUSES for shape in SHAPES), *map(_transport, ERRORS)]


def _leaks(text: str) -> list[str]:
    return [
        piece
        for canary in (CANARY, ADMIN_CANARY)
        for i in range(len(canary) - WINDOW + 1)
        if (piece := canary[i : i + WINDOW]) in text
    ]


def _report_texts(report: ProbeReport) -> dict[str, str]:
    return {
        "error": report.error,
        "identity": report.identity,
        "details": repr(report.details),
        "grants": repr(report.grants),
        "report": repr(report),
    }


def _result_texts(result: ActionResult) -> dict[str, str]:
    return {
        "message": result.message,
        "manual_steps": repr(result.manual_steps),
        "details": repr(result.details),
        "result": repr(result),
    }


def test_every_provider_module_is_covered():
    assert {provider for provider, _, _ in CASES} == set(registry.BUILTIN)


@pytest.mark.parametrize("provider, secret, extra", CASES, ids=[f"{p}-{s[:12]}-{len(e)}" for p, s, e in CASES])
async def test_no_secret_reaches_a_report_or_a_result(provider, secret, extra):
    module = registry.get(provider)
    cred = Credential(
        Secret(secret), base_url=API, extra={**IDS, **extra}, admin_secret=Secret(f"adm_SANDBOX{ADMIN_CANARY}")
    )
    found: list[str] = []
    outcomes: set[Outcome] = set()
    for transport in _modes():
        async with httpx.AsyncClient(transport=transport) as client:
            reports = [await module.probe(client, cred), await module.probe(client, cred, deep=True)]
            results = [
                await module.revoke(client, cred),
                await module.restrict(client, cred, Level.READ),
                await module.rotate(client, cred),
                await module.reenable(client, cred),
            ]
        outcomes |= {report.outcome for report in reports}
        texts = [*map(_report_texts, reports), *map(_result_texts, results)]
        found += [f"{where}: {text[:120]}" for part in texts for where, text in part.items() if _leaks(text)]
    assert found == []
    assert {Outcome.UNREACHABLE, Outcome.ERROR} <= outcomes  # the probe did reach the echoing transport
