"""The still-live checklist covers more than disabled connectors (issue 9): a key that a draft-only or
read-only switch left above its ceiling (the provider has no API to reduce it, or the full key was kept
beside a reduced one), and a rotation's old key that still works. "I did it" (checklist.done) probes
again and ticks an item off only when the probe proves it."""

from __future__ import annotations

from app.services import checklist
from app.services.checklist import Reason
from app.services.switches import JobState
from connectors.base import Secret
from tests.switches.conftest import audit_actions

READ_SCOPES = ["crm.objects.contacts.read", "crm.objects.deals.read"]


def _listed(services) -> dict[tuple[str, Reason], checklist.Item]:
    return {(i.connector, i.reason): i for i in checklist.items(services)}


async def test_a_reduce_left_waiting_for_you_is_listed_until_a_probe_shows_the_ceiling(world, switches, services):
    crm = world.add("crm", "hubspot", "private_app")  # HubSpot has no API to reduce a private app's scopes
    report = await switches.read_only("crm")
    assert report.state is JobState.MANUAL

    listed = _listed(services)
    assert set(listed) == {("crm", Reason.REDUCED)}
    item = listed[("crm", Reason.REDUCED)]
    assert item.last4 == crm.token[-4:] and item.steps and "more than" in item.reason.words
    assert crm.token not in checklist.markdown(list(listed.values()))
    assert "- Why it is here: still holds more than the switch asked for" in checklist.markdown([item])

    checked = await checklist.done(services, "crm")  # "I did it" — but the key still has write scopes
    assert not checked.ticked and "still on the list" in checked.message
    assert ("crm", Reason.REDUCED) in _listed(services)

    crm.scopes = list(READ_SCOPES)  # the owner narrowed the private app at HubSpot
    checked = await checklist.done(services, "crm")
    assert checked.ticked, checked.message
    assert _listed(services) == {}
    assert services.inventory.get("crm").switch_state is JobState.VERIFIED


async def test_a_full_key_kept_beside_a_reduced_one_is_listed_by_its_own_last_four(world, switches, services, sandbox):
    full = world.add("gh", "github", "classic")
    narrow = world.mint("github", "classic", scopes=["read:org"])
    switches.add_credential("gh", Secret(narrow.token), tier="reduced")
    report = await switches.read_only("gh")  # hands out the reduced key; the full one still works
    assert report.state is not JobState.VERIFIED

    item = _listed(services)[("gh", Reason.REDUCED)]
    assert item.last4 == full.token[-4:]  # the key holding the power, not the handed-out reduced one
    assert any("--revoke-full" in s for s in item.steps)

    sandbox.state.revoke(full.token)  # the owner deletes the full token at GitHub
    checked = await checklist.done(services, "gh")
    assert checked.ticked, checked.message
    assert _listed(services) == {}


async def test_a_rotations_old_key_is_listed_until_it_is_dead(world, switches, services, sandbox):
    old = world.add("crm", "hubspot", "private_app")
    new = world.mint("hubspot", "private_app")
    report = await switches.rotate_with("crm", Secret(new.token))  # guided; no revoke API at HubSpot
    assert report.state is not JobState.VERIFIED
    view = services.inventory.get("crm")
    assert view.credential.last4 == new.token[-4:]

    listed = _listed(services)
    assert set(listed) == {("crm", Reason.OLD_KEY)}
    item = listed[("crm", Reason.OLD_KEY)]
    assert item.last4 == old.token[-4:] and item.state == "old key still live"
    assert old.token not in checklist.markdown([item]) and new.token not in checklist.markdown([item])

    assert not (await checklist.done(services, "crm")).ticked  # still works at HubSpot
    sandbox.state.revoke(old.token)
    checked = await checklist.done(services, "crm")
    assert checked.ticked, checked.message
    assert _listed(services) == {}
    assert services.inventory.get("crm").switch_state is JobState.VERIFIED


async def test_an_old_key_and_a_reduce_on_one_connector_are_ticked_off_apart(world, switches, services, sandbox):
    old = world.add("crm", "hubspot", "private_app")
    new = world.mint("hubspot", "private_app")
    await switches.rotate_with("crm", Secret(new.token))
    await switches.read_only("crm")  # the latest switch is now the reduce, waiting for you
    assert set(_listed(services)) == {("crm", Reason.REDUCED), ("crm", Reason.OLD_KEY)}

    sandbox.state.revoke(old.token)  # only the old key is dealt with
    checked = await checklist.done(services, "crm")
    assert not checked.ticked  # the reduce is not done
    assert set(_listed(services)) == {("crm", Reason.REDUCED)}
    assert "credential.dead" in audit_actions(services, "crm")  # the old key is marked revoked, audited
