"""Render every screen to PNG: ``python -m feedback.screenshots docs/screenshots [--size WxH]``.

Runs headless (SDL's dummy video driver) and draws through the same ``Screen`` the app uses,
from snapshots built out of real recordings (see ``feedback.demo_snapshots``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import pygame

from education.cards import ROTATE_S
from feedback import demo_snapshots as demo
from feedback.app_window import THERAPIST, Screen
from feedback.audio import Audio
from feedback.kiosk import Kiosk, PinGuard, PinPurpose, PinStore
from language import cue_text
from session.snapshot import Cue, Severity


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def render_all(
    out_dir: Path, size: tuple[int, int] = (1280, 720), camera_video: Path | None = None
) -> list[Path]:
    """Every screen as ``out_dir/<name>.png``. ``camera_video``: take the machine screens'
    camera image from this video (default: none, the landmark canvas)."""
    pygame.display.init()
    pygame.font.init()
    out_dir.mkdir(parents=True, exist_ok=True)
    surface = pygame.Surface(size)
    written: list[Path] = []

    def shot(name: str, screen: Screen) -> None:
        screen.draw(surface)
        path = out_dir / f"{name}.png"
        pygame.image.save(surface, str(path))
        written.append(path)

    # The app always has sound: the patient view's sound control shows its volume. The mixer
    # runs on SDL's dummy driver here; its state is shared by every screen, as in the app.
    audio = Audio()

    def session_screen(
        snap, view: str = "patient", lang: str = "en", later_s: float = 0.0
    ) -> Screen:
        s = Screen(size, mirror=False, lang=lang, audio=audio)
        for k in range(6):  # a few frames so the replay framing settles
            s.update(replace(snap, t=snap.t + k / 30))
        if later_s:
            s.update(replace(snap, t=snap.t + later_s))
        s.view = view
        return s

    floor = demo.floor_snapshot()
    frame = demo.load_frame(camera_video) if camera_video is not None else None
    machine = demo.machine_snapshot(frame=frame)
    shot("patient_floor_fault", session_screen(floor))
    shot("patient_machine_load", session_screen(machine))
    shot(
        "patient_safety_stop",
        session_screen(demo.machine_snapshot(force_n=285.0, safety=True, frame=frame)),
    )
    shot(
        "patient_camera_lost",
        session_screen(demo.machine_snapshot(camera_state="lost", frame=frame)),
    )
    shot("patient_rest_summary", session_screen(demo.rest_snapshot()))
    shot(
        "patient_session_done",
        session_screen(replace(demo.rest_snapshot(), phase="done", set_index=3)),
    )
    shot(
        "patient_countdown",
        session_screen(replace(floor, phase="countdown", countdown_s=2.4, cue=None)),
    )
    shot("patient_paused", session_screen(replace(floor, phase="paused")))
    shot("therapist_machine", session_screen(machine, THERAPIST))
    shot("therapist_floor", session_screen(floor, THERAPIST))
    stop = demo.machine_snapshot(force_n=285.0, safety=True, frame=frame)
    shot("therapist_safety_stop", session_screen(stop, THERAPIST))

    # Education cards in a rest and at the end of a visit; the deck turns every ROTATE_S.
    rest = demo.rest_snapshot()
    shot("education_rest_posture", session_screen(rest, later_s=ROTATE_S + 1))
    done = replace(rest, phase="done", set_index=3)
    shot("education_done_heat_cold_de", session_screen(done, lang="de", later_s=4 * ROTATE_S))

    # The demonstration before a set: the reference movement, key points, dose and camera;
    # while the patient gets into view (their live view in the corner), before the next set.
    for name, ex_id, ex_name, phase, lang, at_s, dose in (
        ("demonstration_squat", "squat", "Squat", "setup", "en", 3.0, (10, 3, 0.0)),
        ("demonstration_bird_dog_rest", "bird_dog", "Bird dog", "rest", "en", 6.0, (6, 4, 0.0)),
        ("demonstration_side_plank_de", "side_plank", "Seitstütz", "setup", "de", 2.0,
         (3, 2, 10.0)),
    ):  # fmt: skip
        reps, sets, hold = dose
        snap = replace(
            floor, phase=phase, exercise_id=ex_id, exercise_name=ex_name, reps_target=reps,
            sets_total=sets, hold_target_s=hold, rest_remaining_s=12.0, set_index=1,
            cue=Cue("session.step_into_view", cue_text("session.step_into_view", lang),
                    Severity.INFO) if phase == "setup" else demo.rest_snapshot().cue, t=at_s,
        )  # fmt: skip
        shot(name, session_screen(snap, lang=lang))
    audio.set_muted(True)  # the sound control muted: speaker crossed out, "Muted"
    shot("patient_sound_muted", session_screen(floor))
    audio.close()

    with tempfile.TemporaryDirectory() as tmp:
        clock = _Clock()
        store = PinStore(Path(tmp) / "pin.json")
        store.set_pin("246810")
        kiosk = Kiosk(PinGuard(store, clock=clock), clock=clock)
        screen = Screen(size, kiosk=kiosk, clock=clock)
        for key in "4711":
            kiosk.press(key)
        shot("kiosk_welcome_keypad", screen)
        kiosk.press("ok")
        for key in "13":
            kiosk.press(key)
        shot("kiosk_patient_pin", screen)
        kiosk.press("cancel")
        kiosk.request_pin(PinPurpose.EXIT)
        kiosk.press("1")
        kiosk.press("3")
        shot("kiosk_pin_entry", screen)
        for _ in range(5):
            for key in "111111":
                kiosk.press(key)
            kiosk.press("ok")
        clock.now += 17
        shot("kiosk_pin_lockout", screen)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--size", default="1280x720", help="window size, e.g. 1920x1080")
    ap.add_argument(
        "--camera-video",
        type=Path,
        default=None,
        help="video whose frame 40 is the machine screens' camera image (only for local "
        "checks when its licence does not allow redistribution, e.g. "
        f"{demo.SQUAT_VIDEO.name})",
    )
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    for p in render_all(args.out_dir, (w, h), args.camera_video):
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
