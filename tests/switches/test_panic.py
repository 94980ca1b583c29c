"""The emergency disable, in process: order of steps, selection, shared keys, admin keys last,
faults that delay nobody else, the summary, and resuming from the journal."""

from __future__ import annotations

import time

import pytest
from sqlmodel import Session, select

from app.services.switches import JobState, Selection, Switches
from app.services.switches.calls import Calls
from app.services.switches.journal import new_batch_id
from app.store.models import SwitchJob
from connectors.base import Mode
from tests.switches.conftest import CASES, audit_actions, present_providers


def fleet(world, per_provider: int = 2, providers=None) -> list[str]:
    names = []
    for provider in providers or present_providers():
        for i in range(per_provider):
            name = f"{provider}-{i}"
            world.connector(name, provider)
            names.append(name)
    return names


async def test_panic_disables_everything_and_verifies_by_probe(world, services, sandbox):
    names = fleet(world)
    admins = [n for n in world.tokens if n.endswith("org-admin")]
    sw = Switches(services, call_timeout=3)
    events = []
    try:
        plan = sw.panic_plan()
        assert plan.count == len(names) + len(admins)
        assert "EMERGENCY" in plan.text()
        summary = await sw.panic(on_event=events.append)
    finally:
        sw.close()
    assert summary.total == len(names) + len(admins)
    assert summary.recorded_ms < summary.verified_ms
    assert all(v.mode is Mode.DISABLED for v in services.inventory.list())
    # Step order: every connector recorded before any provider answer reaches the screen.
    first_result = next(i for i, e in enumerate(events) if e.state != JobState.RECORDED)
    assert {e.connector for e in events[:first_result]} == set(names) | set(admins)
    verified = {r.connector for r in summary.verified}
    for name in names:
        provider = name.rsplit("-", 1)[0]
        if CASES[provider].disable == JobState.VERIFIED:
            assert name in verified and not world.alive(name), name
        else:
            report = next(r for r in summary.not_verified if r.connector == name)
            assert report.manual_steps
    actions = audit_actions(services)
    assert actions.count("switch.recorded") == summary.total
    assert actions.index("panic.start") < actions.index("switch.recorded") and actions[-1] == "panic.end"
    assert services.audit.verify(services.engine).ok
    assert sw.unfinished_batches() == []


async def test_selection_by_provider_owner_and_tag(world, services, sandbox):
    world.add("gh-ana", "github", "classic", owner="Ana", tags="prod")
    world.add("gh-bo", "github", "classic", owner="Bo", tags="test")
    world.add("slack-ana", "slack", "bot", owner="Ana", tags="test")
    sw = Switches(services)
    try:
        assert [v.name for v in sw.select(Selection(providers=("github",)))] == ["gh-ana", "gh-bo"]
        assert [v.name for v in sw.select(Selection(owners=("ana",)))] == ["gh-ana", "slack-ana"]
        assert [v.name for v in sw.select(Selection(tags=("test",), providers=("slack",)))] == ["slack-ana"]
        summary = await sw.panic(Selection(tags=("prod",)))
        assert [r.connector for r in summary.verified] == ["gh-ana"]
        modes = {v.name: v.mode for v in services.inventory.list()}
        assert modes == {"gh-ana": Mode.DISABLED, "gh-bo": Mode.FULL, "slack-ana": Mode.FULL}
        # a second panic covers it again, but only looks (probe first): nothing is sent twice
        again = await sw.panic(Selection(tags=("prod",)))
        assert again.total == 1 and [r.connector for r in again.verified] == ["gh-ana"]
        assert len([p for _, p in sandbox.calls("github") if p.endswith("/credentials/revoke")]) == 1
    finally:
        sw.close()


async def test_a_shared_key_is_revoked_once(world, services, sandbox):
    record = world.add("a", "github", "classic")
    world.add("b", "github", "classic", record=record)  # the same key on two connectors
    sw = Switches(services)
    try:
        summary = await sw.panic()
    finally:
        sw.close()
    assert {r.connector for r in summary.verified} == {"a", "b"}
    assert [p for _, p in sandbox.calls("github") if p.endswith("/credentials/revoke")] == [
        "/github/credentials/revoke"
    ]


async def test_the_organisation_admin_key_is_revoked_last(world, services, sandbox):
    if "openai" not in present_providers():
        return
    world.admin("openai")
    for i in range(3):
        world.add(f"oa-{i}", "openai", "project", extra={"project_id": "proj_SANDBOX"})
    sw = Switches(services, per_provider=4)
    events = []
    try:
        summary = await sw.panic(on_event=events.append)
    finally:
        sw.close()
    assert summary.ok, summary.as_dict()
    applied = [e.connector for e in events if e.state == "applied"]
    assert applied[-1] == "openai-org-admin"  # the others needed its key
    deletes = [p for m, p in sandbox.calls("openai") if m == "DELETE"]
    assert deletes[-1].startswith("/openai/v1/organization/admin_api_keys/")


