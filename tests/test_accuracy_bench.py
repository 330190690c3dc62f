"""The accuracy bench: its metric functions, its labels file, and a run on quick cases
(landmark files and Kinect skeletons, no pose model)."""

from __future__ import annotations

import json
import math

import pytest

from bench import accuracy, mocap
from bench.accuracy_cases import Case, LabelError, load_labels
from bench.accuracy_metrics import (
    count_error,
    counted_reps,
    goals_met,
    hold_error,
    score,
    summarize_rows,
)
from bench.accuracy_run import Outcome, form_flags
from exercises.library import get_exercise
from tests.helpers import TESTDATA, run_summary, shared_data


def case(**kw) -> Case:
    base = dict(id="t/x", source="replay", paths=("x",), exercise="squat", truth="t", tuned=False)
    return Case(**{**base, **kw})


def outcome(**kw) -> Outcome:
    return Outcome(**{"case_id": "t/x", "ran": True, **kw})


# -- metric functions --------------------------------------------------------------------------


def test_counted_reps_take_partials_only_on_incorrect_material():
    o = outcome(rep_count=2, partial_reps=1)
    assert counted_reps(case(reps=3, form="correct"), o) == 2
    assert counted_reps(case(reps=3), o) == 2
    assert counted_reps(case(reps=3, form="incorrect"), o) == 3
    assert counted_reps(case(reps=3), Outcome("t/x", False, "no such file")) == 0


def test_count_and_hold_errors_are_absolute_and_absent_without_a_label():
    assert count_error(case(reps=7), outcome(rep_count=5)) == 2
    assert count_error(case(reps=1), outcome(rep_count=3)) == 2
    assert count_error(case(reps=4), outcome(rep_count=4)) == 0
    assert count_error(case(), outcome(rep_count=4)) is None
    assert hold_error(case(hold_s=5.8), outcome(hold_s=5.0)) == pytest.approx(0.8)
    assert hold_error(case(hold_s=2.6), outcome(hold_s=3.1)) == pytest.approx(0.5)
    assert hold_error(case(hold_s=2.6), Outcome("t/x", False, "broken")) == pytest.approx(2.6)
    assert hold_error(case(), outcome(hold_s=3.0)) is None


def test_summary_rates_over_labelled_cases_only():
    rows = [
        score(case(id="a", reps=1, form="correct"), outcome(rep_count=1)),
        score(case(id="b", reps=1, form="correct"), outcome(rep_count=1, flags=["trunk"])),
        score(
            case(id="c", reps=1, form="incorrect"),
            outcome(rep_count=0, partial_reps=1, flags=["squat.depth"]),
        ),
        score(case(id="d", reps=1, form="incorrect"), outcome(rep_count=1)),
        score(case(id="e", reps=3), outcome(rep_count=1)),
        score(case(id="f", hold_s=6.0, reps=0), outcome(hold_s=5.0)),
        score(case(id="g", reps=2, form="incorrect"), Outcome("g", False, "no exercise")),
    ]
    s = summarize_rows(rows)
    assert (s.cases, s.misses, s.count_cases) == (7, 1, 7)
    # Exact: a, b, c (partial counts on incorrect material), d, f; e off by 2, g off by 2.
    assert s.exact == 5 and s.exact_rate == pytest.approx(5 / 7)
    assert s.count_mae == pytest.approx(4 / 7)
    assert (s.hold_cases, s.hold_error_s) == (1, pytest.approx(1.0))
    assert (s.incorrect, s.incorrect_flagged) == (3, 1)  # the miss is not flagged
    assert (s.correct, s.correct_flagged) == (2, 1)
    assert s.sensitivity == pytest.approx(1 / 3) and s.false_alarms == pytest.approx(0.5)
    met = goals_met(s)
    assert met == {"exact_rate": False, "count_mae": False, "sensitivity": False,
                   "false_alarms": False, "hold_error_s": False}  # fmt: skip
    empty = summarize_rows([score(case(), outcome())])
    assert math.isnan(empty.exact_rate) and math.isnan(empty.sensitivity)
    assert goals_met(empty)["exact_rate"] is None


