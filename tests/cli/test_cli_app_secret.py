"""``breaker admin-key NAME --app-secret``: an app's credential — a GitHub App's private key (the .pem
file on stdin) or an OAuth app's client secret — kept in the keyring as NAME's own admin credential,
with the app's id set beside it; never printed, never in the database or the audit log."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlmodel import Session, select

from app.services.context import open_services
from app.settings import load_settings
from app.store.models import AuditEvent, Credential
from tests.cli.conftest import GITHUB_KEY


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


def test_a_github_app_private_key_is_kept_as_the_admin_credential(breaker, add_github, cli_home):
    assert add_github("app-bot").code == 0
    pem = _pem()
    run = breaker("admin-key", "app-bot", "--app-secret", "--app-id", "1234", stdin=pem)
    assert run.code == 0, run.err
    assert "GitHub App private key" in run.err and "keyring" in run.err
    body = "".join(line for line in pem.splitlines() if "-----" not in line)
    assert body[:40] not in run.out + run.err
    services = open_services(load_settings(home=cli_home))
    try:
        view = services.inventory.get("app-bot")
        admin = [c for c in view.credentials if c.tier == "admin"]
        assert [c.kind for c in admin] == ["GitHub App private key"]
        assert services.secrets.get(admin[0].keyring_ref).reveal() == body  # one line, no BEGIN/END
        assert view.extra["app_id"] == "1234"
        assert view.credential.tier == "primary"  # `breaker exec` still hands out the token
        with Session(services.engine) as s:
            stored = " ".join(str(r) for r in s.exec(select(Credential)).all())
            stored += " ".join(str(e) for e in s.exec(select(AuditEvent)).all())
        assert body[:40] not in stored
    finally:
        services.close()


def test_a_client_secret_without_its_client_id_says_what_is_missing(breaker, add_github):
    assert add_github("oauth-bot", "gho_SANDBOX" + "a1B2c3D4e5" * 3 + "XYZW9").code == 0
    run = breaker("admin-key", "oauth-bot", "--app-secret", stdin="0123456789abcdef0123456789abcdef01234567")
    assert run.code == 0
    assert "--client-id" in run.err


def test_ids_without_app_secret_are_a_usage_error(breaker, add_github):
    assert add_github().code == 0
    run = breaker("admin-key", "gh-bot", "--app-id", "1")
    assert run.code == 2 and "--app-secret" in run.err
    assert GITHUB_KEY not in run.out + run.err
