"""One compiled step for the live engine, the replay and the batch re-analysis: the same
recording gives the same reps, holds, rule statuses, faults and cues whichever way it runs."""

from __future__ import annotations

import numpy as np
import pytest

from app.inputs import choose_input
from app.loop import Runner, RunOptions
from body.pose import Pose
from exercises.library import get_exercise
from kernels import frame as fr
from kernels.batch import analyse_session
from session.checks_setup import build_checks
from session.engine import SessionConfig, SessionEngine
from session.events import EndInput, PoseInput
from session.phases import Trigger
from session.reanalysis import reanalyse
from tests.helpers import shared_data
from vision.landmark_tables import load_labelled_csv
from vision.replay import KERAAL_ASPECT, load_keraal

KERAAL = "keraal_lbp/draw_skeleton/dataSampleKeraal/G3-BP-{}-P1T1-Unknown-C-0.json"
TABLES = "exercise_correction_ngoquocbao/core/{}"
PLANK = TABLES.format("plank_model/test.csv")
CASES = {
    "flank_stretch": (KERAAL.format("ELK"), KERAAL_ASPECT),
    "standing_trunk_rotation": (KERAAL.format("RTK"), KERAAL_ASPECT),
    "hiding_face": (KERAAL.format("CTK"), KERAAL_ASPECT),
    # Another team's landmark table with faulty lunges (knee over toe).
    "lunge": (TABLES.format("lunge_model/err.test.csv"), 1.0),
}


def _poses(path: str) -> list[Pose]:
    if path.endswith(".csv"):
        return load_labelled_csv(shared_data(path))[1]
    return load_keraal(shared_data(path))


def _live(exercise: str, poses: list[Pose], aspect: float) -> tuple[SessionEngine, list]:
    """The engine as the live loop drives it: one pose at a time; the statuses it showed."""
    eng = SessionEngine(get_exercise(exercise), config=SessionConfig(open_ended=True))
    eng.set_aspect(aspect)
    shown = []
    for p in poses:
        eng.feed(PoseInput(p.timestamp, p))
        shown.append(eng.checks.status.astype(np.int8))
    eng.feed(EndInput(poses[-1].timestamp))
    return eng, shown


def _batch(exercise: str, poses: list[Pose], aspect: float):
    ex = get_exercise(exercise)
    eng = SessionEngine(ex, config=SessionConfig(open_ended=True))  # the same targets
    checks, _ = build_checks(ex, eng.targets, eng.hold_target_s, aspect)
    t = np.array([p.timestamp for p in poses])
    image = np.stack([p.image for p in poses]).astype(np.float64)
    world = np.stack([p.world for p in poses]).astype(np.float64)
    return analyse_session(checks, t, image, world, close=True)


@pytest.mark.parametrize("exercise", sorted(CASES))
def test_batch_analysis_equals_the_live_engine(exercise):
    path, aspect = CASES[exercise]
    poses = _poses(path)
    eng, shown = _live(exercise, poses, aspect)
    # Open-ended with the person in view throughout: the batch runs every frame as working.
    assert not [tr for tr in eng.phases.log if tr.trigger == Trigger.PERSON_LOST]
    batch = _batch(exercise, poses, aspect)
    assert np.array_equal(batch.status, np.array(shown))
    assert batch.reps == tuple(eng.rep_records) and len(batch.reps) >= 1
    keys = batch.keys
    partial = get_exercise(exercise).signal.partial_cue
    for rep, worst in zip(eng.reps, batch.rep_rule_worst, strict=True):
        assert set(rep.faults) - {partial} == {k for k, w in zip(keys, worst, strict=True) if w}
    # New warnings and faults, frame by frame, as the live fault log has them.
    logged = batch.frame[:, fr.O_N_FAULTS]
    live_rules = [f for f in eng.fault_log if f[1] != partial]
    assert int(logged.sum()) == len(live_rules)
    times = [p.timestamp for p in poses]
    assert np.flatnonzero(logged).tolist() == sorted({times.index(t) for t, _, _ in live_rules})


def test_batch_analysis_times_holds_like_the_live_engine():
    poses = _poses(PLANK)  # 24 clips of planks held well, too high and sagging
    eng, shown = _live("forearm_plank", poses, 1.0)
    batch = _batch("forearm_plank", poses, 1.0)
    assert np.array_equal(batch.status, np.array(shown))
    assert int(batch.frame[:, fr.O_N_FAULTS].sum()) == len(eng.fault_log) > 0
    done = np.flatnonzero(batch.frame[:, fr.O_HOLD_DONE] == 1.0)
    completed = [h for h in eng.holds if h.completed]
    assert [float(batch.frame[i, fr.O_HOLD_END]) for i in done] == [h.end_s for h in completed]


@pytest.mark.parametrize("exercise", ["flank_stretch", "hiding_face"])
def test_the_runner_and_the_reanalysis_give_the_same_session(exercise):
    path, _ = CASES[exercise]
    runner = Runner(RunOptions(choose_input(str(shared_data(path))), get_exercise(exercise),
                               headless=True))  # fmt: skip
    try:
        runner.run_headless()
    finally:
        runner.close()
    live = runner.engine
    poses = load_keraal(shared_data(path))
    again = reanalyse(get_exercise(exercise), [PoseInput(p.timestamp, p) for p in poses],
                      aspect=KERAAL_ASPECT)  # fmt: skip
    assert again.rep_records == live.rep_records and live.rep_records
    assert again.reps == live.reps
    assert again.holds == live.holds
    assert again.fault_log == live.fault_log
    assert [(c.t, c.key) for c in again.cues.log] == [(c.t, c.key) for c in live.cues.log]
