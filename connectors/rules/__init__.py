"""Per-provider request → level tables for the gateway (see :mod:`connectors.requests`).

One module per provider, each a :class:`connectors.requests.RequestTable` named ``TABLE`` with the
documentation it was written from and the date it was checked. :mod:`connectors.rules.bodies` reads
the bodies that decide a level: GraphQL documents and batch requests.
"""
