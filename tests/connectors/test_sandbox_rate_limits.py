"""The sandbox's injected rate limits come in each provider's own shape, and the probes read them
(issue 9). Each shape beside the page that documents it."""

from __future__ import annotations

import httpx
import pytest

from connectors import registry
from connectors.base import Credential, Outcome, Secret


async def _probe(sandbox, provider: str, kind: str | None = None):
    record = sandbox.mint(provider, kind)
    cred = Credential(Secret(record.token), base_url=sandbox.base_url(provider))
    async with httpx.AsyncClient() as client:
        raw = await client.get(sandbox.base_url(provider) + "/_rate_limit_shape_check")  # what the fault answers
        report = await registry.get(provider).probe(client, cred)
    return raw, report


# https://api.slack.com/docs/rate-limits: HTTP 429 with Retry-After and {"ok": false, "error": "ratelimited"};
# Slack also answers ok:false error:ratelimited on HTTP 200 (https://api.slack.com/web#evaluating_responses).
@pytest.mark.parametrize("status", [429, 200])
async def test_slack_rate_limit_is_ok_false_ratelimited(sandbox, status):
    sandbox.faults.set("slack", status=status, retry_after=2)
    raw, report = await _probe(sandbox, "slack", "bot")
    assert raw.status_code == status and raw.json() == {"ok": False, "error": "ratelimited"}
    assert raw.headers["retry-after"] == "2"
    assert report.outcome is Outcome.RATE_LIMITED and report.rate_limit.retry_after_s == 2


# https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits:
# a secondary rate limit answers 403 (or 429) with a message naming it, and Retry-After when known.
async def test_github_secondary_rate_limit_is_a_403(sandbox):
    sandbox.faults.set("github", retry_after=30)
    raw, report = await _probe(sandbox, "github", "classic")
    assert raw.status_code == 403 and "secondary rate limit" in raw.json()["message"]
    assert report.outcome is Outcome.RATE_LIMITED and report.rate_limit.retry_after_s == 30


# https://www.twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/rate-limits: 429 with
# X-RateLimit-Limit/-Remaining/-Reset and the v3 error envelope {"errors": [{"field": …, "message": …}]}
# (https://www.twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/responses#failed-requests).
async def test_sendgrid_rate_limit_is_an_errors_list(sandbox):
    sandbox.faults.set("sendgrid", status=429, retry_after=5)
    raw, report = await _probe(sandbox, "sendgrid", "full_access")
    assert raw.status_code == 429 and raw.json() == {"errors": [{"field": None, "message": "too many requests"}]}
    assert raw.headers["x-ratelimit-remaining"] == "0" and raw.headers["x-ratelimit-reset"].isdigit()
    assert report.outcome is Outcome.RATE_LIMITED
    assert report.rate_limit.retry_after_s is not None or report.rate_limit.reset_at is not None
