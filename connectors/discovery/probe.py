"""Probing an MCP server: ``initialize``, ``tools/list``, and a level for each tool.

Opt-in per server, because probing a local (stdio) server starts its command. Uses the official MCP
Python SDK (https://github.com/modelcontextprotocol/python-sdk). A remote server is reached with the
headers it is configured with (their keys come from the keyring, never from a printed value).

Each tool gets a level from its annotations (``readOnlyHint``, ``destructiveHint``,
``openWorldHint``; https://modelcontextprotocol.io/specification/2025-06-18/server/tools#tool-annotations)
and from its name. Annotations are hints a server gives about itself, so where name and annotation
disagree the more powerful reading wins; a tool neither explains counts as ``write`` (assume power,
not safety). The server's live level is its most powerful tool's.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from connectors.base import Level

NAME_LEVELS: tuple[tuple[Level, frozenset[str]], ...] = (
    (
        Level.ADMIN,
        frozenset(
            {"admin", "permission", "permissions", "role", "roles", "grant", "revoke", "billing", "sudo", "impersonate"}
        ),
    ),
    (
        Level.SEND,
        frozenset(
            {
                "send",
                "post",
                "publish",
                "email",
                "mail",
                "message",
                "notify",
                "invite",
                "pay",
                "charge",
                "refund",
                "transfer",
                "trigger",
                "run",
                "execute",
                "exec",
                "deploy",
                "invoke",
                "dispatch",
                "tweet",
                "reply",
                "comment",
                "sms",
                "call",
                "broadcast",
            }
        ),  # fmt: skip
    ),
    (
        Level.WRITE,
        frozenset(
            {
                "create",
                "update",
                "edit",
                "write",
                "add",
                "set",
                "put",
                "patch",
                "delete",
                "remove",
                "move",
                "rename",
                "upload",
                "merge",
                "close",
                "archive",
                "insert",
                "drop",
                "modify",
                "push",
                "commit",
                "fork",
                "assign",
                "label",
                "cancel",
                "destroy",
                "purge",
                "truncate",
            }
        ),  # fmt: skip
    ),
    (Level.DRAFT, frozenset({"draft", "drafts", "preview", "suggest", "propose"})),
    (
        Level.READ,
        frozenset(
            {
                "get",
                "list",
                "search",
                "read",
                "fetch",
                "find",
                "query",
                "describe",
                "show",
                "view",
                "lookup",
                "count",
                "status",
                "info",
                "check",
                "download",
                "export",
                "browse",
                "inspect",
            }
        ),  # fmt: skip
    ),
)


@dataclass(frozen=True)
class ToolLevel:
    name: str
    level: Level
    reason: str  # why: "readOnlyHint", "name: send", "destructiveHint", "unexplained: assumed write"

    def to_json(self) -> dict:
        return {"name": self.name, "level": self.level.label, "reason": self.reason}


@dataclass
class McpProbe:
    outcome: str  # ok | failed | timeout
    server_name: str = ""
    server_version: str = ""
    tools: list[ToolLevel] = field(default_factory=list)
    error: str = ""

    @property
    def level(self) -> Level | None:
        return max((t.level for t in self.tools), default=None)

    def to_json(self) -> dict:
        return {
            "outcome": self.outcome,
            "server": self.server_name or None,
            "version": self.server_version or None,
            "level": self.level.label if self.level is not None else None,
            "tools": [t.to_json() for t in self.tools],
            "error": self.error or None,
        }


def _name_level(name: str) -> tuple[Level | None, str]:
    words = [w for w in re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()) if w]
    drafts = dict(NAME_LEVELS)[Level.DRAFT]
    for level, verbs in NAME_LEVELS:  # most powerful first; a draft of anything below admin is a draft
        if level in (Level.SEND, Level.WRITE) and any(w in drafts for w in words):
            continue
        hit = next((w for w in words if w in verbs), None)
        if hit:
            return level, f"name: {hit}"
    return None, ""


def classify(name: str, annotations: Mapping[str, object] | None) -> ToolLevel:
    """The level of one tool from its annotations and its name (the more powerful reading wins)."""
    ann = dict(annotations or {})
    read_only = ann.get("readOnlyHint")
    destructive = ann.get("destructiveHint")
    open_world = ann.get("openWorldHint")
    by_name, name_reason = _name_level(name)
    by_ann: Level | None = None
    ann_reason = ""
    if read_only is True:
        by_ann, ann_reason = Level.READ, "readOnlyHint"
    elif read_only is False and open_world is True:
        by_ann, ann_reason = Level.SEND, "openWorldHint"  # changes things beyond the server's own world
    elif destructive is True:
        by_ann, ann_reason = Level.WRITE, "destructiveHint"
    elif read_only is False:
        by_ann, ann_reason = Level.WRITE, "readOnlyHint false"
    candidates = [(lv, why) for lv, why in ((by_ann, ann_reason), (by_name, name_reason)) if lv is not None]
    if not candidates:
        return ToolLevel(name, Level.WRITE, "unexplained: assumed write")
    level, reason = max(candidates, key=lambda c: c[0])
    return ToolLevel(name, level, reason)


async def probe(
    *,
    command: str = "",
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    url: str = "",
    headers: Mapping[str, str] | None = None,
    timeout: float = 20.0,
) -> McpProbe:
    """Start (stdio) or reach (HTTP) one server, ``initialize`` and ``tools/list``. Never raises."""
    try:
        return await asyncio.wait_for(_probe(command, list(args), env, url, headers), timeout)
    except TimeoutError:
        return McpProbe("timeout", error=f"no answer within {timeout:.0f} s")
    except Exception as exc:  # an MCP server is someone else's program: any failure is an outcome
        return McpProbe("failed", error=_one_line(exc))


def _one_line(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


async def _probe(command, args, env, url, headers) -> McpProbe:
    from mcp import Client, StdioServerParameters  # the SDK loads only when a probe runs

    if url:
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        target = streamable_http_client(url, http_client=httpx2.AsyncClient(headers=dict(headers or {})))
    else:
        from mcp.client.stdio import stdio_client

        params = StdioServerParameters(command=command, args=args, env=dict(env) if env is not None else None)
        # The server's own stderr is not ours to print (it may echo its configuration): it is dropped.
        target = stdio_client(params, errlog=open(os.devnull, "w"))
    async with Client(target, mode="legacy") as client:
        info = client.server_info
        tools = []
        cursor = None
        while True:
            result = await client.list_tools(cursor=cursor) if cursor else await client.list_tools()
            for tool in result.tools:
                ann = tool.annotations.model_dump(by_alias=True, exclude_none=True) if tool.annotations else {}
                tools.append(classify(tool.name, ann))
            cursor = getattr(result, "next_cursor", None) or getattr(result, "nextCursor", None)
            if not cursor:
                break
    return McpProbe(
        "ok",
        server_name=getattr(info, "name", "") or "",
        server_version=getattr(info, "version", "") or "",
        tools=tools,
    )
