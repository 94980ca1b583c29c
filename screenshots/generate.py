"""Regenerate screenshots/*.svg: every screen of the panel, on the demo inventory.

    python screenshots/generate.py [--out screenshots] [--png]

The demo home (app.services.demo.prepare_demo_home) is made in a temporary folder, its sandbox is
started on the loopback port the demo chose, and every connector is probed once (read-only calls
to the sandbox), so the table shows live levels and drift as an owner sees them after pressing P.
The clock the panel reads is then frozen two hours later, so regenerating gives the same ages.
The scenes that change things come last and in this order: ``probe_all`` (the slow providers held
back by the sandbox, so the picture shows the run half-way), ``confirm`` (a switch's confirmation),
``panic-confirm`` (the deliberate second step), ``panic`` (the emergency disable's summary; it
really disables the demo inventory in the temporary folder, which is thrown away afterwards) and
``checklist`` (the keys it left working).

Without the demo module (an older checkout) the deterministic test inventory of
tests/tui/seed.py is used instead. Keys are sandbox keys everywhere; nothing real is shown.
``--png DIR`` also writes PNGs there with rsvg-convert when it is installed (for a quick look).

Textual's SVG asks for "Fira Code" and loads it from a CDN. A renderer without it (rsvg-convert,
an image viewer offline) falls back to a proportional font: bold words then run into the next one
("PANICor", "inbox-triageGoogle") because each run is stretched to its cell width. The SVGs written
here name monospaced fallbacks after Fira Code and keep their spaces (:func:`terminal_fonts`), so
the text keeps its cells as in a terminal, and the header's "⭘" (a glyph few fonts have, drawn as an empty box) is
written as the look-alike "○".
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZE = (120, 36)
DEMO_KEY = "xoxb-2024061512-7712345678901-SANDBOXscreenshot"  # a sandbox-looking Slack bot token


def open_demo(home: Path, stack: ExitStack):
    """Demo services with probed connectors and the running sandbox server; the sandbox runs until
    ``stack`` closes."""
    from app.services.context import open_services
    from app.services.demo import demo_port, load_sandbox_state, prepare_demo_home
    from app.services.probing import Prober
    from connectors.sandbox.server import ThreadedSandbox

    settings = prepare_demo_home(home)
    services = open_services(settings)
    stack.callback(services.close)
    runner = ThreadedSandbox(load_sandbox_state(home), port=demo_port(settings))
    server = runner.start()
    stack.callback(runner.stop)
    asyncio.run(Prober(services).probe())
    return services, server


def open_seeded(home: Path, stack: ExitStack):
    from app.services.context import open_services
    from app.services.keyrings import MemoryKeyring
    from app.settings import load_settings
    from tests.tui.seed import NOW, frozen_time, seed

    services = open_services(load_settings(home=home, env={}), keyring=MemoryKeyring())
    stack.callback(services.close)
    with frozen_time(NOW) as clock:
        seed(services, clock)
    return services, None


async def settle(pilot) -> None:
    for _ in range(500):
        if pilot.app.main_screen.loaded and pilot.app.main_screen.table.complete:
            break
        await pilot.pause(0.01)
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def select(pilot, predicate: Callable) -> None:
    table = pilot.app.main_screen.table
    views = list(table.views.values())
    index = next((i for i, v in enumerate(views) if predicate(v)), 0)
    table.move_cursor(row=index, animate=False)
    await pilot.pause()


async def until(pilot, condition, timeout: float = 20.0) -> None:
    waited = 0.0
    while not condition():
        if waited > timeout:
            raise RuntimeError("the screen did not reach the state to capture")
        await pilot.pause(0.05)
        waited += 0.05


SLOW = ("google", "notion", "hubspot", "microsoft", "stripe")  # held back during the probe_all picture


def scenes(sandbox=None, clock=None) -> dict[str, Callable[[object], Awaitable[None]]]:
    """File name → steps from the freshly opened main screen to the screen to capture."""
    from textual import events
    from textual.widgets import Input

    async def main(pilot):
        pass

    async def connector(pilot):
        await select(pilot, lambda v: v.drift)  # one with drift if there is one: declared vs live differ
        await pilot.press("enter")
        await settle(pilot)
        if clock is not None and sandbox is not None:
            # Two more probes, 50 and 20 minutes ago on the frozen clock: a history to show.
            now = clock.now
            for minutes in (50, 20):
                clock.now = now - timedelta(minutes=minutes)
                await pilot.press("p")
                await settle(pilot)
                await pilot.pause(0.3)
            clock.now = now
            pilot.app.screen.load()  # "… ago" against the picture's clock
            await settle(pilot)
            await pilot.pause(0.3)

    async def add(pilot):
        await pilot.press("a")
        await pilot.pause()
        screen = pilot.app.screen
        # A key the demo sandbox knows: the form probes it at once and offers its live scopes.
        key = sandbox.mint("slack", "bot").token if sandbox is not None else DEMO_KEY
        screen.query_one("#key", Input).post_message(events.Paste(key))
        for field, value in (("name", "support-digest"), ("owner", "Maria Lopez"),
                             ("purpose_access", "the #support channel"), ("purpose_task", "post a daily digest"),
                             ("purpose_forbidden", "message customers")):
            screen.query_one(f"#{field}", Input).value = value
        await pilot.pause(0.5)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    async def add_errors(pilot):
        await pilot.press("a")
        await pilot.pause()
        screen = pilot.app.screen
        screen.query_one("#key", Input).post_message(events.Paste("ghp_SANDBOX not a key"))
        existing = next(iter(pilot.app.main_screen.table.views.values())).name
        for field, value in (("name", existing), ("base_url", "github.example"), ("declared", "repo:everything")):
            screen.query_one(f"#{field}", Input).value = value
        await pilot.press("ctrl+s")
        await settle(pilot)
        screen.query_one("#form-fields").scroll_home(animate=False)
        await pilot.pause()

    async def edit(pilot):
        await select(pilot, lambda v: v.owner and v.purpose)
        await pilot.press("e")
        await pilot.pause()

    async def remove(pilot):
        views = list(pilot.app.main_screen.table.views.values())
        prints: dict[str, int] = {}
        for v in views:
            if v.credential:
                prints[v.credential.fingerprint] = prints.get(v.credential.fingerprint, 0) + 1
        await select(pilot, lambda v: v.credential and prints[v.credential.fingerprint] > 1)
        await pilot.press("delete")
        await pilot.pause()

    async def handout(pilot):
        await select(pilot, lambda v: v.provider == "openai")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("h")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "HandoutConfirm")
        await pilot.pause(0.3)

    async def held(pilot):
        # A Gmail send from the demo's triage assistant, routed and draft-only with "ask": held for
        # the owner as the gateway holds one (classified by the Gmail table, summarised from its MIME).
        import base64
        import json

        from app.services.gateway import Gateway
        from app.services.queue import Queue, request_hash, summary
        from connectors import registry
        from connectors.requests import Request, table_for

        services = pilot.app.services
        view = next(v for v in services.inventory.list() if v.provider == "google")
        Gateway(services).route(view.name, on_above="ask")
        mail = b"To: accountant@example.com\r\nSubject: Q3 invoices\r\n\r\nHello Sam,\r\nthe Q3 invoices are attached.\r\n"
        body = json.dumps({"raw": base64.urlsafe_b64encode(mail).decode()}).encode()
        request = Request("POST", "gmail.googleapis.com", "/gmail/v1/users/me/messages/send",
                          headers={"content-type": "application/json"}, body=body)
        found = table_for(registry.get("google")).classify(request)
        Queue(services).hold(view.id, request_hash(view.id, request), found, summary("google", request, found))
        await pilot.press("g")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "HeldScreen" and pilot.app.screen.holds)
        await pilot.pause(0.3)

    async def audit(pilot):
        await pilot.press("l")
        await settle(pilot)

    async def help_(pilot):
        await pilot.press("question_mark")
        await pilot.pause()

    async def palette(pilot):
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"probe")
        await pilot.pause(0.3)

    async def filtered(pilot):
        await pilot.press("slash", *"prod slack")
        await pilot.pause()

    async def probe_all(pilot):
        # The slow providers hang in the sandbox until the picture is taken: the run is half-way,
        # rows of the fast ones already updated, the progress bar below the table.
        views = list(pilot.app.main_screen.table.views.values())
        fast = sum(1 for v in views if v.provider not in SLOW)
        if sandbox is not None:
            for provider in SLOW:
                sandbox.faults.set(provider, latency_ms=60_000)
        await pilot.press("P")
        await until(pilot, lambda: pilot.app.screen.query_one("#probe-bar").progress >= fast)
        await pilot.pause(0.3)

    async def confirm(pilot):
        await select(pilot, lambda v: v.provider == "github" and v.mode.value == "full")  # irreversible revoke
        await pilot.press("x")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "SwitchConfirm")
        await pilot.pause()

    async def panic_second_step(pilot):
        await pilot.press("exclamation_mark")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "PanicConfirm")
        await pilot.click("#continue")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "PanicTypeConfirm")
        await pilot.press(*"PANIC")
        await pilot.pause()

    async def hand_on(pilot):
        # A rotation by the provider's API (GitLab makes the new token): the new key offered once,
        # masked, to hand on to the bot that Breaker does not launch.
        await select(pilot, lambda v: v.provider == "gitlab")
        await pilot.press("r")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "SwitchConfirm")
        await pilot.click("#confirm")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "NewKeyHandOn", timeout=60)
        await pilot.pause(0.3)

    async def rotate_demo(pilot):
        # Guided rotation in the demo: the sandbox stands in for GitHub's dashboard and makes the key.
        await select(pilot, lambda v: v.provider == "github" and v.mode.value == "full")
        await pilot.press("r")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "SwitchConfirm")
        await pilot.click("#confirm")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "NewKeyModal")
        await pilot.pause()
        await pilot.press("ctrl+n")
        await until(pilot, lambda: bool(pilot.app.screen.query_one("#new-key-input").value))
        await pilot.pause(0.3)

    async def panic(pilot):
        await panic_second_step(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: getattr(pilot.app.screen, "finished", False), timeout=60)
        await pilot.pause(0.3)

    async def checklist(pilot):
        # After the emergency disable (the scene before): the keys it left working.
        await settle(pilot)
        await pilot.press("k")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ChecklistScreen")
        await until(pilot, lambda: bool(getattr(pilot.app.screen, "items", None)))
        await pilot.pause(0.3)

    async def review(pilot):
        # Last week's review (finished a week ago on the frozen clock), then this week's queue.
        svc = pilot.app.services.review
        if clock is not None and svc.latest_finished_id() is None:
            now = clock.now
            clock.now = now - timedelta(days=7)
            state = svc.start(clock.now)
            for item in state.items[:4]:
                reason = "needed for the release" if item.high_risk else ""
                svc.decide(state.id, svc.check_decision(state, item.name, "keep", reason=reason, now=clock.now))
            svc.finish(state.id, clock.now)
            clock.now = now
        await pilot.press("w")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ReviewScreen")
        screen = pilot.app.screen
        await until(pilot, lambda: screen.current is not None)
        name = next((i.name for i in screen.state.items if i.name == "standup-summaries"), screen.current)
        screen.query_one("#review-queue").highlighted = [i.name for i in screen.state.items].index(name)
        await until(pilot, lambda: screen.current == name)
        screen.query_one("#check-task-yes").value = True
        screen.query_one("#check-data-dont_know").value = True
        await pilot.pause(0.3)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    async def figures(pilot):
        await pilot.press("w")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ReviewScreen")
        screen = pilot.app.screen
        await until(pilot, lambda: screen.current is not None)
        svc = pilot.app.services.review
        state = svc.state(screen.state.id)
        for item in state.items[:3]:
            reason = "still needed" if item.high_risk else ""
            svc.decide(state.id, svc.check_decision(state, item.name, "keep", reason=reason))
        await pilot.press("ctrl+t")
        await until(pilot, lambda: screen.state is not None and screen.state.finished_at is not None)
        await pilot.press("ctrl+f")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "FiguresScreen")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.3)

    async def scan(pilot):
        # "Find the keys on this machine" on the sample machine of tests/discovery/homes.py.
        await pilot.press("s")
        await until(pilot, lambda: getattr(pilot.app.screen, "report", None) is not None, timeout=60)
        await settle(pilot)

    async def secure_preview(pilot):
        await scan(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: pilot.app.screen.id == "secure-preview", timeout=60)
        await pilot.pause(0.3)

    return {"scan": scan, "secure": secure_preview, "main": main, "connector": connector, "add": add, "add-errors": add_errors, "edit": edit,
            "remove": remove, "handout": handout, "held": held, "audit": audit, "help": help_, "palette": palette, "filter": filtered,
            "probe_all": probe_all, "confirm": confirm, "panic-confirm": panic_second_step, "panic": panic,
            "hand-on": hand_on, "rotate-demo": rotate_demo,
            "checklist": checklist, "review": review, "figures": figures}


MONOSPACE = '"Fira Code", "DejaVu Sans Mono", "Liberation Mono", "Menlo", "Consolas", monospace'


def terminal_fonts(path: Path) -> None:
    """Make an SVG from Textual's exporter render as in a terminal without the Fira Code web font."""
    text = path.read_text(encoding="utf-8")
    text = text.replace("font-family: Fira Code, monospace;", f"font-family: {MONOSPACE};")
    text = text.replace("⭘", "○")
    # Textual pads runs with no-break spaces; without this, librsvg drops those at a run's ends.
    text = text.replace('<svg class="rich-terminal"', '<svg xml:space="preserve" class="rich-terminal"', 1)
    path.write_text(text, encoding="utf-8")


