"""Pilot tests: every screen and every binding of the panel, driven the way an owner would."""

from __future__ import annotations

import dataclasses
import threading

from textual import events
from textual.command import CommandList, CommandPalette
from textual.notifications import Notify
from textual.widgets import Button, Input, Select, Static

from app.services.keyrings import MemoryKeyring
from app.store.db import session_scope
from app.tui.actions import APP_ACTIONS, CONNECTOR_ACTIONS
from app.tui.app import BreakerApp, make_app
from app.tui.commands import BreakerCommands
from app.tui.screens.audit import AuditScreen
from app.tui.screens.connector import ConnectorScreen
from app.tui.screens.form import ConnectorForm
from app.tui.screens.help import HelpScreen, help_rows
from app.tui.screens.main import MainScreen
from app.tui.screens.remove import RemoveConfirm
from tests.tui.pilot import click, names_shown, on_screen, select_row, settle, until
from tests.tui.seed import KEYS

SIZE = (120, 36)
NEW_KEY = "ghp_SANDBOX" + "N3wK3yForTheDocsBot" + "0123456789"  # 36 characters after ghp_


async def paste(pilot, selector: str, text: str) -> None:
    widget = pilot.app.screen.query_one(selector, Input)
    widget.focus()
    widget.post_message(events.Paste(text))
    await pilot.pause()


def fill(app: BreakerApp, **values: str) -> None:
    for field, value in values.items():
        app.screen.query_one(f"#{field}", Input).value = value


def error_text(app: BreakerApp, field: str) -> str:
    widget = app.screen.query_one(f"#error-{field}", Static)
    return str(widget.content) if widget.display else ""


def keyring_values(memory_keyring: MemoryKeyring) -> set[str]:
    return set(memory_keyring.store.values())


# -- main screen ----------------------------------------------------------------------------------
async def test_main_screen_lists_connectors_with_stable_columns(seeded):
    app = make_app(seeded)
    async with app.run_test(size=(160, 36)) as pilot:  # wide enough that no column gives way
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        table = app.main_screen.table
        assert [c.value for c in table.columns] == [
            "state",
            "name",
            "provider",
            "owner",
            "mode",
            "via",
            "live",
            "drift",
            "key_age",
            "last_probe",
            "switch",
        ]
        assert table.row_count == 10
        row = str(seeded.inventory.get("anthropic-admin").id)
        assert table.get_cell(row, "key_age").plain == "200 d"
        assert table.get_cell(row, "live").plain == "admin"
        assert table.get_cell(row, "owner").plain == "no owner"
        slack = str(seeded.inventory.get("slack-digest").id)
        assert table.get_cell(slack, "drift").plain == "▲ 2"
        assert table.get_cell(slack, "switch").plain == "… recorded"
        assert table.get_cell(slack, "state").plain == "▲"
        tiles = {t.id: str(t.content) for t in app.screen.query(".tile")}
        assert "10" in tiles["tile-connectors"] and "7 full, 1 draft, 1 read, 1 off" in tiles["tile-connectors"]
        assert tiles["tile-drift"].startswith("[b]2[/b]")
        assert "3" in tiles["tile-old-keys"]  # 95, 120 and 200 days
        # notion-wiki is unreachable; sendgrid-newsletter is disabled and its key dead: that is no failure
        assert "2 never" in tiles["tile-probes"] and "1 failing" in tiles["tile-probes"]
        assert "2" in tiles["tile-shared"]  # openai-support and its test twin share one key
        assert "due" in tiles["tile-review"]


async def test_empty_inventory_says_how_to_start(services):
    from app.tui.screens.welcome import WelcomeScreen

    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await until(pilot, lambda: isinstance(app.screen, WelcomeScreen))
        await pilot.press("escape")  # past the welcome: the empty panel still says how to start
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        empty = app.screen.query_one("#empty", Static)
        assert empty.display and "Press [b]a[/b]" in str(empty.content)
        # nothing selected: edit and remove are greyed, not active
        bindings = app.screen.active_bindings
        assert bindings["e"].enabled is False and bindings["delete"].enabled is False
        assert bindings["a"].enabled is True


