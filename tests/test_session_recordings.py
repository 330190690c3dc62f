"""The session engine on real recordings: reps, holds and faults against the ground truth."""

from __future__ import annotations

import pytest

from app.inputs import choose_input
from app.loop import Runner, RunOptions, summarize
from exercises.library import get_exercise
from tests.helpers import shared_data

SQUAT = "kaiakol_computervision/data/squat"
KERAAL = "keraal_lbp/draw_skeleton/dataSampleKeraal/G3-BP-{}-P1T1-Unknown-C-0.json"


def analyse(relative: str, exercise: str) -> dict:
    runner = Runner(
        RunOptions(choose_input(str(shared_data(relative))), get_exercise(exercise), headless=True)
    )
    try:
        runner.run_headless()
    finally:
        runner.close()
    return summarize(runner)


def fault_keys(summary: dict) -> set[str]:
    return {f["key"] for f in summary["faults"]}


@pytest.mark.parametrize(
    "clip",
    [
        "correct/squat_correct_001.avi",
        "correct/squat_correct_007.mp4",
        "correct/squat_correct_015.mp4",
    ],
)
def test_correct_squats_count_one_rep_without_faults(clip):
    s = analyse(f"{SQUAT}/{clip}", "squat")
    assert s["rep_count"] == 1
    assert fault_keys(s) == set()


def test_squat_starting_and_ending_mid_movement_is_not_a_rep():
    s = analyse(f"{SQUAT}/correct/squat_correct_018.avi", "squat")
    assert s["rep_count"] == 0
    assert "trunk_lean" not in fault_keys(s) and "squat.depth" not in fault_keys(s)


def test_strong_forward_lean_raises_the_trunk_lean_fault():
    s = analyse(f"{SQUAT}/incorrect/squat_incorrect_003.mp4", "squat")
    faults = [f for f in s["faults"] if f["key"] == "trunk_lean"]
    # Through the warning band on its way: a warning first, the fault once it lasted.
    assert faults and "fault" in {f["level"] for f in faults}
    assert "squat.trunk_lean" in {c["key"] for c in s["cues"]}
    assert s["reps"][0]["faults"] == ["trunk_lean"]


def test_shallow_squat_is_a_partial_rep_with_the_depth_cue():
    s = analyse(f"{SQUAT}/incorrect/squat_incorrect_004.mp4", "squat")
    assert s["rep_count"] == 0 and s["partial_reps"] == 1
    assert "squat.depth" in fault_keys(s)
    assert "squat.depth" in {c["key"] for c in s["cues"]}
    assert "trunk_lean" not in fault_keys(s)


@pytest.mark.parametrize("clip", ["plank_correct_001.mp4", "plank_correct_005.mp4"])
def test_plank_hold_time_matches_the_time_in_plank(clip):
    s = analyse(f"kaiakol_computervision/data/plank/correct/{clip}", "forearm_plank")
    assert s["rep_count"] == 0
    # The body is in plank for the whole clip (frames / 30 fps).
    in_plank_s = s["frames"] / 30.0
    assert abs(s["hold_s"] - in_plank_s) <= 0.5
    assert not [f for f in s["faults"] if f["level"] == "fault"]


def test_push_up_counts_one_rep():
    s = analyse("kaiakol_computervision/data/videos/pushup_correct_001.mp4", "push_up")
    assert s["rep_count"] == 1 and s["partial_reps"] == 0
    assert fault_keys(s) == set()


@pytest.mark.parametrize(
    ("code", "exercise"),
    [("ELK", "flank_stretch"), ("RTK", "standing_trunk_rotation"), ("CTK", "hiding_face")],
)
def test_keraal_correct_executions_give_no_fault_cues(code, exercise):
    s = analyse(KERAAL.format(code), exercise)
    assert s["faults"] == []
    severities = {c["severity"] for c in s["cues"]}
    assert not severities & {"warning", "fault", "safety"}
    assert s["rep_count"] >= 1 and s["partial_reps"] == 0
