"""The Textual app: thin. It holds the services, the read-only switch and the keymap; screens do the rest.

``run_panel`` is what the CLI calls; ``make_app`` is what tests and the screenshot script call.

Paint first, then load: the first frame needs only Textual and this package's light modules.
The inventory is read in a thread worker after that frame; when ``services`` is given as a
factory (``lambda: open_services(settings)``), even opening the store and importing SQLModel
happen there, so the panel appears as fast as a bare Textual app.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.signal import Signal
from textual.worker import Worker, WorkerState

from app.tui.actions import APP_ACTIONS, BUILT_FEATURES, CONNECTOR_ACTIONS, PanelAction
from app.tui.commands import BreakerCommands
from app.tui.messages import InventoryChanged, ProbesStored, ReadOnlyChanged, StoreChanged, SwitchesChanged
from app.tui.screens.main import MainScreen
from app.tui.widgets.present import level_variables

if TYPE_CHECKING:
    from app.services.context import Services
    from app.settings import Settings


def known_binding_ids() -> set[str]:
    from app.tui.screens.audit import AuditScreen
    from app.tui.screens.confirm import DeepProbeConfirm, NewKeyModal, SwitchConfirm, SwitchOutcome
    from app.tui.screens.connector import ConnectorScreen
    from app.tui.screens.discard import DiscardConfirm
    from app.tui.screens.figures import FiguresScreen
    from app.tui.screens.form import ConnectorForm
    from app.tui.screens.handoff import NewKeyHandOn
    from app.tui.screens.help import HelpScreen
    from app.tui.screens.panic import PanicConfirm, PanicScreen, PanicTypeConfirm, ResumeOffer
    from app.tui.screens.remove import RemoveConfirm
    from app.tui.screens.review import ReviewScreen
    from app.tui.screens.welcome import WelcomeScreen

    ids = {a.binding_id for a in CONNECTOR_ACTIONS} | {a.binding_id for a in APP_ACTIONS}
    for screen in (
        MainScreen,
        ConnectorScreen,
        AuditScreen,
        ConnectorForm,
        DiscardConfirm,
        RemoveConfirm,
        HelpScreen,
        SwitchConfirm,
        NewKeyModal,
        NewKeyHandOn,
        SwitchOutcome,
        DeepProbeConfirm,
        PanicConfirm,
        PanicTypeConfirm,
        PanicScreen,
        ResumeOffer,
        ReviewScreen,
        FiguresScreen,
        WelcomeScreen,
    ):
        ids |= {b.id for b in screen.BINDINGS if isinstance(b, Binding) and b.id}
    return ids


class BreakerApp(App[str | None]):
    TITLE = "Breaker"
    CSS_PATH = "breaker.tcss"
    COMMANDS = App.COMMANDS | {BreakerCommands}
    BINDINGS = [a.binding() for a in APP_ACTIONS]
    # Every screen gets -short under 32 rows (an 80×24 terminal): dialogs tighten (breaker.tcss).
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]

    read_only: reactive[bool] = reactive(False, init=False)

    def __init__(
        self,
        services: Services | Callable[[], Services],
        *,
        settings: Settings | None = None,
        read_only: bool = False,
        sandbox: Any = None,
        features: frozenset[str] = BUILT_FEATURES,
        first_frame: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self._first_frame = first_frame  # called once the main screen's first frame is painted
        self._asker_lock = threading.Lock()
        self._asker_set = False  # use_passphrase_dialog ran
        if callable(services):
            self._services, self._factory = None, services
        else:
            self._services, self._factory = services, None
            settings = settings or services.settings
        self.settings = settings
        self.sandbox = sandbox  # the demo's running sandbox, when there is one (issue 3 probes through it)
        self.features = features
        self.keymap: dict[str, str] = dict(settings.keymap) if settings else {}
        self._clashes_told: set[str] = set()
        self._loaded_once = False
        self.panic_running = False  # the panic screen sets it; a second ! then says so
        # App-wide changes, for every open screen that shows something of them (subscribe in on_mount;
        # a screen that closes is unsubscribed by Textual).
        self.inventory_changed_signal: Signal[InventoryChanged] = Signal(self, "inventory-changed")
        self.probes_stored_signal: Signal[ProbesStored] = Signal(self, "probes-stored")
        self.switches_changed_signal: Signal[SwitchesChanged] = Signal(self, "switches-changed")
        self.store_changed_signal: Signal[StoreChanged] = Signal(self, "store-changed")  # by another process
        self.set_reactive(BreakerApp.read_only, read_only or bool(settings and settings.read_only))
        # Opened read-only (--read-only or [ui] read_only): nothing inside the panel lifts it, so a
        # partner can be handed a look-only panel. ctrl+r then only says so.
        self.read_only_locked = self.read_only
        self.set_keymap(self.keymap)
        self.sub_title = self.describe()

    # -- services -----------------------------------------------------------------------------
    @property
    def services(self) -> Services:
        """The open services. Screens reach them only after the first load (their actions are greyed until then)."""
        if self._services is None:
            raise RuntimeError("the inventory is not open yet")
        return self._services

    @property
    def services_ready(self) -> bool:
        return self._services is not None

    def open_services(self) -> Services:
        """The services, opening them with the factory if needed. Called from the loading thread only."""
        self.use_passphrase_dialog()
        return self._services if self._services is not None else self._factory()  # type: ignore[misc]

    def services_opened(self, services: Services) -> None:
        """On the UI thread, once the loading worker opened the store."""
        if self._loaded_once:
            return
        self._loaded_once = True
        self._services = services
        if self.settings is None:  # a factory without settings: the keymap and read-only come now
            self.settings = services.settings
            self.keymap = dict(services.settings.keymap)
            self.set_keymap(self.keymap)
            if services.settings.read_only:
                self.read_only = self.read_only_locked = True
        self.sub_title = self.describe()
        self.check_keymap()

    def check_keymap(self) -> None:
        unknown = sorted(set(self.keymap) - known_binding_ids())
        if unknown:
            self.notify(
                f"config.toml [keymap]: unknown binding id(s) {', '.join(unknown)}; see ? for the ids.",
                severity="warning",
            )

    def first_frame_painted(self) -> None:
        """The main screen's first frame is on the terminal (the command line resumes the garbage
        collector it paused for the start)."""
        hook, self._first_frame = self._first_frame, None
        if hook is not None:
            hook()

    # -- the encrypted-file keyring's passphrase ---------------------------------------------------
    def on_mount(self) -> None:
        # Opened on a factory (the command line), the loading thread registers the dialog before
        # it opens the store, after the first rows are painted: nothing reads a key before that,
        # and importing the keyring modules cost the first frame with rows 97 M instructions
        # (callgrind, bench_startup's panel at 1,000 connectors).
        if self._factory is None:
            self.use_passphrase_dialog()

    def use_passphrase_dialog(self) -> None:
        """The panel owns the terminal: the encrypted-file keyring asks in a dialog, never on the
        terminal (app.tui.screens.passphrase). Once per panel, from any thread."""
        with self._asker_lock:
            if self._asker_set:
                return
            self._asker_set = True
            from app.services import filekeyring
            from app.tui.screens.passphrase import asker

            self._previous_asker = filekeyring.set_asker(asker(self))

    def on_unmount(self) -> None:
        with self._asker_lock:
            if not self._asker_set:
                return
            from app.services import filekeyring

            filekeyring.set_asker(getattr(self, "_previous_asker", None))

    # -- screens ----------------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        return MainScreen()

    @property
    def main_screen(self) -> MainScreen:
        return self.screen_stack[0]  # type: ignore[return-value]

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """Level colours derived from the current theme's roles (see present.level_variables)."""
        system = self.current_theme.to_color_system()
        return level_variables(system.primary, system.warning, system.error, system.success, system.accent)

    def describe(self) -> str:
        parts = []
        if (self.settings is not None and self.settings.demo) or self.sandbox is not None:
            parts.append("demo inventory (sandbox keys)")
        if self.read_only:
            parts.append("READ-ONLY")
        return " · ".join(parts)

    # -- what may run ----------------------------------------------------------------------------
    def action_state(self, spec: PanelAction, *, has_connector: bool) -> bool | None:
        """True: ready. None: shown greyed (not built yet, nothing selected, inventory still opening).
        False: hidden (read-only mode)."""
        if spec.destructive and self.read_only:
            return False
        if spec.feature is not None and spec.feature not in self.features:
            return None
        if not self.services_ready:
            return None
        if spec.needs_connector and not has_connector:
            return None
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("audit_log", "scan") and not self.services_ready:
            return None
        return True

    def current_connector(self) -> str | None:
        """The connector the owner is looking at: the open connector screen's, or the table's selection."""
        for screen in reversed(self.screen_stack):
            name = getattr(screen, "connector_name", None)
            if name:
                return name
        selected = self.main_screen.selected if self.screen_stack else None
        return selected.name if selected else None

    # -- app-wide actions ---------------------------------------------------------------------------
    def action_help(self) -> None:
        from app.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_audit_log(self) -> None:
        from app.tui.screens.audit import AuditScreen

        if self.services_ready and not isinstance(self.screen, AuditScreen):
            self.push_screen(AuditScreen())

    def action_scan(self) -> None:
        from app.tui.screens.scan import ScanScreen

        if self.services_ready and not isinstance(self.screen, ScanScreen):
            self.push_screen(ScanScreen())

    def action_held_requests(self) -> None:
        from app.tui.screens.held import HeldScreen

        if self.services_ready and not isinstance(self.screen, HeldScreen):
            self.push_screen(HeldScreen())

    def action_toggle_gateway(self) -> None:
        from app.tui.widgets.gateway_line import GatewayLine

        self.main_screen.query_one(GatewayLine).toggle()

    def action_checklist(self) -> None:
        from app.tui.screens.checklist import ChecklistScreen

        if self.services_ready and not isinstance(self.screen, ChecklistScreen):
            self.push_screen(ChecklistScreen())

    def action_toggle_read_only(self) -> None:
        if self.read_only_locked:
            self.notify(self.locked_message(), title="Read-only", severity="warning")
            return
        self.read_only = not self.read_only

    def locked_message(self) -> str:
        return (
            "This panel was opened read-only (--read-only or [ui] read_only in config.toml) and stays "
            "so: quit and start Breaker without it to make changes."
        )

    def read_only_hint(self) -> str:
        """How to leave read-only mode, for messages about a hidden action."""
        return self.locked_message() if self.read_only_locked else "ctrl+r leaves read-only mode."

    def watch_read_only(self, read_only: bool) -> None:
        self.sub_title = self.describe()
        for screen in self.screen_stack:
            screen.refresh_bindings()
        self.post_message(ReadOnlyChanged(read_only))
        self.notify(
            "Read-only mode: keys that change anything are hidden." if read_only else "Read-only mode is off.",
            title="Panel",
        )

    # -- app-wide changes and errors -----------------------------------------------------------
    @on(InventoryChanged)
    def _inventory_changed(self, message: InventoryChanged) -> None:
        self.inventory_changed_signal.publish(message)

    @on(ProbesStored)
    def _probes_stored(self, message: ProbesStored) -> None:
        self.probes_stored_signal.publish(message)

    @on(SwitchesChanged)
    def _switches_changed(self, message: SwitchesChanged) -> None:
        self.switches_changed_signal.publish(message)

    @on(StoreChanged)
    def _store_changed(self, message: StoreChanged) -> None:
        self.store_changed_signal.publish(message)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.worker_changed(event)

    def worker_changed(self, event: Worker.StateChanged) -> None:
        """Worker errors end here (exit_on_error=False everywhere): one line for the owner, the panel stays up."""
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            what = event.worker.description or event.worker.name or "background work"
            self.notify(
                f"{what} failed: {error}" if str(error) else f"{what} failed ({type(error).__name__})", severity="error"
            )

    # -- a key on the screen (the new key of a rotation, handed on by hand) ----------------------
    def secret_on_screen(self) -> bool:
        return any(getattr(screen, "shows_secret", False) for screen in self.screen_stack)

    def get_system_commands(self, screen: Screen):
        for command in super().get_system_commands(screen):
            if command.title == "Screenshot" and self.secret_on_screen():
                continue  # no picture of a key
            yield command

    def deliver_screenshot(self, *args, **kwargs):
        """No screenshot while a key is on the screen: say so instead (hide it first)."""
        if self.secret_on_screen():
            self.notify("No screenshot while a key is shown: hide it first.", severity="warning")
            return None
        return super().deliver_screenshot(*args, **kwargs)

    def save_screenshot(self, *args, **kwargs) -> str:
        if self.secret_on_screen():
            raise RuntimeError("no screenshot while a key is shown: hide it first")
        return super().save_screenshot(*args, **kwargs)

    def forget_clipboard(self, text: str) -> None:
        """Drop ``text`` from the panel's own copy of the clipboard, if it is still there.

        ``copy_to_clipboard`` keeps the text in ``App._clipboard`` (for pasting inside the panel) for
        as long as the app runs, and Textual has no call to clear it; copying "" instead would also
        empty the terminal's clipboard, before the owner pasted the key where it is needed."""
        if self._clipboard == text:
            self._clipboard = ""

    def handle_bindings_clash(self, clashed_bindings: set[Binding], node) -> None:
        # Textual calls this each time it builds the binding chain: say it once per clash.
        names = ", ".join(sorted({b.id or b.action for b in clashed_bindings}))
        if names not in self._clashes_told:
            self._clashes_told.add(names)
            self.notify(f"config.toml [keymap]: a remapped key now hides: {names}", severity="warning")


def make_app(
    services: Services | Callable[[], Services],
    *,
    read_only: bool = False,
    sandbox: Any = None,
    settings: Settings | None = None,
    first_frame: Callable[[], None] | None = None,
) -> BreakerApp:
    """The panel on ``services`` (or on a factory that opens them, called after the first frame).

    Read-only when asked, or when config.toml says [ui] read_only = true. With a factory, pass the
    already-loaded ``settings`` so the keymap and read-only mode apply from the first frame.
    """
    return BreakerApp(services, settings=settings, read_only=read_only, sandbox=sandbox, first_frame=first_frame)


def run_panel(
    services: Services | Callable[[], Services],
    *,
    read_only: bool = False,
    sandbox: Any = None,
    settings: Settings | None = None,
    first_frame: Callable[[], None] | None = None,
) -> str | None:
    """Run the panel; returns what it exited with ("demo" when the welcome screen's Try the demo was chosen).
    ``first_frame`` is called once the main screen's first frame is painted."""
    return make_app(services, read_only=read_only, sandbox=sandbox, settings=settings, first_frame=first_frame).run()
