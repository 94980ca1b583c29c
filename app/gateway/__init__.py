"""The loopback enforcement gateway (issue 13): an adapter like ``app.cli`` and ``app.tui``.

Routes, forwarding and streaming live here; every decision comes from ``app.services``
(enforcement, gateway, queue) and every level from the provider tables in ``connectors/rules``.
"""
