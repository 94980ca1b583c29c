"""Building what a provider call needs from a connector: the one place probes and switches share."""

from __future__ import annotations

from app.services.views import ConnectorView
from connectors.base import Credential as ProviderCredential
from connectors.base import Secret


def provider_credential(view: ConnectorView, secret: Secret, admin_secret: Secret | None = None) -> ProviderCredential:
    """The key, where to send it (the connector's base URL override) and its non-secret extras."""
    return ProviderCredential(
        secret=secret,
        base_url=view.base_url or None,
        extra={k: str(v) for k, v in view.extra.items()},
        admin_secret=admin_secret,
    )
