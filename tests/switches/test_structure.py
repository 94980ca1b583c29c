"""One piece of code per rule: the switches share the network helpers, build a provider credential in
one place and select a panic's connectors by one rule."""

from __future__ import annotations

import ast
from pathlib import Path

from app.services import netutil
from app.services.switches import calls

PACKAGE = Path(__file__).resolve().parents[2] / "app" / "services" / "switches"


def _sources() -> dict[str, ast.Module]:
    return {p.name: ast.parse(p.read_text()) for p in sorted(PACKAGE.glob("*.py"))}


def test_the_network_helpers_are_the_shared_ones():
    assert calls.tls_context is netutil.tls_context
    assert calls.gated is netutil.gated


def test_a_provider_credential_is_built_in_one_place():
    """Probes and switches build it with app/services/credentials.py, never by hand."""
    files = [*sorted(PACKAGE.glob("*.py")), PACKAGE.parent / "probing.py"]
    by_hand = [
        (p.name, node.lineno)
        for p in files
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "ProviderCredential"
    ]
    assert by_hand == []


def test_the_panic_selection_rule_exists_once():
    """Selection.matches is the rule; one place applies it (Switches.targets), which the panic plan
    shown to the owner and the panic itself both use, so they cannot disagree."""
    uses = [
        (name, node.lineno)
        for name, tree in _sources().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "matches"
    ]
    assert len(uses) == 1, uses
