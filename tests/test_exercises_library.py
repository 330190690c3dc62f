"""The exercise library as data: every definition file validates and runs through the engine's
rule compiler, every cue it names has a text in each language, and broken files fail with an
error that names the file, the key and what was expected."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from exercises.errors import ExerciseError
from exercises.library import DEFINITIONS, definition_files, get_exercise
from exercises.schema import ExerciseDef, load_exercise_file
from language import LANG_DIR, catalog
from session.checks_setup import build_checks
from session.events import EndInput, PoseInput
from session.targets import resolve_targets

ROOT = Path(__file__).resolve().parent.parent
FILES = definition_files(DEFINITIONS)
LANGS = sorted(p.stem for p in LANG_DIR.glob("*.toml"))


def _mode(path: Path) -> str:
    # Read without validating, so that one broken file fails its own test, not collection.
    try:
        return str(tomllib.loads(path.read_text(encoding="utf-8")).get("mode", "reps"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return ""


HOLD_FILES = [p for p in FILES if _mode(p) == "hold"]


def _cue_keys(ex: ExerciseDef) -> list[str]:
    return [r.cue for r in ex.rules] + [ex.signal.partial_cue]


# -- the real library ------------------------------------------------------------------------


def test_library_is_not_empty():
    assert len(FILES) >= 10, FILES


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_definition_validates(path: Path):
    ex = load_exercise_file(path)
    assert ex.id == path.stem
    assert ex.notes.strip(), "notes for the therapist are required"
    for rule in ex.rules:
        assert rule.why.strip(), f"rule {rule.key} needs its reasoning"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_definition_compiles_to_kernel_rules(path: Path):
    # The kernels check what the schema leaves to them (landmarks per kind, hysteresis at most
    # half the OK range, rotation only in world space): a file that validates must also start.
    ex = load_exercise_file(path)
    checks, setup = build_checks(ex, resolve_targets(ex), ex.dose.hold_s)
    assert len(checks.checked) == len(ex.rules) == len(setup.rule_landmarks)


@pytest.mark.parametrize("path", HOLD_FILES, ids=lambda p: p.stem)
def test_hold_rules_are_active_during_holds(path: Path):
    # A hold never leaves the "rest" rep phase, so a rule gated to other phases never fires.
    for rule in load_exercise_file(path).rules:
        assert not rule.phases or "rest" in rule.phases, rule.key


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_cue_keys_have_texts(path: Path, lang: str):
    texts = catalog(lang)
    missing = [k for k in _cue_keys(load_exercise_file(path)) if not texts.get(k, "").strip()]
    assert not missing, f"{path.name}: cue keys without a {lang} text: {missing}"


def test_english_and_german_exist():
    assert {"en", "de"} <= set(LANGS)


# -- broken files ----------------------------------------------------------------------------

GOOD = """\
id = "{id}"
name = "Test exercise"
category = "floor"
view = "side"
mode = "reps"
notes = "For tests."

[signal]
source = "camera"
kind = "angle"
landmarks = ["hip", "knee", "ankle"]
start = 170.0
target = 90.0

[dose]
sets = 1
reps = 5
rest_s = 30

[tempo]

