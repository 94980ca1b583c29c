"""The loopback sandbox server: routing, keep-alive, concurrency, faults, request log, admin API, stop.

Two tiny route modules (``fake`` and ``other``) stand in for the real provider modules, so these
tests do not depend on any provider's routes.
"""

from __future__ import annotations

import asyncio
import functools
import json
import socket
import threading
import time
import types

import httpx
import pytest

from connectors.sandbox import dispatch
from connectors.sandbox.core import SandboxRequest, SandboxState, empty_response, json_response
from connectors.sandbox.server import SandboxServer, ThreadedSandbox


def _user(req: SandboxRequest, state: SandboxState, match) -> object:
    record = state.get(req.bearer(), "fake")
    if record is None or not record.live:
        return json_response(401, {"message": "Bad credentials"})
    return json_response(200, {"login": record.identity}, {"x-oauth-scopes": ", ".join(record.scopes)})


def _revoke(req: SandboxRequest, state: SandboxState, match) -> object:
    state.revoke(req.bearer() or "")
    return empty_response(204)


def _echo(req: SandboxRequest, state: SandboxState, match) -> object:
    return json_response(200, {"length": len(req.body), "json": req.json()})


def _item(req: SandboxRequest, state: SandboxState, match) -> object:
    return json_response(200, {"id": match["id"]})


def _boom(req: SandboxRequest, state: SandboxState, match) -> object:
    raise RuntimeError("handler bug")


def _fake_module(prefix: str) -> types.ModuleType:
    module = types.ModuleType(f"fake_routes_{prefix}")
    module.PREFIX = prefix
    module.ROUTES = [
        ("GET", r"/user", _user),
        ("HEAD", r"/user", _user),
        ("POST", r"/revoke", _revoke),
        ("POST", r"/echo", _echo),
        ("GET", r"/items/(?P<id>[^/]+)", _item),
        ("GET", r"/boom", _boom),
    ]
    module.KINDS = {"classic": ["repo", "user"], "fine": ["read"]}
    module.make_token = lambda kind: SandboxState.new_token(f"{prefix}_{kind}_")
    return module


@pytest.fixture(autouse=True)
def fake_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    modules = {"fake": _fake_module("fake"), "other": _fake_module("other")}
    monkeypatch.setattr(dispatch, "route_modules", lambda: modules)
    monkeypatch.setattr(dispatch, "_compiled", functools.cache(dispatch._compiled.__wrapped__))


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- routing --------------------------------------------------------------------------------------


def test_routes_to_the_provider_module(sandbox: SandboxServer) -> None:
    record = sandbox.mint("fake", identity="octo")
    with httpx.Client(base_url=sandbox.base_url("fake")) as client:
        ok = client.get("/user", headers=auth(record.token))
        assert ok.status_code == 200 and ok.json() == {"login": "octo"}
        assert ok.headers["x-oauth-scopes"] == "repo, user"
        assert client.get("/user").status_code == 401
        assert client.post("/revoke", headers=auth(record.token)).status_code == 204
        assert client.get("/user", headers=auth(record.token)).status_code == 401
        assert client.get("/items/42").json() == {"id": "42"}


def test_unknown_paths_are_404_and_wrong_methods_405(sandbox: SandboxServer) -> None:
    with httpx.Client(base_url=sandbox.url) as client:
        assert client.get("/fake/nowhere").status_code == 404
        assert client.get("/nobody/user").status_code == 404
        assert client.delete("/fake/user").status_code == 405
        assert client.get("/fake/revoke").status_code == 405


def test_head_has_headers_but_no_body(sandbox: SandboxServer) -> None:
    record = sandbox.mint("fake")
    response = httpx.head(sandbox.base_url("fake") + "/user", headers=auth(record.token))
    assert response.status_code == 200
    assert response.content == b"" and int(response.headers["content-length"]) > 0


def test_request_bodies_by_content_length_and_chunked(sandbox: SandboxServer) -> None:
    with httpx.Client(base_url=sandbox.base_url("fake")) as client:
        sized = client.post("/echo", content=b'{"a": 1}', headers={"content-type": "application/json"})
        assert sized.request.headers["content-length"] == "8"
        assert sized.json() == {"length": 8, "json": {"a": 1}}
        chunked = client.post("/echo", content=iter([b'{"b":', b" 2}"]))  # an iterator is sent chunked
        assert chunked.request.headers["transfer-encoding"] == "chunked"
        assert chunked.json() == {"length": 8, "json": {"b": 2}}


