"""Found by the command-line property test (issue 10): ``export --output`` naming Breaker's own
database overwrote the inventory with the report, and the next command then met a "malformed"
database outside a unit of work: "unexpected error (DatabaseError)". Both are one-line answers now."""

from __future__ import annotations


def test_export_never_overwrites_breakers_own_files(breaker, add_github, cli_home):
    assert add_github("gh").code == 0
    for name in ("breaker.db", "breaker.db-wal", "config.toml"):
        before = (cli_home / name).read_bytes() if (cli_home / name).exists() else None
        r = breaker("export", "--format", "md", "--output", str(cli_home / name))
        assert r.code == 2 and "one of Breaker's own files" in r.err and "nothing was written" in r.err, r.err
        after = (cli_home / name).read_bytes() if (cli_home / name).exists() else None
        assert after == before
    assert breaker("list", "--json").code == 0


def test_a_database_that_is_not_one_gets_one_line(breaker, cli_home, tmp_path):
    bad = tmp_path / "not-a-db"
    bad.write_text("# Breaker inventory\n\nThis is a Markdown report, not a database.\n" * 50)
    for argv in (("list",), ("export", "--read-only")):
        r = breaker("--db", str(bad), *argv)
        assert r.code == 1 and "unexpected error" not in r.err, r.err
        assert "damaged" in r.err and "Traceback" not in r.err
    assert bad.read_text().startswith("# Breaker inventory")
