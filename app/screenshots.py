"""Screens from the live pipeline: ``python -m app.screenshots docs/screenshots``.

Unlike ``feedback.screenshots`` (every screen state, from prepared snapshots), these come out
of the real loop: the bundled KERAAL recording through the session engine for floor work, the
machine simulator on a pseudo-terminal for machine work, drawn by the same ``Screen``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import pygame

from app.inputs import BUNDLED_RECORDING, InputChoice
from app.loop import Runner, RunOptions
from exercises.library import get_exercise
from feedback.app_window import THERAPIST, Screen
from session.snapshot import Snapshot

SIZE = (1280, 720)


def _save(snapshots: list[Snapshot], path: Path, view: str = "patient") -> Path:
    surface = pygame.Surface(SIZE)
    screen = Screen(SIZE, mirror=False)
    for snap in snapshots:  # the last few frames, so traces and framing settle
        screen.update(snap)
    screen.view = view
    screen.draw(surface)
    pygame.image.save(surface, str(path))
    screen.close()
    return path


def floor_shot(
    out: Path, exercise: str, frame: int, name: str, aspect: float | None = None
) -> Path:
    """The bundled recording up to ``frame``, analysed as ``exercise``; ``aspect``: the
    video's width / height when known (the recording does not say)."""
    choice = InputChoice("replay", str(BUNDLED_RECORDING), "bundled recording")
    runner = Runner(RunOptions(choice, get_exercise(exercise), headless=True, max_frames=frame))
    if aspect is not None:
        runner.engine.set_aspect(aspect)
    snaps: list[Snapshot] = []
    try:
        while not runner.finished:
            if runner.pump(0.2):
                snaps = [*snaps[-5:], runner.snapshot()]
    finally:
        runner.close()
    return _save(snaps, out / f"{name}.png")


def machine_shots(
    out: Path, sim_args: tuple[str, ...], at_s: float, names: dict[str, str]
) -> list[Path]:
    """A simulated lumbar extension session, shot ``at_s`` seconds in (patient and therapist)."""
    runner = Runner(
        RunOptions(
            InputChoice("none", "none", "machine only"),
            get_exercise("lumbar_extension"),
            headless=True,
            device="sim:lumbar_extension",
            simulator_args=sim_args,
        )
    )
    snaps: list[Snapshot] = []
    try:
        while runner.clock() < at_s:
            runner.pump(1 / 60)
            snaps = [*snaps[-5:], runner.snapshot()]
            time.sleep(0)
    finally:
        runner.close()
    return [_save(snaps, out / f"{name}.png", view) for view, name in names.items()]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "docs/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    pygame.init()
    written = [
        floor_shot(out, "flank_stretch", 48, "live_flank_stretch", 16 / 9),
        # The ghost to follow over the real recording: the reference fitted to the patient's
        # proportions, a little ahead in the bend; for the bend to the other side, mirrored.
        # KERAAL's videos are 16:9 (docs/accuracy.md), the screen's picture for a recording.
        floor_shot(out, "flank_stretch", 34, "ghost_flank_stretch", 16 / 9),
        floor_shot(out, "flank_stretch", 122, "ghost_flank_stretch_other_side", 16 / 9),
        # The same recording judged as an exercise that must keep the trunk upright: the side
        # bend shows as a real posture warning.
        floor_shot(out, "hiding_face", 70, "live_posture_warning", 16 / 9),
        *machine_shots(
            out, ("--start-delay=5",), 8.2, {"patient": "live_machine", THERAPIST: "live_therapist"}
        ),
        *machine_shots(
            out, ("--start-delay=5", "--overload-at=7"), 7.4, {"patient": "live_safety_stop"}
        ),
    ]
    pygame.quit()
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
