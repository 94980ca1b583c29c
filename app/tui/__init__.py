"""The Textual panel. ``app.tui.app.run_panel`` opens it; ``make_app`` builds it for tests.

Layering: this package imports ``app.services`` (and ``connectors`` for vocabulary); nothing
below it imports Textual.
"""
