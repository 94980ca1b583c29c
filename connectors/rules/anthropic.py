"""Anthropic API: request → level.

Written from the API reference (https://docs.anthropic.com/en/api/overview) and the Admin API
(https://docs.anthropic.com/en/api/administration-api). Checked 2026-12-04. Reads are GETs and
token counting; asking a model (messages, batches) spends money and is ``send``; files are
``write``; the organisation's admin API is ``admin``.
"""

from __future__ import annotations

from connectors.base import Level
from connectors.requests import RequestTable, rule

R, D, W, S, A = Level.READ, Level.DRAFT, Level.WRITE, Level.SEND, Level.ADMIN
WRITES = "POST PUT PATCH DELETE"

TABLE = RequestTable(
    provider="anthropic",
    hosts=frozenset({"api.anthropic.com"}),
    sources=("https://docs.anthropic.com/en/api/overview", "https://docs.anthropic.com/en/api/administration-api"),
    pinned="2026-12-04",
    rules=(
        rule("POST", "/v1/messages/count_tokens", R, "counts tokens: free, changes nothing"),
        rule("POST", "/v1/messages", S, "calls a model: spends money"),
        rule("POST", "/v1/messages/batches", S, "calls a model: spends money"),
        rule("POST", "/v1/complete", S, "calls a model: spends money"),
        rule(WRITES, "/v1/organizations/{rest*}", A, "the organisation's admin API"),
        rule("GET HEAD", "/v1/{rest*}", R),
        rule(WRITES, "/v1/{rest*}", W),
    ),
)
