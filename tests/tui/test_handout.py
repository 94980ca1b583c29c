"""How a connector is handed out — as its key or through the gateway — shown on the panel (the main
table's Via column, the connector screen's 'Handed out') and changed there with h: a confirmation
whose focus starts on Cancel, then the service (audited)."""

from __future__ import annotations

from sqlalchemy import text

from app.services.gateway import Gateway
from app.tui.app import make_app
from app.tui.screens.connector import ConnectorScreen
from app.tui.screens.handout import HandoutConfirm
from tests.tui.pilot import Notes, cell, click, on_screen, select_row, settle, until

SIZE = (120, 36)


def audit(services, prefix: str = "gateway.") -> list[str]:
    with services.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT action FROM audit_event WHERE action LIKE :p ORDER BY seq"), {"p": prefix + "%"}
        )
        return [r[0] for r in rows]


async def open_connector(pilot, name: str) -> ConnectorScreen:
    await settle(pilot)
    await select_row(pilot, name)
    await pilot.press("enter")
    await on_screen(pilot, ConnectorScreen)
    await settle(pilot)
    return pilot.app.screen


def credential_text(screen: ConnectorScreen) -> str:
    return str(screen.query_one("#credential").render())


async def test_h_routes_a_connector_through_the_gateway_and_back_with_a_confirmation(seeded):
    app = make_app(seeded)
    notes = Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await settle(pilot)
        assert cell(app, "openai-support", "via") == "key"
        screen = await open_connector(pilot, "openai-support")
        assert "Handed out" in credential_text(screen) and "as its key" in credential_text(screen)
        # enter on the confirmation is Cancel: nothing changes
        await pilot.press("h")
        await on_screen(pilot, HandoutConfirm)
        assert app.focused is not None and app.focused.id == "cancel"
        await pilot.press("enter")
        await on_screen(pilot, ConnectorScreen)
        assert Gateway(seeded).get("openai-support") is None
        # h, then the button: routed, audited, shown on both screens
        await pilot.press("h")
        await on_screen(pilot, HandoutConfirm)
        plan = " ".join(str(w.render()) for w in app.screen.query("#handout-text .outline-text"))
        assert "breaker exec openai-support" in plan
        await click(pilot, "#confirm")
        await until(pilot, lambda: Gateway(seeded).get("openai-support") is not None)
        await until(pilot, lambda: "through the gateway" in credential_text(screen))
        await pilot.press("escape")
        await settle(pilot)
        assert cell(app, "openai-support", "via") == "gateway"
        # and back: the tokens are revoked
        issued = Gateway(seeded).issue("openai-support", "agent")
        screen = await open_connector(pilot, "openai-support")
        await pilot.press("h")
        await on_screen(pilot, HandoutConfirm)
        await click(pilot, "#confirm")
        await until(pilot, lambda: Gateway(seeded).get("openai-support") is None)
        await until(pilot, lambda: "as its key" in credential_text(screen))
    assert audit(seeded)[-3:] == ["gateway.route", "gateway.token", "gateway.unroute"]
    assert all(t.revoked_at is not None for t in Gateway(seeded).tokens("openai-support") if t.id == issued.id)
    assert any("now handed out through the gateway" in n for n in notes.texts())


async def test_a_provider_without_a_request_table_stays_a_key_and_says_why(seeded, monkeypatch):
    from app.services import gateway as gateway_service

    monkeypatch.setattr(gateway_service, "table_for", lambda provider: None)
    app = make_app(seeded)
    notes = Notes()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await open_connector(pilot, "notion-wiki")
        await pilot.press("h")
        await until(pilot, lambda: any("no request table" in n for n in notes.texts()))
        assert not isinstance(app.screen, HandoutConfirm)
    assert Gateway(seeded).get("notion-wiki") is None and audit(seeded) == []


async def test_read_only_mode_hides_h(seeded):
    app = make_app(seeded, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_connector(pilot, "openai-support")
        assert screen.check_action("handout", ()) is False


def test_handout_confirmation_snapshot(snap_compare, seeded):
    async def run_before(pilot):
        await open_connector(pilot, "openai-support")
        await pilot.press("h")
        await on_screen(pilot, HandoutConfirm)
        await pilot.pause()

    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


def test_main_screen_with_a_routed_connector_snapshot(snap_compare, seeded):
    Gateway(seeded).route("openai-support")
    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=settle)


async def test_the_connector_screen_shows_gateway_use_by_level_and_week(seeded):
    from datetime import timedelta

    from app.services import gateway as gateway_service

    Gateway(seeded).route("openai-support")
    cid = seeded.inventory.get("openai-support").id
    now = gateway_service.utcnow()
    rows = [
        {"connector_id": cid, "at": now - timedelta(hours=1), "level": 1, "decision": "allow", "status": 200},
        {"connector_id": cid, "at": now - timedelta(hours=2), "level": 1, "decision": "allow", "status": 200},
        {"connector_id": cid, "at": now - timedelta(days=9), "level": 4, "decision": "allow", "status": 200},
        {"connector_id": cid, "at": now - timedelta(hours=3), "level": 4, "decision": "refuse", "status": 403},
    ]
    gateway_service.record_usage(seeded, rows)
    use = Gateway(seeded).use_by_level("openai-support", now=now)
    assert use.counts["read"][0] == [2, 0] and use.counts["send"][0] == [0, 1] and use.counts["send"][1] == [1, 0]
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_connector(pilot, "openai-support")
        panel = screen.query_one("#gateway-use")
        await until(pilot, lambda: "this week" in str(panel.render()))
        text = str(panel.render())
        assert panel.display and "read" in text and "send" in text and "(1)" in text
