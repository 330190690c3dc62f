"""Exercise files, patient profiles and KERAAL landmark files that a careless user or a hostile
file could hand over: each is either read cleanly or refused with the package's own error and
one line that names the file; never another exception."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

from exercises.errors import ExerciseError
from exercises.library import DEFINITIONS
from exercises.schema import load_exercise_file
from recording.replay import open_replay
from session.targets import PatientProfile, ProfileError, load_profile
from tests.fuzz_toml import FUZZ, mutated, nested, toml_document
from vision.errors import RecordingError, VisionError
from vision.replay import load_keraal

SQUAT = tomllib.loads((DEFINITIONS / "squat.toml").read_text(encoding="utf-8"))
PROFILE = {
    "code": "P-1",
    "side": "left",
    "ranges": {"squat": {"start": 170.0, "end": 90.0, "pain_free_limit": 80.0}},
    "max_force_n": {"lumbar_extension": 300.0},
}


def _one_line(exc: Exception, path: Path) -> None:
    text = str(exc)
    assert "\n" not in text and len(text) < len(str(path)) + 300, text
    assert str(path) in text, text


# -- exercise files --------------------------------------------------------------------------


@pytest.mark.parametrize("array", [True, False], ids=["arrays", "tables"])
def test_deeply_nested_exercise_file_is_refused(tmp_path, array):
    path = tmp_path / "squat.toml"
    path.write_text(f"id = {nested(5000, array)}\n")
    with pytest.raises(ExerciseError) as err:
        load_exercise_file(path)
    _one_line(err.value, path)


def test_cue_key_without_a_text_is_an_error(tmp_path):
    # Before: reported "ok", and the patient would have seen the bare key as the cue.
    text = (DEFINITIONS / "squat.toml").read_text(encoding="utf-8")
    path = tmp_path / "squat.toml"
    path.write_text(text.replace('cue = "squat.trunk_lean"', 'cue = "squat.trunk_lena"'))
    with pytest.raises(ExerciseError) as err:
        load_exercise_file(path)
    assert err.value.key.endswith(".cue") and "squat.trunk_lena" in str(err.value)
    path.write_text(text.replace('partial_cue = "squat.depth"', 'partial_cue = "no.such"'))
    with pytest.raises(ExerciseError, match=r"signal\.partial_cue"):
        load_exercise_file(path)


def test_a_key_holding_a_newline_is_still_one_line(tmp_path):
    # Found by the fuzz test below: the key was printed as it was, newline and all.
    text = (DEFINITIONS / "squat.toml").read_text(encoding="utf-8")
    path = tmp_path / "squat.toml"
    path.write_text('"\\n" = 1\n' + text)
    with pytest.raises(ExerciseError) as err:
        load_exercise_file(path)
    _one_line(err.value, path)


def test_huge_integer_and_folder_are_refused(tmp_path):
    text = (DEFINITIONS / "squat.toml").read_text(encoding="utf-8")
    path = tmp_path / "squat.toml"
    path.write_text(text.replace("rest_s = 60", "rest_s = 1" + "0" * 400))
    with pytest.raises(ExerciseError, match=r"dose\.rest_s"):
        load_exercise_file(path)
    with pytest.raises(ExerciseError, match="a folder"):
        load_exercise_file(tmp_path)


@settings(**FUZZ)
@given(data=mutated(SQUAT))
def test_fuzzed_exercise_file_parses_or_is_one_clear_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("ex") / "squat.toml"
    path.write_text(toml_document(data), encoding="utf-8")
    try:
        ex = load_exercise_file(path)
    except ExerciseError as exc:
        _one_line(exc, path)
        return
    assert ex.id == "squat"
    assert all(math.isfinite(v) for v in (ex.signal.start, ex.signal.target))


# -- patient profiles ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('code = "P-1"\nranges = 3\n', "ranges: expected a table"),
        ('code = "P-1"\nmax_force_n = [1, 2]\n', "max_force_n: expected a table"),
        ('code = "P-1"\n[ranges]\nsquat = 5\n', "ranges.squat: expected a table"),
        ('code = "P-1"\n[ranges.squat]\nstart = "170"\nend = 90\n', "ranges.squat.start"),
        ('code = "P-1"\n[ranges.squat]\nstart = true\nend = 90\n', "ranges.squat.start"),
        ('code = "P-1"\n[ranges.squat]\nstart = 170\n', "ranges.squat.end"),
        ("code = {a = 1}\n", "code: expected the patient's code"),
        ("side = 'left'\n", "code: expected the patient's code"),
        ('code = "P-1"\nside = 5\n', "side: expected one of auto, left, right"),
        ('code = "P-1"\nside = "upward"\n', "side: expected one of auto, left, right"),
        ('code = "P-1"\nmax_force = 300\n', "max_force: expected one of the keys"),
        (
            'code = "P-1"\n[ranges.squat]\nstart = 170\nend = 90\npain_free_limt = 80\n',
            "ranges.squat.pain_free_limt",
        ),
        ('code = "P-1"\n[max_force_n]\nlumbar_extension = 1' + "0" * 400 + "\n", "too large"),
        ('code = "P-1"\n[ranges."a\\nb"]\nstart = 1\nend = 2\n', "expected an exercise id"),
        ('code = "P-1"\n"x\\ny" = 1\n', "expected one of the keys"),
        (f"code = {nested(5000, True)}\n", "nested too deeply"),
        (f"code = {nested(5000, False)}\n", "nested too deeply"),
    ],
)
def test_malformed_profile_is_one_clear_error(tmp_path, text, fragment):
    # Before: AttributeError / RecursionError tracebacks, or a wrong value taken silently.
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    _one_line(err.value, path)
    assert fragment in str(err.value)


def test_profile_that_is_a_folder_or_not_text_is_one_clear_error(tmp_path):
    with pytest.raises(ProfileError, match="found a folder"):
        load_profile(tmp_path)
    path = tmp_path / "p.toml"
    path.write_bytes(b"\xff\xfe\x00code")
    with pytest.raises(ProfileError, match="UTF-8"):
        load_profile(path)


@settings(**FUZZ)
@given(data=mutated(PROFILE))
def test_fuzzed_profile_loads_or_is_one_clear_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("profile") / "p.toml"
    path.write_text(toml_document(data), encoding="utf-8")
    try:
        profile = load_profile(path)
    except ProfileError as exc:
        _one_line(exc, path)
        return
    assert isinstance(profile, PatientProfile) and isinstance(profile.code, str)
    assert profile.side in ("auto", "left", "right")
    for force in profile.max_force_n.values():
        assert math.isfinite(force) and force > 0
    for r in profile.ranges.values():
        assert math.isfinite(r.start) and math.isfinite(r.end)


# -- KERAAL landmark files -------------------------------------------------------------------


def _keraal(tmp_path: Path, positions: object) -> Path:
    path = tmp_path / "k.json"
    path.write_text(json.dumps({"positions": positions}))
    return path


@pytest.mark.parametrize(
    "joints",
    [
        {"Nose": ["0.5", 0.1, 0.2]},  # string coordinates: a ValueError traceback before
        {"Nose": [[0.5], 0.1, 0.2]},
        {"Nose": [True, 0.1, 0.2]},
        {"Nose": [0.5, 0.1, 1e400]},  # json writes Infinity
    ],
)
def test_landmark_file_with_wrong_coordinates_is_one_clear_error(tmp_path, joints):
    path = _keraal(tmp_path, {"1.0": joints})
    with pytest.raises(RecordingError) as err:
        load_keraal(path)
    _one_line(err.value, path)
    assert "Nose" in str(err.value)


def test_landmark_file_with_a_missing_coordinate_reads_it_as_not_visible(tmp_path):
    pose = load_keraal(
        _keraal(tmp_path, {"1.0": {"Nose": [None, 0.1, 0.2], "Left_Hip": [0.5, 0.5, 0.1]}})
    )[0]
    assert np.isnan(pose.image[0]).all()  # as if the joint were not in the file


@pytest.mark.parametrize("key", ["nan", "inf", "one"])
def test_landmark_file_frame_keys_must_be_times(tmp_path, key):
    path = _keraal(tmp_path, {key: {"Nose": [0.5, 0.1, 0.2]}})
    with pytest.raises(RecordingError, match="frame"):
        load_keraal(path)


def test_deeply_nested_landmark_file_is_one_clear_error(tmp_path):
    path = tmp_path / "k.json"
    path.write_text('{"positions": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(VisionError) as err:
        open_replay(path)
    _one_line(err.value, path)