def test_a_failing_handler_answers_500_and_the_server_carries_on(sandbox: SandboxServer) -> None:
    with httpx.Client(base_url=sandbox.base_url("fake")) as client:
        response = client.get("/boom")
        assert response.status_code == 500 and response.json()["error"] == "RuntimeError"
        assert client.get("/items/1").status_code == 200


def test_malformed_http_gets_400(sandbox: SandboxServer) -> None:
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=2) as sock:
        sock.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 400")


# -- keep-alive and concurrency -------------------------------------------------------------------


def test_keep_alive_reuses_one_connection(sandbox: SandboxServer) -> None:
    with httpx.Client(base_url=sandbox.base_url("fake")) as client:
        for n in range(5):
            assert client.get(f"/items/{n}").status_code == 200
    assert sandbox.connections_opened == 1


def test_two_requests_on_one_raw_socket(sandbox: SandboxServer) -> None:
    request = b"GET /fake/items/%d HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=2) as sock:
        received = b""
        for n in (1, 2):
            sock.sendall(request % n)
            while not received.endswith(b'{"id": "%d"}' % n):
                received += sock.recv(4096)
    assert received.count(b"HTTP/1.1 200") == 2


@pytest.mark.wallclock
async def test_concurrent_requests_are_not_serialised(sandbox: SandboxServer) -> None:
    # The latency is the timed part: 64 requests of 0.5 s each take 32 s one after another. Under 3.2 s
    # means at least 10 at a time; the requests' own work (~0.3 s with the CPUs busy) has ~2.7 s of room.
    sandbox.faults.set("fake", latency_ms=500)
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=sandbox.base_url("fake"), limits=limits) as client:
        started = time.perf_counter()
        responses = await asyncio.gather(*(client.get(f"/items/{n}") for n in range(64)))
        elapsed = time.perf_counter() - started
    assert all(r.status_code == 200 for r in responses)
    assert elapsed < 3.2, f"64 requests with 500 ms latency took {elapsed:.2f}s (serialised would be 32s)"


# -- faults ---------------------------------------------------------------------------------------


@pytest.mark.wallclock
def test_latency_delays_only_its_provider(sandbox: SandboxServer) -> None:
    # 1 s of latency, and the other provider answers in under half of it (a few ms when quiet)
    sandbox.faults.set("fake", latency_ms=1000)
    with httpx.Client(base_url=sandbox.url) as client:
        started = time.perf_counter()
        assert client.get("/fake/items/1").status_code == 200
        assert time.perf_counter() - started >= 1.0
        started = time.perf_counter()
        assert client.get("/other/items/1").status_code == 200
        assert time.perf_counter() - started < 0.5


@pytest.mark.wallclock
async def test_a_slow_provider_does_not_block_another(sandbox: SandboxServer) -> None:
    # The slow call is cancelled once the other has answered, so its latency can be long for free.
    sandbox.faults.set("fake", latency_ms=10_000)
    async with httpx.AsyncClient(base_url=sandbox.url) as client:
        slow = asyncio.create_task(client.get("/fake/items/1"))
        deadline = time.monotonic() + 30
        while not sandbox.requests:  # the slow one is being served (waiting out its latency)
            assert time.monotonic() < deadline, "the slow request never arrived"
            await asyncio.sleep(0.01)
        started = time.perf_counter()
        assert (await client.get("/other/items/1")).status_code == 200
        assert time.perf_counter() - started < 2.0
        slow.cancel()


@pytest.mark.parametrize("status", [500, 503])
def test_status_fault_answers_json(sandbox: SandboxServer, status: int) -> None:
    sandbox.faults.set("fake", status=status)
    response = httpx.get(sandbox.base_url("fake") + "/items/1")
    assert response.status_code == status
    assert response.json()["error"]["type"] == "sandbox_fault"


def test_429_with_retry_after_once_then_fine(sandbox: SandboxServer) -> None:
    sandbox.faults.set("fake", retry_after=2, times=1)
    with httpx.Client(base_url=sandbox.base_url("fake")) as client:
        limited = client.get("/items/1")
        assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
        assert client.get("/items/1").status_code == 200
    assert sandbox.faults.snapshot() == {}


def test_times_counts_down(sandbox: SandboxServer) -> None:
    sandbox.faults.set("fake", status=503, times=3)
    with httpx.Client(base_url=sandbox.base_url("fake")) as client:
        statuses = [client.get("/items/1").status_code for _ in range(5)]
    assert statuses == [503, 503, 503, 200, 200]


