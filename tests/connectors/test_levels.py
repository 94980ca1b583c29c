"""Scope classes across providers, one parametrised table instead of a level test per provider:
each provider's class table (what a scope lets a key do: read, draft, write, send, admin)."""

from __future__ import annotations

import pytest

from connectors import registry
from connectors.base import Level
from connectors.google import G

LEVELS = [
    ("airtable", "data.records:read", Level.READ),
    ("airtable", "schema.bases:read", Level.READ),
    ("airtable", "data.records:write", Level.WRITE),
    ("airtable", "webhook:manage", Level.SEND),
    ("airtable", "workspacesAndBases:manage", Level.ADMIN),
    ("airtable", "enterprise.auditLogs:read", Level.ADMIN),
    ("github", "read:org", Level.READ),
    ("github", "public_repo", Level.WRITE),
    ("github", "some_future_scope", Level.WRITE),  # unknown: assume power
    ("github", "repo", Level.SEND),
    ("github", "workflow", Level.SEND),
    ("github", "delete_repo", Level.ADMIN),
    ("github", "admin:org_hook", Level.ADMIN),
    ("github", "contents:read", Level.READ),
    ("github", "contents:write", Level.WRITE),
    ("github", "actions:write", Level.SEND),
    ("github", "administration:write", Level.ADMIN),
    ("gitlab", "read_api", Level.READ),
    ("gitlab", "read_repository", Level.READ),
    ("gitlab", "write_repository", Level.WRITE),
    ("gitlab", "api", Level.SEND),
    ("gitlab", "sudo", Level.ADMIN),
    ("gitlab", "admin_mode", Level.ADMIN),
    ("google", G + "gmail.compose", Level.SEND),  # sends too: Gmail has no draft-only scope
    ("google", G + "gmail.send", Level.SEND),
    ("google", G + "gmail.readonly", Level.READ),
    ("google", G + "drive.metadata.readonly", Level.READ),  # any *.readonly
    ("google", G + "gmail.modify", Level.WRITE),
    ("google", "https://mail.google.com/", Level.ADMIN),
    ("google", G + "gmail.settings.sharing", Level.ADMIN),
    ("hubspot", "crm.objects.contacts.read", Level.READ),
    ("hubspot", "sales-email-read", Level.READ),
    ("hubspot", "crm.objects.contacts.write", Level.WRITE),
    ("hubspot", "forms", Level.WRITE),
    ("hubspot", "transactional-email", Level.SEND),
    ("hubspot", "settings.users.write", Level.ADMIN),
    ("hubspot", "crm.schemas.contacts.write", Level.ADMIN),
    ("microsoft", "Mail.ReadWrite", Level.DRAFT),  # drafts, not sending: Mail.Send is separate
    ("microsoft", "Mail.Send", Level.SEND),
    ("microsoft", "Mail.Read", Level.READ),
    ("microsoft", "User.ReadBasic.All", Level.READ),
    ("microsoft", "Files.ReadWrite.All", Level.WRITE),
    ("microsoft", "Calendars.ReadWrite", Level.WRITE),
    ("microsoft", "Directory.ReadWrite.All", Level.ADMIN),
    ("microsoft", "User.RevokeSessions.All", Level.ADMIN),
    ("sendgrid", "mail.send", Level.SEND),
    ("sendgrid", "user.webhooks.event.settings.update", Level.SEND),
    ("sendgrid", "api_keys.delete", Level.ADMIN),
    ("sendgrid", "billing.update", Level.ADMIN),
    ("sendgrid", "user.profile.update", Level.ADMIN),
    ("sendgrid", "templates.create", Level.WRITE),
    ("sendgrid", "suppression.delete", Level.WRITE),
    ("sendgrid", "stats.global.read", Level.READ),
    ("sendgrid", "api_keys.read", Level.READ),
    ("sendgrid", "templates.read", Level.READ),
    ("sendgrid", "2fa_required", Level.READ),
    ("slack", "channels:history", Level.READ),
    ("slack", "users:read.email", Level.READ),
    ("slack", "reactions:write", Level.WRITE),
    ("slack", "chat:write", Level.SEND),
    ("slack", "admin.users:write", Level.ADMIN),
    ("slack", "admin", Level.ADMIN),
]


@pytest.mark.parametrize("provider, scope, level", LEVELS, ids=[f"{p}:{s.rsplit('/', 1)[-1]}" for p, s, _ in LEVELS])
def test_scope_classes_follow_each_providers_table(provider, scope, level):
    assert registry.get(provider).level_of(scope) is level
