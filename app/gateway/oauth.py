"""OAuth connectors at the gateway: the refresh token stays in Breaker, the gateway trades it for
access tokens and adds those to forwarded requests.

One refresh at a time per credential: requests that arrive together while an access token is being
fetched wait for that one answer (the token endpoint is called once), and the access token is then
reused until a minute before it expires. It is kept in memory only. When the provider rotates the
refresh token (RFC 6749 §6, https://www.rfc-editor.org/rfc/rfc6749#section-6: "the client MUST
discard the old refresh token"), the new one is written to the keyring before the access token is
used — a crash right after cannot leave Breaker holding only the dead one.

The request is the standard refresh (``grant_type=refresh_token``, the client's id and secret in
the form body), as Google documents it
(https://developers.google.com/identity/protocols/oauth2/web-server#offline).
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

    def wants(self, route: Route) -> bool:
        return bool(route.kind) and route.kind in registry.get(route.provider).refresh_kinds

    async def access_token(self, route: Route, refresh: Secret) -> Secret:
        ref = route.keyring_ref or ""
        cached = self._tokens.get(ref)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        future = self._inflight.get(ref)
        if future is None:
            future = asyncio.ensure_future(self._refresh(route, refresh))
            self._inflight[ref] = future
            future.add_done_callback(lambda _f: self._inflight.pop(ref, None))
        return await asyncio.shield(future)

    async def _refresh(self, route: Route, refresh: Secret) -> Secret:
        provider = registry.get(route.provider)
        client = await asyncio.to_thread(oauth_client, self.services, route.keyring_ref or "")
        if client is None:
            raise RefreshFailed(f"{route.connector} holds a refresh token but no OAuth client id and secret")
        client_id, client_secret = client
        url = provider.token_url(route.base_url or None)
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh.reveal(),
            "client_id": client_id,
            "client_secret": client_secret.reveal(),
        }
        self.refreshes += 1
        response = await self.http.post(url, data=form, headers={"accept": "application/json"})
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
            error = body.get("error") if isinstance(body, dict) else None
            raise RefreshFailed(
                f"{provider.title} refused to refresh {route.connector}'s access token "
                f"(HTTP {response.status_code}{', ' + str(error)[:60] if error else ''})"
            )
        rotated = body.get("refresh_token")
        if isinstance(rotated, str) and rotated and rotated != refresh.reveal():
            new = Secret(rotated)
            await asyncio.to_thread(
                store_rotated_refresh, self.services, route.connector_id, route.keyring_ref or "", new
            )
            self.on_rotated(route.keyring_ref or "", new)
        access = Secret(str(body["access_token"]))
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        self._tokens[route.keyring_ref or ""] = (time.monotonic() + max(0.0, lifetime - EARLY_S), access)
        return access
