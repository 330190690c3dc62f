"""`python -m feedback.screenshots` on the real recordings (skipped where they are absent)."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import numpy as np
import pygame
import pytest

from feedback import demo_snapshots as demo
from feedback import style

pytestmark = pytest.mark.skipif(
    not demo.KERAAL_JSON.exists(), reason=f"recording not found: {demo.KERAAL_JSON}"
)


def test_keraal_landmarks_load_as_normalised_points():
    lm = demo.load_keraal()
    assert lm.shape[1:] == (33, 2) and lm.shape[0] > 100
    assert np.isfinite(lm).all()  # BlazePose gives all 33 joints in this recording
    assert lm[..., 1].min() > 0.0 and lm[..., 1].max() < 1.0


def test_every_screen_renders_to_png(tmp_path):
    from feedback.screenshots import main

    assert main([str(tmp_path), "--size", "960x540"]) == 0
    names = {p.stem for p in tmp_path.glob("*.png")}
    expected = {
        "patient_floor_fault", "patient_machine_load", "patient_safety_stop",
        "patient_camera_lost", "patient_rest_summary", "patient_session_done",
        "patient_countdown", "patient_paused", "therapist_machine", "therapist_floor",
        "therapist_safety_stop", "kiosk_welcome_keypad", "kiosk_pin_entry", "kiosk_pin_lockout",
        "education_rest_posture", "education_done_heat_cold_de", "patient_sound_muted",
    }  # fmt: skip
    assert expected <= names
    pygame.init()
    floor = pygame.surfarray.array3d(pygame.image.load(str(tmp_path / "patient_floor_fault.png")))
    assert floor.shape[:2] == (960, 540)
    # The real recording's skeleton is drawn: fault-coloured segments and OK segments.
    assert np.all(floor == style.VERMILLION, axis=2).sum() > 300
    assert np.all(floor == style.BLUISH_GREEN, axis=2).sum() > 300
    stop = pygame.surfarray.array3d(pygame.image.load(str(tmp_path / "patient_safety_stop.png")))
    assert np.all(stop == style.VERMILLION, axis=2).mean() > 0.2


@pytest.mark.skipif(not demo.SQUAT_VIDEO.exists(), reason="squat video not found")
def test_camera_image_from_a_video_when_asked(tmp_path):
    from feedback.patient_view import patient_layout
    from feedback.screenshots import render_all

    size = (960, 540)
    render_all(tmp_path / "plain", size)
    render_all(tmp_path / "video", size, camera_video=demo.SQUAT_VIDEO)
    area = patient_layout(size, machine=True, hold=False).image_area
    pygame.init()

    def bright_share(folder):
        img = pygame.image.load(str(tmp_path / folder / "patient_machine_load.png"))
        px = pygame.surfarray.array3d(img.subsurface(area))
        return float((px.min(axis=2) > 200).mean())

    assert bright_share("video") > 0.4  # the light studio background of the video
    assert bright_share("plain") < 0.05  # the dark landmark canvas