@pytest.mark.wallclock
async def test_a_hanging_provider_delays_nobody_else(world, services, sandbox):
    for i in range(3):
        world.add(f"gh-{i}", "github", "classic")
        world.add(f"sl-{i}", "slack", "bot")
    sandbox.faults.set("slack", hang=True)
    # GitHub's connectors must be done before Slack's first call even times out. That timeout is the
    # timed part, so it is long (3 s): GitHub's revoke-and-verify read 0.4-0.6 s with the CPUs busy,
    # past the 0.5 s this used to allow.
    timeout_s = 3.0
    sw = Switches(services, call_timeout=timeout_s, attempts=2, backoff_s=0.05)
    events = []
    started = time.perf_counter()
    try:
        summary = await sw.panic(on_event=events.append)
    finally:
        sw.close()
    elapsed = time.perf_counter() - started
    github_done = max(e.elapsed_ms for e in events if e.connector.startswith("gh") and e.state == JobState.VERIFIED)
    assert github_done < timeout_s * 1000, f"GitHub waited for Slack: {github_done:.0f} ms"
    assert {r.connector for r in summary.verified} == {"gh-0", "gh-1", "gh-2"}
    stuck = {r.connector: r for r in summary.failed}
    assert set(stuck) == {"sl-0", "sl-1", "sl-2"}
    assert all(r.state == JobState.PENDING and r.manual_steps for r in stuck.values())
    # two attempts and the verifying probe's deadline (2 × timeout + 1 s): ~2 × timeout when quiet
    assert elapsed < 4 * timeout_s + 3, "the hanging provider is bounded by its own timeout"
    assert services.inventory.get("sl-0").mode is Mode.DISABLED  # recorded locally all the same


async def test_a_failing_provider_is_listed_with_manual_steps(world, services, sandbox):
    world.add("gh", "github", "classic")
    world.add("sl", "slack", "bot")
    sandbox.faults.set("github", status=500)
    sw = Switches(services, attempts=2, backoff_s=0.01)
    try:
        summary = await sw.panic()
    finally:
        sw.close()
    assert [r.connector for r in summary.verified] == ["sl"]
    [failed] = summary.failed
    assert failed.connector == "gh" and failed.state == JobState.PENDING and "HTTP 500" in failed.message
    assert any("github.com/settings" in s for s in failed.manual_steps)
    assert not summary.ok
    data = summary.as_dict()
    assert data["failed"][0]["manual_steps"] and data["ok"] is False


async def test_resume_finishes_a_panic_interrupted_after_recording(world, services, sandbox):
    fleet(world, 1, [p for p in ("github", "slack", "gitlab") if p in present_providers()])
    sw = Switches(services)
    try:
        batch = new_batch_id()
        targets = sw.journal.panic_targets(lambda t, owner, tags: True)
        sw.journal.journal_batch(batch, targets, {}, {})  # the kill came here:
        assert sw.unfinished_batches() == [batch]
        assert all(v.mode is Mode.FULL for v in services.inventory.list())  # journalled, not yet recorded
        summary = await sw.resume()
        assert summary is not None and summary.resumed and summary.ok, summary.as_dict()
        assert sw.unfinished_batches() == [] and await sw.resume() is None
    finally:
        sw.close()
    assert all(v.mode is Mode.DISABLED for v in services.inventory.list())
    assert "panic.resume" in audit_actions(services)


async def test_resume_never_repeats_a_revocation_that_went_through(world, services, sandbox):
    world.add("gh", "github", "classic")
    sw = Switches(services)
    try:
        batch = new_batch_id()
        targets = sw.journal.panic_targets(lambda t, owner, tags: True)
        sw.journal.journal_batch(batch, targets, {}, {})
        sw.journal.record_batch(batch)
        sw.journal.mark_applying([j.id for j in sw.journal.batch_jobs(batch)])
        sandbox.state.revoke(world.tokens["gh"].token)  # the call landed, the kill came before the commit
        summary = await sw.resume(batch)
    finally:
        sw.close()
    assert summary.ok and "already no longer works" in summary.verified[0].message
    assert not [p for _, p in sandbox.calls("github") if p.endswith("/credentials/revoke")]


async def test_a_new_panic_supersedes_an_interrupted_one(world, services, sandbox):
    world.add("gh", "github", "classic")
    sw = Switches(services)
    try:
        old = new_batch_id()
        targets = sw.journal.panic_targets(lambda t, owner, tags: True)
        sw.journal.journal_batch(old, targets, {}, {})
        summary = await sw.panic()
        assert summary.ok and summary.superseded == [old]
        assert sw.unfinished_batches() == []
    finally:
        sw.close()
    with Session(services.engine) as s:
        states = {j.batch: j.state for j in s.exec(select(SwitchJob)).all()}
    assert states[old] == JobState.SUPERSEDED


async def test_events_carry_unverified_and_failed_states(world, services, sandbox):
    world.add("pay", "stripe", "restricted_test")
    sw = Switches(services)
    events = []
    try:
        summary = await sw.panic(on_event=events.append)
    finally:
        sw.close()
    states = [e.state for e in events if e.connector == "pay"]
    assert states == [JobState.RECORDED, "manual", JobState.UNVERIFIED]
    assert summary.not_verified[0].manual_steps and JobState.FAILED not in states


