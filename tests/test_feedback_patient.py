"""Patient view drawn on real pygame surfaces (dummy SDL driver), checked pixel by pixel."""

import itertools
import math
import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from dataclasses import replace

import numpy as np
import pygame
import pytest

from body.landmarks import INDEX, NUM_LANDMARKS, SKELETON
from feedback import style
from feedback.app_window import Screen
from feedback.intents import Pause, Resume
from feedback.patient_view import PatientView, image_rect, patient_layout
from session.snapshot import Cue, RuleStatus, Severity, Snapshot, SourceStatus

SIZES = [(1280, 720), (1920, 1080)]
THIGH = SKELETON.index((23, 25))  # left hip -> left knee
OTHER_THIGH = SKELETON.index((24, 26))


@pytest.fixture(scope="module", autouse=True)
def _pygame():
    pygame.init()
    yield
    pygame.quit()


def standing_landmarks() -> np.ndarray:
    lm = np.full((NUM_LANDMARKS, 2), np.nan)
    pts = {
        "nose": (0.5, 0.15), "left_shoulder": (0.58, 0.28), "right_shoulder": (0.42, 0.28),
        "left_elbow": (0.62, 0.42), "right_elbow": (0.38, 0.42), "left_wrist": (0.63, 0.55),
        "right_wrist": (0.37, 0.55), "left_hip": (0.56, 0.55), "right_hip": (0.44, 0.55),
        "left_knee": (0.58, 0.72), "right_knee": (0.42, 0.72), "left_ankle": (0.58, 0.9),
        "right_ankle": (0.42, 0.9),
    }  # fmt: skip
    for name, xy in pts.items():
        lm[INDEX[name]] = xy
    return lm


def snapshot(**kw) -> Snapshot:
    base = dict(
        t=10.0,
        exercise_id="squat",
        exercise_name="Squat",
        phase="working",
        frame=np.full((360, 640, 3), 90, dtype=np.uint8),
        landmarks=standing_landmarks(),
        segment_status=tuple(RuleStatus.OK for _ in SKELETON),
        rep_count=3,
        reps_target=10,
        range_progress=0.5,
        range_target=1.0,
        camera=SourceStatus("camera", "ok", rate_hz=30.0),
    )
    base.update(kw)
    return Snapshot(**base)


def render(snap: Snapshot, size=(1280, 720), mirror=False) -> tuple[pygame.Surface, PatientView]:
    view = PatientView(mirror=mirror)
    view.update(snap)
    surf = pygame.Surface(size)
    view.draw(surf)
    return surf, view


def rgb(surf: pygame.Surface, x: float, y: float) -> tuple[int, int, int]:
    return tuple(surf.get_at((round(x), round(y))))[:3]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("progress", [0.25, 0.5])
def test_range_gauge_fill_ends_at_the_progress(size, progress):
    surf, view = render(snapshot(range_progress=progress), size)
    bar = view.layout_for(size).range_bar
    # Without a pain-free limit the gauge spans 0 .. 1.25 of the target.
    x_end = bar.x + progress / 1.25 * bar.w
    assert rgb(surf, x_end - 4, bar.centery) == style.SKY_BLUE
    assert rgb(surf, x_end + 4, bar.centery) == style.TRACK


def test_range_in_target_zone_turns_green_and_unknown_stays_empty():
    surf, view = render(snapshot(range_progress=0.95))
    bar = view.layout_for((1280, 720)).range_bar
    assert rgb(surf, bar.x + 10, bar.centery) == style.BLUISH_GREEN
    surf, _ = render(snapshot(range_progress=math.nan))
    assert rgb(surf, bar.x + 10, bar.centery) == style.TRACK


def test_pain_free_limit_marked_and_exceeding_it_turns_vermillion():
    surf, view = render(snapshot(range_progress=1.3, pain_free_limit=1.2))
    bar = view.layout_for((1280, 720)).range_bar
    scale = 1.2 * 1.08  # the gauge leaves 8 % of room past the limit
    x_limit = bar.x + 1.2 / scale * bar.w
    assert rgb(surf, x_limit, bar.bottom + 4) == style.VERMILLION  # limit line beyond the bar
    assert rgb(surf, bar.x + 10, bar.centery) == style.VERMILLION


