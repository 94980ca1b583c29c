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


async def test_the_pool_is_quiet_when_nothing_waits_and_at_most_half_the_slots_are_held():
    pool = BusiestFirst(4)
    assert pool._quiet.is_set()  # nothing running yet
    held = [pool.slot("a") for _ in range(4)]
    for slot in held:
        await slot.__aenter__()
    served: list[str] = []
    waiter = asyncio.ensure_future(_queue(pool, "b", served))
    cancelled = asyncio.ensure_future(_queue(pool, "c", served))
    quiet = asyncio.ensure_future(pool.quiet())
    await _settle()
    cancelled.cancel()
    await _settle()
    assert pool._queued == 1 and not quiet.done()  # the cancelled waiter no longer counts
    await held[0].__aexit__(None, None, None)  # its slot goes to the waiter
    await waiter
    assert served == ["b"] and pool._in_use == 3 and not quiet.done()  # three of four held: busy
    await held[1].__aexit__(None, None, None)
    await asyncio.wait_for(quiet, 10)  # two of four, nothing waiting: quiet
    await held[2].__aexit__(None, None, None)
    await held[3].__aexit__(None, None, None)
    assert pool._queued == 0 and pool._in_use == 0 and pool._quiet.is_set()
