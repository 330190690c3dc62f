"""The real pose model on real stills and recordings; replay; the recording format."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest

from body.landmarks import INDEX
from body.pose import Pose
from kernels.angles import joint_angles
from recording.format import RecordingWriter, read_recording
from recording.replay import open_replay
from tests.helpers import shared_data
from vision.errors import NotAVideo, RecordingError, SourceNotFound
from vision.estimator import PoseEstimator
from vision.replay import load_keraal
from vision.sources import VideoFileSource, open_frame_source

KNEES = np.array(
    [
        [INDEX["left_hip"], INDEX["left_knee"], INDEX["left_ankle"]],
        [INDEX["right_hip"], INDEX["right_knee"], INDEX["right_ankle"]],
    ]
)
SQUAT_STILLS = (
    "squat_cgi_side_standing.jpg",
    "squat_cgi_side_bottom.jpg",
    "squat_front_standing.jpg",
    "squat_front_bottom.jpg",
    "squat_side_incorrect_bottom.jpg",
    "squat_front_shallow_incorrect.jpg",
)


def _reference() -> dict[str, dict[str, str]]:
    with open(shared_data("stills/stills_index.csv"), newline="") as f:
        return {row["file"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def still_estimator():
    with PoseEstimator(video=False) as est:
        yield est


@pytest.mark.parametrize("name", SQUAT_STILLS)
def test_still_knee_angles_match_reference_within_10_deg(name, still_estimator):
    ref = _reference()[name]
    bgr = cv2.imread(str(shared_data(f"stills/{name}")))
    h, w = bgr.shape[:2]
    pose = still_estimator.estimate(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), 0.0)
    assert pose.detected
    pixels = pose.image[:, :2] * np.array([w, h])
    left, right = joint_angles(pixels, KNEES)
    assert abs(left - float(ref["mp_l_knee_deg"])) <= 10.0
    assert abs(right - float(ref["mp_r_knee_deg"])) <= 10.0


def test_world_landmarks_are_metres_and_image_landmarks_normalised(still_estimator):
    bgr = cv2.imread(str(shared_data("stills/squat_cgi_side_standing.jpg")))
    pose = still_estimator.estimate(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), 1.5)
    assert pose.timestamp == 1.5 and pose.has_world
    # Standing adult: shoulder to ankle between 1.0 and 1.8 m.
    height = abs(pose.world[INDEX["left_ankle"], 1] - pose.world[INDEX["left_shoulder"], 1])
    assert 1.0 < height < 1.8
    assert np.all((pose.image[:, 3] >= 0) & (pose.image[:, 3] <= 1))


def test_no_person_gives_the_explicit_empty_pose(still_estimator):
    blank = np.full((360, 640, 3), 30, dtype=np.uint8)
    pose = still_estimator.estimate(blank, 2.0)
    assert not pose.detected
    assert np.isnan(pose.image).all() and np.isnan(pose.world).all()


def test_pose_rejects_wrong_shapes_with_a_message_naming_them():
    with pytest.raises(ValueError, match=r"expected array of shape \(33, 4\), got \(17, 3\)"):
        Pose(0.0, np.zeros((17, 3), np.float32), np.zeros((33, 3), np.float32))


def test_video_source_reads_every_frame_with_media_time(squat_video):
    src = VideoFileSource(squat_video)
    assert src.fps == pytest.approx(60.0, abs=0.5)
    frames = []
    while (f := src.read()) is not None:
        frames.append((f.index, f.media_time, f.image.shape))
    src.close()
    assert len(frames) == 787
    assert frames[60][1] == pytest.approx(1.0, abs=0.02)
    assert frames[0][2] == (506, 898, 3)


def test_bad_sources_raise_clear_errors(tmp_path):
    with pytest.raises(SourceNotFound, match="not found"):
        open_frame_source(tmp_path / "missing.mp4")
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is a text file, not a video\n")
    with pytest.raises(NotAVideo, match="cannot decode"):
        open_frame_source(fake)


KERAAL = "keraal_lbp/draw_skeleton/dataSampleKeraal/G3-BP-{}-P1T1-Unknown-C-0.json"


@pytest.mark.parametrize("exercise", ["CTK", "ELK", "RTK"])
def test_keraal_replay_reproduces_the_sequence_frame_by_frame(exercise):
    path = shared_data(KERAAL.format(exercise))
    raw = json.loads(path.read_text())["positions"]
    frames = sorted(raw.items(), key=lambda kv: float(kv[0]))
    replay = open_replay(path)
    assert len(replay) == len(frames)
    for i, (_, joints) in enumerate(frames):
        pose = replay.read()
        assert pose.timestamp == pytest.approx(i / 30.0)
        for joint, xyz in joints.items():
            np.testing.assert_allclose(pose.image[INDEX[joint.lower()], :3], xyz, rtol=1e-6)
    assert replay.read() is None


def test_recording_round_trip_and_crash_truncation(tmp_path):
    poses = load_keraal(shared_data(KERAAL.format("ELK")))[:50]
    path = tmp_path / "s.screc"
    with RecordingWriter(path, {"fps": 30.0, "exercise": "x"}) as w:
        for p in poses:
            w.pose(p.timestamp, p)
        w.device(1.0, 7, 12.5, 33.0, 150.0)
        w.event(1.1, {"type": "rep", "index": 1})
    rec = read_recording(path)
    assert not rec.truncated and len(rec.poses) == 50
    np.testing.assert_array_equal(rec.poses[10].image, poses[10].image)
    assert rec.device[0].seq == 7 and rec.device[0].force_n == 150.0
    assert rec.events[0].data == {"type": "rep", "index": 1}
    # A crash mid-write: the file ends inside a record.
    blob = path.read_bytes()
    path.write_bytes(blob[:-7])
    cut = read_recording(path)
    assert cut.truncated and len(cut.poses) == 50 and cut.events == []
    # A flipped byte inside a record loses that record only, never yields a damaged pose, and
    # is counted (tests/test_recording_damage.py tries every kind of damage).
    damaged = bytearray(blob)
    damaged[2000] ^= 0xFF
    path.write_bytes(bytes(damaged))
    bad = read_recording(path)
    assert not bad.truncated and bad.damaged == 1 and len(bad.poses) == 49
    assert len(bad.device) == 1 and len(bad.events) == 1


def test_recording_rejects_foreign_files(tmp_path):
    path = tmp_path / "x.screc"
    path.write_bytes(b"RIFF....")
    with pytest.raises(RecordingError, match="not a SpineCoach recording"):
        read_recording(path)


def test_bundled_recording_equals_its_keraal_source():
    bundled = open_replay("assets/recordings/keraal_flank_stretch.screc")
    source = load_keraal(shared_data(KERAAL.format("ELK")))
    assert len(bundled) == len(source)
    for a, b in zip(bundled.poses, source, strict=True):
        np.testing.assert_array_equal(a.image, b.image)


@pytest.mark.parametrize("header", [b"[]", b'{"format_version": 1, "fps": "fast"}'])
def test_recording_with_a_malformed_header_is_a_clear_error(tmp_path, header):
    import struct

    from recording.format import MAGIC

    path = tmp_path / "bad.screc"
    path.write_bytes(MAGIC + struct.pack("<I", len(header)) + header)
    with pytest.raises(RecordingError, match="header"):
        read_recording(path)