def test_hang_until_the_client_gives_up_then_nothing_is_left_open(sandbox: SandboxServer) -> None:
    sandbox.faults.set("fake", hang=True)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(sandbox.base_url("fake") + "/items/1", timeout=0.3)
    deadline = time.monotonic() + 30
    while sandbox.open_connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sandbox.open_connections == 0


def test_drop_closes_without_an_answer(sandbox: SandboxServer) -> None:
    sandbox.faults.set("fake", drop=True, times=1)
    with httpx.Client(base_url=sandbox.base_url("fake")) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/items/1")
        assert client.get("/items/1").status_code == 200


def test_wildcard_fault_and_a_providers_own_fault_wins(sandbox: SandboxServer) -> None:
    sandbox.faults.set("*", status=500)
    sandbox.faults.set("other", status=503)
    with httpx.Client(base_url=sandbox.url) as client:
        assert client.get("/fake/items/1").status_code == 500
        assert client.get("/other/items/1").status_code == 503


def test_faults_never_touch_the_admin_api(sandbox: SandboxServer) -> None:
    sandbox.faults.set("*", drop=True)
    sandbox.faults.set("_sandbox", hang=True)
    response = httpx.get(sandbox.url + "/_sandbox/tokens", timeout=2)
    assert response.status_code == 200


def test_invalid_faults_are_refused(sandbox: SandboxServer) -> None:
    for bad in ({"hang": True, "drop": True}, {"times": 0}, {"status": 42}, {"latency_ms": -1}):
        with pytest.raises(ValueError):
            sandbox.faults.set("fake", **bad)


# -- request log ----------------------------------------------------------------------------------


def test_request_log_keeps_method_and_path_but_no_secret(sandbox: SandboxServer) -> None:
    record = sandbox.mint("fake")
    with httpx.Client(base_url=sandbox.url) as client:
        client.get("/fake/user", params={"access_token": "querySANDBOXvalue"}, headers=auth(record.token))
        client.post("/fake/echo", json={"secret": "bodySANDBOXvalue"})
        client.get(f"/fake/items/{record.token}")
        client.get("/_sandbox/tokens")  # admin calls are not provider traffic
        logged = client.get("/_sandbox/requests").text
    assert sandbox.calls() == [("GET", "/fake/user"), ("POST", "/fake/echo"), ("GET", "/fake/items/[token]")]
    assert [(r.method, r.prefix, r.path) for r in sandbox.requests][0] == ("GET", "fake", "/user")
    everything = repr(sandbox.requests) + logged
    for secret in (record.token, "querySANDBOXvalue", "access_token", "bodySANDBOXvalue", "Bearer"):
        assert secret not in everything
    sandbox.clear_requests()
    assert sandbox.requests == []


async def test_request_log_is_bounded_and_server_runs_on_the_callers_loop() -> None:
    async with SandboxServer(max_log=3) as server:
        async with httpx.AsyncClient(base_url=server.base_url("fake")) as client:
            for n in range(5):
                await client.get(f"/items/{n}")
        assert [r.path for r in server.requests] == ["/items/2", "/items/3", "/items/4"]
    assert not server.running


# -- admin API ------------------------------------------------------------------------------------


def test_admin_api_tokens(sandbox: SandboxServer) -> None:
    with httpx.Client(base_url=sandbox.url + "/_sandbox") as client:
        minted = client.post("/tokens", json={"provider": "fake"})
        assert minted.status_code == 201
        body = minted.json()
        assert "SANDBOX" in body["token"] and body["kind"] == "classic" and body["scopes"] == ["repo", "user"]
        fine = client.post(
            "/tokens", json={"provider": "fake", "kind": "fine", "identity": "bot", "scopes": ["read", "write"]}
        ).json()
        registered = client.post("/tokens", json={"provider": "other", "token": "other_SANDBOX_mine"}).json()
        assert registered["token"] == "other_SANDBOX_mine"

        listing = client.get("/tokens")
        tokens = listing.json()["tokens"]
        assert {(t["provider"], t["kind"], t["identity"]) for t in tokens} == {
            ("fake", "classic", "sandbox-user"),
            ("fake", "fine", "bot"),
            ("other", "classic", "sandbox-user"),
        }
        assert all(set(t) >= {"key_id", "scopes", "revoked", "status", "last4"} for t in tokens)
        for value in (body["token"], fine["token"], registered["token"]):
            assert value not in listing.text

        assert client.post("/tokens", json={"provider": "nobody"}).status_code == 400
        assert client.post("/tokens", json={"provider": "fake", "kind": "nope"}).status_code == 400
        assert client.post("/tokens", json={"provider": "fake", "token": "looks-real-123"}).status_code == 400
        assert client.post("/tokens", json={"provider": "fake", "colour": "red"}).status_code == 400
        assert client.post("/tokens", content=b"not json").status_code == 400

    user = httpx.get(sandbox.base_url("fake") + "/user", headers=auth(fine["token"]))
    assert user.json() == {"login": "bot"} and user.headers["x-oauth-scopes"] == "read, write"


