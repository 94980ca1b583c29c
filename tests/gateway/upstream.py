"""A loopback stand-in for provider calls the sandbox does not serve (model calls, streams, writes).

It answers what the official SDKs expect (OpenAI chat completions, Anthropic messages — both also
as ``text/event-stream`` — and a JSON echo for everything else, with absolute links back at itself),
and records each request's method, path, query, credential headers and body, so tests can check
what the gateway really forwarded: the real key in, the Breaker token out.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

PAUSE = {"s": 0.0}  # delay between streamed events (tests lengthen it to switch mid-stream)


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Upstream:
    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    events: int = 20  # events per stream
    pause_s: float = 0.0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        path = scope["path"]
        self.seen.append(Seen(scope["method"], path, scope["query_string"].decode(), headers, body))
        data = json.loads(body) if body.startswith(b"{") else {}
        if path.endswith("/chat/completions"):
            if data.get("stream"):
                await self.sse(send, [self.openai_chunk(i) for i in range(self.events)] + ["[DONE]"])
                return
            return await self.json(send, self.openai_completion())
        if path.endswith("/v1/messages"):
            if data.get("stream"):
                await self.sse(send, self.anthropic_events(), named=True)
                return
            return await self.json(send, self.anthropic_message())
        if path.endswith("/v1/models"):
            return await self.json(
                send,
                {
                    "object": "list",
                    "data": [{"id": "gpt-sandbox", "object": "model", "created": 0, "owned_by": "sandbox"}],
                },
            )
        if path.endswith("/_set_cookie"):  # a provider setting a session cookie
            return await self.json(send, {"ok": True}, headers={"set-cookie": "session=CANARYcookie; Path=/"})
        if path.endswith("/_utf8_header"):  # a header value in UTF-8, outside Latin-1 (RFC 9110 allows any octet)
            return await self.json(send, {"ok": True}, headers={"x-note": "caf\u00e9 \u2192 ok"})
        links = {"link": f'<{self.url}/items?page=2>; rel="next"'}
        await self.json(
            send,
            {
                "method": scope["method"],
                "path": path,
                "@odata.nextLink": f"{self.url}/v1.0/me/messages?$skip=10",
                "ok": True,
            },
            headers=links,
        )

    async def json(self, send, body: dict, status: int = 200, headers: dict | None = None):
        raw = json.dumps(body).encode()
        extra = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        extra.append((b"x-accepted-github-permissions", b"issues=write"))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), *extra],
            }
        )
        await send({"type": "http.response.body", "body": raw})

    async def sse(self, send, events: list, named: bool = False):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        for event in events:
            if named:
                name, payload = event
                chunk = f"event: {name}\ndata: {json.dumps(payload)}\n\n"
            else:
                chunk = f"data: {event if isinstance(event, str) else json.dumps(event)}\n\n"
            await send({"type": "http.response.body", "body": chunk.encode(), "more_body": True})
            await asyncio.sleep(self.pause_s)
        await send({"type": "http.response.body", "body": b""})

    @staticmethod
    def openai_chunk(i: int) -> dict:
        return {
            "id": "chatcmpl-sandbox",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "gpt-sandbox",
            "choices": [{"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None}],
        }

    @staticmethod
    def openai_completion() -> dict:
        return {
            "id": "chatcmpl-sandbox",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-sandbox",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    @staticmethod
    def anthropic_message() -> dict:
        return {
            "id": "msg_sandbox",
            "type": "message",
            "role": "assistant",
            "model": "claude-sandbox",
            "content": [{"type": "text", "text": "hello"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }

    def anthropic_events(self) -> list:
        msg = {**self.anthropic_message(), "content": [], "stop_reason": None}
        events = [("message_start", {"type": "message_start", "message": msg})]
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            )
        )
        for i in range(self.events):
            events.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f"w{i} "}},
                )
            )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": 1},
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        return events