# At 80×24 as well (issue 14): file name → the scene it shows on an ordinary terminal.
SMALL = (80, 24)
SMALL_SCENES = {"main-80x24": "main", "help-80x24": "help", "panic-confirm-80x24": "panic-confirm",
                "hand-on-80x24": "hand-on"}


async def capture(services, name: str, steps, out: Path, *, read_only: bool = False, sandbox=None,
                  size: tuple[int, int] = SIZE) -> Path:
    from textual.widgets import Input

    from app.tui.app import make_app

    Input._toggle_cursor = lambda self: None  # a still cursor: the same picture every time
    app = make_app(services, read_only=read_only, sandbox=sandbox)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await steps(pilot)
        app.clear_notifications()
        await pilot.pause()
        path = Path(app.save_screenshot(filename=f"{name}.svg", path=str(out)))
    terminal_fonts(path)
    return path


def report_shot(services, out: Path) -> Path:
    """The finished review's HTML report (review-report.html) and, with Chromium, a picture of it."""
    page = out / "review-report.html"
    page.write_text(services.review.report(fmt="html"), encoding="utf-8")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("chromium not found: review-report.png not made")
        return page
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={profile}",
             "--window-size=1100,1500", f"--screenshot={out / 'review-report.png'}", page.as_uri()],
            check=True, capture_output=True, timeout=120,
        )
    return out / "review-report.png"