def test_load_bar_shows_live_force_against_band():
    snap = snapshot(
        machine=SourceStatus("machine", "simulated", rate_hz=500.0),
        force_n=100.0,
        load_band_n=(120.0, 200.0),
        load_limit_n=250.0,
    )
    surf, view = render(snap)
    lay = view.layout_for((1280, 720))
    assert lay.load_bar is not None
    bar = lay.load_bar
    scale = max(200 * 1.3, 250 * 1.1)
    x_end = bar.x + 100 / scale * bar.w
    assert rgb(surf, x_end - 4, bar.centery) == style.SKY_BLUE  # under the band
    assert rgb(surf, x_end + 4, bar.centery) == style.TRACK
    surf, _ = render(replace(snap, force_n=150.0))
    assert rgb(surf, bar.x + 10, bar.centery) == style.BLUISH_GREEN  # in the band


def _text_pixels(surf: pygame.Surface, rect: pygame.Rect) -> int:
    px = pygame.surfarray.array3d(surf.subsurface(rect))
    return int((px.min(axis=2) > 220).sum())  # near-white type on the dark panel


def test_cue_text_area_has_type_only_when_there_is_a_cue():
    lay = patient_layout((1280, 720), machine=False)
    text_area = lay.cue_box.inflate(-lay.cue_box.h * 1.4, -8)
    text_area.right = lay.cue_box.right - 8
    cue = Cue("squat.knees", "Push your knees out", Severity.WARNING, 9.0)
    with_cue, _ = render(snapshot(cue=cue))
    without, _ = render(snapshot(cue=None))
    assert _text_pixels(with_cue, text_area) > 500
    assert _text_pixels(without, text_area) == 0


@pytest.mark.parametrize("mirror", [False, True])
def test_faulted_segment_drawn_in_fault_colour_at_its_midpoint(mirror):
    status = [RuleStatus.OK] * len(SKELETON)
    status[THIGH] = RuleStatus.FAULT
    snap = snapshot(segment_status=tuple(status))
    surf, view = render(snap, mirror=mirror)
    r = image_rect(view.layout_for((1280, 720)).image_area, (640, 360))
    lm = standing_landmarks()

    def mid(a, b):
        x = (lm[a, 0] + lm[b, 0]) / 2
        x = 1 - x if mirror else x
        return r.x + x * r.w, r.y + (lm[a, 1] + lm[b, 1]) / 2 * r.h

    assert rgb(surf, *mid(23, 25)) == style.VERMILLION
    assert rgb(surf, *mid(24, 26)) == style.BLUISH_GREEN


def test_safety_stop_banner_is_vermillion_full_width():
    lay = patient_layout((1280, 720), machine=False)
    b = lay.safety_banner
    assert b.width == 1280
    cue = Cue("stop", "Force over your limit", Severity.SAFETY, 9.0)
    surf, _ = render(snapshot(safety_stop=True, phase="stopped", cue=cue))
    for x in (1280 * 0.03, 1280 * 0.5, 1280 * 0.97):
        assert rgb(surf, x, b.y + b.h * 0.3) in (style.VERMILLION, style.WHITE)
    assert rgb(surf, 1280 * 0.97, b.centery) == style.VERMILLION
    assert rgb(surf, 3, 360) == style.VERMILLION  # frame around the whole screen
    plain, _ = render(snapshot())
    assert rgb(plain, 1280 * 0.97, b.centery) != style.VERMILLION


@pytest.mark.parametrize(
    "camera, machine",
    [
        (SourceStatus("camera", "lost", message="no frame for 2.0 s"), None),
        (SourceStatus("camera", "ok"), SourceStatus("machine", "reconnecting", errors=3)),
    ],
)
def test_unhealthy_source_gives_a_banner_not_an_exception(camera, machine):
    snap = snapshot(camera=camera, machine=machine, frame=None, landmarks=None)
    surf, view = render(snap)
    banner = view.layout_for((1280, 720)).status_banner
    assert rgb(surf, banner.right - 6, banner.centery) == style.YELLOW
    healthy, _ = render(snapshot())
    assert rgb(healthy, banner.right - 6, banner.centery) != style.YELLOW


