"""Issue 10, items 1 and 2: a key never leaves through a keyring backend's error text, nor through a
provider that echoes it transformed (base64, upper-cased, cut short). Each test failed before the fix."""

from __future__ import annotations

import base64
import json

import keyring
import keyring.errors
import pytest

from app.services.keyrings import MemoryKeyring
from tests.hardening.echo_server import echo_server

MARK = "SANDBOXLEAK"
KEY = "ghp_" + MARK + "r8Tq2Wm5Zx7Kp3Vn9Lc4Hb6Jd1" + "Tl9z"


def forms_of(key: str) -> list[str]:
    """What must not appear: the key, its head, the marker, and the transformed echoes."""
    return [key, key[:-4], MARK, MARK.lower(), key.upper(), key.lower(), base64.b64encode(key.encode()).decode()[:-4]]


def assert_clean(label: str, text: str) -> None:
    for needle in forms_of(KEY):
        assert needle not in text, f"the key ({needle[:10]}…) leaked into {label}: {text!r}"


class QuotingKeyring(MemoryKeyring):
    """A backend whose error message quotes what it was given, in several forms."""

    def __init__(self, exc_type: type[Exception]) -> None:
        super().__init__()
        self.exc_type = exc_type

    def set_password(self, service: str, username: str, password: str) -> None:
        if ":cred:" in username:
            raise self.exc_type(
                f"cannot store {password!r} (as {password.upper()}, "
                f"{base64.b64encode(password.encode()).decode()}, {password[:-4]}…)"
            )
        super().set_password(service, username, password)


@pytest.fixture
def quoting(request):
    backend = QuotingKeyring(request.param)
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.mark.parametrize(
    "quoting", [keyring.errors.PasswordSetError, keyring.errors.KeyringError, RuntimeError], indirect=True
)
def test_a_keyring_error_quoting_the_key_is_masked_on_stderr(quoting, breaker, monkeypatch):
    monkeypatch.setenv("BREAKER_DEBUG", "1")  # the traceback, if any, must be masked too
    r = breaker("add", "--name", "leak", "--provider", "github", stdin=KEY + "\n")
    assert r.code == 1
    assert "keyring" in r.err
    assert_clean("stderr", r.out + r.err)


def test_an_unexpected_error_quoting_the_key_is_masked_in_the_debug_traceback(breaker, monkeypatch, add_github):
    from app.services import inventory

    def boom(self, data, secret, **kw):
        raise ValueError(f"something broke near {secret.reveal().upper()}")

    monkeypatch.setenv("BREAKER_DEBUG", "1")
    monkeypatch.setattr(inventory.Inventory, "add", boom)
    r = breaker("add", "--name", "leak", "--provider", "github", stdin=KEY + "\n")
    assert r.code == 1 and "Traceback" in r.err
    assert_clean("the BREAKER_DEBUG traceback", r.err)


def test_the_add_form_masks_an_error_under_save(services):
    """The form shows the text of whatever the save raised: a backend quoting the key must not show it."""
    from app.services.views import ConnectorInput
    from app.tui.messages import SaveRefused
    from app.tui.screens.form import ConnectorForm
    from connectors.base import Secret

    class Quoting:
        def add(self, data, secret, **kw):
            raise RuntimeError(f"backend refused {secret.reveal()} / {secret.reveal().upper()}")

    form = ConnectorForm(None)
    posted = []
    form.post_message = posted.append  # type: ignore[method-assign]
    ConnectorForm.save_worker.__wrapped__(
        form, Quoting(), ConnectorInput(name="leak", provider="github"), Secret(KEY), ""
    )
    (message,) = posted
    assert isinstance(message, SaveRefused) and "backend refused" in message.message
    assert_clean("the form's error line", message.message)


@pytest.mark.parametrize(
    "echo",
    [
        lambda t: {"message": f"Bad credentials for {base64.b64encode(t.encode()).decode()}"},
        lambda t: {"message": f"Bad credentials: {t.upper()}"},
        lambda t: {"message": f"token {t[:-4]} is not valid"},
        lambda t: {"message": f"Basic {base64.b64encode(('x-access-token:' + t).encode()).decode()}"},
    ],
    ids=["base64", "upper", "cut", "basic"],
)
def test_a_transformed_echo_is_masked_in_the_probe_error_audit_and_json(breaker, add_github, echo):
    with echo_server(echo) as (url, seen):
        assert add_github("echo", KEY, "--base-url", url).code == 0
        r = breaker("probe", "echo", "--json")
        assert seen, "the probe reached the echoing provider"
    assert_clean("probe --json", r.out + r.err)
    assert "invalid" in r.out
    listing = breaker("list", "--json")
    assert_clean("list --json", listing.out)
    events = breaker("audit", "--json", "--limit", "50")
    assert_clean("the audit log", events.out)
    history = json.loads(r.out)
    assert_clean("the probe record", json.dumps(history))
