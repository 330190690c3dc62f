"""Every library exercise has a reference movement that, replayed through the real session
engine, passes the exercise's own rules and counts as exactly one rep (or one hold); the
check catches a reference that does not, and the reference files are read strictly."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from body import figure
from body.landmarks import INDEX
from exercises.errors import ExerciseError
from exercises.library import DEFINITIONS, get_exercise, load_library
from exercises.reference import REFERENCES, load_reference, parse_reference, reference_poses
from session.reference_check import reference_problems, replay_reference

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = sorted(load_library())


def test_every_library_exercise_has_a_reference_file():
    missing = [ex_id for ex_id in LIBRARY if not (REFERENCES / f"{ex_id}.toml").is_file()]
    assert missing == []
    strays = sorted(p.stem for p in REFERENCES.glob("*.toml") if p.stem not in LIBRARY)
    assert strays == []


@pytest.mark.parametrize("exercise_id", LIBRARY)
def test_reference_passes_its_own_rules_as_one_rep_or_hold(exercise_id):
    ex = get_exercise(exercise_id)
    res = replay_reference(ex, load_reference(ex))
    if ex.mode == "hold":
        assert (res.holds, res.reps) == (1, 0)
    else:
        assert (res.reps, res.partials) == (1, 0)
        assert res.tempo_ok
    assert res.faults == [] and res.cues == [] and res.safety == []
    assert reference_problems(ex, load_reference(ex)) == []


def _squat_reference(tmp_path: Path, text: str):
    ex = get_exercise("squat")
    src = (REFERENCES / "squat.toml").read_text()
    path = tmp_path / "squat.toml"
    path.write_text(text if text else src)
    return ex, load_reference(ex, path)


def test_a_shallow_reference_is_a_partial_rep(tmp_path):
    src = (REFERENCES / "squat.toml").read_text()
    ex, ref = _squat_reference(tmp_path, src.replace("thigh = 114", "thigh = 150"))
    problems = reference_problems(ex, ref)
    assert any("0 reps and 1 partial" in p for p in problems), problems


def test_a_reference_that_leans_too_far_is_flagged(tmp_path):
    src = (REFERENCES / "squat.toml").read_text()
    ex, ref = _squat_reference(tmp_path, src.replace("trunk = 32", "trunk = 60"))
    problems = reference_problems(ex, ref)
    assert any("trunk_lean" in p for p in problems), problems


def test_a_reference_out_of_the_exercise_tempo_is_flagged(tmp_path):
    src = (REFERENCES / "squat.toml").read_text()
    fast = src.replace("t = 3.8", "t = 1.5").replace("t = 4.1", "t = 1.7")
    fast = fast.replace("t = 6.9", "t = 2.2").replace("t = 7.9", "t = 3.2")
    ex, ref = _squat_reference(tmp_path, fast)
    assert any("tempo" in p for p in reference_problems(ex, ref))


def test_a_hold_reference_shorter_than_the_dose_is_no_hold(tmp_path):
    ex = get_exercise("forearm_plank")
    path = tmp_path / "forearm_plank.toml"
    path.write_text((REFERENCES / "forearm_plank.toml").read_text().replace("21.5", "12.0"))
    problems = reference_problems(ex, load_reference(ex, path))
    assert any("0 completed holds" in p for p in problems), problems


BROKEN = {
    "unknown segment": ('trunk = 32', 'torso = 32', "poses.bottom.torso"),
    "turn the long way": ("shank = 205", "shank = -155", "timeline[2]"),
    "unknown pose": ('pose = "bottom", t = 3.8', 'pose = "deep", t = 3.8', "timeline[2].pose"),
    "time backwards": ("t = 4.1", "t = 3.0", "timeline[3].t"),
    "angle not a number": ("trunk = 32", 'trunk = "32"', "poses.bottom.trunk"),
    "machine angle on the floor": ("trunk = 32", "trunk = 32\nmachine_angle = 5",
                                   "poses.bottom.machine_angle"),
    "another exercise": ('exercise = "squat"', 'exercise = "lunge"', "exercise"),
    "unknown anchor": ('anchor = "left_ankle"', 'anchor = "ankle"', "anchor"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_malformed_reference_names_file_and_key(tmp_path, case):
    old, new, key = BROKEN[case]
    src = (REFERENCES / "squat.toml").read_text()
    assert old in src
    path = tmp_path / "squat.toml"
    path.write_text(src.replace(old, new, 1))
    with pytest.raises(ExerciseError) as info:
        load_reference(get_exercise("squat"), path)
    assert info.value.key == key and str(path) in str(info.value)


def test_poses_whose_bases_go_round_in_a_circle_are_refused():
    data = {
        "exercise": "squat",
        "anchor": "left_ankle",
        "timeline": [{"pose": "a", "t": 0.0}, {"pose": "b", "t": 1.0}],
        "poses": {"a": {"base": "b"}, "b": {"base": "a"}},
    }
    with pytest.raises(ExerciseError, match="circle"):
        parse_reference(data, "x.toml", get_exercise("squat"))


def test_a_missing_reference_is_named(tmp_path):
    with pytest.raises(ExerciseError, match="no such file"):
        load_reference(get_exercise("squat"), tmp_path / "none.toml")


def test_check_exercises_refuses_a_library_reference_that_fails_its_rules(tmp_path):
    lib = tmp_path / "exercises"
    shutil.copytree(DEFINITIONS, lib / "definitions")
    (lib / "references").mkdir()
    src = (REFERENCES / "squat.toml").read_text()
    (lib / "references" / "squat.toml").write_text(src.replace("trunk = 32", "trunk = 60"))
    run = subprocess.run(
        [sys.executable, "main.py", "--check-exercises", str(lib / "definitions" / "squat.toml")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "invalid" in run.stdout and "trunk_lean" in run.stdout


# -- the figure ------------------------------------------------------------------------------


def _angle(p: np.ndarray, a: str, b: str, c: str) -> float:
    u, v = p[INDEX[a]] - p[INDEX[b]], p[INDEX[c]] - p[INDEX[b]]
    return math.degrees(math.acos(np.dot(u, v) / np.linalg.norm(u) / np.linalg.norm(v)))


def test_the_standing_figure_has_standard_proportions():
    p = figure.figure_points(figure.standing_params(), "side")
    h = figure.HEIGHT_M
    assert np.isfinite(p).all()
    thigh = np.linalg.norm(p[INDEX["left_knee"]] - p[INDEX["left_hip"]])
    shank = np.linalg.norm(p[INDEX["left_ankle"]] - p[INDEX["left_knee"]])
    assert thigh == pytest.approx(figure.THIGH * h) and shank == pytest.approx(figure.SHANK * h)
    # Standing: the nose about 1.5 m over the ankles; the left side nearer the camera (z up).
    assert p[INDEX["nose"], 1] - p[INDEX["left_ankle"], 1] == pytest.approx(1.50, abs=0.08)
    assert p[INDEX["left_shoulder"], 2] > p[INDEX["right_shoulder"], 2]
    # Facing the picture's left in the side view: the toes lie left of the heels.
    assert p[INDEX["left_foot_index"], 0] < p[INDEX["left_heel"], 0]


def test_segment_angles_become_joint_angles():
    params = figure.standing_params()
    for seg, angle in (("left_thigh", 115.0), ("left_shank", 205.0), ("trunk", 30.0)):
        params[figure.param_index(seg)] = angle
    p = figure.figure_points(params, "side")
    assert _angle(p, "left_hip", "left_knee", "left_ankle") == pytest.approx(90.0)
    assert _angle(p, "left_shoulder", "left_hip", "left_knee") == pytest.approx(85.0, abs=0.5)


def test_in_the_front_view_the_patients_left_is_on_the_pictures_right():
    p = figure.figure_points(figure.standing_params(), "front")
    assert p[INDEX["left_shoulder"], 0] > p[INDEX["right_shoulder"], 0]
    assert p[INDEX["nose"], 2] > p[INDEX["left_ear"], 2]  # the face toward the camera


def test_reference_poses_are_poses_a_camera_would_give():
    ex = get_exercise("squat")
    poses = reference_poses(load_reference(ex))
    assert len(poses) > 100
    image = np.stack([p.image for p in poses])
    assert np.isfinite(image).all()
    assert (image[:, :, :2] > 0).all() and (image[:, :, :2] < 1).all()  # whole body in view
    world = poses[0].world
    hips = world[[INDEX["left_hip"], INDEX["right_hip"]]].mean(axis=0)
    assert np.allclose(hips, 0.0, atol=1e-6)  # hip-centred, as the pose model gives
    assert world[INDEX["nose"], 1] < 0  # y down
