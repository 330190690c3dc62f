"""The windowed loop: 60 display frames a second whatever the pose rate."""

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


def run_window(runner: Runner) -> None:
    import pygame

    from feedback.app_window import Screen, open_display
    from feedback.audio import Audio
    from feedback.intents import AdjustTarget, EndSession, Pause, Quit, Resume

    pygame.init()
    surface = open_display(kiosk=runner.opts.kiosk)
    kiosk = None
    if runner.opts.kiosk:
        from feedback.kiosk import Kiosk

        kiosk = Kiosk()
    screen = Screen(surface.get_size(), kiosk=kiosk, audio=Audio(enabled=not runner.opts.mute))
    clock = pygame.time.Clock()
    period = 1.0 / DISPLAY_FPS
    try:
        running = True
        while running:
            t_frame = time.perf_counter()
            runner.pump()
            snap = runner.snapshot()
            intents = screen.update(snap)
            for event in pygame.event.get():
                intents += screen.handle_event(event)
            for intent in intents:
                now = runner.clock()
                if isinstance(intent, Quit):
                    running = False
                elif isinstance(intent, Pause):
                    runner.engine.command("pause", now)
                elif isinstance(intent, Resume):
                    runner.engine.command("resume", now) or runner.engine.command(
                        "acknowledge", now
                    )
                elif isinstance(intent, AdjustTarget):
                    runner.engine.adjust(intent.key, intent.delta, now)
                elif isinstance(intent, EndSession):
                    runner.engine.command("finish", now)
            screen.draw(surface)
            pygame.display.flip()
            runner.stats.ui_frames += 1
            runner.stats.ui_frame_s.append(time.perf_counter() - t_frame)
            if runner.finished:
                if runner.opts.loop_replay and runner.stream is not None:
                    runner.restart_replay()
                elif not runner.opts.kiosk:
                    running = (running and runner.engine.phases.phase != "done") or _linger(runner)
            clock.tick_busy_loop(DISPLAY_FPS) if period < 0 else clock.tick(DISPLAY_FPS)
    finally:
        screen.close()
        pygame.quit()


def _linger(runner: Runner) -> bool:
    """Keep the summary on screen until the user closes the window."""
    return True
