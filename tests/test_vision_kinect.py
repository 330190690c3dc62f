"""Kinect skeletons (KIMORE CSV, UI-PRMD positions and angles) replayed as poses."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pytest

from body.landmarks import INDEX, NUM_LANDMARKS
from recording.replay import is_replay_path, open_replay
from tests.helpers import run_main, shared_data
from vision.errors import RecordingError, SourceNotFound
from vision.kinect import (
    UIPRMD_JOINTS,
    UIPRMD_PARENTS,
    Skeleton,
    bone_lengths,
    concatenate,
    load_kimore,
    load_uiprmd,
    load_uiprmd_joints,
)
from vision.virtual_camera import place_camera, project, skeleton_poses

KIMORE = "kimore_leowei31/JointPositionExercise{}.csv"
UIPRMD = "ui_prmd/data/{}/Kinect/Positions/m{:02d}_s{:02d}_e{:02d}_positions{}.txt.gz"


def uiprmd(movement: int, subject: int, rep: int, correct: bool = True):
    folder = "Segmented Movements" if correct else "Incorrect Segmented Movements"
    return shared_data(UIPRMD.format(folder, movement, subject, rep, "" if correct else "_inc"))


def image_angle(poses, a: str, b: str, c: str, aspect: float) -> np.ndarray:
    """Angle at ``b`` in the picture (deg) per frame, x scaled to square pixels."""
    p = np.array([pose.image[:, :2] for pose in poses], dtype=np.float64)
    p[..., 0] *= aspect
    u = p[:, INDEX[a]] - p[:, INDEX[b]]
    v = p[:, INDEX[c]] - p[:, INDEX[b]]
    cos = (u * v).sum(1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


# -- KIMORE ----------------------------------------------------------------------------------


def test_kimore_rows_become_frames_and_blank_rows_no_person():
    path = shared_data(KIMORE.format(1))
    sk = load_kimore(path)
    lines = path.read_text().splitlines()
    assert len(sk) == len(lines) == 529
    blank = np.array([not line.strip() for line in lines])
    assert blank.sum() == 24
    np.testing.assert_array_equal(sk.present, ~blank)
    assert np.isnan(sk.xyz[blank]).all()
    poses, aspect = skeleton_poses(sk, "front")
    assert aspect == pytest.approx(16 / 9)
    assert [p.detected for p in poses] == list(~blank)
    # Landmarks without a Kinect joint stay NaN and unseen; the mapped ones are there.
    seen = poses[np.flatnonzero(~blank)[0]]
    for name in ("left_ear", "right_eye", "left_heel", "right_pinky", "mouth_left"):
        assert np.isnan(seen.image[INDEX[name], :2]).all() and seen.visibility[INDEX[name]] == 0
    for name in ("nose", "left_shoulder", "right_knee", "left_foot_index"):
        assert np.isfinite(seen.image[INDEX[name]]).all() and seen.visibility[INDEX[name]] > 0


def test_kimore_bone_lengths_are_those_of_an_adult_and_steady():
    sk = load_kimore(shared_data(KIMORE.format("5_subject2")))
    for a, b, low, high in (
        ("left_hip", "left_knee", 0.30, 0.50),
        ("left_knee", "left_ankle", 0.30, 0.50),
        ("right_shoulder", "right_elbow", 0.18, 0.35),
        ("left_shoulder", "right_shoulder", 0.25, 0.45),
    ):
        lengths = bone_lengths(sk, a, b)
        lengths = lengths[np.isfinite(lengths)]
        assert low < np.median(lengths) < high, (a, b, np.median(lengths))
        assert np.std(lengths) < 0.03  # a skeleton, not a cloud of points


def test_kimore_person_faces_the_sensor_and_stands_upright():
    sk = load_kimore(shared_data(KIMORE.format(1)))
    f = np.flatnonzero(sk.present)[0]
    x = sk.xyz[f, :, 0]
    y = sk.xyz[f, :, 1]
    # Facing the sensor, the person's left side is on the right of its picture; y is down.
    assert x[INDEX["left_shoulder"]] > x[INDEX["right_shoulder"]]
    assert y[INDEX["nose"]] < y[INDEX["left_hip"]] < y[INDEX["left_knee"]] < y[INDEX["left_ankle"]]


def test_kimore_squat_seen_from_the_side_bends_and_straightens_the_knee():
    sk = load_kimore(shared_data(KIMORE.format("5_subject2")))
    poses, aspect = skeleton_poses(sk, "side")
    knee = image_angle(poses, "left_hip", "left_knee", "left_ankle", aspect)
    knee = knee[np.isfinite(knee)]
    assert np.percentile(knee, 95) > 165  # standing
    assert np.percentile(knee, 5) < 75  # at the bottom of the squat


def test_kimore_malformed_rows_are_one_clear_error(tmp_path):
    short = tmp_path / "short.csv"
    short.write_text("1,2,3,2,\n")
    with pytest.raises(RecordingError, match=r"row 1: expected 100 values .* found 4"):
        load_kimore(short)
    state = tmp_path / "state.csv"
    state.write_text(",".join(["0.1", "0.2", "2.5", "7"] * 25) + ",\n")
    with pytest.raises(RecordingError, match="tracking state must be 0, 1 or 2"):
        load_kimore(state)
    empty = tmp_path / "empty.csv"
    empty.write_text("\n\n")
    with pytest.raises(RecordingError, match="no skeleton rows"):
        load_kimore(empty)


def test_kimore_untracked_joint_is_missing_and_inferred_is_weak(tmp_path):
    row = [["0.0", "0.0", "2.5", "2"] for _ in range(25)]
    row[6] = ["0.1", "0.1", "2.5", "0"]  # WristLeft not tracked
    row[13] = ["0.1", "-0.5", "2.5", "1"]  # KneeLeft inferred
    path = tmp_path / "one.csv"
    path.write_text(",".join(v for joint in row for v in joint) + ",\n")
    sk = load_kimore(path)
    assert np.isnan(sk.xyz[0, INDEX["left_wrist"]]).all()
    assert sk.visibility[0, INDEX["left_wrist"]] == 0.0
    assert sk.visibility[0, INDEX["left_knee"]] == 0.5
    assert sk.visibility[0, INDEX["left_hip"]] == 1.0


# -- UI-PRMD ---------------------------------------------------------------------------------


def raw_table(path) -> np.ndarray:
    with gzip.open(path, "rt") as fh:
        return np.loadtxt(fh, delimiter=",").reshape(-1, 22, 3)


def test_uiprmd_forward_kinematics_keeps_every_bone_length_of_the_file():
    path = uiprmd(1, 1, 1)
    joints = load_uiprmd_joints(path)
    offsets = raw_table(path)
    assert joints.shape == offsets.shape == (73, 22, 3)
    np.testing.assert_allclose(joints[:, 0], offsets[:, 0])  # the waist is stored absolute
    for j in range(1, len(UIPRMD_JOINTS)):
        bone = np.linalg.norm(joints[:, j] - joints[:, UIPRMD_PARENTS[j]], axis=1)
        np.testing.assert_allclose(bone, np.linalg.norm(offsets[:, j], axis=1), atol=1e-6)


@pytest.mark.parametrize(("movement", "subject"), [(1, 1), (1, 3), (5, 1), (5, 2)])
def test_uiprmd_feet_stay_on_the_floor_in_squats_and_sit_to_stand(movement, subject):
    """The rotation order is right only if planted feet stay put: with the dataset's Euler
    order (y, then x, then z) the ankles move a few centimetres over a deep squat; a wrong
    order swings them by tens of centimetres."""
    joints = load_uiprmd_joints(uiprmd(movement, subject, 2))
    for name in ("LeftFoot", "RightFoot"):
        height = joints[:, UIPRMD_JOINTS.index(name), 1]
        assert np.std(height) < 5.0  # cm
    # Head above waist above ankles throughout (y up in the dataset's frame).
    head = joints[:, UIPRMD_JOINTS.index("Head"), 1]
    waist = joints[:, 0, 1]
    ankle = joints[:, UIPRMD_JOINTS.index("LeftFoot"), 1]
    assert (head > waist).all() and (waist > ankle).all()


def test_uiprmd_skeleton_in_metres_facing_the_sensor():
    sk = load_uiprmd(uiprmd(1, 1, 1))
    f = 0
    height = sk.xyz[f, INDEX["left_ankle"], 1] - sk.xyz[f, INDEX["nose"], 1]
    assert 1.1 < height < 1.8  # ankle to head centre of an adult standing, metres
    assert sk.xyz[f, INDEX["left_hip"], 0] > sk.xyz[f, INDEX["right_hip"], 0]
    assert 1.5 < sk.xyz[f, INDEX["left_hip"], 2] < 4.0  # metres in front of the sensor
    for a, b, low, high in (
        ("left_hip", "left_knee", 0.3, 0.5),
        ("left_knee", "left_ankle", 0.3, 0.5),
    ):
        assert low < np.median(bone_lengths(sk, a, b)) < high


def test_uiprmd_deep_squat_knee_range_seen_from_the_side():
    reps = [load_uiprmd(uiprmd(1, 1, e)) for e in (1, 2, 3)]
    poses, aspect = skeleton_poses(concatenate(reps, "three squats"), "side")
    assert len(poses) == sum(len(r) for r in reps)
    knee = image_angle(poses, "left_hip", "left_knee", "left_ankle", aspect)
    assert np.nanmax(knee) > 165 and np.nanmin(knee) < 70
    # Timestamps run on across the joins.
    t = np.array([p.timestamp for p in poses])
    assert np.all(np.diff(t) > 0)


def test_uiprmd_needs_its_angles_file(tmp_path):
    lone = tmp_path / "m01_s01_e01_positions.txt"
    lone.write_text(",".join(["0"] * 66) + "\n")
    with pytest.raises(SourceNotFound, match="angles file"):
        load_uiprmd(lone)
    (tmp_path / "m01_s01_e01_angles.txt").write_text(",".join(["0"] * 65) + "\n")
    with pytest.raises(RecordingError, match="rows of 66 values"):
        load_uiprmd(lone)


# -- the virtual camera ----------------------------------------------------------------------


def straight_skeleton() -> Skeleton:
    """A person 3 m in front of the sensor, facing it: hips 0.3 m apart at 1 m height."""
    xyz = np.full((1, NUM_LANDMARKS, 3), np.nan)
    for name, pos in {
        "left_hip": (0.15, -1.0, 3.0),
        "right_hip": (-0.15, -1.0, 3.0),
        "left_shoulder": (0.2, -1.5, 3.0),
        "right_shoulder": (-0.2, -1.5, 3.0),
        "left_ankle": (0.15, 0.0, 3.0),
        "nose": (0.0, -1.7, 2.9),
    }.items():
        xyz[0, INDEX[name]] = pos
    vis = np.where(np.isfinite(xyz[..., 0]), 1.0, 0.0)
    return Skeleton(xyz, vis, np.ones(1, dtype=bool), 30.0, "synthetic")


def test_front_camera_sees_the_documented_pinhole_picture():
    sk = straight_skeleton()
    cam = place_camera(sk, "front", distance_m=3.5)
    # Centre: mid-hip horizontally, halfway between nose (1.7 m) and ankles (0 m) in height.
    np.testing.assert_allclose(cam.position, [0.0, -0.85, 3.0 - 3.5])
    (pose,) = project(sk, cam)
    f = 640 / math.tan(math.radians(30))
    u = f * 0.15 / 3.5 + 640
    v = f * (-1.0 + 0.85) / 3.5 + 360
    np.testing.assert_allclose(pose.image[INDEX["left_hip"], :2], [u / 1280, v / 720], atol=1e-6)
    # The person's left appears on the right of the picture; the world is hip-centred.
    assert pose.image[INDEX["left_shoulder"], 0] > pose.image[INDEX["right_shoulder"], 0]
    np.testing.assert_allclose(pose.world[INDEX["left_hip"]], [0.15, 0.0, 0.0], atol=1e-6)
    assert pose.image[INDEX["nose"], 2] < 0  # nearer the camera than the hips


def test_side_camera_stands_at_the_persons_left():
    sk = straight_skeleton()
    (pose,) = project(sk, place_camera(sk, "side"))
    # Seen from the left, the left hip is nearer (smaller depth) and both hips overlap.
    assert pose.world[INDEX["left_hip"], 2] < pose.world[INDEX["right_hip"], 2]
    assert pose.image[INDEX["left_hip"], 0] == pytest.approx(pose.image[INDEX["right_hip"], 0])
    # The nose (forward of the body) appears on the left of the picture from this side.
    assert pose.image[INDEX["nose"], 0] < pose.image[INDEX["left_hip"], 0]
    with pytest.raises(ValueError, match="view: expected one of front, side"):
        place_camera(sk, "top")


def test_world_landmarks_measure_a_trunk_rotation():
    """The rotation rule needs world landmarks: a Kinect source has them."""
    sk = load_kimore(shared_data(KIMORE.format(3)))
    poses, _ = skeleton_poses(sk, "front")
    assert all(p.has_world for p in poses if p.detected)
    yaw = []
    for p in poses:
        if not p.detected:
            continue
        d = p.world[INDEX["left_shoulder"]] - p.world[INDEX["right_shoulder"]]
        yaw.append(math.degrees(math.atan2(d[2], d[0])))
    assert max(yaw) > 40 and min(yaw) < -40  # turns of 40-60 deg to both sides


# -- as a source -----------------------------------------------------------------------------


def test_open_replay_places_the_camera_for_the_view():
    path = shared_data(KIMORE.format(5))
    assert is_replay_path(str(path)) and is_replay_path(str(uiprmd(1, 1, 1)))
    front = open_replay(path)
    side = open_replay(path, view="side")
    assert front.header == {"aspect": pytest.approx(16 / 9), "view": "front"}
    assert side.header["view"] == "side"
    assert len(front) == len(side) == 536 and front.fps == 30.0


def test_main_counts_a_kimore_squat_and_refuses_a_bad_view(tmp_path):
    path = shared_data(KIMORE.format("5_subject2"))
    out = tmp_path / "s.json"
    proc = run_main("--source", str(path), "--exercise", "squat", "--headless",
                    "--summary-json", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "squat: 4 reps" in proc.stdout  # counted by hand on the pelvis height trace
    bad = run_main("--source", str(path), "--view", "above", "--headless")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "main.py: error: argument --view: invalid choice: 'above' (choose from 'front', 'side')"
    ]
