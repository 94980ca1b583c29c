"""Breaker's own keyring backends must never be picked by keyring's automatic discovery.

keyring registers every KeyringBackend subclass it sees and picks the highest priority; if
MemoryKeyring (priority 1) were a candidate, a machine without a real keyring would get a keyring
that forgets every key at exit while `breaker add` reports success — instead of the "no usable
keyring" message with its fix.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_breaker_does_not_change_keyrings_choice():
    code = (
        "import keyring.backend, keyring.core\n"
        "import app.services.keyrings\n"
        "names = [type(b).__module__ for b in keyring.backend.get_all_keyring()]\n"
        "print('app.services.keyrings' in names)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(ROOT / ".no-home")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