def test_admin_api_faults_requests_reset(sandbox: SandboxServer) -> None:
    with httpx.Client(base_url=sandbox.url) as client:
        set_ = client.post("/_sandbox/faults", json={"provider": "fake", "status": 503, "times": 2})
        assert set_.status_code == 201 and set_.json()["fault"]["times"] == 2
        client.post("/_sandbox/faults", json={"provider": "other", "latency_ms": 5})
        assert set(client.get("/_sandbox/faults").json()["faults"]) == {"fake", "other"}
        assert client.get("/fake/items/1").status_code == 503
        assert client.get("/_sandbox/faults").json()["faults"]["fake"]["times"] == 1
        assert client.delete("/_sandbox/faults", params={"provider": "fake"}).json()["faults"].keys() == {"other"}
        assert client.get("/fake/items/1").status_code == 200
        assert client.delete("/_sandbox/faults").json() == {"faults": {}}
        assert client.post("/_sandbox/faults", json={"provider": "fake", "hang": True, "drop": True}).status_code == 400

        requests = client.get("/_sandbox/requests").json()["requests"]
        assert [(r["method"], r["prefix"], r["path"]) for r in requests] == [("GET", "fake", "/items/1")] * 2
        assert all(set(r) == {"time", "method", "prefix", "path"} for r in requests)

        client.post("/_sandbox/tokens", json={"provider": "fake"})
        client.post("/_sandbox/faults", json={"provider": "fake", "status": 500})
        assert client.post("/_sandbox/reset").status_code == 200
        assert client.get("/_sandbox/tokens").json() == {"tokens": []}
        assert client.get("/_sandbox/faults").json() == {"faults": {}}
        assert client.get("/_sandbox/requests").json() == {"requests": []}
        assert client.get("/_sandbox/nothing").status_code == 404
        providers = client.get("/_sandbox/providers").json()["providers"]
        assert providers["fake"] == {"classic": ["repo", "user"], "fine": ["read"]}


def test_python_mint_and_state_are_shared(sandbox: SandboxServer, sandbox_state: SandboxState) -> None:
    record = sandbox.mint("other", "fine", scopes=["x"], identity="svc")
    assert sandbox.state is sandbox_state and sandbox_state.get(record.token, "other") is record
    assert (record.kind, record.scopes, record.identity) == ("fine", ["x"], "svc")
    assert record.token.startswith("other_fine_SANDBOX")
    with pytest.raises(ValueError):
        sandbox.mint("nobody")


def _grant_module() -> types.ModuleType:
    """A route module whose tokens embed their grant (like Microsoft's JWTs) and their key id (like SendGrid's)."""
    module = types.ModuleType("fake_routes_grant")
    module.PREFIX, module.ROUTES = "grant", []
    module.KINDS = {"user": ["read", "write"], "admin": ["admin"]}

    def make_token(kind: str, scopes: list[str] | None = None, identity: str | None = None) -> str:
        module.made.append((scopes, identity))
        who = identity or ("boss" if kind == "admin" else "someone")
        return f"grant.{who}.{'+'.join(scopes or [])}.SANDBOX{len(module.made)}"

    module.made = []
    module.make_token = make_token
    module.key_id_of = lambda token: token.rsplit(".", 1)[1]
    module.identity_of = lambda token: token.split(".")[1]
    return module


def _kwargs_module() -> types.ModuleType:
    module = types.ModuleType("fake_routes_kwargs")
    module.PREFIX, module.ROUTES, module.KINDS = "kw", [], {"k": ["s"]}
    module.make_token = lambda kind, **options: f"kw_SANDBOX_{kind}_{options['identity']}_{'+'.join(options['scopes'])}"
    return module


