"""mask() skips the window scan when a text holds none of a key's chunks: it must mask exactly what
the full scan masks. Checked against the scan itself on texts holding random runs of every form of
a key (cut at random places, in random case) among random noise."""

from __future__ import annotations

import random

from connectors import masking


def _full_scan(text: str, value: str) -> bytearray:
    folded = masking._fold(text)
    covered = bytearray(len(text))
    _chunks, short = masking._sieve(value)
    for n, windows in masking._runs(value):
        for i in range(len(folded) - n + 1):
            if folded[i : i + n] in windows:
                covered[i : i + n] = b"\1" * n
    for form in short:
        start = folded.find(form)
        while start >= 0:
            covered[start : start + len(form)] = b"\1" * len(form)
            start = folded.find(form, start + 1)
    return covered


def _expected(text: str, value: str) -> str:
    covered = _full_scan(text, value)
    out, i = [], 0
    while i < len(text):
        if covered[i]:
            while i < len(text) and covered[i]:
                i += 1
            out.append(masking.MASK)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def test_the_prefilter_masks_exactly_what_the_full_scan_masks():
    rng = random.Random(20261204)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-=+/%."
    masked_some = 0
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
        text = "".join(parts)
        got = masking.mask(text, [value])
        assert got == _expected(text, value), (value, text)
        masked_some += masking.MASK in got
    assert masked_some > 50  # the texts really held runs long enough to be masked