@pytest.mark.wallclock
async def test_recording_two_hundred_connectors_is_quick(world, services):
    """The benchmark measures it properly; this guards against an accidental slow path (loose bound)."""
    for i in range(200):
        world.add(f"c{i:03d}", "github", "classic")
    sw = Switches(services)
    sw.prepare()
    try:
        targets = sw.journal.panic_targets(lambda t, owner, tags: True)
        started = time.perf_counter()
        batch = new_batch_id()
        sw.journal.journal_batch(batch, targets, {}, {})
        sw.journal.record_batch(batch)
        elapsed = time.perf_counter() - started
    finally:
        sw.close()
    # ~40 ms, also with the CPUs busy: 1 s is a 25x margin (the benchmark measures it properly)
    assert elapsed < 1.0, f"{elapsed * 1000:.0f} ms to record 200 connectors"
    assert all(v.mode is Mode.DISABLED for v in services.inventory.list())


# -- review findings --------------------------------------------------------------------------------


async def test_a_panic_writes_switch_verified_once_per_connector(world, services, sandbox):
    for i in range(3):
        world.add(f"gh-{i}", "github", "classic")
        world.add(f"sl-{i}", "slack", "bot")
    sw = Switches(services)
    try:
        summary = await sw.panic()
    finally:
        sw.close()
    assert summary.ok and len(summary.verified) == 6
    assert audit_actions(services).count("switch.verified") == 6


async def test_panic_catches_a_key_reactivated_out_of_band(world, services, sandbox):
    """A connector disabled and verified long ago is still covered: probed first, and revoked
    again when its key works once more (someone set it active in the Console)."""
    world.admin("anthropic")
    record = world.add("claude", "anthropic", "api")
    sw = Switches(services)
    try:
        assert (await sw.disable("claude")).state == JobState.VERIFIED
        assert sandbox.state.get(record.token).status == "inactive"
        sandbox.state.get(record.token).status = "active"  # re-activated behind Breaker's back
        assert "claude" in sw.panic_plan().names
        summary = await sw.panic()
    finally:
        sw.close()
    assert "claude" in {r.connector for r in summary.verified}, summary.as_dict()
    assert sandbox.state.get(record.token).status == "inactive"


async def test_panic_of_an_already_dead_key_sends_nothing(world, services, sandbox):
    world.add("gh", "github", "classic")
    sw = Switches(services)
    try:
        await sw.disable("gh")
        sandbox.clear_requests()
        summary = await sw.panic()
    finally:
        sw.close()
    assert [r.connector for r in summary.verified] == ["gh"]
    assert not [p for _, p in sandbox.calls("github") if p.endswith("/credentials/revoke")]


async def test_unfinished_batches_reads_the_state_not_a_substring(world, services, sandbox):
    """A job applied but never verified is unfinished, whatever text its provider details hold."""
    from app.services.switches.journal import JobUpdate

    world.add("gh", "github", "classic")
    sw = Switches(services)
    try:
        batch = new_batch_id()
        targets = sw.journal.panic_targets(lambda t, owner, tags: True)
        sw.journal.journal_batch(batch, targets, {}, {})
        sw.journal.record_batch(batch)
        [job] = sw.journal.batch_jobs(batch)
        # the provider step committed (its details merely mention "verify"), then the kill came
        sw.journal.write(
            [
                JobUpdate(
                    job.id, "gh", "switch.applied", state="applied", provider_done=True, details={"notes": ["verify"]}
                )
            ]
        )
        sandbox.state.revoke(world.tokens["gh"].token)
        assert sw.unfinished_batches() == [batch]
        summary = await sw.resume()
        assert summary is not None and summary.ok
        assert sw.unfinished_batches() == []
    finally:
        sw.close()


async def test_no_key_is_read_before_the_confirmation_and_none_is_kept_after(world, services, sandbox, monkeypatch):
    """Issue 9, seen 4: the plan and prepare() (all that runs before the owner's second
    confirmation) read no connector key; the panic reads them, once each, and forgets them."""
    for i in range(3):
        world.add(f"gh-{i}", "github", "classic")
    reads: list[str] = []
    original = services.secrets.get

    def counting_get(ref):
        reads.append(ref)
        return original(ref)

    monkeypatch.setattr(services.secrets, "get", counting_get)
    kept: list = []
    monkeypatch.setattr(Calls, "forget", lambda self: (kept.append(dict(self._creds)), self._creds.clear()))
    sw = Switches(services)
    try:
        sw.panic_plan(Selection())
        sw.prepare(Selection())
        assert reads == [], "a key was read before the owner confirmed"
        summary = await sw.panic()
    finally:
        sw.close()
    assert summary.ok
    assert len(set(reads)) == 3
    assert len(kept) == 1 and len(kept[0]) == 3  # the run's keys, dropped when it ended