def test_form_flags_leave_out_position_and_visibility_rules():
    plank = get_exercise("forearm_plank")
    summary = {"faults": [{"key": "body_horizontal"}, {"key": "hips_sag"}]}
    assert form_flags(summary, plank) == ["hips_sag"]
    flank = get_exercise("flank_stretch")
    summary = {"faults": [{"key": "visible"}, {"key": "generic.more_range"}]}
    assert form_flags(summary, flank) == ["generic.more_range"]


# -- the labels file ---------------------------------------------------------------------------


def test_labels_file_expands_the_dataset_labels():
    shared_data("ui_prmd")
    labels = load_labels(accuracy.LABELS, TESTDATA)
    by_id = {c.id: c for c in labels.cases}
    assert len(by_id) == len(labels.cases)
    squats = [c for c in labels.cases if c.id.startswith("uiprmd/m01_")]
    assert sum(c.form == "correct" for c in squats) == 50
    assert sum(c.form == "incorrect" for c in squats) == 50
    sets = [c for c in labels.cases if c.source == "uiprmd_set"]
    assert len(sets) == 13 and all(c.reps == len(c.paths) == 10 for c in sets)
    assert by_id["video/squat_wissem"].reps == 7
    assert by_id["video/floor_side_plank"].hold_s == 5.8
    runs = [c for c in labels.cases if c.id.startswith("ngoquocbao/plank_")]
    assert len(runs) == 25 and {c.form for c in runs} == {"correct", "incorrect"}
    assert all(c.truth for c in labels.cases)
    assert any(path.endswith("bicep_curls.mp4") for path, _ in labels.excluded)


def test_every_split_dataset_has_a_training_and_a_held_out_part():
    shared_data("ui_prmd")
    labels = load_labels(accuracy.LABELS, TESTDATA)
    by_id = {c.id: c for c in labels.cases}
    assert {sp.dataset for sp in labels.splits} >= {"uiprmd", "ngoquocbao", "kaiakol_npy"}
    for sp in labels.splits:
        parts = {c.part for c in labels.cases if c.dataset == sp.dataset}
        assert parts == {"train", "test"}, sp.dataset
    # UI-PRMD by subject: s01 trains, every other subject is held out.
    assert by_id["uiprmd/m01_s01_e03_inc"].part == "train"
    assert not by_id["uiprmd/m01_s01_e03_inc"].held_out
    assert by_id["uiprmd/m01_s04_e03_inc"].part == "test" and by_id["uiprmd/m01_s04_e03"].held_out
    # Cases outside any split keep their own tuned flag.
    assert (
        by_id["video/squat_incorrect_002"].part == ""
        and by_id["video/squat_incorrect_002"].held_out
    )
    assert not by_id["video/squat_wissem"].held_out


def test_cases_seen_before_a_threshold_was_settled_are_not_held_out(tmp_path):
    shared_data("ui_prmd")
    labels = load_labels(accuracy.LABELS, TESTDATA)
    by_id = {c.id: c for c in labels.cases}
    raise_ = by_id["uiprmd/m06_s02_e04"]
    assert raise_.part == "test" and raise_.tuned and not raise_.held_out
    assert "trunk_upright" in raise_.tuned_note
    bad = tmp_path / "labels.toml"
    bad.write_text('[[tuned]]\ncases = ["nowhere/*"]\nnote = "n"\n')
    with pytest.raises(LabelError, match=r"tuned\[0\]: no case matches"):
        load_labels(bad, tmp_path)


def test_landmark_tables_carry_their_frame_shape_and_each_run_its_working_side():
    shared_data("exercise_correction_ngoquocbao")
    labels = load_labels(accuracy.LABELS, TESTDATA)
    runs = [c for c in labels.cases if c.id.startswith("ngoquocbao/lunge_")]
    assert runs and all(c.aspect == pytest.approx(16 / 9, abs=0.01) for c in runs)
    assert {c.side for c in runs} == {"left", "right"}