def test_mint_makes_the_token_with_the_records_scopes_and_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    grant, kwargs = _grant_module(), _kwargs_module()
    monkeypatch.setattr(dispatch, "route_modules", lambda: {"grant": grant, "kw": kwargs, "fake": _fake_module("fake")})
    server = SandboxServer()  # minting needs no running server

    default = server.mint("grant", "user")
    narrowed = server.mint("grant", "user", scopes=["read"], identity="ada")
    admin = server.mint("grant", "admin")
    assert grant.made == [(["read", "write"], None), (["read"], "ada"), (["admin"], None)]
    assert (default.token.split(".")[2], default.scopes) == ("read+write", ["read", "write"])
    assert (narrowed.token.split(".")[1:3], narrowed.scopes, narrowed.identity) == (["ada", "read"], ["read"], "ada")
    # Without an identity, the record takes the one the module gave the token.
    assert admin.identity == "boss" and admin.token.startswith("grant.boss.admin.")
    # The key id is read back from the token, not made up.
    assert (default.key_id, narrowed.key_id, admin.key_id) == ("SANDBOX1", "SANDBOX2", "SANDBOX3")
    assert [t["key_id"] for t in server.tokens()] == ["SANDBOX1", "SANDBOX2", "SANDBOX3"]

    assert server.mint("kw", "k", identity="bo").token == "kw_SANDBOX_k_bo_s"  # **options take both
    plain = server.mint("fake", "classic", identity="octo")  # make_token(kind) only: called as before
    assert plain.identity == "octo" and plain.token.startswith("fake_classic_SANDBOX") and len(plain.key_id) == 12


def test_mint_of_a_registered_token_reads_its_identity_and_key_id(monkeypatch: pytest.MonkeyPatch) -> None:
    grant = _grant_module()
    monkeypatch.setattr(dispatch, "route_modules", lambda: {"grant": grant})
    server = SandboxServer()
    record = server.mint("grant", "user", token="grant.carol.read.SANDBOXmine")
    named = server.mint("grant", "user", token="grant.carol.read.SANDBOXtwo", identity="dave")
    assert grant.made == [] and (record.identity, record.key_id) == ("carol", "SANDBOXmine")
    assert named.identity == "dave"  # an explicit identity wins


# -- lifecycle ------------------------------------------------------------------------------------


@pytest.mark.wallclock
def test_stop_is_clean_and_fast_with_a_hanging_connection_open() -> None:
    runner = ThreadedSandbox()
    server = runner.start()
    server.faults.set("fake", hang=True)
    outcome: list[BaseException | None] = []

    def call() -> None:
        try:
            httpx.get(server.base_url("fake") + "/items/1", timeout=60)
            outcome.append(None)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 30
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.open_connections == 1

    # The hang lasts until the caller gives up (60 s): a stop that waited for it would take that long.
    started = time.perf_counter()
    runner.stop()
    assert time.perf_counter() - started < 5.0
    caller.join(30)
    assert not caller.is_alive()
    assert isinstance(outcome[0], httpx.RemoteProtocolError | httpx.ReadError)
    assert not runner._thread and not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/fake/items/1", timeout=1)


async def test_stop_on_the_callers_loop_leaves_no_task_behind() -> None:
    server = await SandboxServer().start()
    server.faults.set("fake", hang=True)
    client = httpx.AsyncClient(timeout=10)
    pending = asyncio.create_task(client.get(server.base_url("fake") + "/items/1"))
    while not server.requests:
        await asyncio.sleep(0.01)
    before = asyncio.all_tasks()
    await asyncio.wait_for(server.stop(), 10)
    with pytest.raises(httpx.TransportError):
        await asyncio.wait_for(pending, 10)
    await client.aclose()
    assert server.open_connections == 0
    leftover = {t for t in asyncio.all_tasks() - {asyncio.current_task()} if not t.done()}
    assert not leftover, leftover
    assert len(before) >= 2  # our test task and the server's connection task were both running


def test_threaded_sandbox_reports_a_port_in_use() -> None:
    with ThreadedSandbox() as server:
        other = ThreadedSandbox(port=server.port)
        with pytest.raises(OSError):
            other.start()


def test_threaded_sandbox_context_manager_and_restart_free_port() -> None:
    with ThreadedSandbox() as server:
        assert server.url.startswith("http://127.0.0.1:") and server.port > 0
        assert httpx.get(server.url + "/_sandbox/").json()["providers"].keys() == {"fake", "other"}
    assert not server.running


def test_admin_json_round_trips_fault_fields(sandbox: SandboxServer) -> None:
    body = {"provider": "fake", "latency_ms": 1, "status": 429, "retry_after": 0.5, "times": 1}
    fault = httpx.post(sandbox.url + "/_sandbox/faults", content=json.dumps(body)).json()["fault"]
    assert fault == {"latency_ms": 1.0, "status": 429, "retry_after": 0.5, "hang": False, "drop": False, "times": 1}
    limited = httpx.get(sandbox.base_url("fake") + "/items/1")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "0.5"
