"""OAuth connectors at the gateway: the refresh token stays in Breaker, the gateway trades it for
access tokens and adds those to forwarded requests.

One refresh at a time per credential: requests that arrive together while an access token is being
fetched wait for that one answer (the token endpoint is called once), and the access token is then
reused until a minute before it expires. It is kept in memory only. When the provider rotates the
refresh token (RFC 6749 §6, https://www.rfc-editor.org/rfc/rfc6749#section-6: "the client MUST
discard the old refresh token"), the new one is written to the keyring before the access token is
used — a crash right after cannot leave Breaker holding only the dead one.

The request is the provider's (``Provider.refresh_request``, each citing its documentation): the
standard refresh form with the client in the body by default, as Google documents it
(https://developers.google.com/identity/protocols/oauth2/web-server#offline) and HubSpot too;
Microsoft's adds ``scope``; Notion's is JSON with the client as HTTP Basic. Answers are read in
the standard shape (RFC 6749 §5.1: ``access_token``, ``expires_in``, ``refresh_token``) and in the
camelCase one HubSpot's reference also shows (``accessToken``, ``expiresIn``, ``refreshToken``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx

from app.services.gateway import Route, oauth_client, store_rotated_refresh
from connectors import registry
from connectors.base import Secret

EARLY_S = 60.0  # an access token is refreshed this long before its expiry


class RefreshFailed(Exception):
    """The access token could not be had; one line, secret-free."""


class Refresher:
    def __init__(self, services, http: httpx.AsyncClient, on_rotated: Callable[[str, Secret], None]) -> None:
        self.services = services
        self.http = http
        self.on_rotated = on_rotated  # (keyring ref, new refresh token): the gateway's key cache
        self._tokens: dict[str, tuple[float, Secret]] = {}  # keyring ref → (valid until, access token)
        self._inflight: dict[str, asyncio.Future[Secret]] = {}
        self.refreshes = 0  # token endpoint calls made (tests, the gateway's log)
        self._kinds: dict[str, frozenset[str]] = {}  # provider name → the kinds of key it refreshes

    def wants(self, route: Route) -> bool:
        if not route.kind:
            return False
        kinds = self._kinds.get(route.provider)
        if kinds is None:  # a provider's refresh kinds are class constants: read once, not per request
            kinds = self._kinds[route.provider] = frozenset(registry.get(route.provider).refresh_kinds)
        return route.kind in kinds

    async def access_token(self, route: Route, refresh: Secret, settings: dict | None = None) -> Secret:
        """An access token for ``route``'s refresh token; ``settings``: the connector's, as its seal held
        them (Microsoft's tenant decides the token URL)."""
        ref = route.keyring_ref or ""
        cached = self._tokens.get(ref)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        future = self._inflight.get(ref)
        if future is None:
            future = asyncio.ensure_future(self._refresh(route, refresh, settings or {}))
            self._inflight[ref] = future
            future.add_done_callback(lambda _f: self._inflight.pop(ref, None))
        return await asyncio.shield(future)

    async def _refresh(self, route: Route, refresh: Secret, settings: dict) -> Secret:
        provider = registry.get(route.provider)
        client = await asyncio.to_thread(oauth_client, self.services, route.keyring_ref or "")
        if client is None:
            raise RefreshFailed(f"{route.connector} holds a refresh token but no OAuth client id and secret")
        client_id, client_secret = client
        try:
            url = provider.token_url(route.base_url or None, settings)
        except ValueError as exc:  # a setting that cannot be in a URL (refused when set; never sent)
            raise RefreshFailed(f"{route.connector}: {exc}") from None
        ask = provider.refresh_request(refresh, client_id, client_secret)
        self.refreshes += 1
        response = await self.http.post(
            url, data=ask.form, json=ask.json, headers={"accept": "application/json", **ask.headers}
        )
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        access_value = answer(body, "access_token")
        if response.status_code != 200 or not isinstance(access_value, str) or not access_value:
            error = body.get("error") or body.get("code")
            if isinstance(error, dict):
                error = error.get("code")
            raise RefreshFailed(
                f"{provider.title} refused to refresh {route.connector}'s access token "
                f"(HTTP {response.status_code}{', ' + str(error)[:60] if error else ''})"
            )
        rotated = answer(body, "refresh_token")
        if isinstance(rotated, str) and rotated and rotated != refresh.reveal():
            new = Secret(rotated)
            await asyncio.to_thread(
                store_rotated_refresh, self.services, route.connector_id, route.keyring_ref or "", new
            )
            self.on_rotated(route.keyring_ref or "", new)
        access = Secret(access_value)
        try:
            lifetime = float(answer(body, "expires_in") or 3600)
        except (TypeError, ValueError):
            lifetime = 3600.0
        self._tokens[route.keyring_ref or ""] = (time.monotonic() + max(0.0, lifetime - EARLY_S), access)
        return access


def answer(body: dict, name: str):
    """``body[name]``, or its camelCase spelling (``expires_in`` → ``expiresIn``)."""
    if name in body:
        return body[name]
    head, *rest = name.split("_")
    return body.get(head + "".join(part.title() for part in rest))
