"""`breaker review`: --findings for cron, the terminal walk (leave and resume), --report."""

from __future__ import annotations

import json

from tests.cli.conftest import GITHUB_KEY


def test_findings_json_and_fail_on(breaker, add_github):
    add_github("gh-bot")
    r = breaker("review", "--findings", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["schema"] == "breaker.findings/1"
    [entry] = doc["connectors"]
    rules = {f["rule"]: f for f in entry["findings"]}
    assert rules["stale"]["reason"].startswith("Data stale: probe first") and rules["stale"]["severity"] == "medium"
    assert GITHUB_KEY not in r.out
    assert breaker("review", "--findings", "--fail-on", "medium").code == 1
    assert breaker("review", "--findings", "--fail-on", "high").code == 0
    r = breaker("review", "--findings", "--fail-on", "worst")
    assert r.code == 2 and "invalid choice" in r.err


def test_usage_errors_are_one_line(breaker):
    for argv in (("review", "--json"), ("review", "--format", "md"), ("review", "--findings", "--report", "x")):
        r = breaker(*argv)
        assert r.code == 2 and len(r.err.strip().splitlines()) == 1, r.err


def test_no_finished_review_yet(breaker, add_github, tmp_path):
    add_github("gh-bot")
    r = breaker("review", "--report", str(tmp_path / "r.md"))
    assert r.code == 1 and "no review has been finished" in r.err


def test_the_walk_needs_a_terminal(breaker, add_github):
    add_github("gh-bot")
    r = breaker("review")
    assert r.code == 2 and "--findings" in r.err


def test_walk_leave_resume_finish_and_report(breaker, add_github, tmp_path):
    add_github("gh-bot")
    add_github("gh-twin", GITHUB_KEY)  # the same key: a high "shared key" finding on both
    # First sitting: answer two checklist items of the first item, then leave with q.
    r = breaker("review", stdin="y\nthe docs\n?\n\nq\n", tty=True)
    assert r.code == 0, r.err
    assert "Starting the weekly review" in r.out and "Left the review: 0 of 2 decided" in r.out
    # Second sitting resumes: skip the checklist, keep without a reason is refused (high risk), then with one.
    answers = "\n" * 8 + "k\n\nk\nwe rotate it next week\n" + "\n" * 8 + "a\nPriya\n\n" + "y\n"
    r = breaker("review", stdin=answers, tty=True)
    assert r.code == 0, r.err
    assert "Resuming the weekly review" in r.out
    assert "say why you keep it" in r.out
    assert "recorded: keep until" in r.out and "recorded: reassign the owner to Priya" in r.out
    assert "finished: 2 of 2 decided" in r.out
    out = tmp_path / "review.html"
    r = breaker("review", "--report", str(out))
    assert r.code == 0, r.err
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "gh-bot" in html and "we rotate it next week" in html
    assert GITHUB_KEY not in html
    md = breaker("review", "--report", "-", "--format", "md").out
    assert md.startswith("# Breaker weekly review") and "| task | yes | the docs |" in md


def test_walk_edits_the_purpose_sentence_and_the_edit_is_audited(breaker, add_github):
    add_github("gh-bot")  # "… may use the docs repo to open issues, but may not push code."
    # Checklist skipped; p edits the purpose: a new task, the access kept (Enter), "may not" cleared (-);
    # then keep with a reason, and finish.
    answers = "\n" * 8 + "p\n\nlabel and triage issues\n-\n" + "k\nthe docs bot\n" + "y\n"
    r = breaker("review", stdin=answers, tty=True)
    assert r.code == 0, r.err
    assert "now: This connector may use the docs repo to open issues, but may not push code." in r.out
    assert "purpose now: This connector may use the docs repo to label and triage issues." in r.out
    assert "recorded: keep" in r.out
    purpose = json.dumps(json.loads(breaker("list", "--json").out)["connectors"])
    assert "label and triage issues" in purpose and "push code" not in purpose
    events = json.loads(breaker("audit", "--json", "--connector", "gh-bot").out)["events"]
    [edit] = [e for e in events if e["action"] == "connector.edit"]
    assert edit["old"]["purpose_task"] == "open issues" and edit["new"]["purpose_task"] == "label and triage issues"
    assert edit["old"]["purpose_forbidden"] == "push code" and edit["new"]["purpose_forbidden"] == ""
    assert breaker("audit", "--verify").code == 0


def test_walk_purpose_edit_with_nothing_changed_records_nothing(breaker, add_github):
    add_github("gh-bot")
    r = breaker("review", stdin="\n" * 8 + "p\n\n\n\n" + "q\n", tty=True)
    assert r.code == 0, r.err
    assert "the purpose is unchanged" in r.out
    events = json.loads(breaker("audit", "--json", "--connector", "gh-bot").out)["events"]
    assert not [e for e in events if e["action"] == "connector.edit"]
