"""The gateway's side of the decision queue: wait for the owner's answer, forward an approved call once.

Each held request waits on its own future (nothing else waits for it); one poller reads the states
of all open holds from the store every :data:`POLL_S` seconds, so an answer given in the panel or in
another process arrives within that time. Requests with the same bytes join the same hold; once
approved, the call is forwarded **once** and every joined request (and a retry that comes after)
gets a copy of that one answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.services import queue as queue_service
from app.services.enforcement import Decision, Verdict
from app.services.gateway import Route
from app.services.queue import APPROVED, DENIED, EXPIRED, FORWARDED, HELD, LOST, HoldView, Queue
from connectors.requests import Request

POLL_S = 0.1
KEEP_ANSWER_S = 600.0  # a retry of an approved call within this time gets the same answer


@dataclass(frozen=True)
class Buffered:
    """An upstream answer read whole, to be handed to every request that joined the decision."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class HoldQueue:
    def __init__(
        self,
        services,
        *,
        hold_s: float = queue_service.HOLD_S,
        on_held: Callable[[HoldView], None] | None = None,
        on_answered: Callable[[int, str, int | None], None] | None = None,
    ) -> None:
        self.queue = Queue(services, hold_s, holder=queue_service.holder_id())
        self.hold_s = hold_s
        self.on_held = on_held
        # (hold id, new state, the provider's status once forwarded): an answer read from the store, and
        # the forwarding of an approved hold
        self.on_answered = on_answered
        self._waiting: dict[int, asyncio.Future[str]] = {}
        self._poller: asyncio.Task | None = None
        self._forwarding: dict[str, asyncio.Future[Buffered]] = {}
        self._answers: dict[str, tuple[float, Buffered]] = {}

    async def run(
        self,
        route: Route,
        request: Request,
        verdict: Verdict,
        forward: Callable[[], Awaitable[Buffered]],
        send_upstream: Callable[[Route, Request], Awaitable] | None = None,
    ) -> Buffered | Verdict:
        """Hold ``request`` until answered: the forwarded answer, or a refusal naming why. With
        ``send_upstream`` (GatewayApp's), what the summary needs is read from the provider first
        (:func:`read_draft`)."""
        assert verdict.classification is not None
        digest = queue_service.request_hash(route.connector_id, request)
        kept = self._answers.get(digest)
        if kept is not None and time.monotonic() - kept[0] < KEEP_ANSWER_S:
            return kept[1]  # a retry of a call already approved and forwarded: never sent twice
        if digest in self._forwarding:
            return await asyncio.shield(self._forwarding[digest])
        seen = await read_draft(send_upstream, route, request) if send_upstream is not None else None
        # on a thread: a held body may be megabytes (JSON, MIME, a prompt), and the loop serves every agent
        what = await asyncio.to_thread(queue_service.summary, route.provider, request, verdict.classification, seen)
        hold_id, joined = await asyncio.to_thread(
            self.queue.hold, route.connector_id, digest, verdict.classification, what
        )
        if not joined and self.on_held is not None:
            views = await asyncio.to_thread(self.queue.pending)
            for view in views:
                if view.id == hold_id:
                    self.on_held(view)
        state = await self.wait(hold_id)
        if state == APPROVED and seen is not None and "raw" in seen and send_upstream is not None:
            # drafts.send sends the draft as it is when sent: read it again, and send only the one the
            # owner saw (an agent may change a draft — a draft-level call — while the hold waits)
            again = await read_draft(send_upstream, route, request)
            if again is None or again.get("raw") != seen["raw"]:
                await asyncio.to_thread(self.queue.withdraw, hold_id, DRAFT_CHANGED)
                state = WITHDRAWN
                if self.on_answered is not None:
                    self.on_answered(hold_id, WITHDRAWN, None)
        if state == APPROVED or (state == FORWARDED and digest in self._forwarding):
            return await self._forward_once(digest, hold_id, forward)
        if state == FORWARDED:
            kept = self._answers.get(digest)
            if kept is not None:
                return kept[1]
        reason = {
            DENIED: "the owner denied it",
            LOST: "the gateway stopped before it was answered",
            EXPIRED: f"nobody answered within {self.hold_s:g} s, so it is denied",
            WITHDRAWN: DRAFT_CHANGED,
        }.get(state, f"the hold ended ({state})")
        return Verdict(
            Decision.REFUSE,
            verdict.connector,
            verdict.mode,
            verdict.level,
            verdict.template,
            f"{verdict.template} is {verdict.level_label}, above {verdict.mode.value}; held for the owner: {reason}",
        )

    async def _forward_once(self, digest: str, hold_id: int, forward: Callable[[], Awaitable[Buffered]]) -> Buffered:
        kept = self._answers.get(digest)
        if kept is not None:
            return kept[1]
        running = self._forwarding.get(digest)
        if running is None:
            running = asyncio.get_running_loop().create_future()
            self._forwarding[digest] = running
            try:
                answer = await forward()
            except BaseException as exc:
                running.set_exception(exc)
                self._forwarding.pop(digest, None)
                raise
            self._answers[digest] = (time.monotonic(), answer)
            running.set_result(answer)
            self._forwarding.pop(digest, None)
            await asyncio.to_thread(self.queue.forwarded, hold_id, answer.status)
            if self.on_answered is not None:
                self.on_answered(hold_id, FORWARDED, answer.status)
            return answer
        return await asyncio.shield(running)

    async def wait(self, hold_id: int) -> str:
        """The hold's final state: approved, denied or expired (after ``hold_s``)."""
        future = self._waiting.get(hold_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._waiting[hold_id] = future
            if self._poller is None or self._poller.done():
                self._poller = asyncio.create_task(self._poll())
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout=self.hold_s)
        except TimeoutError:
            expired = await asyncio.to_thread(self.queue.expire, hold_id)
            if expired:
                self._resolve(hold_id, EXPIRED)
                return EXPIRED
            states = await asyncio.to_thread(self.queue.states, [hold_id])
            return states.get(hold_id, EXPIRED)

    def _resolve(self, hold_id: int, state: str) -> None:
        future = self._waiting.pop(hold_id, None)
        if future is not None and not future.done():
            future.set_result(state)

    async def _poll(self) -> None:
        while self._waiting:
            await asyncio.sleep(POLL_S)
            ids = list(self._waiting)
            states = await asyncio.to_thread(self.queue.states, ids)
            for hold_id in ids:
                state = states.get(hold_id, EXPIRED)
                if state != HELD:
                    self._resolve(hold_id, state)
                    if self.on_answered is not None:
                        self.on_answered(hold_id, state, None)

    def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
        for future in self._waiting.values():
            if not future.done():
                future.cancel()


