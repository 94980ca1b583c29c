"""The probe-all's pool hands a freed slot to the endpoint with the most work left (issue 8: the
busiest provider bounds the wall time, so its slots must not sit idle waiting for the pool)."""

from __future__ import annotations

import asyncio

from app.services.probing import BusiestFirst


async def _queue(pool: BusiestFirst, endpoint: str, served: list[str]) -> None:
    async with pool.slot(endpoint):
        served.append(endpoint)
        await asyncio.sleep(0)


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_freed_slot_goes_to_the_endpoint_with_the_most_work_left():
    pool = BusiestFirst(1)
    for endpoint, probes in (("light", 2), ("busy", 5), ("middle", 3)):
        for _ in range(probes):
            pool.expect(endpoint)
    served: list[str] = []
    holder = pool.slot("light")
    await holder.__aenter__()  # the pool is full
    waiters = [asyncio.ensure_future(_queue(pool, e, served)) for e in ("light", "middle", "busy")]
    await _settle()
    assert served == []  # all three wait: the only slot is held
    await holder.__aexit__(None, None, None)
    await asyncio.gather(*waiters)
    assert served == ["busy", "middle", "light"]  # not the order they came in


async def test_work_left_counts_the_requests_an_endpoints_probes_send():
    pool = BusiestFirst(4)
    for _ in range(4):
        pool.expect("three-requests")
    for _ in range(6):
        pool.expect("one-request")
    pool.finished("three-requests", 3)
    pool.finished("one-request", 1)
    assert pool.work_left("three-requests") == 9  # 3 probes left x 3 requests each
    assert pool.work_left("one-request") == 5
    assert pool.work_left("unknown") == 0


async def test_the_pool_never_holds_more_than_its_slots_and_gives_every_slot_back():
    pool = BusiestFirst(3)
    busy, peak = 0, 0

    async def probe(endpoint: str) -> None:
        nonlocal busy, peak
        async with pool.slot(endpoint):
            busy += 1
            peak = max(peak, busy)
            await asyncio.sleep(0.001)
            busy -= 1

    await asyncio.gather(*(probe(f"e{i % 4}") for i in range(40)))
    assert peak == 3
    assert pool._free == 3 and not pool._waiting


async def test_a_cancelled_waiter_does_not_keep_a_slot():
    pool = BusiestFirst(1)
    holder = pool.slot("a")
    await holder.__aenter__()
    waiter = asyncio.ensure_future(_queue(pool, "b", []))
    await _settle()
    waiter.cancel()
    await _settle()
    await holder.__aexit__(None, None, None)
    assert pool._free == 1  # the cancelled waiter was skipped, the slot is free again

    # handed the slot just as it is cancelled: it gives the slot back
    await holder.__aenter__()
    waiter = asyncio.ensure_future(_queue(pool, "b", []))
    await _settle()
    await holder.__aexit__(None, None, None)  # hands the slot to the waiter...
    waiter.cancel()  # ...which is cancelled before it runs
    await asyncio.gather(waiter, return_exceptions=True)
    assert pool._free == 1
