"""No verdict without a clear view: the set-up check before a set, the view estimated from the
body, and rules that show "not judged" rather than pass or fail when the camera cannot see."""

from __future__ import annotations

import numpy as np
import pytest

from app.inputs import choose_input
from app.loop import Runner, RunOptions
from body.landmarks import INDEX as I
from body.pose import Pose
from exercises.library import get_exercise
from kernels.frame import VIEW_FRONT, VIEW_SIDE
from session.engine import SessionConfig, SessionEngine
from session.events import PoseInput
from session.phases import Phase
from session.setup_check import SetupProblem, setup_problem
from session.snapshot import RuleStatus
from tests.helpers import shared_data

KERAAL = "keraal_lbp/draw_skeleton/dataSampleKeraal/G3-BP-ELK-P1T1-Unknown-C-0.json"
SQUAT_SIDE = "kaiakol_computervision/data/squat/correct/squat_correct_001.avi"
SQUAT_FRONT = "kaiakol_computervision/data/squat/incorrect/squat_incorrect_004.mp4"


def standing(front: bool, scale: float = 1.0, x0: float = 0.5) -> np.ndarray:
    """A standing figure (33, 4), seen from the front (shoulders apart) or the side."""
    img = np.full((33, 4), np.nan)
    half = 0.08 * scale if front else 0.01 * scale
    pts = {
        "nose": (0.0, 0.12), "left_shoulder": (half, 0.25), "right_shoulder": (-half, 0.25),
        "left_elbow": (half, 0.4), "right_elbow": (-half, 0.4), "left_wrist": (half, 0.52),
        "right_wrist": (-half, 0.52), "left_hip": (half * 0.8, 0.55),
        "right_hip": (-half * 0.8, 0.55), "left_knee": (half * 0.8, 0.72),
        "right_knee": (-half * 0.8, 0.72), "left_ankle": (half * 0.8, 0.9),
        "right_ankle": (-half * 0.8, 0.9),
    }  # fmt: skip
    for name, (dx, y) in pts.items():
        img[I[name]] = (x0 + dx, 0.5 + (y - 0.5) * scale, 0.0, 1.0)
    return img


SQUAT_LANDMARKS = tuple(I[n] for n in ("left_hip", "left_knee", "left_ankle", "left_shoulder"))


def test_setup_asks_for_one_thing_at_a_time():
    front = standing(front=True)
    assert setup_problem(front, SQUAT_LANDMARKS, "front", VIEW_FRONT) is None
    assert setup_problem(front, SQUAT_LANDMARKS, "side", VIEW_FRONT) == SetupProblem.TURN_SIDE
    assert setup_problem(front, SQUAT_LANDMARKS, "front", VIEW_SIDE) == SetupProblem.FACE_CAMERA
    hidden = front.copy()
    hidden[I["left_ankle"], 3] = 0.2
    assert setup_problem(hidden, SQUAT_LANDMARKS, "any", VIEW_FRONT) == SetupProblem.WHOLE_BODY
    cut = standing(front=True, x0=0.95)
    assert setup_problem(cut, SQUAT_LANDMARKS, "any", VIEW_FRONT) == SetupProblem.WHOLE_BODY
    small = standing(front=True, scale=0.25)
    assert setup_problem(small, SQUAT_LANDMARKS, "any", VIEW_FRONT) == SetupProblem.STEP_CLOSER


def _feed(eng: SessionEngine, image: np.ndarray, t0: float, t1: float) -> float:
    t = t0
    while t < t1:
        eng.feed(PoseInput(t, Pose(t, image.astype(np.float32), np.full((33, 3), np.nan))))
        t += 1 / 30
    return t


def test_a_side_view_exercise_waits_for_the_patient_to_turn():
    eng = SessionEngine(get_exercise("squat"), config=SessionConfig(setup_s=0.5, countdown_s=0.5))
    t = _feed(eng, standing(front=True), 0.0, 3.0)
    assert eng.phases.phase == Phase.SETUP  # facing the camera: no countdown
    assert eng.snapshot().cue.key == SetupProblem.TURN_SIDE.value
    _feed(eng, standing(front=False), t, t + 3.0)
    assert eng.phases.phase == Phase.WORKING


def _view_of(relative: str, exercise: str) -> int:
    runner = Runner(RunOptions(choose_input(str(shared_data(relative))), get_exercise(exercise),
                               headless=True))  # fmt: skip
    try:
        runner.run_headless()
    finally:
        runner.close()
    return runner.engine.checks.view


@pytest.mark.parametrize(
    ("relative", "view"),
    [(SQUAT_SIDE, VIEW_SIDE), (SQUAT_FRONT, VIEW_FRONT), (KERAAL, VIEW_FRONT)],
)
def test_the_view_is_read_off_real_recordings(relative, view):
    assert _view_of(relative, "squat") == view


def _feed_world(eng: SessionEngine, image: np.ndarray, t0: float, t1: float) -> None:
    world = np.nan_to_num(image[:, :3]).astype(np.float32)  # depth the pose model would give
    t = t0
    while t < t1:
        eng.feed(PoseInput(t, Pose(t, image.astype(np.float32), world)))
        t += 1 / 30


@pytest.mark.parametrize(("front", "judged"), [(False, False), (True, True)])
def test_a_rule_for_the_front_is_not_judged_from_the_side(front, judged):
    # bird dog's pelvis-roll rule needs depth that only a front view gives
    ex = get_exercise("bird_dog")
    index = [rd.key for rd in ex.rules].index("hips_level")
    eng = SessionEngine(ex, config=SessionConfig(open_ended=True))
    _feed_world(eng, standing(front=front), 0.0, 1.0)
    assert eng.checks.view == (VIEW_FRONT if front else VIEW_SIDE)
    status = RuleStatus(int(eng.checks.status[index]))
    assert (status != RuleStatus.UNKNOWN) == judged


def test_the_bundled_recording_passes_the_set_up_check():
    # A trunk exercise reads four landmarks close together: the size is the whole body's.
    from app.inputs import BUNDLED_RECORDING
    from recording.replay import open_replay

    replay = open_replay(BUNDLED_RECORDING)
    eng = SessionEngine(get_exercise("flank_stretch"), config=SessionConfig())
    for p in replay.poses:
        eng.feed(PoseInput(p.timestamp, p))
    assert eng.phases.phase == Phase.WORKING


def test_an_implausible_joint_angle_is_not_measured():
    # A knee that reads 5 deg is a skeleton that lost the leg, not a deep squat.
    from dataclasses import replace

    ex = get_exercise("squat")
    ex = replace(ex, signal=replace(ex.signal, plausible=(25.0, 185.0)))
    eng = SessionEngine(ex, config=SessionConfig(open_ended=True))
    img = standing(front=False)
    _feed(eng, img, 0.0, 0.5)
    assert eng.signal > 150.0
    folded = img.copy()
    folded[I["left_ankle"], :2] = folded[I["left_hip"], :2] + (0.001, 0.0)  # shin on the thigh
    folded[I["right_ankle"], :2] = folded[I["right_hip"], :2] + (0.001, 0.0)
    _feed(eng, folded, 0.5, 1.0)
    assert np.isnan(eng.signal)
    assert eng.reps == []