DRAFT_READ_S = 3.0  # the longest a held drafts.send waits for the draft to be read before it is shown
DRAFT_CHANGED = "the draft changed after you saw it (or could not be read again), so it was not sent"
WITHDRAWN = "withdrawn"  # approved, then not sent: the draft is not the one the owner saw


async def read_draft(send_upstream, route: Route, request: Request) -> dict | None:
    """For Gmail's ``drafts.send`` naming a draft by ID alone: the draft, read with a read-only
    ``users.drafts.get`` (format=raw) from the same upstream with the connector's key, so the owner
    sees whom it goes to before answering (https://developers.google.com/gmail/api/reference/rest/v1/users.drafts/get).
    ``{"raw": MIME bytes}``, or ``{"error": why}`` when it cannot be read within DRAFT_READ_S; None for
    any other request. Only this held request waits for it; it is not recorded as the agent's use."""
    from urllib.parse import quote

    from app.services.hold_summary import draft_id, draft_raw

    try:
        found = draft_id(request) if route.provider == "google" else None
    except Exception:  # a body no summary can read (hostile nesting …): held with the plain summary
        found = None
    if found is None:
        return None
    path = request.path.rstrip("/").removesuffix("/send") + "/" + quote(found, safe="")
    get = Request("GET", request.host, path, "format=raw", {"accept": "application/json"}, b"")

    async def read() -> dict:
        answer = await send_upstream(route, get)
        if answer is None:
            return {"error": "no key in the keyring"}
        try:
            body = await answer.read()
            if answer.status_code != 200:
                return {"error": f"the provider answered {answer.status_code}"}
            import json

            return await asyncio.to_thread(lambda: {"raw": draft_raw(json.loads(body))})
        finally:
            await answer.aclose()

    try:
        return await asyncio.wait_for(read(), DRAFT_READ_S)
    except TimeoutError:
        return {"error": f"no answer within {DRAFT_READ_S:g} s"}
    except Exception as exc:  # the provider's answer is not a draft, the network failed: say so, hold anyway
        return {"error": type(exc).__name__}
