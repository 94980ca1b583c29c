"""The panel's words in plain language: the glossary under the keys in ``?`` and the one-line
explanation of each summary tile (its tooltip). One place, so the help and the tiles agree."""

from __future__ import annotations

GLOSSARY: tuple[tuple[str, str], ...] = (
    (
        "connector",
        "One key, token or MCP server that an assistant or automation uses to reach a service "
        "(GitHub, Slack, OpenAI …), with its owner and purpose.",
    ),
    (
        "purpose",
        'Your one-sentence rule for it: "may use … to …, but may not …". Breaker sets it against what '
        "the key can really do.",
    ),
    (
        "declared scopes",
        "What you said the key should be allowed to do, written when you added it (e.g. repo:read).",
    ),
    (
        "live scopes",
        "What the provider says the key can do right now, learnt by a probe.",
    ),
    (
        "live level",
        "The strongest thing the key can do right now, from weakest to strongest: read, draft, write, send, admin.",
    ),
    (
        "drift",
        "The key can do more than you declared or than its mode allows (▲ in the table). Lower it with "
        "a switch, or fix the key at the provider.",
    ),
    (
        "probe",
        "Asking the provider what the key can do, with read-only calls: nothing is changed, nothing sent.",
    ),
    (
        "mode",
        "The most a connector may do: full, draft-only (read and draft, never send), read-only, or disabled (nothing).",
    ),
    (
        "switch",
        "Lowering (d, o, x), rotating (r) or raising (u) a connector. A switch is verified only when a "
        "probe shows the key really changed.",
    ),
    (
        "verified / applied / waiting for you",
        "Verified: a probe proved it (for a connector handed out through the gateway: the gateway refused "
        "a request of every level above the mode). Applied: the provider accepted it, proof still to "
        "come. Waiting for you: a step you must do on the provider's site (c shows it).",
    ),
    (
        "rotate",
        "Replace a key with a new one: the new key works before the old one is revoked.",
    ),
    (
        "audit log / hash chain",
        "Every change Breaker makes is written down; each entry is sealed with the one before it, so an "
        "entry edited or removed later shows as a broken chain (l shows whether it is intact).",
    ),
    (
        "read-only mode",
        "The panel shows everything but hides every key that changes something.",
    ),
)

# Summary tile id → one line, shown on hover and focus.
TILE_HELP: dict[str, str] = {
    "tile-connectors": "How many connectors the inventory holds, by mode (full, draft, read, off).",
    "tile-drift": "Connectors whose key can do more than declared or than their mode allows.",
    "tile-old-keys": "Keys older than the age you set (key_age_warn_days): time to rotate them (r).",
    "tile-probes": "Connectors never probed, and those whose last probe failed (P probes them all).",
    "tile-shared": "Connectors that share the same key: revoking it stops all of them.",
    "tile-review": "The weekly look at who can do what; due when a week has passed since the last one.",
}
