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


def test_may_hold_is_false_only_where_mask_changes_nothing():
    """guard() and the prober mask a report's texts only when masking.may_hold says one of them may
    hold a key (one sieve pass over all of them): False must mean mask() changes none of them."""
    rng = random.Random(20261205)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-=+/%.İΣ "
    said_no = masked = 0
    for _ in range(400):
        keys = ["sk-FAKE-" + "".join(rng.choice(alphabet[:62]) for _ in range(rng.randint(4, 50)))]
        if rng.random() < 0.2:
            keys.append("short" + rng.choice(alphabet[:62]))  # matched only whole
        texts = []
        for _ in range(rng.randint(1, 6)):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
            if rng.random() < 0.3:
                form = rng.choice(masking.forms(rng.choice(keys)))
                a = rng.randint(0, len(form))
                text += form[a : rng.randint(a, len(form))]
            texts.append(text)
        changed = any(masking.mask(t, keys) != t for t in texts)
        masked += changed
        if not masking.may_hold(texts, keys):
            said_no += 1
            assert not changed, (keys, texts)
    assert said_no > 100 and masked > 30  # both answers were really given
    assert not masking.may_hold(["", "plain text"], [""]) and masking.may_hold(
        ["x sk-FAKE-abcdefghijkl"], ["sk-FAKE-abcdefghijkl"]
    )
