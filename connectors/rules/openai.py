"""OpenAI API: request → level.

Written from the API reference (https://platform.openai.com/docs/api-reference) and the
project-key permissions (https://help.openai.com/en/articles/8867743-assign-api-key-permissions).
Checked 2026-12-04. Reads are GETs; asking a model for anything (chat, responses, embeddings,
images, audio, batches, fine-tuning) spends money and is ``send``; uploads and stored objects are
``write``; the organisation's admin API is ``admin``.
"""

from __future__ import annotations

from connectors.base import Level
from connectors.requests import RequestTable, rule

R, D, W, S, A = Level.READ, Level.DRAFT, Level.WRITE, Level.SEND, Level.ADMIN
WRITES = "POST PUT PATCH DELETE"
SPENDS = (
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/responses",
    "/v1/embeddings",
    "/v1/moderations",
    "/v1/images/{rest*}",
    "/v1/audio/{rest*}",
    "/v1/batches",
    "/v1/fine_tuning/jobs",
    "/v1/realtime/{rest*}",
    "/v1/threads/runs",
    "/v1/threads/{thread}/runs",
    "/v1/threads/{thread}/runs/{rest*}",
    "/v1/videos",
)

TABLE = RequestTable(
    provider="openai",
    hosts=frozenset({"api.openai.com"}),
    sources=(
        "https://platform.openai.com/docs/api-reference",
        "https://help.openai.com/en/articles/8867743-assign-api-key-permissions",
    ),
    pinned="2026-12-04",
    rules=(
        *(rule("POST", path, S, "calls a model: spends money") for path in SPENDS),
        rule(WRITES, "/v1/organization/{rest*}", A, "the organisation's admin API"),
        rule("GET HEAD", "/v1/{rest*}", R),
        rule(WRITES, "/v1/{rest*}", W),
    ),
)
