"""The panel's gateway in a process of its own (issue 13): ``breaker --home … gateway --run-by panel``.

Agents' traffic is served by the same command a user runs, in a child process, so heavy traffic
never takes the panel's interpreter. The child says what happens as JSON lines on its stdout (see
``breaker gateway --run-by``), read here by one thread:

- ``listening`` — it accepts connections: that line, not a sleep, is what :meth:`GatewayChild.start`
  waits for (or for the child to end, with its one-line reason: a port in use, not loopback);
- ``held`` — a request now waits for the owner's answer: ``on_held`` is called at once (the panel
  shows it without waiting for its next read of the store);
- ``stopped`` — it recorded ``gateway.stopped`` and is ending its open requests.

Answers go through the store, as for ``breaker gateway`` in another terminal. :meth:`stop` closes the
child's stdin (a graceful stop), and kills it after :data:`STOP_TIMEOUT_S`. The child's stdin is that
pipe — never the terminal, so it can never prompt — and a panel that dies closes it too, so the
gateway never outlives the panel. The child's environment keeps only what ``breaker gateway`` needs
(:func:`child_env`); it reads the keys from the keyring itself. An encrypted-file keyring's passphrase
the panel already holds is handed over on a pipe (``BREAKER_KEYRING_PASSPHRASE_FD``), never on argv
or in the environment.

Starting and stopping are audited by the child (``gateway.started`` / ``gateway.stopped``, where:
``panel (process N)``); a child that dies or has to be killed is audited here, with how it ended.
Call :meth:`start` and :meth:`stop` from a worker thread, never the UI's: they block.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from app.services.gateway import base_url, record_run

START_TIMEOUT_S = 30.0  # an interpreter start and the gateway's imports, on a loaded machine
STOP_TIMEOUT_S = 5.0  # then the child is killed (open streams or held requests may keep it)

STOPPED, STARTING, LISTENING, STOPPING, FAILED = "stopped", "starting", "listening", "stopping", "failed"

# What the child's environment keeps of the panel's: where Breaker's files are, how to reach the
# keyring (the Secret Service's D-Bus address, keyring's own settings), the locale and the paths.
# Anything else — an OPENAI_API_KEY the owner's shell exports, say — stays out.
KEPT_NAMES = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "DBUS_SESSION_BUS_ADDRESS", "VIRTUAL_ENV"}
)
KEPT_PREFIXES = ("BREAKER_", "PYTHON", "KEYRING_", "XDG_", "LC_")


def child_env(db_url: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The child's environment: the kept variables, and the panel's own database (BREAKER_DB, so a
    panel opened with ``--db`` serves the same store; a URL with a password stays off argv)."""
    source = os.environ if environ is None else environ
    env = {k: v for k, v in source.items() if k in KEPT_NAMES or k.startswith(KEPT_PREFIXES)}
    env.pop("BREAKER_KEYRING_PASSPHRASE_FD", None)  # the panel's descriptor is not the child's
    env["BREAKER_DB"] = db_url
    env["PYTHONUNBUFFERED"] = "1"
    return env


def child_argv(settings, host: str, port: int, run_by: str = "panel") -> list[str]:
    """``breaker [--home DIR] gateway --host H --port P --run-by panel``, with this interpreter."""
    argv = [sys.executable, "-m", "app"]
    if settings.home is not None:
        argv += ["--home", str(settings.home)]
    return [*argv, "gateway", "--host", host, "--port", str(port), "--run-by", run_by]


def _event(line: str) -> dict | None:
    if not line.startswith("{"):
        return None
    with contextlib.suppress(ValueError):
        event = json.loads(line)
        if isinstance(event, dict) and isinstance(event.get("event"), str):
            return event
    return None


def _passphrase_pipe(secrets) -> int | None:
    """A pipe's read end holding the encrypted-file keyring's passphrase, when the panel uses that
    keyring (unlocked here first: the panel asks in its dialog); None for any other keyring."""
    from app.services import filekeyring

    try:
        backend = secrets.backend
    except Exception:  # no usable keyring: the child says so itself
        return None
    if not isinstance(backend, filekeyring.EncryptedFileKeyring):
        return None
    with contextlib.suppress(Exception):  # locked, declined: the child then says what is missing
        secrets.install_key("audit")  # the child needs it first; reading it unlocks the file
    passphrase = filekeyring._passphrases.get(str(backend.path))
    if not passphrase:
        return None
    read, write = os.pipe()
    with os.fdopen(write, "wb") as fh:  # far under a pipe's buffer: never blocks
        fh.write(passphrase + b"\n")
    return read