[[rules]]
key = "trunk"
kind = "inclination"
landmarks = ["hip", "shoulder"]
high = 20.0
cue = "squat.trunk_lean"
why = "test"
"""


def _write(tmp_path: Path, text: str, name: str = "broken") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text.replace("{id}", name), encoding="utf-8")
    return path


def test_the_template_is_valid(tmp_path: Path):
    ex = load_exercise_file(_write(tmp_path, GOOD, "fine"))
    assert ex.id == "fine" and len(ex.rules) == 1


BROKEN = {
    "missing_required_key": (
        lambda s: s.replace('name = "Test exercise"\n', ""),
        "name",
        "a value (required)",
    ),
    "wrong_type": (lambda s: s.replace("reps = 5", 'reps = "five"'), "dose.reps", "a whole number"),
    "unknown_key_typo": (
        lambda s: s.replace("high = 20.0", "hihg = 20.0"),
        "rules[0].hihg",
        "one of the known keys",
    ),
    "unknown_landmark": (
        lambda s: s.replace('["hip", "shoulder"]', '["hip", "sholder"]'),
        "rules[0].landmarks",
        "'sholder'",
    ),
    "unknown_rule_kind": (
        lambda s: s.replace('kind = "inclination"', 'kind = "curvature"'),
        "rules[0].kind",
        "one of angle, inclination",
    ),
    "low_above_high": (
        lambda s: s.replace("high = 20.0", "low = 30.0\nhigh = 20.0"),
        "rules[0].high",
        "a value >= low (30.0)",
    ),
    "invalid_toml": (
        lambda s: s.replace('name = "Test exercise"', "name = Test"),
        "<file>",
        "valid TOML",
    ),
    "id_not_file_name": (
        lambda s: s.replace('id = "broken"', 'id = "other_name"'),
        "id",
        "the file name (broken)",
    ),
    "hold_without_position_rules": (
        lambda s: s.replace('mode = "reps"', 'mode = "hold"').replace(
            "rest_s = 30", "rest_s = 30\nhold_s = 10.0"
        ),
        "position_rules",
        "at least one rule for a hold exercise",
    ),
    "machine_without_load_table": (
        lambda s: s.replace('category = "floor"', 'category = "machine"').replace(
            'source = "camera"\nkind = "angle"\nlandmarks = ["hip", "knee", "ankle"]',
            'source = "machine"',
        ),
        "signal.source",
        "'machine' with a [load] table",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_file_fails_with_the_expected_message(tmp_path: Path, case: str):
    change, key, fragment = BROKEN[case]
    path = _write(tmp_path, change(GOOD.replace("{id}", "broken")))
    with pytest.raises(ExerciseError) as info:
        load_exercise_file(path)
    err = info.value
    assert err.file == str(path)
    assert err.key == key
    assert fragment in str(err)
    assert str(err).startswith(f"{path}: {key}: expected ")


def test_missing_file_is_named(tmp_path: Path):
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ExerciseError, match=r"an existing \.toml file") as info:
        load_exercise_file(path)
    assert info.value.file == str(path)


# -- the command line ------------------------------------------------------------------------


def _check(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "main.py", "--check-exercises", *map(str, files)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_rejects_a_broken_file_with_the_reason(tmp_path: Path):
    change, key, fragment = BROKEN["low_above_high"]
    broken = _write(tmp_path, change(GOOD.replace("{id}", "broken")))
    good = _write(tmp_path, GOOD, "fine")
    run = _check(good, broken)
    assert run.returncode != 0
    assert f"invalid {broken}: {key}: expected" in run.stdout
    assert fragment in run.stdout
    assert f"ok      {good}" in run.stdout
    assert "1 valid, 1 invalid" in run.stdout


def test_cli_accepts_the_whole_library():
    run = _check()
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{len(FILES)} valid, 0 invalid" in run.stdout


# -- stick-figure sessions: the definitions' sign conventions, end to end ---------------------
# Image coordinates, y down, the patient facing left; poses are built from a few joints placed
# as body proportions put them, both sides at the same place.


def _pose(t: float, joints: dict[str, tuple[float, float]]):
    from body.landmarks import INDEX
    from body.pose import Pose

    image = np.full((33, 4), np.nan, dtype=np.float32)
    for name, (x, y) in joints.items():
        for full in (name,) if name in INDEX else (f"left_{name}", f"right_{name}"):
            image[INDEX[full]] = (x, y, 0.0, 1.0)
    return Pose(t, image, np.full((33, 3), np.nan, dtype=np.float32), detected=True)


def _blend(a: dict, b: dict, u: float) -> dict:
    return {k: (a[k][0] + (b[k][0] - a[k][0]) * u, a[k][1] + (b[k][1] - a[k][1]) * u) for k in a}


def _move(a: dict, b: dict, seconds: float, fps: float = 30.0) -> list[dict]:
    n = round(seconds * fps)
    return [_blend(a, b, i / n) for i in range(1, n + 1)]


def _session(exercise_id: str, frames: list[dict], fps: float = 30.0):
    from session.engine import SessionConfig, SessionEngine

    engine = SessionEngine(get_exercise(exercise_id), config=SessionConfig(open_ended=True))
    for i, joints in enumerate(frames):
        engine.feed(PoseInput(i / fps, _pose(i / fps, joints)))
    engine.feed(EndInput(len(frames) / fps))
    return engine


HOOK_LYING = {
    "shoulder": (0.3, 0.92),
    "hip": (0.8, 0.9),
    "knee": (1.095, 0.603),
    "ankle": (1.39, 0.92),
}
BRIDGE_TOP = {
    "shoulder": (0.3, 0.92),
    "hip": (0.76, 0.73),
    "knee": (1.12, 0.6),
    "ankle": (1.39, 0.92),
}
BRIDGE_ARCHED = {**BRIDGE_TOP, "hip": (0.76, 0.55)}


def test_glute_bridge_counts_good_reps_and_flags_an_arched_one():
    hold = [HOOK_LYING] * 30
    good = _move(HOOK_LYING, BRIDGE_TOP, 2) + [BRIDGE_TOP] * 90 + _move(BRIDGE_TOP, HOOK_LYING, 2)
    arched = _move(HOOK_LYING, BRIDGE_ARCHED, 2) + [BRIDGE_ARCHED] * 60
    arched += _move(BRIDGE_ARCHED, HOOK_LYING, 2)
    engine = _session("glute_bridge", hold + good + hold + good + hold + arched + hold)
    assert [r.faults for r in engine.reps if r.counted][:2] == [(), ()]
    assert "overarch" in {key for _, key, _ in engine.fault_log}


SIDE_PLANK_UP = {"shoulder": (0.3, 0.6), "hip": (0.85, 0.76), "ankle": (1.7, 0.95)}
SIDE_PLANK_DOWN = {**SIDE_PLANK_UP, "hip": (0.85, 0.87)}  # hip resting on the floor


def test_side_plank_times_only_the_lifted_hold():
    engine = _session("side_plank", [SIDE_PLANK_DOWN] * 60 + [SIDE_PLANK_UP] * 360)
    done = [h for h in engine.holds if h.completed]
    assert len(done) == 1 and done[0].start_s >= 2.0
    assert ("hips_sag", "fault") in {(key, level) for _, key, level in engine.fault_log}


STANDING = {
    "shoulder": (0.5, 0.2),
    "hip": (0.5, 0.55),
    "knee": (0.49, 0.78),
    "ankle": (0.5, 0.98),
    "heel": (0.53, 1.0),
    "foot_index": (0.35, 1.0),
}
LEANING_BACK = {**STANDING, "shoulder": (0.65, 0.23), "hip": (0.47, 0.55)}
BENDING_FORWARD = {**STANDING, "shoulder": (0.34, 0.25)}


@pytest.mark.parametrize(("end", "faulted"), [(LEANING_BACK, False), (BENDING_FORWARD, True)])
def test_standing_extension_tells_backward_from_forward(end: dict, faulted: bool):
    rep = _move(STANDING, end, 2) + [end] * 60 + _move(end, STANDING, 2) + [STANDING] * 30
    engine = _session("standing_lumbar_extension", [STANDING] * 30 + rep)
    assert engine.rep_count == 1
    assert ("lean_direction" in engine.reps[0].faults) is faulted


def test_nan_is_refused_where_it_would_switch_a_check_off(tmp_path):
    from exercises.errors import ExerciseError
    from exercises.schema import load_exercise_file

    text = (
        (ROOT / "exercises" / "definitions" / "squat.toml")
        .read_text()
        .replace("rest_s = 60", "rest_s = nan")
    )
    path = tmp_path / "squat.toml"
    path.write_text(text)
    with pytest.raises(ExerciseError) as err:
        load_exercise_file(path)
    assert err.value.key == "dose.rest_s" and "not nan" in str(err.value)
