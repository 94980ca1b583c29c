"""app.services.changes: what other processes changed in the store, told apart from this process's
own changes by the audit sequence numbers this process committed; a look costs one PRAGMA when
nothing was committed."""

from __future__ import annotations

import socket

import pytest

from app.services.changes import NOTHING, StoreWatch, serving_elsewhere
from app.services.context import open_services
from app.services.gateway import record_run
from app.services.inventory import ConnectorInput
from app.settings import load_settings
from connectors.base import Secret

KEY = "xoxb-1234567890-1234567890-SANDBOXchangesabc"


@pytest.fixture
def other(home, memory_keyring, services):
    """The same store opened a second time: another terminal's ``breaker`` command."""
    svc = open_services(load_settings(home=home), keyring=memory_keyring)
    yield svc
    svc.close()


def add(services, name: str) -> None:
    services.inventory.add(ConnectorInput(name=name, provider="slack", owner="Ana"), Secret(KEY))


def test_another_process_s_changes_are_told_with_the_connectors_they_name(services, other):
    watch = StoreWatch(services)
    watch.start()
    assert watch.poll() is NOTHING
    add(other, "bot-a")
    add(other, "bot-b")
    told = watch.poll()
    assert told and told.names - {""} == {"bot-a", "bot-b"} and "connector.add" in told.actions  # ("" : owner.add)
    assert watch.poll() is NOTHING  # told once
    other.inventory.remove("bot-a", delete_key=False)
    told = watch.poll()
    assert told.names == {"bot-a"} and told.actions == {"connector.remove"}
    watch.close()


def test_this_process_s_own_changes_are_not_told(services, other):
    watch = StoreWatch(services)
    watch.start()
    add(services, "mine")
    assert watch.poll() is NOTHING
    add(services, "mine-too")
    add(other, "theirs")  # both since the last look: only theirs is told
    told = watch.poll()
    assert told.names - {""} == {"theirs"}
    watch.close()


def test_nothing_committed_costs_one_pragma_and_no_read_of_the_audit_log(services, other):
    watch = StoreWatch(services)
    watch.start()
    watch.poll()
    asked: list[str] = []
    watch._connection().set_trace_callback(asked.append)
    for _ in range(5):
        assert watch.poll() is NOTHING
    assert asked == ["PRAGMA data_version"] * 5
    add(other, "bot")
    assert watch.poll()
    assert any("audit_event" in sql for sql in asked[5:])
    watch.close()


def test_a_gateway_started_elsewhere_is_serving_while_its_port_answers(services, other):
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(1)
    url = f"http://127.0.0.1:{listening.getsockname()[1]}"
    try:
        watch = StoreWatch(services)
        watch.start()
        assert serving_elsewhere(services, url) is None  # nothing audited yet
        record_run(other, True, url, "breaker gateway")
        told = watch.poll()
        assert told.gateway == (("gateway.started", {"url": url, "where": "breaker gateway"}),)
        assert told.names == frozenset()  # a gateway's events change no connector
        serving = serving_elsewhere(services, url)
        assert serving is not None and serving.url == url and serving.where == "breaker gateway"
        assert serving_elsewhere(services, "http://127.0.0.1:1") is None  # another address
    finally:
        listening.close()
    assert serving_elsewhere(services, url) is None  # killed without saying so: its port is closed
    record_run(other, False, url, "breaker gateway")
    assert serving_elsewhere(services, url) is None
    watch.close()


def test_a_request_held_by_a_gateway_elsewhere_changes_no_connector(services, other):
    from app.store.db import session_scope

    add(services, "bot")
    watch = StoreWatch(services)
    watch.start()
    with session_scope(other.engine) as s:
        other.audit.record(s, "gateway.held", "bot", new={"hold": 1})
    told = watch.poll()
    assert told and told.actions == {"gateway.held"} and told.names == frozenset()
    watch.close()
