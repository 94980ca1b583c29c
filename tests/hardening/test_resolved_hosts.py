"""Issue 10, item 3 (base URLs), by name: a base URL whose host name RESOLVES to a link-local or
cloud-metadata address is never sent a key, and one that resolves to a private-network address only
after the owner confirmed that host (``--allow-private-url``, audited, sealed with the destination).
The host is looked up when a key is about to leave; these tests put a stub resolver in its place
(no real DNS)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from app.services import binding

KEY = "ghp_SANDBOXDNS" + "q7Wm2Zr9Lx4Kp8Vt1Nc6Hb3J" + "Tail"
URL = "https://git.innocent.example/api/v3"


@pytest.fixture
def dns(monkeypatch):
    """``dns["git.innocent.example"] = ["10.0.0.5"]``: what the stub resolver answers (unknown → OSError)."""
    answers: dict[str, list[str]] = {}
    asked: list[str] = []

    def stub(host: str) -> list[str]:
        asked.append(host)
        if host not in answers:
            raise OSError(-2, "Name or service not known")
        return answers[host]

    monkeypatch.setattr(binding, "resolve", stub, raising=False)
    answers["_asked"] = asked  # type: ignore[assignment]
    return answers


def events(breaker) -> list[dict]:
    return json.loads(breaker("audit", "--json", "--limit", "100").out)["events"]


@pytest.mark.parametrize(
    "address", ["169.254.169.254", "fd00:ec2::254", "fe80::1", "::ffff:169.254.169.254", "169.254.10.1"]
)
def test_a_name_that_resolves_to_link_local_or_metadata_is_never_sent_a_key(breaker, add_github, dns, address):
    dns["git.innocent.example"] = ["93.184.215.14", address]  # one bad answer among good ones is enough
    assert add_github("gh", KEY, "--base-url", URL).code == 0
    r = breaker("exec", "gh", "--", "true")
    assert r.code != 0
    assert "resolves to" in r.err and "link-local or cloud-metadata" in r.err and "Nothing was sent" in r.err
    assert KEY not in r.err
    assert "git.innocent.example" in dns["_asked"]
    # Not even a confirmation lets it through.
    assert breaker("edit", "gh", "--allow-private-url").code == 0
    assert breaker("exec", "gh", "--", "true").code != 0
    assert any(e["action"] == "key.refused" for e in events(breaker))


def test_a_name_that_resolves_to_a_private_address_needs_the_owners_audited_confirmation(breaker, add_github, dns):
    dns["git.innocent.example"] = ["10.0.0.5"]
    assert add_github("gh", KEY, "--base-url", URL).code == 0
    r = breaker("exec", "gh", "--", "true")
    assert r.code != 0
    assert "resolves to 10.0.0.5, a private-network address" in r.err
    assert "breaker edit gh --allow-private-url" in r.err
    r = breaker("probe", "gh", "--json")
    assert r.code != 0 and "private-network" in r.out + r.err
    assert breaker("edit", "gh", "--allow-private-url").code == 0
    assert breaker("exec", "gh", "--", "true").code == 0
    confirmed = [e for e in events(breaker) if (e.get("new") or {}).get("private_url_confirmed")]
    assert confirmed and confirmed[0]["action"] == "connector.edit"
    # A later, unrelated edit keeps the confirmation; a new host needs a new one.
    assert breaker("edit", "gh", "--owner", "Tom").code == 0
    assert breaker("exec", "gh", "--", "true").code == 0
    dns["other.innocent.example"] = ["192.168.1.9"]
    assert breaker("edit", "gh", "--base-url", "https://other.innocent.example").code == 0
    assert breaker("exec", "gh", "--", "true").code != 0


def test_confirmed_at_add_time(breaker, add_github, dns):
    dns["git.innocent.example"] = ["172.16.3.4"]
    assert add_github("gh", KEY, "--base-url", URL, "--allow-private-url").code == 0
    assert breaker("exec", "gh", "--", "true").code == 0
    add = next(e for e in events(breaker) if e["action"] == "connector.add")
    assert add["new"]["private_url_confirmed"] is True


def test_a_confirmation_written_into_the_database_breaks_the_seal(breaker, add_github, dns, cli_home):
    dns["git.innocent.example"] = ["10.0.0.5"]
    assert add_github("gh", KEY, "--base-url", URL).code == 0
    with sqlite3.connect(cli_home / "breaker.db") as conn:
        conn.execute(
            "UPDATE connector SET extra_json = ? WHERE name = 'gh'",
            (json.dumps({"private_hosts": "git.innocent.example"}),),
        )
    r = breaker("exec", "gh", "--", "true")
    assert r.code != 0 and "no longer matches" in r.err


def test_public_unresolvable_and_literal_hosts(breaker, add_github, dns):
    dns["git.innocent.example"] = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    assert add_github("gh", KEY, "--base-url", URL).code == 0
    assert breaker("exec", "gh", "--", "true").code == 0
    # A name that does not resolve now is not refused by the seal check (the request itself fails).
    assert add_github("nx", KEY[:-4] + "Nxnx", "--base-url", "https://nowhere.innocent.example").code == 0
    assert breaker("exec", "nx", "--", "true").code == 0
    # Loopback and IP literals are not looked up; an IPv4-mapped metadata literal is refused at add.
    asked = len(dns["_asked"])
    assert add_github("lo", KEY[:-4] + "Lolo", "--base-url", "http://127.0.0.1:9").code == 0
    assert breaker("exec", "lo", "--", "true").code == 0
    assert len(dns["_asked"]) == asked
    r = add_github("md", KEY[:-4] + "Mdmd", "--base-url", "https://[::ffff:169.254.169.254]/")
    assert r.code == 2 and "link-local and cloud-metadata" in r.err


def test_the_lookup_runs_for_a_generic_connectors_url_too(services, dns):
    from app.services.views import ConnectorInput
    from connectors.base import Secret

    dns["hooks.innocent.example"] = ["169.254.169.254"]
    data = ConnectorInput(name="hook", provider="generic", extra={"url": "https://hooks.innocent.example/v1/me"})
    view = services.inventory.add(data, Secret("SANDBOX-plain-api-key-000"))
    with pytest.raises(binding.DestinationChanged, match="link-local or cloud-metadata"):
        binding.check(services, view, view.credential)
