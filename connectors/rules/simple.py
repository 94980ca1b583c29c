"""Request → level for providers whose APIs are plain REST: GETs read, the sending calls are ``send``.

Stripe (https://docs.stripe.com/api), SendGrid (https://www.twilio.com/docs/sendgrid/api-reference),
Notion (https://developers.notion.com/reference), HubSpot (https://developers.hubspot.com/docs/api/overview),
GitLab (https://docs.gitlab.com/ee/api/rest/) and Airtable (https://airtable.com/developers/web/api).
Checked 2026-12-04. These tables are coarse: every documented write that is not named here counts
as ``write``, and the calls that spend money, send mail or run pipelines are ``send``.
"""

from __future__ import annotations

from connectors.base import Level
from connectors.requests import RequestTable, rule

R, D, W, S, A = Level.READ, Level.DRAFT, Level.WRITE, Level.SEND, Level.ADMIN
WRITES = "POST PUT PATCH DELETE"

STRIPE = RequestTable(
    provider="stripe",
    hosts=frozenset({"api.stripe.com"}),
    sources=("https://docs.stripe.com/api",),
    pinned="2026-12-04",
    rules=(
        *(
            rule("POST", path, S, "moves money")
            for path in (
                "/v1/charges",
                "/v1/charges/{rest*}",
                "/v1/payment_intents/{id}/confirm",
                "/v1/payment_intents/{id}/capture",
                "/v1/payouts",
                "/v1/transfers",
                "/v1/refunds",
                "/v1/invoices/{id}/pay",
                "/v1/invoices/{id}/send",
                "/v1/invoices/{id}/finalize",
            )
        ),
        rule(WRITES, "/v1/webhook_endpoints", A),
        rule(WRITES, "/v1/webhook_endpoints/{rest*}", A),
        rule("GET HEAD", "/v1/{rest*}", R),
    ),
)
SENDGRID = RequestTable(
    provider="sendgrid",
    hosts=frozenset({"api.sendgrid.com"}),
    sources=("https://www.twilio.com/docs/sendgrid/api-reference",),
    pinned="2026-12-04",
    rules=(
        rule("POST", "/v3/mail/send", S, "sends mail"),
        rule("POST", "/v3/marketing/singlesends/{id}/schedule", S, "sends mail"),
        rule("PUT", "/v3/marketing/singlesends/{id}/schedule", S, "sends mail"),
        rule(WRITES, "/v3/api_keys", A),
        rule(WRITES, "/v3/api_keys/{rest*}", A),
        rule(WRITES, "/v3/teammates/{rest*}", A),
        rule("GET HEAD", "/v3/{rest*}", R),
    ),
)
NOTION = RequestTable(
    provider="notion",
    hosts=frozenset({"api.notion.com"}),
    sources=("https://developers.notion.com/reference",),
    pinned="2026-12-04",
    rules=(
        rule("POST", "/v1/search", R, "searches"),
        rule("POST", "/v1/databases/{id}/query", R, "queries a database"),
        rule("POST", "/v1/data_sources/{id}/query", R, "queries a data source"),
        rule("GET HEAD", "/v1/{rest*}", R),
    ),
)
HUBSPOT = RequestTable(
    provider="hubspot",
    hosts=frozenset({"api.hubapi.com"}),
    sources=("https://developers.hubspot.com/docs/api/overview",),
    pinned="2026-12-04",
    rules=(
        rule("POST", "/crm/v3/objects/{type}/search", R, "searches"),
        rule("POST", "/marketing/v3/transactional/single-email/send", S, "sends mail"),
        rule("POST", "/marketing/v4/email/single-send", S, "sends mail"),
        rule("POST", "/automation/v4/flows/{rest*}", S, "runs workflows"),
        rule("GET HEAD", "/{rest*}", R),
    ),
)
GITLAB = RequestTable(
    provider="gitlab",
    hosts=frozenset({"gitlab.com"}),
    sources=("https://docs.gitlab.com/ee/api/rest/",),
    pinned="2026-12-04",
    rules=(
        rule("POST", "/api/v4/projects/{id}/pipeline", S, "runs a pipeline"),
        rule("POST", "/api/v4/projects/{id}/trigger/pipeline", S, "runs a pipeline"),
        rule("POST", "/api/v4/projects/{id}/pipelines/{rest*}", S, "runs a pipeline"),
        rule(WRITES, "/api/v4/projects/{id}/hooks", A),
        rule(WRITES, "/api/v4/projects/{id}/hooks/{rest*}", A),
        rule(WRITES, "/api/v4/projects/{id}/members", A),
        rule(WRITES, "/api/v4/projects/{id}/members/{rest*}", A),
        rule("DELETE", "/api/v4/projects/{id}", A),
        rule(WRITES, "/api/v4/personal_access_tokens/{rest*}", A),
        rule("GET HEAD", "/api/v4/{rest*}", R),
    ),
)
AIRTABLE = RequestTable(
    provider="airtable",
    hosts=frozenset({"api.airtable.com"}),
    sources=("https://airtable.com/developers/web/api",),
    pinned="2026-12-04",
    rules=(rule("GET HEAD", "/v0/{rest*}", R),),
)
