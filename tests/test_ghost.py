"""The ghost to follow: the reference figure fitted to the patient's proportions, anchored at
their pelvis, a little ahead of them in the rep, facing and bending their way; drawn under
the patient's skeleton, on by default, switched by G and in the therapist view."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from dataclasses import replace

import numpy as np
import pygame
import pytest

from body.landmarks import INDEX
from body.pose import Pose
from exercises.library import get_exercise
from exercises.reference import ASPECT, load_reference
from feedback.app_window import THERAPIST, Screen
from feedback.patient_view import GHOST_ALPHA
from recording.replay import open_replay
from session.engine import SessionConfig, SessionEngine
from session.events import PoseInput
from session.ghost import LEAD_S, _sideways, facing
from session.reference_inputs import reference_inputs
from session.snapshot import Snapshot

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUNDLED = os.path.join(ROOT, "assets", "recordings", "keraal_flank_stretch.screc")
OPEN = SessionConfig(setup_s=0.0, countdown_s=0.0, open_ended=True)
HIPS = [INDEX["left_hip"], INDEX["right_hip"]]
SQ = np.array([ASPECT, 1.0])


def _transform(pose: Pose, scale: float = 1.0, mirror: bool = False) -> Pose:
    """The same movement by a person ``scale`` times the size about the pelvis, or facing
    the other way."""
    image = pose.image.copy()
    hips = image[HIPS, :2].mean(axis=0)
    image[:, :2] = hips + (image[:, :2] - hips) * scale
    if mirror:
        image[:, 0] = 1.0 - image[:, 0]
    return Pose(pose.timestamp, image, pose.world)


def _session(ex_id: str, **kw) -> list[Snapshot]:
    ex = get_exercise(ex_id)
    eng = SessionEngine(ex, None, OPEN, aspect=ASPECT)
    snaps = []
    for inp in reference_inputs(ex, load_reference(ex)):
        if isinstance(inp, PoseInput):
            inp = PoseInput(inp.t, _transform(inp.pose, **kw))
        eng.feed(inp)
        snaps.append(eng.snapshot())
    return snaps


def _length(p: np.ndarray, a: str, b: str) -> float:
    return float(np.hypot(*((p[INDEX[b]] - p[INDEX[a]]) * SQ)))


def test_the_ghost_is_anchored_at_the_pelvis_and_runs_ahead_of_the_patient():
    snaps = [s for s in _session("squat") if s.ghost is not None and s.landmarks is not None]
    assert len(snaps) > 100
    for s in snaps:
        assert np.allclose(s.ghost[HIPS].mean(axis=0), s.landmarks[HIPS].mean(axis=0), atol=1e-5)
    lead = round(LEAD_S * 30)
    ahead = now = 0.0
    for i, s in enumerate(snaps[:-lead]):
        if s.tempo_phase is not None and s.tempo_phase.name == "OUT":
            ahead += np.nanmean(np.hypot(*((s.ghost - snaps[i + lead].landmarks) * SQ).T))
            now += np.nanmean(np.hypot(*((s.ghost - s.landmarks) * SQ).T))
    assert 0 < ahead < now  # on the way down it shows where the patient will be, not is
    # At rest before the rep it shows the start position the patient is in.
    first = snaps[0]
    assert np.nanmean(np.hypot(*((first.ghost - first.landmarks) * SQ).T)) < 0.01


def test_the_ghost_takes_the_patients_own_limb_lengths():
    big = [s for s in _session("squat", scale=1.25) if s.ghost is not None]
    last = big[-1]
    for a, b in (
        ("left_hip", "left_knee"),
        ("left_knee", "left_ankle"),
        ("left_hip", "left_shoulder"),
    ):
        assert _length(last.ghost, a, b) == pytest.approx(_length(last.landmarks, a, b), rel=0.03)


def test_the_ghost_faces_the_way_the_patient_faces():
    for mirror in (False, True):
        s = [s for s in _session("squat", mirror=mirror) if s.ghost is not None][-1]
        assert facing(s.ghost * SQ) == facing(s.landmarks * SQ) != 0


def test_the_ghost_bends_to_the_side_the_patient_bends_on_a_real_recording():
    ex = get_exercise("flank_stretch")
    eng = SessionEngine(ex, None, OPEN, aspect=ASPECT)
    checked = 0
    for pose in open_replay(BUNDLED).poses:
        eng.feed(PoseInput(pose.timestamp, pose))
        s = eng.snapshot()
        if s.ghost is None or s.tempo_phase is None or s.tempo_phase.name != "TOP":
            continue
        them, ghost = _sideways(s.landmarks * SQ), _sideways(s.ghost * SQ)
        assert them * ghost > 0  # both bends of the recording, one mirrored
        checked += 1
    assert checked > 40


def test_no_ghost_without_hips_or_between_sets():
    snaps = _session("squat")
    s = snaps[len(snaps) // 2]
    assert s.ghost is not None
    ex = get_exercise("squat")
    eng = SessionEngine(ex, None, SessionConfig(setup_s=1.0, countdown_s=1.0), aspect=ASPECT)
    pose = next(i for i in reference_inputs(ex, load_reference(ex)) if isinstance(i, PoseInput))
    eng.feed(pose)
    assert eng.snapshot().phase == "setup" and eng.snapshot().ghost is None
    image = pose.pose.image.copy()
    image[HIPS] = np.nan
    eng2 = SessionEngine(ex, None, OPEN, aspect=ASPECT)
    eng2.feed(PoseInput(0.0, Pose(0.0, image, pose.pose.world)))
    assert eng2.snapshot().ghost is None


@pytest.fixture
def screen():
    pygame.init()
    s = Screen((1280, 720), mirror=False)
    yield s
    s.close()
    pygame.quit()


def _render(screen: Screen, snap: Snapshot) -> np.ndarray:
    screen.update(snap)
    surface = pygame.Surface((1280, 720))
    screen.draw(surface)
    return pygame.surfarray.array3d(surface)


def test_the_ghost_is_drawn_by_default_and_switched_by_g_and_the_therapist(screen):
    snap = next(s for s in _session("squat")[120:] if s.ghost is not None)
    plain = _render(screen, replace(snap, ghost=None))
    assert screen.show_ghost
    with_ghost = _render(screen, snap)
    changed = np.any(with_ghost != plain, axis=2)
    assert changed.sum() > 2000
    # Translucent: where it lies on the empty canvas it is a light grey, not solid white.
    canvas = np.array((6, 7, 9))  # the landmark canvas of a recording without images
    grey = with_ghost[changed & np.all(plain == canvas, axis=2)]
    expected = canvas + (255 - canvas) * GHOST_ALPHA / 255
    assert len(grey) > 1000 and np.allclose(np.median(grey, axis=0), expected, atol=3)
    screen.handle_event(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_g, unicode="g", mod=0))
    assert not screen.show_ghost and np.array_equal(_render(screen, snap), plain)
    screen.view = THERAPIST
    button = screen.therapist.layout_for((1280, 720)).ghost_button
    screen.handle_event(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=button.center, button=1))
    assert screen.show_ghost
    screen.view = "patient"
    assert np.array_equal(_render(screen, snap), with_ghost)
    screen.toggle_ghost()
    screen.end_session()  # the next patient: the station's choice stays
    assert not screen.patient.show_ghost
