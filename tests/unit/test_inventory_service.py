"""The inventory service without any UI: add, edit, remove, owners, declare, and every validation message."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from app.services.inventory import ConnectorInput, NotFound, ValidationError
from app.store.models import AuditEvent, Connector, Credential
from connectors.base import Grant, Level, Secret

GITHUB_KEY = "ghp_SANDBOX" + "k" * 30 + "WXYZ"
SLACK_KEY = "xoxb-123456789012-1234567890123-SANDBOXabcdefghijklmnop"


def _add(services, name="gh", key=GITHUB_KEY, **fields):
    data = ConnectorInput(name=name, **fields)
    return services.inventory.add(data, Secret(key))


def _errors(excinfo) -> dict[str, str]:
    return excinfo.value.errors


# -- the happy paths --------------------------------------------------------------------------


def test_add_recognises_the_provider_and_keeps_only_a_fingerprint(services, memory_keyring):
    view = _add(
        services,
        owner="Priya",
        purpose_access="the docs repo",
        purpose_task="open issues",
        purpose_forbidden="push code",
        declared=(Grant("repo", Level.WRITE),),
    )
    assert view.provider == "github"
    assert view.owner == "Priya"
    assert view.purpose == "This connector may use the docs repo to open issues, but may not push code."
    assert view.declared == (Grant("repo", Level.WRITE),)
    assert view.credential.last4 == "WXYZ" and len(view.credential.fingerprint) == 12
    assert GITHUB_KEY in memory_keyring.store.values()
    with Session(services.engine) as s:
        cred = s.exec(select(Credential)).one()
    assert GITHUB_KEY not in repr(cred.model_dump())
    assert services.inventory.secret_for("gh") == Secret(GITHUB_KEY)


def test_edit_keeps_what_is_not_changed_and_audits_old_and_new(services):
    _add(services, owner="Priya", purpose_task="open issues")
    current = services.inventory.get("gh")
    from dataclasses import replace

    services.inventory.edit("gh", replace(services.inventory.as_input(current), owner="Tom", environment="test"))
    view = services.inventory.get("gh")
    assert (view.owner, view.environment, view.purpose_task) == ("Tom", "test", "open issues")
    last = services.audit.recent(services.engine, 1)[0]
    assert last.action == "connector.edit"
    assert '"owner":"Priya"' in last.old_json and '"owner":"Tom"' in last.new_json


def test_declare_replaces_the_declared_scopes(services):
    _add(services, declared=(Grant("repo", Level.WRITE),))
    services.inventory.declare("gh", [Grant("read:org", Level.READ), Grant("workflow", Level.SEND)])
    assert services.inventory.get("gh").declared == (Grant("workflow", Level.SEND), Grant("read:org", Level.READ))


def test_owners_are_listed_once(services):
    _add(services, "a", owner="Priya")
    _add(services, "b", key=SLACK_KEY, owner="Priya")
    _add(services, "c", key=GITHUB_KEY[:-1] + "Q", owner="Ana")
    assert services.inventory.owners() == ["Ana", "Priya"]


@pytest.mark.parametrize("delete_key", [True, False])
def test_remove_decides_about_the_keyring_key(services, memory_keyring, delete_key):
    _add(services)
    services.inventory.remove("gh", delete_key=delete_key)
    with pytest.raises(NotFound):
        services.inventory.get("gh")
    assert (GITHUB_KEY in memory_keyring.store.values()) is (not delete_key)
    last = services.audit.recent(services.engine, 1)[0]
    assert (
        last.action == "connector.remove" and f'"key_deleted_from_keyring":{str(delete_key).lower()}' in last.new_json
    )


def test_remove_unknown_is_not_found(services):
    with pytest.raises(NotFound, match="no connector named 'nope'"):
        services.inventory.remove("nope", delete_key=False)


# -- every bad input has a message beside its field ------------------------------------------------


@pytest.mark.parametrize(
    "name, message",
    [
        ("", "a name is required"),
        ("   ", "a name is required"),
        ("bad/name", "use letters, digits"),
        ("x" * 65, "use letters, digits"),
    ],
)
def test_bad_names(services, name, message):
    with pytest.raises(ValidationError) as excinfo:
        _add(services, name)
    assert message in _errors(excinfo)["name"]


def test_duplicate_name(services):
    _add(services)
    with pytest.raises(ValidationError) as excinfo:
        _add(services, key=GITHUB_KEY[:-1] + "Q")
    assert _errors(excinfo) == {"name": "a connector named 'gh' already exists"}


def test_unknown_provider(services):
    with pytest.raises(ValidationError) as excinfo:
        _add(services, provider="myspace")
    assert _errors(excinfo)["provider"].startswith("unknown provider 'myspace'; known: ")


@pytest.mark.parametrize("url", ["github.example.com/api", "ftp://github.example.com", "https://", "https://a b.com"])
def test_malformed_base_url(services, url):
    with pytest.raises(ValidationError) as excinfo:
        _add(services, base_url=url)
    assert "a full URL" in _errors(excinfo)["base_url"]


@pytest.mark.parametrize("key", [GITHUB_KEY[:20] + " " + GITHUB_KEY[20:], GITHUB_KEY + "\n" + "x", "\t" + GITHUB_KEY])
def test_key_with_whitespace(services, key):
    with pytest.raises(ValidationError) as excinfo:
        _add(services, key=key)
    assert "spaces or line breaks" in _errors(excinfo)["key"]


def test_key_of_the_wrong_shape_for_the_provider(services):
    with pytest.raises(ValidationError) as excinfo:
        _add(services, key=SLACK_KEY, provider="github")
    assert _errors(excinfo) == {"key": "this does not look like a GitHub key"}


def test_unrecognised_key_without_provider(services):
    with pytest.raises(ValidationError) as excinfo:
        _add(services, key="SANDBOX-mystery-key-1234")
    assert _errors(excinfo) == {"provider": "Breaker does not recognise this key; choose the provider"}


def test_empty_and_short_keys(services):
    for key, message in (("", "the key is empty"), ("abc", "too short")):
        with pytest.raises(ValidationError) as excinfo:
            _add(services, key=key, provider="generic")
        assert message in _errors(excinfo)["key"]


def test_several_errors_at_once_and_nothing_stored(services, memory_keyring):
    with pytest.raises(ValidationError) as excinfo:
        _add(services, "", key="has space", provider="github", environment="staging", env_var="lower")
    assert set(_errors(excinfo)) == {"name", "key", "environment", "env_var"}
    with Session(services.engine) as s:
        assert s.exec(select(Connector)).all() == []
        assert s.exec(select(AuditEvent)).all() == []
    assert not any(k[1].split(":", 1)[1].startswith("cred:") for k in memory_keyring.store)