def test_split_and_run_tables_are_checked(tmp_path):
    bad = tmp_path / "labels.toml"
    bad.write_text('[[split]]\ndataset = "x"\ntrain = []\nnote = "n"\n')
    with pytest.raises(LabelError, match=r"split\[0\]: train must be"):
        load_labels(bad, tmp_path)
    bad.write_text('[[split]]\ndataset = "x"\ntrain = ["x/*"]\n')
    with pytest.raises(LabelError, match="note must say"):
        load_labels(bad, tmp_path)
    bad.write_text('[[case]]\nid = "x"\nsource = "npy17"\npath = "a.npy"\nexercise = "s"\n'
                   'truth = "t"\naspect = 40\n')  # fmt: skip
    with pytest.raises(LabelError, match="aspect must be"):
        load_labels(bad, tmp_path)


def test_malformed_labels_are_refused_with_the_table_named(tmp_path):
    bad = tmp_path / "labels.toml"
    bad.write_text(
        '[[case]]\nid = "x"\nsource = "video"\npath = "a.mp4"\nexercise = "squat"\n'
        'truth = "t"\nform = "good"\n'
    )
    with pytest.raises(LabelError, match=r"case\[0\]: form must be one of"):
        load_labels(bad, tmp_path)
    bad.write_text('[[case]]\nid = "x"\nsource = "video"\npath = "a"\nexercise = "s"\n'
                   'truth = "t"\nrepz = 3\n')  # fmt: skip
    with pytest.raises(LabelError, match="unknown key"):
        load_labels(bad, tmp_path)


def test_a_group_without_files_is_one_miss_not_silence(tmp_path):
    labels = tmp_path / "labels.toml"
    labels.write_text(
        '[[group]]\nid = "g/{stem}"\nsource = "replay"\nglob = "nowhere/*.csv"\n'
        'exercise = "squat"\nreps = 1\ntruth = "t"\n'
    )
    (only,) = load_labels(labels, tmp_path).cases
    assert only.problem == "no files match nowhere/*.csv"
    row = score(only, accuracy.run_case(only, tmp_path, tmp_path / "cache"))
    assert not row.outcome.ran and row.count_error == 1


# -- a run on quick cases ----------------------------------------------------------------------

QUICK = "kimore/ex1_arm_lift_s1,uiprmd/m01_s01_e01,uiprmd/m01_s01_e02_inc"


def test_bench_on_quick_cases_writes_the_table_and_matches_main(tmp_path, capsys):
    shared_data("kimore_leowei31")
    shared_data("ui_prmd")
    out = tmp_path / "accuracy.md"
    assert accuracy.main(["--only", QUICK, "--out", str(out), "--json", "-q"]) == 0
    report = json.loads(capsys.readouterr().out)
    cases = {c["id"]: c for c in report["cases"]}
    assert set(cases) == set(QUICK.split(","))
    # The same file through main.py gives the same count the bench used.
    path = shared_data("kimore_leowei31/JointPositionExercise1.csv")
    direct = run_summary(tmp_path, "--source", str(path), "--exercise", "arm_lift")
    arm = cases["kimore/ex1_arm_lift_s1"]
    assert arm["rep_count"] == direct["rep_count"]
    # Four lifts counted by hand on the wrist trace: the program counts them all.
    assert arm["reps"] == 4 and arm["count_error"] == 0
    for c in cases.values():
        assert c["count_error"] == abs(c["counted"] - c["reps"])
        assert c["flagged"] == bool(c["flags"])
    overall = report["overall"]
    assert (overall["cases"], overall["misses"], overall["count_cases"]) == (3, 0, 3)
    assert overall["exact"] == sum(c["count_error"] == 0 for c in cases.values())
    assert overall["correct"] == 1 and overall["incorrect"] == 1
    assert overall["correct_flagged"] == int(cases["uiprmd/m01_s01_e01"]["flagged"])
    text = out.read_text()
    assert text.startswith("# Accuracy on labelled real recordings")
    assert "| `kimore/ex1_arm_lift_s1` | arm_lift | 4 reps | 4 reps" in text
    assert "| `uiprmd/m01_s01_e01` | squat | 1 rep, correct |" in text
    assert "tuned on this file" in text and "| `arm_lift` |" in text


