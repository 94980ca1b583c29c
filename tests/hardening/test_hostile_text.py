"""Issue 10, item 5 outside the panel: text from the database or a provider never carries a live escape
sequence, control character or right-to-left override to a terminal or a report; CSV cells that a
spreadsheet would run as formulas are quoted."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from connectors.textsafe import csv_cell, json_text, plain

BAD = ("\x1b", "\x07", "\x9b", "\u202e", "\u2066", "\u200b", "\x00", "\x7f", "\u2028")
HOSTILE = {
    "client": "n8n \x1b]0;pwned\x07 flow",
    "purpose_task": "open issues \u202eexe.txt\u202c",
    "tags": '=HYPERLINK("http://x"),\x1b[2J',
}


def plant(cli_home, name: str) -> None:
    with sqlite3.connect(cli_home / "breaker.db") as conn:
        conn.execute(
            "UPDATE connector SET client = :client, purpose_task = :purpose_task, tags = :tags WHERE name = :name",
            {**HOSTILE, "name": name},
        )
        conn.execute(
            "UPDATE owner SET name = ? WHERE id = (SELECT owner_id FROM connector WHERE name = ?)",
            ("Ops \x1b[8mhidden\x1b[0m [Berlin", name),
        )


def assert_inert(label: str, text: str) -> None:
    for ch in BAD:
        assert ch not in text, f"{ch!r} reached {label}"


def test_list_and_exports_show_hostile_text_as_text(breaker, add_github, cli_home, tmp_path):
    assert add_github("gh").code == 0
    plant(cli_home, "gh")
    for argv in (("list",), ("list", "--json"), ("export", "--format", "md"), ("audit",)):
        r = breaker(*argv)
        assert r.code == 0, r.err
        assert_inert(" ".join(argv), r.out + r.err)
    r = breaker("export", "--format", "csv")
    assert_inert("the CSV export", r.out)
    for row in csv.DictReader(io.StringIO(r.out)):
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@")), value


@given(st.text())
def test_plain_never_lets_a_control_character_through(text):
    shown = plain(text)
    assert_inert("plain()", shown)
    assert all(unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn") for ch in shown)


@given(st.text())
def test_a_csv_cell_never_starts_a_formula(text):
    cell = csv_cell(text)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_json_output_escapes_bidi_and_control_characters_losslessly(breaker, add_github):
    """`--json` writes a right-to-left override, C1 controls, DEL and separators as JSON escapes
    (``\\u202e``): nothing raw reaches the terminal or the pipe, and the document decodes to exactly
    what was stored (the audit log keeps the owner's text as given)."""
    owner = "Ops \u202eexe.txt\u202c \x85\x7f\u2028\U000e0041 Zürich 🔑"
    assert add_github("gh").code == 0
    assert breaker("edit", "gh", "--owner", owner).code == 0
    r = breaker("audit", "--json")
    assert r.code == 0, r.err
    assert_inert("audit --json", r.out)
    assert "\\u202e" in r.out and "Zürich 🔑" in r.out  # escaped, and ordinary text left alone
    assert owner in json.dumps(json.loads(r.out), ensure_ascii=False)  # lossless
    for argv in (("list", "--json"), ("export", "--format", "json")):
        r = breaker(*argv)
        assert_inert(" ".join(argv), r.out)
        (record,) = json.loads(r.out)["connectors"]
        assert record["owner"] == owner, argv  # the stored text, escaped by JSON, not shown as "\\u202e"
    for argv in (("list",), ("export", "--format", "csv"), ("export", "--format", "md")):
        assert_inert(" ".join(argv), breaker(*argv).out)


@given(st.text())
def test_json_text_is_valid_lossless_and_inert(text):
    document = json_text(json.dumps({"k": text}, ensure_ascii=False))
    assert json.loads(document) == {"k": text}
    assert all(unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn") for ch in document)
