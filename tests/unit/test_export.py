"""Exports: JSON / CSV / Markdown from one record shape, never a secret, always audited."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC

import pytest

from app.services.audit import SecretInAuditError
from app.services.export import (
    CSV_COLUMNS,
    EXPORT_SCHEMA,
    LIST_SCHEMA,
    dumps,
    export_inventory,
    list_document,
    safe_url,
)
from app.services.inventory import ConnectorInput
from connectors.base import Grant, Level, Secret

KEY = "ghp_SANDBOX" + "e" * 30 + "LAST"


@pytest.fixture
def stocked(services):
    inv = services.inventory
    inv.add(
        ConnectorInput(
            name="gh",
            owner="Priya",
            purpose_access="the repo",
            purpose_task="open issues",
            purpose_forbidden="push | merge",
            declared=(Grant("repo", Level.WRITE),),
            tags="eng, ci",
        ),
        Secret(KEY),
    )
    inv.add(ConnectorInput(name="gh-twin", provider="github", owner="Ops | Finance"), Secret(KEY))
    inv.add(ConnectorInput(name="formula", provider="generic", owner='=HYPERLINK("x")'), Secret("SANDBOX-generic-1"))
    return services


def test_json_export_document(stocked):
    result = export_inventory(stocked, "json")
    doc = json.loads(result.text)
    assert doc["schema"] == EXPORT_SCHEMA and result.connectors == 3
    assert set(doc) == {"schema", "generated_at", "summary", "connectors"}
    assert doc["summary"]["total"] == 3 and doc["summary"]["shared_keys"] == 2
    assert doc["summary"]["by_mode"] == {"full": 3, "draft-only": 0, "read-only": 0, "disabled": 0}
    gh = next(c for c in doc["connectors"] if c["name"] == "gh")
    assert gh["key"]["shared_with"] == ["gh-twin"] and gh["tags"] == ["eng", "ci"]
    # the same record shape as `breaker list --json`
    listed = list_document(stocked.inventory.list())
    assert listed["schema"] == LIST_SCHEMA and listed["connectors"] == doc["connectors"]


def test_csv_export(stocked):
    rows = list(csv.DictReader(io.StringIO(export_inventory(stocked, "csv").text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    gh = next(r for r in rows if r["name"] == "gh")
    assert gh["declared"] == "repo:write" and gh["key_last4"] == "LAST" and gh["key_shared_with"] == "gh-twin"
    formula = next(r for r in rows if r["name"] == "formula")
    assert formula["owner"].startswith("'=")  # a spreadsheet shows it, it does not run it


def test_markdown_export(stocked):
    text = export_inventory(stocked, "md").text
    assert text.startswith("# Breaker inventory")
    assert "| gh | github | Priya |" in text
    assert "| Ops \\| Finance |" in text  # a pipe in a value does not break the table
    assert "but may not push | merge." in text
    assert "(shared)" in text and "The same key is used by: gh-twin" in text
    assert "No purpose sentence yet" in text


def test_no_format_carries_the_key(stocked):
    for fmt in ("json", "csv", "md"):
        text = export_inventory(stocked, fmt).text
        assert KEY not in text and KEY[:-4] not in text and "SANDBOX-generic-1" not in text


def test_exports_are_audited(stocked, tmp_path):
    export_inventory(stocked, "csv")
    target = tmp_path / "inv.md"
    export_inventory(stocked, "md", target)
    assert target.read_text().startswith("# Breaker inventory")
    events = stocked.audit.recent(stocked.engine, 2)
    assert [e.action for e in events] == ["export", "export"]
    assert json.loads(events[0].new_json) == {"format": "md", "connectors": 3, "destination": str(target)}
    assert json.loads(events[1].new_json)["destination"] == "stdout"
    assert stocked.audit.verify(stocked.engine).ok


def test_a_secret_cannot_be_serialised():
    with pytest.raises(SecretInAuditError):
        dumps({"connectors": [{"name": "x", "key": Secret(KEY)}]})
    with pytest.raises(SecretInAuditError):
        dumps([("nested", {Secret(KEY)})], pretty=False)


def test_unknown_format(stocked):
    with pytest.raises(ValueError, match="unknown export format"):
        export_inventory(stocked, "pdf")


def test_safe_url_drops_credentials():
    assert safe_url("https://user:pa55@git.example.com/api/v4") == "https://git.example.com/api/v4"
    assert safe_url("http://127.0.0.1:8080/github") == "http://127.0.0.1:8080/github"
    assert safe_url("") == ""


def test_empty_inventory_exports(services):
    doc = json.loads(export_inventory(services, "json").text)
    assert doc["connectors"] == [] and doc["summary"]["total"] == 0
    assert "Connectors: 0" in export_inventory(services, "md").text
    assert export_inventory(services, "csv").text.strip() == ",".join(CSV_COLUMNS)


def sample_view():
    """A ConnectorView built by hand (no database), for shape checks."""
    from datetime import datetime

    from app.services.inventory import ConnectorView, CredentialView
    from connectors.base import Mode

    now = datetime.now(UTC)
    cred = CredentialView("0123456789ab", "WXYZ", "primary", "classic PAT", True, now, None, None, None, "cred:x")
    return ConnectorView(
        id=1,
        name="x",
        provider="github",
        owner="",
        purpose_access="",
        purpose_task="",
        purpose_forbidden="",
        environment="prod",
        mode=Mode.FULL,
        base_url="",
        env_var="",
        client="",
        tags=(),
        extra={},
        declared=(),
        observed=(),
        credentials=(cred,),
        last_probe_at=None,
        last_outcome=None,
        live_level=None,
        switch_state=None,
        created_at=now,
        updated_at=now,
    )


def test_record_of_a_view_without_a_database():
    from app.services.export import connector_record

    record = connector_record(sample_view())
    assert record["owner"] is None and record["key"]["last4"] == "WXYZ" and record["last_probe"] is None
