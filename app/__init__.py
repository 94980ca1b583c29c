"""Breaker: the breaker panel for a small business's AI connectors."""

__version__ = "0.1.0"
