"""``breaker gateway --run-by LABEL``, the command the panel runs as its child: JSON lines for each
event, stops when its stdin closes (or on SIGTERM), a port in use said as an event and in one line;
and the environment the panel gives it keeps no stray secret."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from app.gateway.child import _event, child_argv, child_env
from app.settings import load_settings

TIMEOUT_S = 120  # an interpreter starting on a loaded machine


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("[demo]\nenabled = true\n")  # its own file keyring: never the machine's
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    return home


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(home, port: int) -> subprocess.Popen:
    settings = load_settings(home=home)
    return subprocess.Popen(
        child_argv(settings, "127.0.0.1", port, run_by="test"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(settings.db_url),
    )


def events(raw: bytes) -> list[dict]:
    return [json.loads(line) for line in raw.decode().splitlines()]


def test_it_says_when_it_listens_and_stops_when_its_stdin_closes(home):
    port = free_port()
    proc = spawn(home, port)
    try:
        first = json.loads(proc.stdout.readline())
        assert first == {"event": "listening", "url": f"http://127.0.0.1:{port}", "pid": proc.pid}
        proc.stdin.close()  # the program running it closed the pipe (or died)
        proc.wait(TIMEOUT_S)
        out, err = proc.stdout.read(), proc.stderr.read()
    finally:
        proc.kill()
    assert proc.returncode == 0 and events(out) == [{"event": "stopped"}] and b"Traceback" not in err


def test_sigterm_stops_it_gracefully(home):
    proc = spawn(home, free_port())
    try:
        assert json.loads(proc.stdout.readline())["event"] == "listening"
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=TIMEOUT_S)
    finally:
        proc.kill()
    assert proc.returncode == 0 and events(out) == [{"event": "stopped"}]


def test_a_port_in_use_is_an_event_and_one_line(home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        proc = spawn(home, taken.getsockname()[1])
        out, err = proc.communicate(timeout=TIMEOUT_S)
    (failed,) = events(out)
    assert failed["event"] == "failed" and "another program (not Breaker's gateway) is listening" in failed["error"]
    assert proc.returncode == 1 and err.decode().strip() == f"breaker: {failed['error']}"


def test_the_child_environment_keeps_only_what_the_gateway_needs():
    environ = {
        "PATH": "/usr/bin",
        "HOME": "/home/owner",
        "DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus",
        "PYTHON_KEYRING_BACKEND": "app.services.filekeyring.EncryptedFileKeyring",
        "BREAKER_HOME": "/tmp/h",
        "BREAKER_KEYRING_PASSPHRASE_FD": "3",
        "XDG_DATA_HOME": "/home/owner/.local/share",
        "OPENAI_API_KEY": "sk-CANARY",
        "GITHUB_TOKEN": "ghp_CANARY",
        "AWS_SECRET_ACCESS_KEY": "CANARY",
    }
    env = child_env("sqlite:////tmp/h/breaker.db", environ)
    assert "CANARY" not in json.dumps(env)
    assert env["BREAKER_DB"] == "sqlite:////tmp/h/breaker.db" and env["BREAKER_HOME"] == "/tmp/h"
    assert env["DBUS_SESSION_BUS_ADDRESS"] and env["PYTHON_KEYRING_BACKEND"] and env["XDG_DATA_HOME"]
    assert "BREAKER_KEYRING_PASSPHRASE_FD" not in env  # the panel's descriptor is not the child's


def test_argv_names_the_home_and_no_database_url():
    settings = load_settings(home="/tmp/h", db="postgresql://owner:CANARY@db/breaker")
    argv = child_argv(settings, "127.0.0.1", 8791)
    assert argv[:3] == [sys.executable, "-m", "app"] and "CANARY" not in " ".join(argv)
    assert argv[3:] == ["--home", "/tmp/h", "gateway", "--host", "127.0.0.1", "--port", "8791", "--run-by", "panel"]


def test_only_event_lines_are_events():
    assert _event('{"event": "held", "id": 3}') == {"event": "held", "id": 3}
    assert _event("breaker: the gateway could not listen") is None
    assert _event("{not json") is None and _event('{"id": 3}') is None and _event("[1]") is None
    assert os.environ.get("BREAKER_KEYRING_PASSPHRASE_FD") is None


def test_an_encrypted_keyring_passphrase_the_panel_holds_reaches_the_child_on_a_pipe(tmp_path, monkeypatch):
    from sqlalchemy import text

    from app.gateway.child import GatewayChild
    from app.services import filekeyring
    from app.services.context import open_services

    path = tmp_path / "keyring.enc"
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "app.services.filekeyring.EncryptedFileKeyring")
    monkeypatch.setenv(filekeyring.FILE_ENV, str(path))
    monkeypatch.setitem(filekeyring._passphrases, str(path), b"CANARY-passphrase")  # the panel asked for it
    services = open_services(load_settings(home=tmp_path / "home"), keyring=filekeyring.EncryptedFileKeyring(path))
    child = GatewayChild(services)
    try:
        url = child.start(f"http://127.0.0.1:{free_port()}")
        with open(f"/proc/{child.pid}/environ", "rb") as fh:
            assert b"CANARY" not in fh.read()
        with open(f"/proc/{child.pid}/cmdline", "rb") as fh:
            assert b"CANARY" not in fh.read()
    finally:
        child.stop()
        services.close()
    services = open_services(load_settings(home=tmp_path / "home"), keyring=filekeyring.EncryptedFileKeyring(path))
    with services.engine.connect() as conn:
        sealed = [r[0] for r in conn.execute(text("SELECT action FROM audit_event WHERE action LIKE 'gateway.%'"))]
        pending = conn.execute(text("SELECT count(*) FROM audit_pending")).scalar()
    services.close()
    assert sealed == ["gateway.started", "gateway.stopped"] and pending == 0  # the child unlocked the keyring
    assert url.startswith("http://127.0.0.1:")
