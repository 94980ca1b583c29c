"""The switches share their rules instead of copying them: the network helpers of probing, the
provider facts of the provider classes, one selection rule for the panic plan and the panic."""

from __future__ import annotations

import pytest

from app.services import netutil
from app.services.switches import Selection, SwitchAction, Switches, calls, plan_for
from connectors import registry
from connectors.base import Verb

PROVIDERS = registry.names()


def test_the_network_helpers_are_the_shared_ones():
    assert calls.tls_context is netutil.tls_context
    assert calls.gated is netutil.gated


@pytest.mark.parametrize("name", PROVIDERS)
def test_every_call_breaker_makes_by_api_is_described_by_its_provider(name):
    """A verb the provider does by API has its request on the provider class: the confirmation
    names the real call, and its time limit is sized by the provider's own request count."""
    provider = registry.get(name)
    by_api = {
        Verb.REVOKE: provider.can_revoke,
        Verb.RESTRICT: provider.can_restrict,
        Verb.ROTATE: provider.can_rotate,
        Verb.REENABLE: provider.revoke_reversible,
    }
    for verb, flag in by_api.items():
        call = provider.switch_call(verb)
        if flag:
            assert call is not None, f"{name} does {verb} by API but does not say which call"
            method, _, path = call.request.partition(" ")
            assert method in {"GET", "POST", "PUT", "PATCH", "DELETE"} and path.startswith("/"), call
        assert provider.requests_for(verb) == (call.requests if call else 1)


def test_a_new_switch_word_has_a_target_and_a_verb():
    for action in SwitchAction:
        assert action.verb in Verb
        assert SwitchAction.of_panel(action.panel_action) is action
        assert action.title
    assert SwitchAction.ROTATE.target_mode is None


async def test_the_panic_plan_and_the_panic_cover_the_same_connectors(world, services):
    world.add("gh-ana", "github", "classic", owner="Ana", tags="prod")
    world.add("gh-bo", "github", "classic", owner="Bo", tags="test")
    world.add("slack-ana", "slack", "bot", owner="Ana", tags="prod")
    sw = Switches(services)
    try:
        for selection in (Selection(tags=("prod",)), Selection(owners=("bo",)), Selection()):
            shown = sw.panic_plan(selection).names
            summary = await sw.panic(selection)
            assert sorted(shown) == sorted(r.connector for r in summary.reports), selection
    finally:
        sw.close()


def test_a_plan_refuses_an_unknown_switch(world, services):
    world.add("gh", "github", "classic")
    view = services.inventory.get("gh")
    with pytest.raises(ValueError, match="unknown switch 'off'"):
        plan_for(view, "off")
