"""Issue 10, item 6: unbounded and unchecked input — response bodies are capped, keys that are not
valid UTF-8 text are refused in one line, bad config values and --db paths get a plain message."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.cli.conftest import GITHUB_KEY


def big_server(size: int, *, chunked: bool):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(size))
            self.end_headers()
            block = b" " * 65536
            sent = 0
            try:
                while sent < size:
                    part = block[: min(len(block), size - sent)]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
                    sent += len(part)
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_huge_response_body_is_not_read(breaker, add_github, chunked):
    server = big_server(64 * 1024 * 1024, chunked=chunked)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        assert add_github("big", GITHUB_KEY, "--base-url", url).code == 0
        r = breaker("probe", "big")
    finally:
        server.shutdown()
        server.server_close()
    assert "larger than 2 MB" in r.out + r.err


@pytest.mark.parametrize(
    "key", ["ghp_\udcff\udcfe" + "a" * 36, "\udced\udca0\udc80" + "a" * 40, "ghp_" + "a" * 30 + "\x00\x1b"]
)
def test_a_key_that_is_not_utf8_text_is_refused_in_one_line(breaker, key):
    # What Python's stdin hands over for bytes that are not UTF-8 (surrogateescape), or a control character.
    r = breaker("add", "--name", "x", "--provider", "generic", stdin=key + "\n")
    assert r.code == 2, r.err
    assert len(r.err.strip().splitlines()) == 1 and "key" in r.err and "unexpected" not in r.err


@pytest.mark.parametrize(
    "config,words",
    [
        ('[review]\nkey_age_warn_days = "abc"\n', "review.key_age_warn_days must be a whole number"),
        ("[review]\nkey_age_warn_days = -3\n", "review.key_age_warn_days must be a whole number"),
        ("review = 5\n", "[review] must be a table"),
        ("[database]\nurl = 42\n", "must be a SQLite file path"),
        ('[database]\nurl = "postgresql://u@127.0.0.1:9/x"\n', "not installed"),
        ('[database]\nurl = "nosuchdb://x/y"\n', "not one Breaker can open"),
        ('database = "x"\n', "[database] must be a table"),
    ],
)
def test_bad_config_values_get_one_plain_line(breaker, cli_home, config, words):
    cli_home.mkdir(parents=True, exist_ok=True)
    (cli_home / "config.toml").write_text(config)
    r = breaker("list")
    assert r.code == 1, r.err
    assert words in r.err and "unexpected" not in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1


def test_db_given_as_a_plain_path_is_a_sqlite_file(breaker, tmp_path, add_github):
    path = tmp_path / "plain" / "inventory.db"
    path.parent.mkdir()
    assert add_github("gh", GITHUB_KEY, "--db", str(path)).code == 0
    assert path.exists() and path.read_bytes().startswith(b"SQLite format 3")
    r = breaker("list", "--db", str(path))
    assert r.code == 0 and "gh" in r.out


def test_a_full_disk_is_said_plainly(breaker, add_github, cli_home):
    import sqlite3

    assert add_github("gh").code == 0
    with sqlite3.connect(cli_home / "breaker.db") as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    from app.store import db as store_db

    real = store_db._sqlite_pragmas

    def full(dbapi_connection, record):
        real(dbapi_connection, record)
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    import sqlalchemy.event

    original_listen = sqlalchemy.event.listen

    def listen(target, name, fn, *a, **kw):
        return original_listen(target, name, full if fn is real else fn, *a, **kw)

    import pytest as _pytest

    with _pytest.MonkeyPatch.context() as mp:
        mp.setattr(store_db.event, "listen", listen)
        r = breaker("edit", "gh", "--task", "x" * 200_000)
    assert r.code == 1
    assert "disk is full" in r.err and "unexpected" not in r.err, r.err
