"""connectors.http: status reading, secret-free provider text, and guard() turning every failure into an outcome."""

from __future__ import annotations

import httpx
import pytest

from connectors.base import Credential, Grant, Level, Outcome, ProbeReport, Secret
from connectors.http import (
    MalformedBody,
    error_text,
    field_text,
    guard,
    json_body,
    outcome_for_status,
    provider_text,
    scrub,
    secrets_of,
)

TOKEN = "tok_SANDBOX_" + "x7Q" * 12  # long enough that a 200-character cut could land inside it
CRED = Credential(Secret(TOKEN), admin_secret=Secret("adm_SANDBOX_" + "k9" * 10))
URL = f"https://api.example.invalid/oauth/v1/refresh-tokens/{TOKEN}?token={TOKEN}"


def response(status: int, body: object = None, *, text: str | None = None) -> httpx.Response:
    request = httpx.Request("GET", URL)
    if text is not None:
        return httpx.Response(status, text=text, request=request)
    return httpx.Response(status, json=body, request=request)


# -- guard: parse failures become ERROR "malformed response", never a crash or a secret ------------


def _raises(exc: Exception):
    async def run() -> ProbeReport:
        raise exc

    return run


# A body that is JSON but not the documented shape; it echoes the token where a number belongs.
ODD_BODY = {"results": None, "scopes": "mail.send", "data": [], "count": f"n/a {TOKEN}"}


@pytest.mark.parametrize(
    "parse, exc, words",
    [
        (lambda body: body["hubId"], KeyError, "field is missing"),
        (lambda body: body["data"][0], IndexError, "field is missing"),
        (lambda body: body["results"]["usageLimit"], TypeError, "unexpected type"),
        (lambda body: body["scopes"].get("granted"), AttributeError, "unexpected type"),
        (lambda body: int(body["count"]), ValueError, "could not be read"),
    ],
)
async def test_guard_turns_body_parsing_errors_into_malformed_response(parse, exc, words):
    async def probe() -> ProbeReport:
        parse(json_body(response(200, ODD_BODY)))
        return ProbeReport(Outcome.OK)

    with pytest.raises(exc):  # what the provider's parsing raises …
        parse(ODD_BODY)
    report = await guard(probe, deep=True)  # … becomes an outcome, not a crash
    assert report.outcome is Outcome.ERROR and report.deep
    assert report.error.startswith("malformed response: ") and words in report.error
    assert exc.__name__ in report.error
    assert TOKEN not in report.error and "x7Qx7Q" not in report.error  # the exception text is never quoted


@pytest.mark.parametrize("exc", [KeyError(TOKEN), TypeError(TOKEN), AttributeError(TOKEN), ValueError(TOKEN)])
async def test_guard_never_quotes_a_parse_errors_text(exc):
    report = await guard(_raises(exc), cred=None)
    assert report.outcome is Outcome.ERROR and "malformed response" in report.error and TOKEN not in repr(report)


async def test_guard_malformed_body_and_transport_errors_keep_their_reasons():
    malformed = await guard(_raises(MalformedBody("HTTP 200: expected a JSON object")))
    refused = await guard(_raises(httpx.ConnectError(f"cannot reach {URL}")))
    timeout = await guard(_raises(httpx.ReadTimeout(f"read timed out on {URL}")))
    bad_url = await guard(_raises(httpx.InvalidURL(f"invalid URL {URL}")))
    assert malformed.outcome is Outcome.ERROR
    assert malformed.error == "malformed response: HTTP 200: expected a JSON object"
    assert refused.outcome is Outcome.UNREACHABLE and refused.error == "connection refused or unreachable"
    assert timeout.outcome is Outcome.UNREACHABLE and timeout.error == "timed out"
    assert bad_url.outcome is Outcome.ERROR and bad_url.error == "InvalidURL"
    for report in (malformed, refused, timeout, bad_url):
        assert TOKEN not in repr(report) and "example.invalid" not in report.error


async def test_guard_lets_an_unrelated_bug_through():
    with pytest.raises(RuntimeError):
        await guard(_raises(RuntimeError("a bug, not a body")))