def test_all_missing_values_draw_without_error():
    snap = Snapshot(t=0.0, exercise_id="x", exercise_name="X", phase="setup")
    surf, view = render(snap)
    bar = view.layout_for((1280, 720)).range_bar
    assert rgb(surf, bar.x + 10, bar.centery) == style.TRACK


def test_landmark_only_replay_draws_skeleton_on_dark_canvas():
    status = tuple(RuleStatus.FAULT for _ in SKELETON)
    surf, view = render(snapshot(frame=None, segment_status=status))
    area = view.layout_for((1280, 720)).image_area
    px = pygame.surfarray.array3d(surf.subsurface(area))
    fault_px = np.all(px == style.VERMILLION, axis=2).sum()
    assert fault_px > 500


@pytest.mark.parametrize("size", SIZES)
def test_layout_fits_the_window_and_scales(size):
    lay = patient_layout(size, machine=True)
    win = pygame.Rect((0, 0), size)
    boxes = [lay.reps_box, lay.range_box, lay.load_box, lay.tempo_box, lay.hold_box]
    for r in [*boxes, lay.image_area, lay.cue_box, lay.pause_button]:
        assert win.contains(r)
    for a, b in itertools.pairwise(boxes):
        assert a.bottom <= b.top
    assert lay.cue_box.h == round(size[1] * 0.15)


def test_pause_button_click_gives_pause_then_resume():
    screen = Screen((1280, 720), mirror=False)
    screen.update(snapshot())
    screen.draw(pygame.Surface((1280, 720)))
    centre = screen.patient.layout_for((1280, 720)).pause_button.center
    click = pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=centre, button=1)
    assert screen.handle_event(click) == [Pause()]
    screen.update(snapshot(phase="paused"))
    assert screen.handle_event(click) == [Resume()]
    elsewhere = pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(5, 700), button=1)
    assert screen.handle_event(elsewhere) == []
    screen.update(snapshot(phase="done"))
    assert screen.handle_event(click) == []


def test_no_hold_box_without_a_hold_target():
    with_hold = patient_layout((1280, 720), machine=False, hold=True)
    without = patient_layout((1280, 720), machine=False, hold=False)
    assert without.hold_box is None and without.hold_bar is None
    assert without.tempo_box.bottom == with_hold.hold_box.bottom  # the column stays filled
    surf, view = render(snapshot(hold_target_s=0.0))
    assert view.layout_for((1280, 720)).hold_box is None
    surf, view = render(snapshot(hold_target_s=5.0, hold_s=2.5))
    bar = view.layout_for((1280, 720)).hold_bar
    assert rgb(surf, bar.x + bar.w * 0.45, bar.centery) == style.SKY_BLUE
    assert rgb(surf, bar.x + bar.w * 0.55, bar.centery) == style.TRACK


def test_range_value_gets_a_shape_beside_its_colour():
    def title_row(progress):
        surf, view = render(snapshot(range_progress=progress, pain_free_limit=1.2))
        box = view.layout_for((1280, 720)).range_box
        row = pygame.Rect(box.centerx, box.y, box.w // 2, round(box.h * 0.4))
        return pygame.surfarray.array3d(surf.subsurface(row))

    def count(px, colour):
        return int(np.all(px == colour, axis=2).sum())

    below, in_zone, past = title_row(0.5), title_row(0.95), title_row(1.3)
    assert count(in_zone, style.BLUISH_GREEN) > count(below, style.BLUISH_GREEN) + 100
    # Past the limit: a vermillion square (with a white cross) joins the vermillion number.
    white_in_past = count(past, style.WHITE)
    assert count(past, style.VERMILLION) > 150 and white_in_past > 10
    assert count(below, style.WHITE) == 0
