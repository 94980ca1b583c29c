"""Masking a key in any text, in every form a provider or a library might echo it.

A provider that quotes a key rarely quotes it verbatim: it may URL-encode it, base64 it (an HTTP
Basic header, a JWT-ish blob), upper-case it, or cut it short ("ghp_abc… is invalid"). So a text is
masked wherever it holds a long enough run of any of these forms of the key, compared without
regard to case:

- the key as typed, and as it looks inside a URL or a form body;
- base64 (standard and URL-safe) of the key, at each of the three alignments it can have inside a
  longer base64 text (``user:key`` in a Basic header);
- hex of its bytes.

"Long enough" is half the form, and at least :data:`RUN` characters: longer than the shared
prefixes keys of one provider have (``ghp_``, ``sk-proj-``) and than the public key id some keys embed.
A key shorter than that is masked when it appears whole. No module here imports an HTTP stack: the keyring layer uses it too.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import quote, quote_plus

MASK = "••••"
RUN = 12  # a run this long of any form of the key is masked


def _fold(text: str) -> str:
    """Lower-case ``text`` character by character, keeping its length (so positions still match)."""
    folded = text.lower()
    if len(folded) == len(text):
        return folded
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _b64_cores(raw: bytes) -> list[str]:
    """The parts of base64(prefix + raw + suffix) that depend only on ``raw``, for every alignment."""
    cores = []
    for offset in range(3):
        padded = b"\0" * offset + raw
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(padded).decode("ascii").rstrip("=")
            # Characters mixing the padding's bits (the first ⌈offset·4/3⌉) or the unknown suffix's
            # (the last, unless the length is a multiple of 3) are not stable: drop them.
            start = -(-offset * 4 // 3)
            end = len(padded) // 3 * 4
            cores.append(text[start:end])
    return cores


def _escaped_only(value: str) -> bool:
    return all(not ("\ud800" <= ch <= "\udfff") or "\udc80" <= ch <= "\udcff" for ch in value)


@lru_cache(maxsize=4096)
def forms(value: str) -> tuple[str, ...]:
    """Every form of ``value`` worth looking for, case-folded, longest first."""
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError:  # bytes that were not UTF-8 (surrogateescape) or a lone surrogate
        raw = value.encode("utf-8", "surrogateescape" if _escaped_only(value) else "surrogatepass")
    found = {value, quote(raw), quote(raw, safe=""), quote_plus(raw)}
    found.update(_b64_cores(raw))
    found.add(raw.hex())
    return tuple(sorted({_fold(f) for f in found if f}, key=len, reverse=True))


def run_length(form: str) -> int:
    """How long a run of ``form`` must be to be masked: half of it, and at least :data:`RUN`.

    Half, because some keys embed a public identifier (SendGrid's ``SG.<key id>.<secret>``) that a
    provider may show on its own; any run longer than half the key is more than such a part.
    """
    return max(RUN, len(form) // 2)


@lru_cache(maxsize=4096)
def _runs(value: str) -> tuple[tuple[int, frozenset[str]], ...]:
    """The windows of every long form, grouped by length (built only for a text that may hold one)."""
    windows: dict[int, set[str]] = {}
    for form in forms(value):
        if len(form) >= RUN:
            n = run_length(form)
            windows.setdefault(n, set()).update(form[i : i + n] for i in range(len(form) - n + 1))
    return tuple((n, frozenset(w)) for n, w in sorted(windows.items()))


@lru_cache(maxsize=4096)
def _sieve(value: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(chunks, short forms): a text that holds none of the chunks holds no window of a long form,
    since every window of n characters holds a whole chunk of n // 2 starting at a multiple of n // 2
    of its form (the next multiple at or after the window's start ends inside it). Short forms are
    matched only whole."""
    chunks: set[str] = set()
    short = []
    for form in forms(value):
        if len(form) >= RUN:
            c = run_length(form) // 2
            chunks.update(form[i : i + c] for i in range(0, len(form) - c + 1, c))
        else:
            short.append(form)
    return tuple(chunks), tuple(short)


def mask(text: str, values: Iterable[str]) -> str:
    """``text`` with every form (see the module) of every value in ``values`` replaced by :data:`MASK`."""
    if not text:
        return text
    values = [v for v in values if v]
    if not values:
        return text
    folded = _fold(text)
    covered = bytearray(len(text))
    for value in values:
        chunks, short = _sieve(value)
        # Sliding every window over the text is a Python loop per character, and building the
        # windows costs as much again per key; a text that holds none of the chunks (substring
        # searches in C) holds no window, and most texts hold none (bench_probe: masking was a
        # third of a probe-all's CPU).
        if any(chunk in folded for chunk in chunks):
            for n, windows in _runs(value):
                for i in range(len(folded) - n + 1):
                    if folded[i : i + n] in windows:
                        covered[i : i + n] = b"\1" * n
        for form in short:
            start = folded.find(form)
            while start >= 0:
                covered[start : start + len(form)] = b"\1" * len(form)
                start = folded.find(form, start + 1)
    if not any(covered):
        return text
    out, i = [], 0
    while i < len(text):
        if covered[i]:
            while i < len(text) and covered[i]:
                i += 1
            out.append(MASK)
        else:
            j = i
            while j < len(text) and not covered[j]:
                j += 1
            out.append(text[i:j])
            i = j
    return "".join(out)


def may_hold(texts: Iterable[str], values: Iterable[str]) -> bool:
    """Whether any of ``texts`` may hold a form of any of ``values``; False means :func:`mask` would
    change none of them. One pass of the sieve's substring searches over all the texts at once
    (each folded as mask folds it, so each is a part of the whole), instead of one per text: a
    probe's report holds a dozen small texts, and most reports hold no key."""
    values = [v for v in values if v]
    if not values:
        return False
    folded = "\0".join(map(_fold, filter(None, texts)))
    if not folded:
        return False
    for value in values:
        chunks, short = _sieve(value)
        if any(chunk in folded for chunk in chunks) or any(form in folded for form in short):
            return True
    return False


# Every key value this process has held in a Secret: the last line of defence for texts nobody
# expected to carry one (a third-party exception, a BREAKER_DEBUG traceback). Values only; never written out.
_SEEN: set[str] = set()


def remember(value: str) -> None:
    # A value shorter than RUN is no credential (every provider's keys are far longer); matched whole,
    # it would mask that letter or word in every line the process prints (a test's Secret("h") did).
    if value and len(value) >= RUN:
        _SEEN.add(value)


def mask_known(text: str) -> str:
    """``text`` with every form of every key this process has held masked."""
    return mask(text, tuple(_SEEN)) if text and _SEEN else text


def leaks(text: str, values: Iterable[str]) -> bool:
    """Whether ``text`` holds any form of any of ``values`` (what :func:`mask` would change)."""
    return mask(text, values) != text