async def test_guard_scrubs_the_credentials_secrets_from_everything_the_report_says():
    async def leaky() -> ProbeReport:
        return ProbeReport(
            Outcome.OK,
            identity=f"user {TOKEN}",
            error=f"echo {CRED.admin_secret.reveal()}",
            grants=[Grant(TOKEN, Level.READ, note=f"from {URL}")],
            details={"echo": [URL], TOKEN: {"nested": TOKEN}},
        )

    report = await guard(leaky, cred=CRED)
    assert TOKEN not in repr(report) and CRED.admin_secret.reveal() not in repr(report)
    assert report.identity == "user ••••" and report.grants[0].scope == "••••"
    assert report.details["echo"] == [URL.replace(TOKEN, "••••")]


async def test_guard_measures_latency_and_marks_deep():
    async def fine() -> ProbeReport:
        return ProbeReport(Outcome.OK, requests=1)

    report = await guard(fine, deep=True, cred=CRED)
    assert report.outcome is Outcome.OK and report.deep and report.latency_ms >= 0


# -- provider text -------------------------------------------------------------------------------


def test_scrub_masks_every_form_a_token_takes_in_a_request():
    secret = Secret("ab/c+d=SANDBOX?e f")
    text = " ".join(
        [
            "ab/c+d=SANDBOX?e f",
            "ab%2Fc%2Bd%3DSANDBOX%3Fe%20f",
            "ab/c%2Bd%3DSANDBOX%3Fe%20f",
            "ab%2Fc%2Bd%3DSANDBOX%3Fe+f",
        ]
    )
    assert scrub(text, [secret]) == "•••• •••• •••• ••••"
    assert scrub("nothing to hide", []) == "nothing to hide"
    assert secrets_of(None) == () and secrets_of(CRED) == (CRED.secret, CRED.admin_secret)


def test_error_text_reads_the_first_field_present_then_the_status():
    body = {"error": {"code": "InvalidAuthenticationToken", "message": "expired"}, "message": "top"}
    assert error_text(response(401, body), "error.message", "message") == "expired"
    assert error_text(response(401, body), "error.type", "message") == "top"
    assert error_text(response(401, {"error": {"type": "x"}}), "error") == "HTTP 401"  # an object is not text
    assert error_text(response(502, text="<html>bad gateway</html>"), "message") == "HTTP 502"
    assert error_text(response(500, [1, 2]), "message") == "HTTP 500"


def test_error_text_scrubs_before_it_shortens():
    """A body echoing the request: a cut made before scrubbing would leave the token's head behind."""
    echo = "x" * 180 + f" {TOKEN} GET {URL}"  # the 200-character mark falls inside the token
    text = error_text(response(400, {"message": echo}), "message", cred=CRED)
    assert len(text) <= 200 and "tok_SANDBOX" not in text and "x7Q" not in text
    assert "tok_SANDBOX" in error_text(response(400, {"message": echo}), "message")[:200]  # what cred= prevents


def test_field_text_and_provider_text():
    body = {"user": {"login": "ada", "id": 7, "tags": ["a"]}, "ok": False}
    assert field_text(body, "user.login") == "ada" and field_text(body, "user.id") == "7"
    assert field_text(body, "user.tags") == "" and field_text(body, "user.missing.deeper") == ""
    assert field_text("not an object", "user") == "" and field_text(body, "ok") == "False"
    assert provider_text(body, "missing", "user.login") == "ada"
    assert provider_text({"error": TOKEN}, "error", cred=CRED) == "••••"


# -- bodies and statuses --------------------------------------------------------------------------


def test_json_body_refuses_what_is_not_a_json_object():
    assert json_body(response(200, {"a": 1})) == {"a": 1}
    with pytest.raises(MalformedBody, match="not JSON"):
        json_body(response(200, text="<html>"))
    with pytest.raises(MalformedBody, match="JSON object"):
        json_body(response(200, [1]))


@pytest.mark.parametrize(
    "status, outcome",
    [
        (200, Outcome.OK),
        (204, Outcome.OK),
        (401, Outcome.INVALID),
        (403, Outcome.FORBIDDEN),
        (429, Outcome.RATE_LIMITED),
        (404, Outcome.ERROR),
        (503, Outcome.ERROR),
    ],
)
def test_outcome_for_status(status, outcome):
    assert outcome_for_status(status) is outcome
