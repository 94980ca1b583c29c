"""The decision queue in the panel: held requests listed in the owner's words, y approves, n denies."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from app.services.queue import Queue
from app.tui.app import make_app
from app.tui.screens import held
from app.tui.screens.held import HeldScreen
from connectors.base import Level
from connectors.requests import Classification
from tests.tui.pilot import on_screen, settle, until

SIZE = (120, 36)


def hold_two(services) -> list[int]:
    with services.engine.connect() as conn:
        cid = conn.execute(text("SELECT id FROM connector ORDER BY name LIMIT 1")).scalar()
    q = Queue(services)
    mail = {
        "to": "accountant@example.com",
        "cc": "",
        "bcc": "archive@elsewhere.example",
        "subject": "Q3 invoices",
        "first_lines": ["Hello Sam,", "attached are the Q3 invoices."],
        "what": "Send an e-mail to accountant@example.com; BCC (hidden from the others) archive@elsewhere.example"
        " — subject “Q3 invoices”",
    }
    slack = {"channel": "C1", "first_lines": ["deploy done"], "what": "Slack chat.postMessage in C1: “deploy done”"}
    one, _ = q.hold(cid, "a" * 64, Classification(Level.SEND, "POST /gmail/v1/users/{user}/messages/send"), mail)
    two, _ = q.hold(cid, "b" * 64, Classification(Level.SEND, "POST /api/chat.postmessage"), slack)
    return [one, two]


def states(services) -> list[tuple]:
    with services.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT id, state FROM gateway_hold ORDER BY id"))]


async def test_held_requests_are_approved_and_denied_with_one_key_each(seeded):
    one, two = hold_two(seeded)
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("g")
        await on_screen(pilot, HeldScreen)
        screen = app.screen
        await until(pilot, lambda: len(screen.holds) == 2)
        detail = str(screen.query_one("#held-detail").render())
        assert "accountant@example.com" in detail and "Hello Sam," in detail
        await pilot.press("y")
        await until(pilot, lambda: len(screen.holds) == 1)
        await pilot.press("n")
        await until(pilot, lambda: len(screen.holds) == 0)
    assert states(seeded) == [(one, "approved"), (two, "denied")]
    with seeded.engine.connect() as conn:
        actions = [r[0] for r in conn.execute(text("SELECT action FROM audit_event WHERE action LIKE 'gateway.%'"))]
    assert actions[-2:] == ["gateway.approved", "gateway.denied"]


def expiry(services, hold_id: int):
    return next(h.expires_at for h in Queue(services).pending() if h.id == hold_id)


async def test_each_held_request_counts_down_to_its_refusal(seeded, monkeypatch):
    one, _ = hold_two(seeded)
    expires = expiry(seeded, one)
    now = [expires - timedelta(seconds=41)]
    monkeypatch.setattr(held, "clock", lambda: now[0])
    monkeypatch.setattr(held, "REFRESH_S", 0.05)
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("g")
        await on_screen(pilot, HeldScreen)
        table = app.screen.query_one("#held-table")
        await until(pilot, lambda: table.row_count == 2)
        assert table.get_cell(str(one), "left") == "41 s"  # time left, not the 55 s window
        now[0] = expires - timedelta(seconds=7)
        await until(pilot, lambda: table.get_cell(str(one), "left") == "7 s")


def test_held_screen_snapshot(snap_compare, seeded, monkeypatch):
    one, _ = hold_two(seeded)
    expires = expiry(seeded, one)
    monkeypatch.setattr(held, "clock", lambda: expires - timedelta(seconds=41))

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("g")
        await pilot.pause(0.3)
        await settle(pilot)

    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


async def test_the_main_screen_says_when_requests_wait_and_g_opens_them(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        banner = app.main_screen.query_one("#held-banner")
        assert not banner.display  # nothing held: no line
        one, two = hold_two(seeded)  # held by a gateway (here or in another process) while the panel is open
        await until(pilot, lambda: banner.display)
        shown = str(banner.render())
        assert "2 requests wait for your yes" in shown and "Send an e-mail to accountant@example.com" in shown
        assert "Press g" in shown
        await pilot.press("g")
        await on_screen(pilot, HeldScreen)
        screen = app.screen
        await until(pilot, lambda: len(screen.holds) == 2)
        await pilot.press("y")
        await until(pilot, lambda: len(screen.holds) == 1)
        await pilot.press("n")
        await until(pilot, lambda: len(screen.holds) == 0)
        await pilot.press("escape")
        await until(pilot, lambda: not banner.display)  # answered: the line goes
    assert states(seeded) == [(one, "approved"), (two, "denied")]


async def test_a_click_on_the_line_opens_the_held_requests(seeded):
    hold_two(seeded)
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        banner = app.main_screen.query_one("#held-banner")
        await until(pilot, lambda: banner.display)
        await pilot.click("#held-banner")
        await on_screen(pilot, HeldScreen)


def test_main_screen_with_held_requests_snapshot(snap_compare, seeded):
    hold_two(seeded)

    async def run_before(pilot):
        await settle(pilot)
        await until(pilot, lambda: pilot.app.main_screen.query_one("#held-banner").display)
        await settle(pilot)

    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


async def test_a_hold_whose_gateway_was_killed_shows_lost_and_cannot_be_approved(seeded):
    """kill -9 of the gateway: the panel must not count down a refusal or offer a yes it cannot keep."""
    import subprocess
    import sys

    from app.services.queue import holder_id

    with seeded.engine.connect() as conn:
        cid = conn.execute(text("SELECT id FROM connector ORDER BY name LIMIT 1")).scalar()
    gateway = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        q = Queue(seeded, holder=holder_id(gateway.pid))
        found = Classification(Level.SEND, "POST /gmail/v1/users/{user}/messages/send")
        lost, _ = q.hold(cid, "c" * 64, found, {"what": "Send an e-mail to bob@example.com"})
    finally:
        gateway.kill()
        gateway.wait()
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        banner = app.main_screen.query_one("#held-banner")
        await until(pilot, lambda: banner.display)
        shown = str(banner.render())
        assert "The gateway stopped" in shown and "wait for your yes" not in shown, shown
        await pilot.press("g")
        await on_screen(pilot, HeldScreen)
        screen = app.screen
        await until(pilot, lambda: len(screen.holds) == 1)
        table = screen.query_one("#held-table")
        assert table.get_cell(str(lost), "left") == "lost"
        assert "Lost:" in str(screen.query_one("#held-detail").render())
        await pilot.press("y")
        await until(pilot, lambda: any("cannot be answered" in n.message for n in app._notifications))
    assert states(seeded) == [(lost, "lost")]
    with seeded.engine.connect() as conn:
        actions = [r[0] for r in conn.execute(text("SELECT action FROM audit_event WHERE action LIKE 'gateway.%'"))]
    assert actions[-2:] == ["gateway.held", "gateway.lost"]


async def test_a_yes_says_the_gateway_will_send_it_then_that_it_was_sent(seeded, monkeypatch):
    monkeypatch.setattr(held, "REFRESH_S", 0.05)
    one, _ = hold_two(seeded)
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("g")
        await on_screen(pilot, HeldScreen)
        await until(pilot, lambda: len(app.screen.holds) == 2)
        await pilot.press("y")
        said = lambda: [n.message for n in app._notifications]  # noqa: E731
        await until(pilot, lambda: f"#{one} approved; the gateway will send it." in said())
        assert not any("sent to the provider, once" in m for m in said())  # not before the gateway has sent it
        Queue(seeded).forwarded(one, 200)  # as the gateway records it
        await until(pilot, lambda: f"#{one} sent to the provider, once (its answer went to the agent)." in said())
