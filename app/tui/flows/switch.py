"""The switches from the panel: ``d`` draft-only, ``o`` read-only, ``x`` disable, ``r`` rotate,
``u`` re-enable, and ``!`` the emergency disable of everything.

Every switch first reads its plan (in a thread: the plan looks at the whole inventory) and shows
it in a modal whose focus starts on Cancel. Confirmed, the switch runs in an async worker; each
step (:class:`SwitchEvent`) becomes a toast and updates the row's Switch column at once. A switch
that does not end verified opens its outcome: the manual steps with the dashboard URL and "I did
it" (then a probe verifies), or, when the provider call failed, a forced switch (recorded locally,
shown as out of sync). A rotation the provider cannot do by API asks for the new key (masked).

The emergency disable asks twice (a modal, then typing PANIC or the number of connectors) and
opens the panic screen. When the panel opens with an interrupted panic in the journal it offers
to resume it; it never resumes on its own.
"""

from __future__ import annotations

from dataclasses import replace
from enum import Enum, auto
from typing import TYPE_CHECKING

from textual import work

from app.services.vocabulary import JobState, SwitchAction
from app.tui.actions import BY_ACTION
from app.tui.flows.base import Flow
from app.tui.messages import PanicPlanned, PlanReady, SwitchesChanged, SwitchFinished, SwitchProgress, UnfinishedPanics

if TYPE_CHECKING:
    from app.services.switches import JobReport, SwitchPlan
    from connectors.base import Secret


class Run(Enum):
    """Which switch service call a run makes."""

    SWITCH = auto()  # Switches.switch: the ladder or an API rotation
    ROTATE_WITH = auto()  # Switches.rotate_with: the owner pasted the new key
    CONFIRM = auto()  # Switches.confirm: the owner did the manual steps
    VERIFY = auto()  # Switches.verify: probe again


