"""The windowed loop: 60 display frames a second whatever the pose rate.

Stage order each display frame: inputs (poses, machine) -> engine -> screen.update ->
events -> intents -> screen.draw -> present (the changed rectangles, or the whole window).
Pose inference runs on its own thread (``app/streams.py``), so a slow model lowers the pose
rate, never this loop's rate.

In the kiosk, a patient's session ends (the dose done, the source ended, or idle), its summary
shows for a while, and the kiosk returns to the welcome screen with a fresh, empty engine.
"""

from __future__ import annotations

import logging
import os
import sys
import time

from app.loop import DISPLAY_FPS, Runner

log = logging.getLogger(__name__)


def display_available() -> bool:
    """False on a machine with no screen (no X or Wayland display and no SDL driver forced)."""
    if os.environ.get("SDL_VIDEODRIVER"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _apply(runner: Runner, screen: object, intent: object) -> bool:
    """Carry out one intent from the screen; returns False to quit."""
    from feedback.app_window import THERAPIST
    from feedback.intents import (
        AdjustTarget,
        EndSession,
        EnterPatient,
        ExitKiosk,
        OpenSettings,
        Pause,
        Quit,
        Resume,
    )

    if isinstance(intent, Quit | ExitKiosk):
        return False
    if isinstance(intent, EnterPatient):
        runner.new_session(intent.code)
    elif isinstance(intent, OpenSettings):
        screen.view = THERAPIST  # targets and dose are set there; the PIN was checked
    if isinstance(intent, Pause):
        runner.command("pause")
    elif isinstance(intent, Resume):
        # After a safety stop, "continue" first acknowledges the stop, then resumes.
        runner.command("acknowledge") or runner.command("resume")
    elif isinstance(intent, AdjustTarget):
        try:
            runner.adjust(intent.key, intent.delta)
        except ValueError as exc:
            log.warning("target not changed: %s", exc)
    elif isinstance(intent, EndSession):
        runner.command("finish")
        runner.finish_storage(ended_by=intent.reason)
        if runner.opts.kiosk:
            runner.new_session("")  # back at welcome: nothing of the last patient is kept
    return True


def make_kiosk(store: object | None):
    """The kiosk of ``main.py --kiosk``: the therapist PIN from the user's config folder (its
    lock-out kept beside it), patients signed in against ``store``, alerts to stderr and the
    store. Returns ``(kiosk, alerts)``."""
    from access.alerts import AccessAlert, AlertLog
    from access.patients import PatientGate
    from feedback.kiosk import Kiosk, PinGuard, PinStore

    def save(alert: AccessAlert) -> None:
        store.add_access_alert(alert.kind.value, alert.message, alert.patient_code)

    alerts = AlertLog(save if store is not None else None)
    pin_store = PinStore()
    problem = pin_store.problem()
    if problem:
        # The kiosk still serves patients; only leaving it and its settings stay shut.
        print(
            f"main.py: warning: {problem}; the kiosk cannot be left or set up until a therapist "
            "sets a PIN with 'python -m feedback.kiosk --set-pin'",
            file=sys.stderr,
        )
    gate = PatientGate(store, on_alert=alerts) if store is not None else None
    guard = PinGuard(pin_store, on_alert=alerts, persist=True)
    return Kiosk(guard, gate, on_alert=alerts), alerts


class WindowLoop:
    """One display frame per ``step()``; the caller paces the frames (``run_window``) or
    drives them with its own clock (the kiosk soak test)."""

    def __init__(self, runner: Runner, surface: object, screen: object) -> None:
        self.runner = runner
        self.surface = surface
        self.screen = screen
        self.kiosk = screen.kiosk
        self.ended = False
        self.visit = None  # clinic.visit.VisitFlow while a signed-in patient's visit runs

    def step(self) -> bool:
        """Run one display frame; False when the program should end."""
        import pygame

        from feedback.app_window import present
        from feedback.intents import EndSession, EnterPatient

        runner = self.runner
        t_frame = time.perf_counter()
        runner.pump()
        if self.visit is not None:
            self.visit.tick()
        self.screen.visit = self.visit.view() if self.visit is not None else None
        intents = self.screen.update(runner.snapshot())
        for event in pygame.event.get():
            intents += self.screen.handle_event(event)
        running = all(self._do(intent) for intent in intents)
        if any(isinstance(i, EnterPatient | EndSession) for i in intents):
            self.ended = False
        present(self.screen.draw(self.surface))  # only what changed goes to the display
        runner.stats.ui_frames += 1
        runner.stats.ui_frame_s.append(time.perf_counter() - t_frame)
        return running and self._after_frame()

    def _do(self, intent: object) -> bool:
        """Visit intents and a sign-in with storage go to the visit; the rest as before."""
        from app import kiosk_visit
        from feedback.intents import EndSession, EnterPatient

        runner = self.runner
        if isinstance(intent, EnterPatient) and runner.opts.store is not None:
            self.visit = kiosk_visit.begin(runner, intent.code)
            if self.visit is not None:
                return True
            # No programme, and the kiosk was told an exercise: that one, as before.
        if isinstance(intent, EndSession) and self.visit is not None:
            kiosk_visit.abandon(runner, self.visit, intent.reason, self.screen)
            self.visit = None
            return True
        if self.visit is not None and kiosk_visit.handles(intent):
            kiosk_visit.apply(runner, self.visit, self.screen, intent)
            return True
        return _apply(runner, self.screen, intent)

    def _after_frame(self) -> bool:
        runner = self.runner
        if runner.limit_reached:
            return False
        if self.kiosk is not None:
            self._kiosk_after_frame()
        elif runner.finished and not self.ended:
            if runner.opts.loop_replay:
                runner.restart()  # the demo recording plays on until the window closes
            else:
                runner.command("finish")  # the summary stays up until the window closes
                self.ended = True
        return True

    def _kiosk_after_frame(self) -> None:
        runner = self.runner
        if self.visit is not None:
            from app import kiosk_visit

            if not kiosk_visit.after_frame(runner, self.visit, self.screen):
                self.visit = None  # the visit is over: the kiosk is back at welcome
            return
        if runner.waiting:  # nobody signed in
            if runner.finished and runner.opts.loop_replay:
                runner.restart()  # the demo plays on, analysed by nobody, stored nowhere
        elif runner.engine.phases.phase == "done":
            if not self.ended:
                runner.finish_storage()  # the summary shows until the kiosk's timer ends it
                self.ended = True
        elif runner.finished:
            runner.command("finish")  # the source ended under the session: it ends too


def run_window(runner: Runner) -> None:
    import pygame

    from feedback.app_window import Screen, open_display
    from feedback.audio import Audio

    pygame.init()
    surface = open_display(kiosk=runner.opts.kiosk)
    kiosk, alerts = make_kiosk(runner.opts.store) if runner.opts.kiosk else (None, None)
    screen = Screen(
        surface.get_size(),
        kiosk=kiosk,
        audio=Audio(muted=runner.opts.mute, lang=runner.opts.lang),
        alerts=alerts,
        lang=runner.opts.lang,
    )
    loop = WindowLoop(runner, surface, screen)
    clock = pygame.time.Clock()
    try:
        while loop.step():
            clock.tick(DISPLAY_FPS)
    finally:
        screen.close()
        pygame.quit()
