"""Issue 9, seen 3: the emergency disable without a keyring (locked, or none in this session).

The local part needs no key: every selected connector is recorded disabled (``exec`` refuses it),
the provider calls that could not be made are listed, exit 1; the audit events wait unsealed and
``audit --verify`` says so; ``panic --resume`` after the keyring is back makes the calls, verifies,
and seals the waiting entries into the chain. No command says the sentence about storing a key.
"""

from __future__ import annotations

import json

import keyring.errors
import pytest

from app.services import exec as exec_service
from app.services.context import open_services
from app.services.demo import demo_port, demo_settings, load_sandbox_state, prepare_demo_home
from app.services.keyrings import DemoFileKeyring
from connectors.base import Outcome
from connectors.sandbox.server import ThreadedSandbox
from tests.cli.test_demo_emergency import fresh_probes

STORING = ("will not store", "run the command again", "plaintext file")


@pytest.fixture
def demo(tmp_path):
    home = tmp_path / "demo"
    settings = prepare_demo_home(home)
    runner = ThreadedSandbox(load_sandbox_state(home), port=demo_port(settings))
    runner.start()
    yield home, runner
    runner.stop()


def keyring_fails(monkeypatch, how: str) -> None:
    def fail(*_a, **_k):
        if how == "absent":
            raise keyring.errors.NoKeyringError("No recommended backend was available")
        raise keyring.errors.KeyringLocked("Failed to unlock the collection!")

    for method in ("get_password", "set_password", "delete_password"):
        monkeypatch.setattr(DemoFileKeyring, method, fail)


@pytest.mark.parametrize("how", ["locked", "absent"])
def test_panic_without_keyring_records_everything_lists_the_calls_and_resume_finishes(breaker, demo, how):
    home, runner = demo
    names = {
        c["name"] for c in json.loads(breaker("--home", str(home), "list", "--json", home=False).out)["connectors"]
    }
    runner.server.clear_requests()
    with pytest.MonkeyPatch.context() as mp:
        keyring_fails(mp, how)
        run = breaker("--home", str(home), "panic", "--yes", "--json", home=False)
        assert run.code == 1, run.err
        summary = json.loads(run.out)
        assert not summary["ok"] and summary["keyring_problem"]
        assert {r["connector"] for r in summary["not_called"]} == names
        for report in summary["not_called"]:
            assert report["provider_call"] and report["manual_steps"], report
        assert runner.server.requests == [], "no provider was called without the keyring"
        # recorded disabled: the listing says so, and exec refuses
        listing = json.loads(breaker("--home", str(home), "list", "--json", home=False).out)["connectors"]
        assert {c["mode"] for c in listing} == {"disabled"}
        assert not any(c["off"] for c in listing), "nothing is off: no key was proven dead"
        services = open_services(demo_settings(home))
        try:
            with pytest.raises(exec_service.ExecRefused, match="disabled"):
                exec_service.run(services, "blog-drafts", ["true"])
        finally:
            services.close()
        # the commands that need no key say exactly what is missing
        text = breaker("--home", str(home), "panic", "--yes", home=False)
        verify = breaker("--home", str(home), "audit", "--verify", home=False)
        export = breaker("--home", str(home), "export", home=False)
        assert "NOT made" in text.out and "panic --resume" in text.out
        assert verify.code == 1 and "NOT CHECKED" in verify.out and "waiting to be sealed" in verify.out
        assert "BROKEN" not in verify.out
        assert export.code == 0 and "kept unsealed" in export.err
        for result in (run, text, verify, export):
            for words in STORING:
                assert words not in result.out + result.err, (words, result)

    # the keyring is back: the resume makes the calls and verifies; the waiting entries are sealed
    resumed = breaker("--home", str(home), "panic", "--resume", "--json", home=False)
    after = json.loads(resumed.out)
    assert after["not_called"] == [] and after["verified"], after
    assert runner.server.requests, "the resume called the providers"
    verify = breaker("--home", str(home), "audit", "--verify", home=False)
    assert verify.code == 0 and "intact" in verify.out and "waiting" not in verify.out, verify.out
    log = json.loads(breaker("--home", str(home), "audit", "--json", "--limit", "500", home=False).out)["events"]
    actions = [e["action"] for e in log]
    sealed = [e for e in log if e["action"] == "audit.sealed"]
    assert sealed and sealed[0]["new"]["entries"] >= len(names) + 2, sealed
    assert actions.count("switch.not-called") >= len(names)
    assert actions.index("switch.not-called") < actions.index("audit.sealed") < actions.index("panic.resume")
    # the scenario's truth: every connector counted off is dead by a fresh probe, the rest still work
    listing = json.loads(breaker("--home", str(home), "list", "--json", home=False).out)["connectors"]
    outcomes = fresh_probes(home)
    off = {c["name"] for c in listing if c["off"]}
    still_live = {c["name"] for c in listing if c["key_still_live"]}
    assert off and off | still_live == names
    for name in off:
        assert outcomes[name] in (Outcome.INVALID, Outcome.REVOKED), (name, outcomes[name])
    assert still_live == {n for n, o in outcomes.items() if o is Outcome.OK}, outcomes
    assert resumed.code == (1 if still_live else 0)