class GatewayChild:
    """The gateway run by the panel as a child process."""

    def __init__(
        self,
        services,
        *,
        where: str = "panel",
        on_held: Callable[[int], None] | None = None,
        on_exit: Callable[[str], None] | None = None,
    ) -> None:
        self.services = services
        self.where = where
        self.on_held = on_held or (lambda _id: None)
        self.on_exit = on_exit or (lambda _text: None)  # it ended without being asked: why, in one line
        self.state = STOPPED
        self.url = ""
        self.error = ""
        self.returncode: int | None = None
        self.pid: int | None = None
        self._proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._audited_stop = False
        self._said: deque[str] = deque(maxlen=5)  # the child's last lines that were not events

    @property
    def running(self) -> bool:
        return self.state in (STARTING, LISTENING, STOPPING)

    def start(self, url: str | None = None) -> str:
        """Start the child listening on ``url`` (default: where ``breaker exec`` sends agents,
        :func:`base_url`); returns the URL once it listens. Raises OSError (one line) when it cannot."""
        with self._lock:
            if self.running:
                return self.url
            target = urlsplit(url or base_url())
            host, port = target.hostname or "127.0.0.1", target.port or 80
            self.state, self.error, self.url, self.returncode = STARTING, "", "", None
            self._audited_stop = False
            self._said.clear()
            self._ready.clear()
            env = child_env(self.services.settings.db_url)
            pipe = _passphrase_pipe(self.services.secrets)
            if pipe is not None:
                env["BREAKER_KEYRING_PASSPHRASE_FD"] = str(pipe)
            try:
                self._proc = subprocess.Popen(
                    child_argv(self.services.settings, host, port),
                    stdin=subprocess.PIPE,  # never the terminal; closing it stops the child
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,  # one pipe, one reader: its one-line errors arrive with the events
                    env=env,
                    pass_fds=(pipe,) if pipe is not None else (),
                    start_new_session=True,  # the terminal's Ctrl-C / SIGHUP are the panel's, not the child's
                )
            except OSError as exc:
                self.state, self.error = FAILED, f"the gateway could not be started: {exc.strerror or exc}"
                raise OSError(self.error) from None
            finally:
                if pipe is not None:
                    os.close(pipe)
            self.pid = self._proc.pid
            self._reader = threading.Thread(
                target=self._read, args=(self._proc,), name="breaker-gateway-child", daemon=True
            )
            self._reader.start()
        if not self._ready.wait(START_TIMEOUT_S):
            self.stop()
            self.state = FAILED
            self.error = f"the gateway did not start within {START_TIMEOUT_S:.0f} s"
            raise OSError(self.error)
        if self.state != LISTENING:
            raise OSError(self.error)
        return self.url

    def stop(self) -> None:
        """Close the child's stdin (it stops gracefully), kill it after :data:`STOP_TIMEOUT_S`, and wait."""
        with self._lock:
            proc, reader = self._proc, self._reader
            if proc is None:
                return
            if self.state in (STARTING, LISTENING):
                self.state = STOPPING
        how = ""
        with contextlib.suppress(OSError):
            proc.stdin.close()
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            how = f"killed: it had not stopped {STOP_TIMEOUT_S:g} s after it was asked to"
        if reader is not None:
            reader.join(STOP_TIMEOUT_S)
        if self.url and not self._audited_stop:  # it could not record its own stop
            self._audited_stop = True
            record_run(self.services, False, self.url, self._where(), how or f"ended with exit code {proc.returncode}")
        with self._lock:
            self._proc = self._reader = None
            if self.state == STOPPING:
                self.state = STOPPED

    def _where(self) -> str:
        return f"{self.where} (process {self.pid})"

    # -- the reader thread ----------------------------------------------------------------------------
    def _read(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            event = _event(line)
            if event is None:
                if line:
                    self._said.append(line)
                continue
            kind = event["event"]
            if kind == "listening":
                self.url = str(event.get("url", ""))
                with self._lock:
                    if self.state == STARTING:
                        self.state = LISTENING
                self._ready.set()
            elif kind == "held" and isinstance(event.get("id"), int):
                self.on_held(event["id"])
            elif kind == "stopped":
                self._audited_stop = True
            elif kind == "failed":
                self.error = str(event.get("error", ""))
        self.returncode = proc.wait()
        with self._lock:
            was = self.state
            if was in (STARTING, LISTENING):
                self.state = FAILED
        if was == STARTING:
            self.error = self.error or self._last_words()
            self._ready.set()
        elif was == LISTENING:  # nobody asked it to stop
            self.error = _exit_text(self.returncode)
            if not self._audited_stop:
                self._audited_stop = True
                with contextlib.suppress(Exception):  # the store may be closing with the panel
                    record_run(self.services, False, self.url, self._where(), f"stopped unexpectedly ({self.error})")
            with self._lock:
                self._proc = self._reader = None
            self.on_exit(self.error)

    def _last_words(self) -> str:
        for line in reversed(self._said):
            if line.startswith("breaker: "):
                return line.removeprefix("breaker: ")
        return f"it ended before listening ({_exit_text(self.returncode)})"


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        import signal

        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"
