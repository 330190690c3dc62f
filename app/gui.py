"""The windowed loop: 60 display frames a second whatever the pose rate.

Stage order each display frame: inputs (poses, machine) -> engine -> screen.update ->
events -> intents -> screen.draw -> flip. Pose inference runs on its own thread
(``app/streams.py``), so a slow model lowers the pose rate, never this loop's rate.
"""

from __future__ import annotations

import logging
import os
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
        runner.finish_storage()
    return True


def run_window(runner: Runner) -> None:
    import pygame

    from feedback.app_window import Screen, open_display
    from feedback.audio import Audio
    from feedback.intents import EnterPatient

    pygame.init()
    surface = open_display(kiosk=runner.opts.kiosk)
    kiosk = None
    if runner.opts.kiosk:
        from feedback.kiosk import Kiosk

        kiosk = Kiosk()
    screen = Screen(surface.get_size(), kiosk=kiosk, audio=Audio(enabled=not runner.opts.mute))
    clock = pygame.time.Clock()
    ended = False
    try:
        running = True
        while running:
            t_frame = time.perf_counter()
            runner.pump()
            intents = screen.update(runner.snapshot())
            for event in pygame.event.get():
                intents += screen.handle_event(event)
            running = all(_apply(runner, screen, intent) for intent in intents)
            if any(isinstance(i, EnterPatient) for i in intents):
                ended = False
            screen.draw(surface)
            pygame.display.flip()
            runner.stats.ui_frames += 1
            runner.stats.ui_frame_s.append(time.perf_counter() - t_frame)
            if kiosk is not None and runner.engine.phases.phase == "done" and not ended:
                runner.finish_storage()  # the summary shows until the kiosk's idle timeout
                ended = True
            elif runner.limit_reached:
                running = False
            elif runner.finished and not ended:
                if runner.opts.loop_replay:
                    runner.restart()  # the demo recording plays on until the window closes
                else:
                    runner.engine.finish(runner.clock())  # summary stays up until closed
                    ended = True
            clock.tick(DISPLAY_FPS)
    finally:
        screen.close()
        pygame.quit()
