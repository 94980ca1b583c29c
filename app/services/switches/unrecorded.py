"""A note of an emergency disable whose journal could not be written (a full disk).

When the panic's very first write fails, nothing of it can go into Breaker's database — yet the
provider calls still go out (app.services.switches.panic). So that a later ``breaker panic
--resume`` (or a plain re-run) knows which connectors it covered and looks at each key before
calling its provider again, the panic leaves this small note wherever a file can still be written:
beside the database first (a database that hit its own size limit), else in memory-backed folders
that a full disk does not touch (``$XDG_RUNTIME_DIR``, ``/dev/shm``), else the temp folder.

The note holds connector names, providers and how far each got — never a key, a URL or a token. It
can only make Breaker *look first* (probe before revoking) and cover the named connectors in a
resume; a note written by someone else is ignored (owner and permissions are checked). Once a
panic's journal covering a connector is written, the connector leaves the note; the last one
removes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

NOTE_PREFIX = "breaker-panic-not-recorded-"


def _identity(services) -> str:
    """Which inventory the note belongs to (a digest of the database URL: no path leaks into /dev/shm)."""
    url = services.engine.url.render_as_string(hide_password=True)
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def _folders(services) -> list[Path]:
    folders: list[Path] = []
    db_path = services.settings.db_path
    if db_path is not None:
        folders.append(Path(db_path).parent)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        folders.append(Path(runtime))
    folders += [Path("/dev/shm"), Path(tempfile.gettempdir())]
    seen: list[Path] = []
    for f in folders:
        if f not in seen and f.is_dir():
            seen.append(f)
    return seen


def _paths(services) -> list[Path]:
    name = f"{NOTE_PREFIX}{_identity(services)}.json"
    return [folder / name for folder in _folders(services)]


def _read(path: Path) -> dict[str, Any] | None:
    """The note at ``path`` when it is ours (owned by this user, not writable by others), else None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o022 or st.st_uid != os.getuid() or st.st_size > 1 << 20:
            return None
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            doc = json.loads(fh.read())
    except (OSError, ValueError):
        return None
    finally:
        if fd >= 0:
            os.close(fd)
    if not isinstance(doc, dict) or not isinstance(doc.get("connectors"), dict):
        return None
    return doc


def _write(path: Path, doc: dict[str, Any]) -> None:
    data = json.dumps(doc, indent=1, sort_keys=True).encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def leave(services, batch: str, connectors: dict[str, dict[str, Any]]) -> str:
    """Write the note (merged with any earlier one) in the first folder that takes it. Returns where
    (a path), or "" when no folder could take it."""
    for path in _paths(services):
        doc = _read(path) or {"connectors": {}}
        doc["connectors"].update(connectors)
        doc["batches"] = sorted({*doc.get("batches", []), batch})
        try:
            _write(path, doc)
        except OSError:
            continue
        return str(path)
    return ""


def names(services) -> dict[str, dict[str, Any]]:
    """Every connector a note lists (name → what the note says), from every folder."""
    found: dict[str, dict[str, Any]] = {}
    for path in _paths(services):
        doc = _read(path)
        if doc:
            for name, entry in doc["connectors"].items():
                if isinstance(name, str):
                    found.setdefault(name, entry if isinstance(entry, dict) else {})
    return found


def forget(services, covered: set[str] | list[str]) -> None:
    """These connectors are in a journal now: they leave the notes (an empty note is removed)."""
    covered = set(covered)
    if not covered:
        return
    for path in _paths(services):
        doc = _read(path)
        if not doc or not covered & set(doc["connectors"]):
            continue
        left = {k: v for k, v in doc["connectors"].items() if k not in covered}
        with contextlib.suppress(OSError):
            if left:
                _write(path, {**doc, "connectors": left})
            else:
                path.unlink()