async def test_filter_focuses_narrows_and_escape_clears(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        assert app.focused is app.screen.query_one("#filter")
        await pilot.press(*"openai")
        assert names_shown(app) == ["openai-support", "openai-support-test"]
        await pilot.press("space", *"test")
        assert names_shown(app) == ["openai-support-test"]
        await pilot.press("escape")
        assert app.screen.query_one("#filter", Input).value == ""
        assert len(names_shown(app)) == 10
        assert app.focused is app.main_screen.table
        # free text reaches owner, tags and purpose too (app.services.inventory.filter_views)
        await pilot.press("slash", *"priya")
        assert names_shown(app) == ["notion-wiki", "stripe-refunds"]
        await pilot.press("enter")  # enter in the filter goes back to the table
        assert app.focused is app.main_screen.table
        await pilot.press("slash", *"nothing-like-this")
        assert names_shown(app) == [] and app.screen.query_one("#empty").display


# -- connector screen --------------------------------------------------------------------------------
async def test_enter_opens_connector_screen_with_declared_live_and_credential(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_row(pilot, "slack-digest")
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ConnectorScreen) and screen.connector_name == "slack-digest"
        assert "may use the #general channel to post a daily digest draft" in str(
            screen.query_one("#purpose", Static).content
        )
        declared = screen.query_one("#declared")
        live = screen.query_one("#live")
        assert [declared.get_row_at(i)[0].plain for i in range(declared.row_count)] == ["channels:history"]
        live_rows = [[c.plain for c in live.get_row_at(i)] for i in range(live.row_count)]
        assert ["chat:write", "send", "undeclared, over mode"] in live_rows
        drift_text = str(screen.query_one("#drift", Static).content)
        assert "▲" in drift_text and "You wrote it may not message customers; the key can send" in drift_text
        facts = str(screen.query_one("#credential", Static).content)
        view = seeded.inventory.get("slack-digest")
        assert view.credential.display in facts and KEYS["slack"] not in facts
        history = screen.query_one("#probe-history")
        assert history.row_count == 3  # from the probing service's history
        events_table = screen.query_one("#connector-audit")
        actions = [events_table.get_row_at(i)[2].plain for i in range(events_table.row_count)]
        assert actions == ["probe", "connector.add"]
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


# -- add / edit form -----------------------------------------------------------------------------------
async def test_add_connector_through_the_form(seeded, memory_keyring):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await on_screen(pilot, "ConnectorForm")  # after the keyring check (a thread)
        form = app.screen
        assert isinstance(form, ConnectorForm)
        assert app.focused is form.query_one("#key")
        assert form.query_one("#key", Input).password  # masked
        await paste(pilot, "#key", NEW_KEY)
        note = str(form.query_one("#key-recognised", Static).content)
        assert "Recognised: GitHub" in note and "classic PAT" in note
        assert form.query_one("#provider", Select).value == "github"
        assert NEW_KEY not in note
        fill(
            app,
            name="docs-bot",
            purpose_access="the GitHub API on acme/docs",
            purpose_task="fix typos",
            purpose_forbidden="merge pull requests",
            declared="repo:write, read:org:read",
            tags="docs",
        )
        await paste(pilot, "#owner", "Da")
        assert form.query_one("#owner", Input)._suggestion == "Dana"  # suggestions from inventory.owners()
        fill(app, owner="Dana")
        await pilot.pause()
        preview = str(form.query_one("#purpose-preview", Static).content)
        assert (
            "This connector may use the GitHub API on acme/docs to fix typos, but may not merge pull requests."
            in preview
        )
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert "docs-bot" in names_shown(app)
        assert app.main_screen.selected.name == "docs-bot"
        view = seeded.inventory.get("docs-bot")
        assert view.owner == "Dana" and [g.scope for g in view.declared] == ["repo", "read:org"]
        assert NEW_KEY in keyring_values(memory_keyring)  # the key went to the keyring
        events_ = seeded.audit.recent(seeded.engine, 5, connector="docs-bot")
        assert events_[0].action == "connector.add"


async def test_form_shows_each_validation_error_next_to_its_field(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await on_screen(pilot, "ConnectorForm")  # after the keyring check (a thread)
        await paste(pilot, "#key", "ghp_SANDBOX with spaces")
        assert "spaces" in error_text(app, "key")  # said at once, beside the field
        fill(app, name="github-issues-bot", base_url="not a url", env_var="lower case", declared="repo:superuser")
        await pilot.click("#save")
        await settle(pilot)
        assert isinstance(app.screen, ConnectorForm)  # still open, nothing saved
        assert "already exists" in error_text(app, "name")
        assert "spaces" in error_text(app, "key")
        assert "full URL" in error_text(app, "base_url")
        assert "upper-case" in error_text(app, "env_var")
        assert "unknown level 'superuser'" in error_text(app, "declared")
        assert app.screen.query_one("#field-name").has_class("-invalid")
        assert error_text(app, "owner") == ""
        # fixing the fields clears the messages on the next save
        fill(app, name="github-second", base_url="", env_var="", declared="repo:read", key="")
        await paste(pilot, "#key", "ghp_SANDBOX" + "x" * 29)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert "github-second" in names_shown(app)


async def test_unrecognised_key_asks_for_the_provider(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await on_screen(pilot, "ConnectorForm")  # after the keyring check (a thread)
        await paste(pilot, "#key", "SANDBOX-plain-api-key-000")
        assert "Not recognised" in str(app.screen.query_one("#key-recognised", Static).content)
        fill(app, name="mystery")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "choose the provider" in error_text(app, "provider")
        fill(app, name="")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "required" in error_text(app, "name")
        await pilot.press("escape")  # a key was pasted: asked first
        await pilot.pause()
        await pilot.click("#discard")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert "mystery" not in names_shown(app)


async def test_escape_closes_an_untouched_form_and_asks_before_discarding_a_filled_one(seeded):
    from app.tui.screens.discard import DiscardConfirm

    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await on_screen(pilot, "ConnectorForm")  # after the keyring check (a thread)
        await pilot.press("escape")  # nothing typed: closes at once
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        await pilot.press("a")
        await on_screen(pilot, "ConnectorForm")  # after the keyring check (a thread)
        fill(app, owner="Dana")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DiscardConfirm) and app.focused.id == "cancel"
        await pilot.press("escape")  # escape again keeps the form, with what was typed
        await pilot.pause()
        assert isinstance(app.screen, ConnectorForm) and app.screen.query_one("#owner", Input).value == "Dana"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("enter")  # enter on the focused "Keep editing"
        await pilot.pause()
        assert isinstance(app.screen, ConnectorForm)
        await pilot.click("#cancel")  # the form's own Cancel button asks too
        await pilot.pause()
        await pilot.click("#discard")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_edit_changes_owner_and_keeps_key(seeded, memory_keyring):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_row(pilot, "gitlab-ci")
        await pilot.press("e")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, ConnectorForm) and form.original == "gitlab-ci"
        assert form.query_one("#name", Input).value == "gitlab-ci"
        assert form.query_one("#declared", Input).value == "read_api:read"
        assert form.query_one("#key", Input).value == ""  # the key is never loaded into the form
        fill(app, owner="Priya", name="gitlab-ci-status")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert "gitlab-ci-status" in names_shown(app) and "gitlab-ci" not in names_shown(app)
        view = seeded.inventory.get("gitlab-ci-status")
        assert view.owner == "Priya"
        assert KEYS["gitlab"] in keyring_values(memory_keyring)
        event = seeded.audit.recent(seeded.engine, 1)[0]
        assert event.action == "connector.edit" and "Priya" in event.new_json


async def test_edit_from_the_connector_screen_refreshes_it(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_row(pilot, "hubspot-crm")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()
        fill(app, purpose_forbidden="delete or export contacts")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConnectorScreen)
        assert "may not delete or export contacts" in str(app.screen.query_one("#purpose", Static).content)


# -- removal ---------------------------------------------------------------------------------------------
async def test_remove_confirmation_starts_on_cancel(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_row(pilot, "notion-wiki")
        await pilot.press("delete")
        await pilot.pause()
        assert isinstance(app.screen, RemoveConfirm)
        assert app.focused is app.screen.query_one("#cancel", Button)
        text = str(app.screen.query_one("#remove-text", Static).content)
        view = seeded.inventory.get("notion-wiki")
        assert "notion-wiki" in text and view.credential.display in text and "provider is not told" in text
        await pilot.press("enter")  # enter on the focused Cancel button
        await settle(pilot)
        assert isinstance(app.screen, MainScreen) and "notion-wiki" in names_shown(app)
        await pilot.press("D")  # the other remove key
        await pilot.pause()
        await pilot.press("escape")
        await settle(pilot)
        assert "notion-wiki" in names_shown(app)


async def test_remove_warns_when_the_key_is_shared(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_row(pilot, "openai-support")
        await pilot.press("delete")
        await pilot.pause()
        text = str(app.screen.query_one("#remove-text", Static).content)
        assert "also used by openai-support-test" in text


async def test_remove_keeping_the_key_in_the_keyring(seeded, memory_keyring):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_row(pilot, "notion-wiki")
        await pilot.press("delete")
        await pilot.pause()
        await pilot.click("#keep-key")
        await settle(pilot)
        assert "notion-wiki" not in names_shown(app)
        assert KEYS["notion"] in keyring_values(memory_keyring)
        assert seeded.audit.recent(seeded.engine, 1)[0].action == "connector.remove"


async def test_remove_deleting_the_key_from_the_connector_screen(seeded, memory_keyring):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_row(pilot, "hubspot-crm")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("delete")
        await pilot.pause()
        assert isinstance(app.screen, RemoveConfirm)
        await pilot.click("#delete-key")
        await settle(pilot)
        await on_screen(pilot, MainScreen)  # the connector screen closed with its connector
        assert "hubspot-crm" not in names_shown(app)
        assert KEYS["hubspot"] not in keyring_values(memory_keyring)


# -- audit log ---------------------------------------------------------------------------------------------
async def test_audit_screen_lists_events_and_verifies_the_chain(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AuditScreen)
        table = screen.query_one("#audit-table")
        assert table.row_count == seeded.audit.count(seeded.engine)
        status = str(screen.query_one("#chain-status", Static).content)
        assert "audit chain intact" in status and screen.has_class("-chain-ok")
        notes: list[Notify] = []
        app.notify = lambda message, **kw: notes.append((message, kw.get("title", "")))  # type: ignore[method-assign]
        await pilot.press("enter")  # the whole event, not the cut column
        assert notes and notes[0][1].startswith(f"Event {table.row_count} · probe")
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_audit_screen_reports_a_broken_chain(seeded):
    with session_scope(seeded.engine) as s:
        s.connection().exec_driver_sql("UPDATE audit_event SET actor = 'mallory' WHERE seq = 3")
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        status = str(app.screen.query_one("#chain-status", Static).content)
        assert "BROKEN at event 3" in status and app.screen.has_class("-chain-broken")


async def test_chain_verification_never_blocks_the_screen(seeded):
    """verify runs in a thread worker: the screen paints "verifying…" and still answers keys."""
    release = threading.Event()
    real_verify = seeded.audit.verify

    def slow_verify(engine):
        release.wait(60)  # released below, once the screen was seen "verifying"
        return real_verify(engine)

    seeded.audit.verify = slow_verify
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await on_screen(pilot, AuditScreen, timeout=30)
        await until(pilot, lambda: "verifying" in str(app.screen.query_one("#chain-status", Static).content))
        await pilot.press("v")  # keys still work while the chain is being walked
        await pilot.pause()
        release.set()
        await settle(pilot)
        assert "intact" in str(app.screen.query_one("#chain-status", Static).content)


# -- help, palette, keymap, read-only ------------------------------------------------------------------------
async def test_help_lists_every_binding_with_key_and_description(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one("#help-table")
        rows = [[c.plain for c in table.get_row_at(i)] for i in range(table.row_count)]
        described = {(r[0], r[1]) for r in rows}
        for spec in CONNECTOR_ACTIONS:
            assert any(r[1] == spec.description for r in rows), spec.description
        for spec in APP_ACTIONS:
            assert any(r[1] == spec.description for r in rows), spec.description
        assert ("a", "add") in described and ("del / D", "remove") in described and ("!", "panic") in described
        assert any(r[1] == "review" and r[2] == "" for r in rows)  # built (issue 11): no longer greyed
        assert any(r[1] == "probe all" and r[2] == "" for r in rows)  # built: no longer greyed
        assert any(r[1] == "deep probe" for r in rows)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_keymap_remaps_keys_and_help_shows_it(seeded):
    seeded.settings = dataclasses.replace(seeded.settings, keymap={"add": "n", "audit-log": "ctrl+l"})
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)  # a no longer adds
        await pilot.press("n")
        await on_screen(pilot, ConnectorForm)
        await pilot.press("escape")
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert isinstance(app.screen, AuditScreen)
        await pilot.press("escape")
        rows = [(r.keys, r.description) for _t, section in help_rows(app, app.main_screen) for r in section]
        assert ("n", "add") in rows and ("^l", "audit") in rows


async def test_unknown_keymap_id_is_reported(seeded):
    seeded.settings = dataclasses.replace(seeded.settings, keymap={"no-such-binding": "z"})
    notes: list[Notify] = []
    app = make_app(seeded)
    async with app.run_test(
        size=SIZE, message_hook=lambda m: notes.append(m) if isinstance(m, Notify) else None
    ) as pilot:
        await settle(pilot)
    assert any("no-such-binding" in n.notification.message for n in notes)


async def test_command_palette_has_an_entry_for_every_action(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_row(pilot, "github-issues-bot")
        titles = [c.title for c in BreakerCommands(app.screen).commands()]
        for expected in (
            "connector: add",
            "connector: edit github-issues-bot",
            "connector: remove github-issues-bot",
            "probe: all",
            "probe: github-issues-bot",
            "switch: disable github-issues-bot",
            "switch: draft-only github-issues-bot",
            "switch: read-only github-issues-bot",
            "switch: rotate github-issues-bot",
            "switch: re-enable github-issues-bot",
            "review: weekly review",
            "panic: emergency disable all",
            "view: audit log",
            "view: help",
            "panel: toggle read-only mode",
            "connector: filter",
            "panel: quit",
        ):
            assert expected in titles, expected
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"connector: add")
        # the search runs in a worker; enter picks the one command once it is listed
        await until(pilot, lambda: app.screen.query_one(CommandList).option_count == 1, timeout=30)
        await pilot.press("enter")
        await on_screen(pilot, ConnectorForm)


async def test_a_feature_not_built_is_greyed_and_says_so(seeded):
    # Every feature is built now (the review was the last, issue 11); the mechanism stays for the next.
    from app.tui.actions import BUILT_FEATURES
    from app.tui.app import BreakerApp

    notes: list[Notify] = []
    app = BreakerApp(seeded, features=BUILT_FEATURES - {"review"})
    async with app.run_test(
        size=SIZE, message_hook=lambda m: notes.append(m) if isinstance(m, Notify) else None
    ) as pilot:
        await settle(pilot)
        bindings = app.screen.active_bindings
        assert bindings["w"].enabled is False  # shown greyed in the footer
        for key in ("p", "P", "d", "o", "x", "r", "u", "exclamation_mark", "ctrl+d"):
            assert bindings[key].enabled is True, key  # probing, switches and panic are built
        await pilot.press("w")  # nothing happens, nothing pretends
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        for command in BreakerCommands(app.screen).commands():
            if command.title == "review: weekly review":
                assert "not available yet" in command.help
                command.run()
            elif command.title.startswith(("probe:", "switch:", "panic:")):
                assert "not available yet" not in command.help, command.title
        await pilot.pause()
        messages = [n.notification.message for n in notes]
        assert sum("not available yet" in m for m in messages) == 1
        assert all("nothing was changed" in m for m in messages if "not available yet" in m)


async def test_w_opens_the_weekly_review(seeded):
    from app.tui.screens.review import ReviewScreen

    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.active_bindings["w"].enabled is True
        await pilot.press("w")
        await on_screen(pilot, ReviewScreen)
        assert all("not available yet" not in c.help for c in BreakerCommands(app.screen).commands())


async def test_read_only_mode_hides_destructive_bindings(seeded):
    app = make_app(seeded, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        keys = app.screen.active_bindings
        for hidden in ("a", "e", "delete", "D", "d", "o", "x", "r", "u", "exclamation_mark"):
            assert hidden not in keys, hidden
        for shown in ("p", "P", "w", "slash", "l", "question_mark", "ctrl+r"):
            assert shown in keys, shown
        assert "READ-ONLY" in app.sub_title
        await pilot.press("a", "delete")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        titles = [c.title for c in BreakerCommands(app.screen).commands()]
        assert "connector: add" not in titles and not any(t.startswith("switch:") for t in titles)
        # the connector screen hides them too
        await pilot.press("enter")
        await settle(pilot)
        assert "e" not in app.screen.active_bindings and "delete" not in app.screen.active_bindings
        await pilot.press("escape")
        await pilot.press("ctrl+r")  # opened read-only: nothing inside the panel lifts it
        await pilot.pause()
        assert app.read_only and "a" not in app.screen.active_bindings
        assert any("opened read-only" in n.message for n in app._notifications)


async def test_ctrl_r_toggles_read_only_mode_when_the_panel_was_opened_for_changes(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.read_only and "a" not in app.screen.active_bindings
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert not app.read_only and "a" in app.screen.active_bindings


async def test_read_only_from_config(services):
    services.settings = dataclasses.replace(services.settings, read_only=True)
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.read_only and "a" not in app.screen.active_bindings
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.read_only, "config.toml's read-only cannot be lifted from inside the panel"


async def test_worker_failure_is_one_line_and_the_panel_stays_up(seeded):
    notes: list[Notify] = []

    def broken(_engine, *_a, **_k):
        raise RuntimeError("database is locked")

    seeded.audit.recent = broken
    app = make_app(seeded)
    async with app.run_test(
        size=SIZE, message_hook=lambda m: notes.append(m) if isinstance(m, Notify) else None
    ) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, AuditScreen)
    assert any("database is locked" in n.notification.message for n in notes)


async def test_a_big_inventory_fills_in_chunks_and_filters(services):
    from tests.tui.seed import many

    many(services, 150)
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(300):
            if app.main_screen.loaded:
                break
            await pilot.pause(0.01)
        table = app.main_screen.table
        assert 0 < table.row_count <= 150  # the first screenful paints before the rest
        await settle(pilot)
        assert table.complete and table.row_count == 150
        await pilot.press("slash", *"owner3")
        await settle(pilot)
        assert table.row_count == len([i for i in range(150) if i % 7 == 3])


async def test_another_theme_recolours_without_trouble(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = app.theme_variables["level-send"]
        app.theme = "nord"
        await settle(pilot)
        assert app.theme_variables["level-send"] != before
        assert len({app.theme_variables[f"level-{x}"] for x in ("read", "draft", "write", "send", "admin")}) == 5
        assert len(names_shown(app)) == 10


async def test_ctrl_q_quits(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0


async def test_q_quits_from_the_main_screen_but_types_in_the_filter(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", "q")  # in the filter, q is a letter
        await pilot.pause()
        assert app.main_screen.filter_input.value == "q" and app.is_running
        await pilot.press("escape", "q")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


async def test_services_factory_paints_first_then_opens(seeded):
    """run_panel(factory): the first frame needs no store; the factory runs in the loading worker."""
    calls: list[str] = []

    def factory():
        calls.append("opened")
        return seeded

    app = make_app(factory, settings=seeded.settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert calls == ["opened"] and app.services is seeded
        assert len(names_shown(app)) == 10


async def test_rows_show_before_the_store_opens_and_actions_wait_for_it(seeded):
    """The first rows come from a plain sqlite3 read; the actions stay greyed until the factory returns."""
    release = threading.Event()

    def factory():
        release.wait(60)  # released below, once the greyed actions were seen
        return seeded

    app = make_app(factory, settings=seeded.settings)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(names_shown(app)) == 10)
        assert not app.services_ready
        assert app.screen.active_bindings["a"].enabled is False  # greyed, not hidden
        release.set()
        await until(pilot, lambda: app.services_ready)
        await settle(pilot)
        assert app.screen.active_bindings["a"].enabled is True
        assert len(names_shown(app)) == 10


async def test_a_store_that_will_not_open_keeps_the_rows_read_only_and_is_tried_again(seeded, monkeypatch):
    """The plain read showed the rows, then opening the store failed (say, locked for a moment):
    the rows stay, the owner is told once, the actions stay greyed, and a retry opens it."""
    from app.store.db import StoreError

    monkeypatch.setattr(MainScreen, "OPEN_RETRY_S", 0.2)
    attempts: list[int] = []
    seen_read_only = threading.Event()

    def factory():  # in the loading worker's thread
        attempts.append(1)
        if len(attempts) == 1:
            raise StoreError("/tmp/x/breaker.db is locked by another program (another Breaker?).")
        seen_read_only.wait(60)  # the retry (0.2 s later) opens it only once the test has looked
        return seeded

    notes: list[Notify] = []
    app = make_app(factory, settings=seeded.settings)
    async with app.run_test(
        size=SIZE, message_hook=lambda m: notes.append(m) if isinstance(m, Notify) else None
    ) as pilot:
        await until(pilot, lambda: attempts and "read-only" in str(app.screen.query_one("#empty", Static).content))
        assert len(names_shown(app)) == 10  # the rows stay
        assert app.screen.active_bindings["a"].enabled is False
        seen_read_only.set()
        await until(pilot, lambda: app.services_ready)
        await settle(pilot)
        assert app.screen.active_bindings["a"].enabled is True
        assert not app.screen.query_one("#empty", Static).display
    assert len(attempts) == 2
    assert [n.notification.title for n in notes if n.notification.severity == "error"] == ["Cannot open the inventory"]


async def test_a_store_that_cannot_open_is_one_line_in_the_panel(seeded):
    from app.store.db import StoreError

    def factory():
        raise StoreError("/tmp/x/breaker.db is damaged. Breaker left it untouched.")

    notes: list[Notify] = []
    app = make_app(factory, settings=seeded.settings)
    async with app.run_test(
        size=SIZE, message_hook=lambda m: notes.append(m) if isinstance(m, Notify) else None
    ) as pilot:
        await until(pilot, lambda: any("is damaged" in str(w.content) for w in app.screen.query("#empty")), timeout=30)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.active_bindings["a"].enabled is False  # nothing to add to
    assert any("is damaged" in n.notification.message for n in notes)


async def test_help_explains_the_words_and_each_summary_tile_explains_itself(seeded):
    from app.tui.glossary import GLOSSARY, TILE_HELP
    from app.tui.widgets.summary import Tile

    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for tile in app.main_screen.query(Tile):
            assert tile.tooltip == TILE_HELP[tile.id]
        app.main_screen.query_one("#tile-drift", Tile).focus()  # focus says it too, not only hover
        await pilot.pause()
        assert any(n.message == TILE_HELP["tile-drift"] for n in app._notifications)
        await pilot.press("question_mark")
        await pilot.pause()
        table = app.screen.query_one("#help-table")
        words = [table.get_row_at(i)[1].plain for i in range(table.row_count)]
        for word in ("drift", "live level", "declared scopes", "mode", "audit log / hash chain"):
            assert word in words and word in dict(GLOSSARY)


async def test_no_review_reminder_on_an_empty_inventory(services):
    from app.tui.widgets.summary import Tile

    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tile = app.main_screen.query_one("#tile-review", Tile)
        assert not tile.has_class("-alert") and not str(tile.content).startswith("[b]due")


async def test_the_review_reminder_shows_once_there_are_connectors(seeded):
    from app.tui.widgets.summary import Tile

    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tile = app.main_screen.query_one("#tile-review", Tile)
        assert tile.has_class("-alert") and "due" in str(tile.content)


async def test_an_empty_inventory_opens_on_the_welcome_with_the_ways_in(services):
    from app.tui.screens.welcome import WelcomeScreen

    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await until(pilot, lambda: isinstance(app.screen, WelcomeScreen))
        text = " ".join(str(s.content) for s in app.screen.query(Static))
        assert "what it is for" in text and "Find keys on this machine" in text and "Try the demo" in text
        assert app.screen.query_one("#welcome-scan")  # the scan is in the panel: a button (and `s`)
        assert app.focused.id == "welcome-add"
        await pilot.press("enter")  # Add a key
        await until(pilot, lambda: isinstance(app.screen, ConnectorForm))


async def test_try_the_demo_leaves_the_panel_for_the_demo(services):
    from app.tui.screens.welcome import WelcomeScreen

    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await until(pilot, lambda: isinstance(app.screen, WelcomeScreen))
        await click(pilot, "#welcome-demo")
        await pilot.pause()
    assert app.return_value == "demo"


async def test_no_welcome_when_there_are_connectors(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