class SwitchFlow(Flow):
    """The switches and the emergency disable of the main screen (a widget with nothing to show:
    the modals say everything). The screen's switch keys call :meth:`ask_switch`, ``!`` :meth:`panic`."""

    DEFAULT_CSS = """
    SwitchFlow {
        display: none;
    }
    """

    def __init__(self, host, **kwargs) -> None:
        super().__init__(host, **kwargs)
        self.running: set[str] = set()  # connectors with a switch in flight

    def ask_switch(self, panel_action: str, name: str | None) -> None:
        target = self.host.target(BY_ACTION[panel_action], name)
        if not target:
            return
        if target in self.running:
            self.notify(f"A switch of {target} is still running; its steps appear as they happen.", severity="warning")
            return
        self.plan_worker(target, SwitchAction.of_panel(panel_action))

    @work(thread=True, group="switch-plan", exit_on_error=False, description="reading the switch plan")
    def plan_worker(self, name: str, action: SwitchAction) -> None:
        # A thread: the plan reads the whole inventory (shared keys, admin keys). Posts only.
        try:
            plan = self.services.switches.plan(name, action)
        except Exception as exc:  # removed meanwhile, an unknown provider: one line
            self.post_message(PlanReady(name, action, error=str(exc) or type(exc).__name__))
        else:
            self.post_message(PlanReady(name, action, plan))

    def on_plan_ready(self, message: PlanReady) -> None:
        if message.error:
            self.notify(message.error, title=f"Cannot plan {message.action} of {message.name}", severity="error")
            return
        from app.tui.screens.confirm import SwitchChoice, SwitchConfirm

        plan = message.plan

        def replan(revoke_full: bool):
            return self.services.switches.plan(message.name, message.action, revoke_full=revoke_full)

        def chosen(choice: SwitchChoice | None) -> None:
            if choice is None:
                return  # Cancel: nothing was changed, nothing is said
            if plan.guided:
                self.ask_new_key(plan)
            else:
                self.run_switch(message.name, message.action, Run.SWITCH, revoke_full=choice.revoke_full)

        self.app.push_screen(SwitchConfirm(plan, replan=replan), chosen)

    def ask_new_key(self, plan: SwitchPlan) -> None:
        from app.tui.screens.confirm import NewKeyModal

        def pasted(secret: Secret | None) -> None:
            if secret is not None:
                self.run_switch(plan.connector, SwitchAction.ROTATE, Run.ROTATE_WITH, secret=secret)

        self.app.push_screen(NewKeyModal(plan), pasted)

    # -- running -----------------------------------------------------------------------------------
    def run_switch(
        self,
        name: str,
        action: SwitchAction,
        how: Run,
        *,
        force: bool = False,
        revoke_full: bool = False,
        secret: Secret | None = None,
    ) -> None:
        self.running.add(name)
        self.switch_worker(name, action, how, force, revoke_full, secret)

    @work(group="switch", exit_on_error=False, description="running a switch")
    async def switch_worker(
        self, name: str, action: SwitchAction, how: Run, force: bool, revoke_full: bool, secret: Secret | None
    ) -> None:
        # On the app's loop: the switch service is async and calls on_event on this loop. Posts only.
        from app.services.switches import NeedsNewKey, SwitchEvent

        sw = self.services.switches

        def on_event(event: SwitchEvent) -> None:
            self.post_message(SwitchProgress(event))

        try:
            match how:
                case Run.ROTATE_WITH:
                    assert secret is not None
                    report = await sw.rotate_with(name, secret, on_event=on_event)
                case Run.CONFIRM:
                    report = await sw.confirm(name, on_event=on_event)
                case Run.VERIFY:
                    report = await sw.verify(name, on_event=on_event)
                case Run.SWITCH:
                    report = await sw.switch(name, action, force=force, revoke_full=revoke_full, on_event=on_event)
        except NeedsNewKey as exc:
            self.post_message(SwitchFinished(name, action, needs_key=exc.plan))
        except Exception as exc:  # services keep secrets out of their messages
            self.post_message(SwitchFinished(name, action, error=str(exc) or type(exc).__name__))
        else:
            self.post_message(SwitchFinished(name, action, report))

    def on_switch_progress(self, message: SwitchProgress) -> None:

        event = message.event
        table = self.host.table
        view = table.view_named(event.connector)
        if view is not None and event.state is not JobState.UNVERIFIED:  # an event, not a stored state
            mode = view.mode
            if event.state is JobState.RECORDED and event.action.target_mode is not None:
                mode = event.action.target_mode
            table.update_view(
                replace(view, switch_state=event.state, mode=mode),
                self.app.theme_variables,
                key_age_warn_days=self.app.settings.key_age_warn_days,
            )
        # No toast per step: the row shows each step, and the outcome gets one toast (on_switch_finished).

    def on_switch_finished(self, message: SwitchFinished) -> None:
        self.running.discard(message.name)
        if message.needs_key is not None:
            self.ask_new_key(message.needs_key)
            return
        self.app.post_message(SwitchesChanged([message.name]))
        if message.error:
            self.notify(message.error, title=f"{message.action} {message.name} did not run", severity="error")
            return
        report = message.report
        if report is None:
            return
        # A rotation whose new key the provider made: offer it once, for a client Breaker does not launch.
        handoff = (
            self.services.switches.new_key_handoff(report.connector) if report.action is SwitchAction.ROTATE else None
        )
        if handoff is not None:
            from app.tui.screens.handoff import NewKeyHandOn

            # the outcome (a toast, or what is left to do) once the key is handed on
            self.app.push_screen(NewKeyHandOn(handoff, report), lambda _: self.announce(report))
            return
        self.announce(report)

    def announce(self, report: JobReport) -> None:
        """One toast for a verified switch; anything else opens its outcome dialog, which says it."""
        if report.verified:
            detail = report.verify_note or report.message
            self.notify(
                report.label + (f" — {detail}" if detail else ""),
                title=f"{report.action} {report.connector}",
                timeout=6,
            )
        else:
            self.show_outcome(report)

    def show_outcome(self, report: JobReport) -> None:
        """What is left to do for a switch that did not end verified, with the ways forward."""
        from app.tui.screens.confirm import OutcomeChoice, SwitchOutcome

        def chosen(choice: OutcomeChoice | None) -> None:
            if choice is OutcomeChoice.DONE_BY_HAND:
                self.run_switch(report.connector, report.action, Run.CONFIRM)
            elif choice is OutcomeChoice.VERIFY:
                self.run_switch(report.connector, report.action, Run.VERIFY)
            elif choice is OutcomeChoice.FORCE:
                self.run_switch(report.connector, report.action, Run.SWITCH, force=True)

        self.app.push_screen(SwitchOutcome(report), chosen)

    # -- the emergency disable ---------------------------------------------------------------------
    def panic(self) -> None:
        if self.host.target(BY_ACTION["panic"], None) is None:
            return
        if getattr(self.app, "panic_running", False):
            self.notify("The emergency disable is already running.", severity="warning")
            return
        self.panic_plan_worker()

    @work(
        thread=True,
        exclusive=True,
        group="panic-plan",
        exit_on_error=False,
        description="preparing the emergency disable",
    )
    def panic_plan_worker(self) -> None:
        # A thread: the plan reads the inventory; prepare() opens the audit key (a keyring may ask to
        # be unlocked). No connector key is read before the owner confirms twice.
        from app.services.switches import Selection

        sw = self.services.switches
        try:
            plan = sw.panic_plan(Selection())
            sw.prepare()
        except Exception as exc:
            self.post_message(PanicPlanned(error=str(exc) or type(exc).__name__))
        else:
            self.post_message(PanicPlanned(plan))

    def on_panic_planned(self, message: PanicPlanned) -> None:
        if message.error:
            self.notify(message.error, title="Cannot prepare the emergency disable", severity="error")
            return
        plan = message.plan
        if plan.empty:
            self.notify(
                "Nothing to disable: every connector is already disabled and verified.", title="Emergency disable"
            )
            return
        from app.tui.screens.panic import PanicConfirm, PanicScreen, PanicTypeConfirm

        def second(go: bool | None) -> None:
            if go:
                self.app.push_screen(PanicScreen(plan=plan))

        def first(go: bool | None) -> None:
            if go:
                self.app.push_screen(PanicTypeConfirm(plan), second)

        self.app.push_screen(PanicConfirm(plan), first)

    # -- an interrupted panic ------------------------------------------------------------------------
    @work(
        thread=True,
        exclusive=True,
        group="panic-plan",
        exit_on_error=False,
        description="looking for an interrupted emergency disable",
    )
    def unfinished_worker(self) -> None:
        batches = self.services.switches.unfinished_batches()
        if batches:
            self.post_message(UnfinishedPanics(list(batches)))

    def on_unfinished_panics(self, message: UnfinishedPanics) -> None:
        if self.app.read_only:
            self.notify(
                "An emergency disable was interrupted and waits to be finished. Leave read-only mode "
                "(ctrl+r) and open the panel again, or run `breaker panic --resume`.",
                title="Interrupted emergency disable",
                severity="warning",
                timeout=15,
            )
            return
        from app.tui.screens.panic import PanicScreen, ResumeOffer

        batch = message.batches[0]

        def chosen(go: bool | None) -> None:
            if go:
                self.app.push_screen(PanicScreen(resume=batch))

        self.app.push_screen(ResumeOffer(message.batches), chosen)
