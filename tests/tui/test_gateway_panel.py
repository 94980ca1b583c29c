"""The panel runs the gateway: G starts it in this process (its own thread), the line above the table
says where it listens, G stops it; both audited; a port already taken is said in one line."""

from __future__ import annotations

import socket

import httpx
import pytest
from sqlalchemy import text

from app.tui.app import make_app
from tests.tui.pilot import settle, until

SIZE = (120, 36)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gateway_audit(services) -> list[tuple[str, str]]:
    with services.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT action, new_json FROM audit_event WHERE action LIKE 'gateway.st%' ORDER BY seq")
        ).all()
    return [(r[0], r[1]) for r in rows]


async def test_G_starts_the_gateway_in_the_panel_and_G_stops_it(seeded, monkeypatch):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("BREAKER_GATEWAY_URL", url)  # where `breaker exec` sends agents: the panel listens there
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        line = app.main_screen.query_one("#gateway-line")
        assert not line.display
        await pilot.press("G")
        await until(pilot, lambda: "listening on" in str(line.render()))
        assert url in str(line.render()) and "Press G to stop it" in str(line.render())
        async with httpx.AsyncClient() as client:
            r = await client.get(url + "/")
            assert r.json() == {"gateway": "breaker", "ok": True}
            # the panel's own loop is free while the gateway serves: a key still works at once
            await pilot.press("question_mark")
            await pilot.pause()
            assert app.screen.id != "main"
            await pilot.press("escape")
            await pilot.press("G")
            await until(pilot, lambda: not line.display)
            with pytest.raises(httpx.ConnectError):
                await client.get(url + "/")
    events = gateway_audit(seeded)
    assert [a for a, _ in events] == ["gateway.started", "gateway.stopped"]
    assert all(url in new and "panel" in new for _, new in events)


async def test_a_port_already_taken_is_said_in_one_line(seeded, monkeypatch):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    monkeypatch.setenv("BREAKER_GATEWAY_URL", f"http://127.0.0.1:{port}")
    try:
        app = make_app(seeded)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            line = app.main_screen.query_one("#gateway-line")
            await pilot.press("G")
            await until(pilot, lambda: "did not start" in str(line.render()))
            shown = str(line.render())
            assert f"127.0.0.1:{port}" in shown and "in use" in shown and "Traceback" not in shown
            assert line.has_class("-failed")
    finally:
        taken.close()
    assert gateway_audit(seeded) == []
