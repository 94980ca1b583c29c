"""One module per provider: PREFIX and ROUTES (see connectors/sandbox/core.py)."""
