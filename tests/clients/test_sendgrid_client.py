"""sendgrid-python against the sandbox: https://github.com/sendgrid/sendgrid-python (``host``)."""

from __future__ import annotations

import inspect
import json

import sendgrid

from connectors.base import Outcome
from tests.clients.conftest import on_sandbox

DOCUMENTED = inspect.signature(sendgrid.SendGridAPIClient).parameters["host"].default  # https://api.sendgrid.com


def client(sandbox, token: str) -> sendgrid.SendGridAPIClient:
    return sendgrid.SendGridAPIClient(api_key=token, host=on_sandbox(sandbox, "sendgrid", DOCUMENTED))


def test_the_probe_calls_and_the_key_object_sendgrid_follows(sandbox):
    record = sandbox.mint("sendgrid")
    sg = client(sandbox, record.token).client
    scopes = json.loads(sg.scopes.get().body)[
        "scopes"
    ]  # https://www.twilio.com/docs/sendgrid/api-reference/api-key-permissions
    assert "mail.send" in scopes
    assert sg.user.profile.get().status_code == 200
    # https://www.twilio.com/docs/sendgrid/api-reference/api-keys/retrieve-an-existing-api-key
    key = json.loads(sg.api_keys._(record.key_id).get().body)
    assert key["api_key_id"] == record.key_id and key["scopes"] == scopes


def test_a_revoke_through_sendgrid_is_seen_by_breaker_probe(sandbox, breaker_probe):
    record = sandbox.mint("sendgrid")
    assert breaker_probe("sendgrid", record.token).outcome is Outcome.OK
    # https://www.twilio.com/docs/sendgrid/api-reference/api-keys/delete-api-keys
    assert client(sandbox, record.token).client.api_keys._(record.key_id).delete().status_code == 204
    assert breaker_probe("sendgrid", record.token).outcome is Outcome.INVALID