def test_cases_the_program_cannot_run_are_misses_with_their_reason(tmp_path, capsys):
    kimore = shared_data("kimore_leowei31/JointPositionExercise1.csv")
    labels = tmp_path / "labels.toml"
    labels.write_text(
        f'[[case]]\nid = "x/unknown_exercise"\nsource = "replay"\npath = "{kimore.name}"\n'
        'exercise = "moonwalk"\nreps = 3\nform = "incorrect"\ntruth = "t"\n'
        '[[case]]\nid = "x/broken_file"\nsource = "replay"\npath = "broken.csv"\n'
        'exercise = "arm_lift"\nreps = 2\nform = "correct"\ntruth = "t"\n'
    )
    (tmp_path / kimore.name).write_bytes(kimore.read_bytes())
    (tmp_path / "broken.csv").write_text("1,2,3\n")
    out = tmp_path / "acc.md"
    args = ["--labels", str(labels), "--testdata", str(tmp_path), "--out", str(out), "--json"]
    assert accuracy.main([*args, "-q"]) == 0
    report = json.loads(capsys.readouterr().out)
    cases = {c["id"]: c for c in report["cases"]}
    unknown, broken = cases["x/unknown_exercise"], cases["x/broken_file"]
    assert not unknown["ran"] and unknown["reason"] == "no exercise 'moonwalk' in the library"
    assert not broken["ran"] and broken["reason"].startswith("cannot read the recording: ")
    assert "expected 100 values" in broken["reason"]
    assert (unknown["count_error"], broken["count_error"]) == (3, 2)
    o = report["overall"]
    assert (o["misses"], o["exact"], o["count_mae"]) == (2, 0, 2.5)
    assert (o["incorrect_flagged"], o["correct_flagged"]) == (0, 0)
    text = out.read_text()
    assert "| `x/unknown_exercise` | moonwalk | 3 reps, incorrect | could not run |" in text
    assert "no exercise 'moonwalk' in the library" in text


# -- angles against motion capture -------------------------------------------------------------


def test_keraal_blazepose_is_a_mirror_of_the_openpose_file():
    folder = shared_data(mocap.SAMPLE)
    bp = json.loads((folder / "G3-BP-ELK-P1T1-Unknown-C-0.json").read_text())["positions"]
    op = json.loads((folder / "G3-OP-ELK-P1T1-Unknown-C-0.json").read_text())["positions"]
    for frame in ("1.0", "50.0", "120.0"):
        b, o = bp[frame], op[frame]
        assert b["Nose"][0] == pytest.approx(1 - o["Nose"][0], abs=0.02)
        assert b["Left_shoulder"][0] == pytest.approx(1 - o["rShoulder"][0], abs=0.02)
        assert b["Right_wrist"][0] == pytest.approx(1 - o["lWrist"][0], abs=0.02)


def test_mocap_aligns_the_flank_stretch_and_the_aspect_matters():
    shared_data(mocap.SAMPLE)
    report = mocap.compare("ELK", TESTDATA)
    # Un-mirrored, the camera's and Vicon's shoulder tilt line up within a few frames.
    assert abs(report["lag_s"]) <= 0.1
    angles = {a["angle"]: a for a in report["angles"]}
    tilt = angles["shoulder_tilt"]
    assert tilt["frames"] > 150
    # Both bend about 45-50 deg to each side; the error is a few degrees with the 16:9
    # aspect and several times larger read as square.
    assert tilt["vicon_range"][0] < -40 and tilt["vicon_range"][1] > 40
    assert tilt["median_abs"] < 6 and tilt["median_abs_square"] > 2 * tilt["median_abs"]
    for a in angles.values():
        assert a["median_abs"] <= a["p95_abs"] or a["frames"] == 0