@contextmanager
def sample_machine(root: Path):
    """HOME pointed at the sample machine of tests/discovery/homes.py (every client's config, keys
    in plain files, a Claude Desktop extension, VS Code prompts and envFile, Claude Code's rules), and `breaker exec`'s launcher shown as plain `breaker`, as on the owner's machine."""
    import os

    from app.services import secure
    from tests.discovery.homes import add_extras, make_home

    sample = add_extras(make_home(root, project_in_home=True))  # extensions, prompts, refused tools too
    saved = {k: os.environ.get(k) for k in ("HOME", "BREAKER_SCAN_ROOT")}
    os.environ["HOME"], os.environ["BREAKER_SCAN_ROOT"] = str(sample.machine.home), str(sample.machine.root)
    prefix, secure.exec_prefix = secure.exec_prefix, lambda _services: ["breaker"]
    try:
        yield sample
    finally:
        secure.exec_prefix = prefix
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    parser.add_argument("--png", type=Path, metavar="DIR",
                        help="also write PNGs into DIR with rsvg-convert, for a look (not committed)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    import app.services.queue  # noqa: F401  (loaded before the clocks are frozen, so they freeze its clock too)
    import app.tui.screens.held  # noqa: F401
    from tests.tui.seed import frozen_time

    with tempfile.TemporaryDirectory(prefix="breaker-shots-") as tmp, ExitStack() as stack:
        home = Path(tmp) / "demo"
        try:
            services, sandbox = open_demo(home, stack)
            source = "the demo inventory (probed once against its sandbox)"
        except ImportError:
            services, sandbox = open_seeded(home, stack)
            source = "the test inventory of tests/tui/seed.py"
        from app.store.models import utcnow

        now = utcnow() + timedelta(hours=2)
        written = []
        with frozen_time(now) as clock:
            shown = scenes(sandbox, clock)
            # last: they change the inventory (the review adds last week's review and finishes this one)
            changing = ("held", "review", "figures", "probe_all", "confirm", "panic-confirm", "panic-confirm-80x24",
                        "rotate-demo", "hand-on", "hand-on-80x24", "panic", "checklist")
            machine = ("scan", "secure")  # read a sample machine, and add its keys: after everything else
            for name in [n for n in shown if n not in changing and n not in machine]:
                written.append(asyncio.run(capture(services, name, shown[name], args.out, sandbox=sandbox)))
            for name in ("main-80x24", "help-80x24"):
                written.append(asyncio.run(capture(services, name, shown[SMALL_SCENES[name]], args.out,
                                                   sandbox=sandbox, size=SMALL)))
            written.append(asyncio.run(capture(services, "read-only", shown["main"], args.out, read_only=True,
                                               sandbox=sandbox)))
            for name in changing:
                steps, size = (shown[SMALL_SCENES[name]], SMALL) if name in SMALL_SCENES else (shown[name], SIZE)
                written.append(asyncio.run(capture(services, name, steps, args.out, sandbox=sandbox, size=size)))
                if sandbox is not None:
                    sandbox.faults.clear()  # the held-back providers answer again
                if name == "figures":
                    written.append(report_shot(services, args.out))
            with sample_machine(Path(tmp) / "machine"):
                for name in machine:
                    written.append(asyncio.run(capture(services, name, shown[name], args.out, sandbox=sandbox)))
    print(f"{len(written)} screenshots from {source}:")
    for path in written:
        print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    if args.png:
        converter = shutil.which("rsvg-convert")
        if converter is None:
            print("rsvg-convert not found (apt-get install librsvg2-bin); no PNGs")
        args.png.mkdir(parents=True, exist_ok=True)
        for path in [p for p in written if p.suffix == ".svg"] if converter else []:
            target = args.png / path.with_suffix(".png").name
            subprocess.run([converter, "-w", "1400", str(path), "-o", str(target)], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
