"""main.py end to end: the real model on real recordings, bad inputs, one drawn frame."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.helpers import run_main, run_summary, shared_data

# Ground truth: 7 reps with the bottoms near these frames (60 fps).
SQUAT_BOTTOMS = (50, 160, 274, 382, 493, 605, 715)


@pytest.fixture(scope="module")
def squat_run(tmp_path_factory, squat_video):
    """One live run on squat.mp4, stored and recorded: several tests read its results."""
    tmp = tmp_path_factory.mktemp("squat")
    summary = run_summary(
        tmp, "--source", str(squat_video), "--exercise", "squat",
        "--db", str(tmp / "clinic.sqlite"), "--patient", "P-007", "--record", str(tmp / "s.screc"),
    )  # fmt: skip
    return tmp, summary


@pytest.fixture(scope="module")
def squat_summary(squat_run):
    return squat_run[1]


def test_squat_video_counts_seven_reps_through_main(squat_summary):
    s = squat_summary
    assert s["exercise"] == "squat"
    assert s["rep_count"] == 7
    assert s["frames"] == 787 and s["frames_with_pose"] >= 780
    assert s["pose_fps"] > 0
    for rep, bottom in zip(s["reps"], SQUAT_BOTTOMS, strict=True):
        assert rep["start_s"] < bottom / 60.0 < rep["end_s"]
        # The knee swings about 45 deg to 166 deg.
        assert 35.0 < rep["min_angle_deg"] < 65.0
        assert 145.0 < rep["max_angle_deg"] < 180.0
        assert rep["counted"] and rep["faults"] == []


def test_multi_person_backlit_demo_runs_without_nonsense(tmp_path):
    video = shared_data("sports2d_demo/demo.mp4")
    s = run_summary(tmp_path, "--source", str(video), "--exercise", "squat")
    assert 225 <= s["frames"] <= 232  # 7.7 s at 30 fps
    for rep in s["reps"] + s["partials"]:
        for key in ("min_angle_deg", "max_angle_deg"):
            assert math.isnan(rep[key]) or 0.0 <= rep[key] <= 180.0


def _one_line_error(proc, *fragments):
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_missing_file_is_one_clear_line_and_exit_2(tmp_path):
    proc = run_main("--source", str(tmp_path / "nope.mp4"), "--headless")
    _one_line_error(proc, "nope.mp4", "no such file")


def test_text_file_posing_as_video_is_rejected(tmp_path):
    fake = tmp_path / "clip.mp4"
    fake.write_text("not a video at all\n")
    proc = run_main("--source", str(fake), "--headless")
    _one_line_error(proc, "cannot decode", "clip.mp4")


def test_unknown_exercise_lists_the_known_ones(squat_video):
    proc = run_main("--source", str(squat_video), "--exercise", "moonwalk", "--headless")
    _one_line_error(proc, "unknown exercise 'moonwalk'", "squat")


def test_bad_option_value_is_one_line(squat_video):
    proc = run_main("--source", str(squat_video), "--max-frames", "zero", "--headless")
    _one_line_error(proc, "--max-frames")


def test_bundled_recording_runs_without_camera(tmp_path):
    s = run_summary(tmp_path, "--max-frames", "60")
    assert s["source"].endswith("keraal_flank_stretch.screc")
    assert s["frames"] == 60 and s["frames_with_pose"] == 60


def test_window_draws_the_skeleton_of_a_real_pose():
    """One frame of the real loop on the KERAAL replay, drawn on a real pygame surface."""
    import pygame

    from app.inputs import choose_input
    from app.loop import Runner, RunOptions
    from exercises.library import get_exercise
    from feedback.app_window import Screen

    choice = choose_input(str(shared_data("keraal_lbp/draw_skeleton/dataSampleKeraal/"
                                          "G3-BP-ELK-P1T1-Unknown-C-0.json")))  # fmt: skip
    runner = Runner(RunOptions(choice, get_exercise("squat"), headless=True))
    try:
        while runner.stats.poses < 20:
            runner.pump(0.5)
        snap = runner.snapshot()
    finally:
        runner.close()
    pygame.init()
    surface = pygame.Surface((1280, 720))
    screen = Screen((1280, 720), mirror=False)
    screen.update(snap)
    screen.draw(surface)
    area = screen.patient.layout_for((1280, 720)).image_area
    pts = screen.patient.landmark_pixels(snap, area)
    background = surface.get_at((area.x + 2, area.bottom - 3))[:3]
    # Midpoints of the thighs and upper arms: skeleton colour, not the canvas.
    hits = 0
    for a, b in ((23, 25), (24, 26), (11, 13), (12, 14)):
        x, y = (pts[a] + pts[b]) / 2
        if surface.get_at((round(x), round(y)))[:3] != background:
            hits += 1
    assert hits == 4
    assert np.isfinite(snap.landmarks).all()
    screen.close()
    pygame.quit()


def test_summary_json_has_the_documented_fields(squat_summary):
    for key in ("exercise", "frames", "frames_with_pose", "pose_fps", "rep_count", "reps"):
        assert key in squat_summary
    assert {"start_s", "end_s", "min_angle_deg", "max_angle_deg"} <= set(squat_summary["reps"][0])
    json.dumps(squat_summary)


def test_stored_session_holds_the_seven_reps(squat_run):
    from storage import open_store

    tmp, summary = squat_run
    with open_store(tmp / "clinic.sqlite") as store:
        (info,) = store.sessions("P-007")
        record = store.load_session(info.id)
    assert info.status == "finished" and info.exercise_id == "squat"
    assert [r.index for r in record.reps] == [1, 2, 3, 4, 5, 6, 7]
    for stored, live in zip(record.reps, summary["reps"], strict=True):
        assert stored.start_s == pytest.approx(live["start_s"], abs=1e-3)
        assert stored.min_angle_deg == pytest.approx(live["min_angle_deg"], abs=0.05)
    assert {c.key for c in record.cues} == {c["key"] for c in summary["cues"]}
    assert record.traces, "the knee-angle trace is stored"


def test_replay_of_the_recording_is_identical_to_the_live_run(squat_run, tmp_path):
    tmp, live = squat_run
    replay = run_summary(tmp_path, "--source", str(tmp / "s.screc"), "--exercise", "squat")
    for key in ("frames", "frames_with_pose", "rep_count", "reps", "partials", "faults", "cues"):
        assert replay[key] == live[key], key
    assert [t["to"] for t in replay["transitions"]] == [t["to"] for t in live["transitions"]]


@pytest.mark.parametrize("out", ["report.pdf", "report.png", "report.html"])
def test_report_from_the_stored_session(squat_run, out):
    tmp, _ = squat_run
    path = tmp / out
    proc = run_main(
        "report", "--patient", "P-007", "--db", str(tmp / "clinic.sqlite"), "--out", str(path)
    )
    assert proc.returncode == 0, proc.stderr
    data = path.read_bytes()
    assert len(data) > 5000
    if out.endswith(".pdf"):
        assert data.count(b"/Type /Page") - data.count(b"/Type /Pages") >= 2


def test_fhir_export_from_the_stored_session(squat_run):
    tmp, _ = squat_run
    path = tmp / "bundle.json"
    proc = run_main("export", "--patient", "P-007", "--db", str(tmp / "clinic.sqlite"),
                    "--format", "fhir", "--out", str(path))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    bundle = json.loads(path.read_text())
    assert bundle["resourceType"] == "Bundle"
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("Patient") == 1 and kinds.count("Procedure") == 1
    assert kinds.count("Observation") >= 7
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_record_video_writes_every_analysed_frame_with_the_overlay(tmp_path):
    import cv2

    clip = shared_data("kaiakol_computervision/data/squat/incorrect/squat_incorrect_003.mp4")
    out = tmp_path / "overlay.mp4"
    run_summary(tmp_path, "--source", str(clip), "--exercise", "squat", "--record-video", str(out))
    src, dst = cv2.VideoCapture(str(clip)), cv2.VideoCapture(str(out))
    n, changed = 0, 0
    while True:
        ok_a, a = src.read()
        ok_b, b = dst.read()
        if not (ok_a and ok_b):
            assert ok_a == ok_b  # same number of frames
            break
        n += 1
        changed += int(np.abs(a.astype(int) - b.astype(int)).max() > 100)  # skeleton drawn on it
    assert n == 38 and changed >= 30


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--lang", "xx"], "--lang"),
        (["--seconds", "nan"], "--seconds"),
        (["--source", "none", "--exercise", "squat"], "camera exercise"),
        (["--record", "/no/such/folder/x.screc"], "--record"),
        (["--summary-json", "/tmp"], "--summary-json"),
    ],
)
def test_more_bad_options_are_one_line(args, fragment):
    _one_line_error(run_main(*args, "--headless"), fragment)


def test_profile_that_would_switch_off_the_load_limit_is_refused(tmp_path):
    profile = tmp_path / "p.toml"
    profile.write_text('code = "P-9"\n[max_force_n]\nlumbar_extension = inf\n')
    proc = run_main("--exercise", "lumbar_extension", "--profile", str(profile), "--headless")
    _one_line_error(proc, "max_force_n.lumbar_extension")


def test_missing_serial_port_is_one_line():
    proc = run_main("--exercise", "lumbar_extension", "--device", "/dev/ttyNOPE0", "--headless")
    _one_line_error(proc, "no such port /dev/ttyNOPE0")
