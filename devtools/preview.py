"""Try the screens without the session engine: ``python -m devtools.preview [--kiosk]``.

Loops the real landmark recording (and the machine demo) through ``Screen`` in a window at
60 fps, printing the intents input produces. ``--frames N`` stops after N frames and prints
the loop rate (with SDL_VIDEODRIVER=dummy it runs headless). Keys: T, Space, M, Esc; 1 / 2
switch between the floor and the machine demo; S toggles a safety stop; L a lost camera.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pygame

from feedback import demo_snapshots as demo
from feedback.app_window import Screen, open_display
from feedback.audio import Audio
from feedback.intents import AdjustTarget, EndSession, ExitKiosk, Pause, Quit, Resume
from feedback.kiosk import Kiosk, PinGuard, PinStore
from session.snapshot import SourceStatus

log = logging.getLogger("devtools.preview")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kiosk", action="store_true", help="full screen kiosk with PIN")
    ap.add_argument("--pin-file", type=Path, default=None)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--frames", type=int, default=0, help="stop after N frames (0: run)")
    ap.add_argument("--mute", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    size = tuple(int(v) for v in args.size.lower().split("x"))

    pygame.init()
    surface = open_display(size, kiosk=args.kiosk)
    kiosk = Kiosk(PinGuard(PinStore(args.pin_file))) if args.kiosk else None
    audio = Audio(enabled=not args.mute)
    screen = Screen(surface.get_size(), kiosk=kiosk, audio=audio)

    lm, hip = demo.floor_series()
    floor, machine = demo.floor_snapshot(), demo.machine_snapshot(frame=demo.load_frame())
    which, paused, safety, lost = 1, False, False, False
    clock = pygame.time.Clock()
    t0 = time.monotonic()
    n = 0
    running = True
    while running:
        now = time.monotonic() - t0
        i = int(now * demo.FPS) % len(lm)
        if which == 1:
            snap = replace(floor, t=now, landmarks=lm[i].astype(np.float32), signal_value=hip[i])
        else:
            rep_phase = (now % 4.8) / 4.8
            force = 150 + 45 * math.sin(2 * math.pi * rep_phase) + (130 if safety else 0)
            snap = replace(
                machine, t=now, tempo_position=rep_phase, force_n=force, safety_stop=safety
            )
        if lost:
            snap = replace(snap, camera=SourceStatus("camera", "lost", message="preview"))
        if paused:
            snap = replace(snap, phase="paused")
        intents = screen.update(snap)
        for event in pygame.event.get():
            if event.type == pygame.KEYDOWN and not screen.showing_kiosk:
                if event.key == pygame.K_1:
                    which = 1
                elif event.key == pygame.K_2:
                    which = 2
                elif event.key == pygame.K_s:
                    safety = not safety
                elif event.key == pygame.K_l:
                    lost = not lost
            intents += screen.handle_event(event)
        for intent in intents:
            print("intent:", intent)
            if isinstance(intent, (Quit, ExitKiosk)):
                running = False
            elif isinstance(intent, Pause):
                paused = True
            elif isinstance(intent, Resume):
                paused = False
            elif isinstance(intent, EndSession):
                screen.end_session()
            elif isinstance(intent, AdjustTarget):
                pass  # the session engine applies these; the preview only shows them
        screen.draw(surface)
        pygame.display.flip()
        clock.tick(60)
        n += 1
        if args.frames and n >= args.frames:
            running = False
    elapsed = time.monotonic() - t0
    print(f"{n} frames in {elapsed:.2f} s: {n / elapsed:.1f} fps")
    screen.close()
    pygame.quit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
