"""Provider adapters and the loopback sandbox.

Nothing here imports ``app`` or ``textual``: a provider is plain async code over an
``httpx.AsyncClient`` so that the CLI, the panel and the tests share it unchanged.
"""
