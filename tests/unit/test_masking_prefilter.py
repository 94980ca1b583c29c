"""mask() scans a text window by window only when the text holds one of a key's chunks (its sieve):
it must mask exactly what the full scan masks. Checked against mask() itself with a sieve that lets
every text through, on texts holding random runs of every form of a key (cut at random places, in
random case) among random noise."""

from __future__ import annotations

import random

from connectors import masking

SIEVE = masking._sieve


def _full_scan(value: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    _chunks, short = SIEVE(value)
    return ("",), short  # "" is in every text: every text is scanned


def test_the_sieve_masks_exactly_what_the_full_scan_masks(monkeypatch):
    rng = random.Random(20261204)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-=+/%."
    cases = []
    for _ in range(400):
        value = "sk-FAKE-" + "".join(rng.choice(alphabet[:62]) for _ in range(rng.randint(8, 60)))
        forms = masking.forms(value)
        parts = []
        for _ in range(rng.randint(0, 4)):
            parts.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))))
            form = rng.choice(forms)
            a = rng.randint(0, len(form))
            b = rng.randint(a, len(form))
            run = form[a:b]
            parts.append(run.upper() if rng.random() < 0.3 else run)
        cases.append((value, "".join(parts)))
    sieved = [masking.mask(text, [value]) for value, text in cases]
    monkeypatch.setattr(masking, "_sieve", _full_scan)
    scanned = [masking.mask(text, [value]) for value, text in cases]
    assert sieved == scanned
    assert sum(masking.MASK in text for text in scanned) > 50  # the texts really held runs long enough to mask
