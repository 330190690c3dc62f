"""Posture rules: each kind on hand-made poses, debounce, hysteresis, visibility, and a plank
rule set on recorded landmarks with per-frame labels."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from body.landmarks import INDEX as I
from kernels.rules import FAULT, OK, UNKNOWN, WARNING, Rule, RuleKind, RuleSet
from session.snapshot import RuleStatus

N = 33


def blank():
    xy = np.full((N, 2), np.nan)
    world = np.full((N, 3), np.nan)
    vis = np.zeros(N)
    return xy, world, vis


def place(xy, world, vis, name, x, y, z=0.0):
    xy[I[name]] = (x, y)
    world[I[name]] = (x, y, z)
    vis[I[name]] = 1.0


def one(rule: Rule, xy, world, vis, aspect=1.0):
    rs = RuleSet([replace_debounce(rule)], aspect=aspect)
    status, value = rs.evaluate(xy, world, vis, 0.0)
    return int(status[0]), float(value[0])


def replace_debounce(rule: Rule) -> Rule:
    from dataclasses import replace

    return replace(rule, debounce_s=0.0)


def test_status_codes_are_the_snapshot_rule_status():
    assert (OK, WARNING, FAULT, UNKNOWN) == (
        RuleStatus.OK,
        RuleStatus.WARNING,
        RuleStatus.FAULT,
        RuleStatus.UNKNOWN,
    )


def test_angle_2d_uses_square_pixels_and_3d_uses_depth():
    xy, world, vis = blank()
    place(xy, world, vis, "left_hip", 0.5, 0.5, z=0.0)
    place(xy, world, vis, "left_knee", 0.5, 0.7, z=0.0)
    place(xy, world, vis, "left_ankle", 0.5 + 0.2 * 9 / 16, 0.7, z=0.3)
    knee = Rule("knee", RuleKind.ANGLE, (I["left_hip"], I["left_knee"], I["left_ankle"]))
    # On a 16:9 frame the shank is as long as the thigh in pixels: a right angle, not 60 deg.
    assert one(knee, xy, world, vis, aspect=16 / 9)[1] == pytest.approx(90.0)
    world3 = Rule("k3", knee.kind, knee.landmarks, space="world")
    # In 3-D the ankle also sits 0.3 m deeper: the shank lies along (0.1125, 0, 0.3).
    want = math.degrees(math.acos(0.0))
    assert one(world3, xy, world, vis)[1] == pytest.approx(want)


def test_inclination_to_vertical_and_horizontal():
    xy, world, vis = blank()
    place(xy, world, vis, "left_hip", 0.5, 0.6)
    place(xy, world, vis, "left_shoulder", 0.6, 0.5)  # 45 deg forward lean
    trunk = Rule("trunk", RuleKind.INCLINATION, (I["left_hip"], I["left_shoulder"]), high=30.0)
    status, value = one(trunk, xy, world, vis)
    assert value == pytest.approx(45.0) and status == FAULT
    flat = Rule("flat", trunk.kind, trunk.landmarks, axis="horizontal", high=50.0)
    assert one(flat, xy, world, vis) == (OK, pytest.approx(45.0))


def test_alignment_sign_says_sagging_or_piking_whichever_way_the_patient_faces():
    lms = (I["left_shoulder"], I["left_hip"], I["left_ankle"])
    rule = Rule("line", RuleKind.ALIGNMENT, lms, low=-10.0, high=10.0)
    for facing in (1.0, -1.0):
        for dy, sign in ((0.05, 1.0), (-0.05, -1.0)):  # hip below / above the line
            xy, world, vis = blank()
            place(xy, world, vis, "left_shoulder", 0.5 - facing * 0.3, 0.5)
            place(xy, world, vis, "left_hip", 0.5, 0.5 + dy)
            place(xy, world, vis, "left_ankle", 0.5 + facing * 0.3, 0.5)
            status, value = one(rule, xy, world, vis)
            want = 2 * math.degrees(math.atan2(0.05, 0.3))
            assert value == pytest.approx(sign * want)
            assert status == FAULT


def test_symmetry_offset_rotation_and_lateral_lean():
    xy, world, vis = blank()
    # Left knee bent to 90 deg, right knee straight.
    place(xy, world, vis, "left_hip", 0.4, 0.5)
    place(xy, world, vis, "left_knee", 0.4, 0.7)
    place(xy, world, vis, "left_ankle", 0.6, 0.7)
    place(xy, world, vis, "right_hip", 0.6, 0.5)
    place(xy, world, vis, "right_knee", 0.6, 0.7)
    place(xy, world, vis, "right_ankle", 0.6, 0.9)
    sym = Rule(
        "sym",
        RuleKind.SYMMETRY,
        (
            I["left_hip"],
            I["left_knee"],
            I["left_ankle"],
            I["right_hip"],
            I["right_knee"],
            I["right_ankle"],
        ),
        low=-10,
        high=10,
    )
    assert one(sym, xy, world, vis) == (FAULT, pytest.approx(-90.0))

    xy, world, vis = blank()
    place(xy, world, vis, "left_heel", 0.50, 0.9)
    place(xy, world, vis, "left_foot_index", 0.40, 0.9)  # facing -x, foot 0.1 long
    place(xy, world, vis, "left_knee", 0.35, 0.7)  # 0.05 past the toe
    off = Rule(
        "knee_past_toe",
        RuleKind.OFFSET,
        (I["left_knee"], I["left_foot_index"], I["left_heel"], I["left_foot_index"]),
        high=0.2,
        fault_margin=0.4,
    )
    assert one(off, xy, world, vis) == (WARNING, pytest.approx(0.5))

    xy, world, vis = blank()
    place(xy, world, vis, "left_shoulder", -0.2, -0.5, z=0.0)
    place(xy, world, vis, "right_shoulder", 0.2, -0.5, z=0.4 * math.tan(math.radians(20)))
    place(xy, world, vis, "left_hip", -0.1, 0.0, z=0.0)
    place(xy, world, vis, "right_hip", 0.1, 0.0, z=0.0)
    quad = (I["left_shoulder"], I["right_shoulder"], I["left_hip"], I["right_hip"])
    rot = Rule("rot", RuleKind.ROTATION, quad, low=-10, high=10, space="world")
    assert one(rot, xy, world, vis) == (FAULT, pytest.approx(20.0))
    lean = Rule("lean", RuleKind.LATERAL_LEAN, quad, low=-5, high=5)
    # Shoulder centre straight above the hip centre: no lean.
    assert one(lean, xy, world, vis) == (OK, pytest.approx(0.0, abs=1e-9))
    xy[I["left_shoulder"], 0] += 0.1
    xy[I["right_shoulder"], 0] += 0.1
    assert one(lean, xy, world, vis)[1] == pytest.approx(math.degrees(math.atan2(0.1, 0.5)))
    with pytest.raises(ValueError, match="ROTATION needs space='world'"):
        Rule("r", RuleKind.ROTATION, quad)


def test_invisible_landmark_is_unknown_and_visibility_rule_reports_it():
    xy, world, vis = blank()
    place(xy, world, vis, "left_hip", 0.5, 0.5)
    place(xy, world, vis, "left_knee", 0.5, 0.7)
    place(xy, world, vis, "left_ankle", 0.6, 0.9)
    vis[I["left_ankle"]] = 0.2
    knee = Rule("knee", RuleKind.ANGLE, (I["left_hip"], I["left_knee"], I["left_ankle"]))
    status, value = one(knee, xy, world, vis)
    assert status == UNKNOWN and math.isnan(value)
    seen = Rule("seen", RuleKind.VISIBILITY, knee.landmarks, low=0.5, severity=WARNING)
    assert one(seen, xy, world, vis) == (WARNING, pytest.approx(0.2))
    vis[I["left_ankle"]] = np.nan  # NaN visibility counts as not seen at all
    assert one(seen, xy, world, vis) == (WARNING, 0.0)
    vis[I["left_ankle"]] = 1.0
    xy[I["left_ankle"]] = (np.inf, 0.9)  # visible but a broken coordinate: still unknown
    assert one(knee, xy, world, vis)[0] == UNKNOWN


def _trunk_series(leans):
    rs = RuleSet(
        [
            Rule(
                "trunk",
                RuleKind.INCLINATION,
                (I["left_hip"], I["left_shoulder"]),
                high=20.0,
                fault_margin=10.0,
                hysteresis=3.0,
                debounce_s=0.1,
            )
        ]
    )
    xy, world, vis = blank()
    place(xy, world, vis, "left_hip", 0.5, 0.6)
    out = []
    for f, deg in enumerate(leans):
        r = math.radians(deg)
        place(xy, world, vis, "left_shoulder", 0.5 + 0.3 * math.sin(r), 0.6 - 0.3 * math.cos(r))
        out.append(int(rs.evaluate(xy, world, vis, f / 30)[0][0]))
    return out


def test_one_noisy_frame_never_flashes_a_cue():
    leans = [5.0] * 10 + [40.0] + [5.0] * 10 + [40.0, 40.0] + [5.0] * 10
    statuses = _trunk_series(leans)
    assert set(statuses[4:]) == {OK}  # UNKNOWN until the first status persisted 0.1 s
    assert statuses[:3] == [UNKNOWN] * 3


def test_a_lasting_fault_is_reported_after_the_debounce_and_clears_with_hysteresis():
    leans = [5.0] * 6 + [35.0] * 6 + [19.0] * 6 + [16.0] * 6
    statuses = _trunk_series(leans)
    assert statuses[6:9] == [OK] * 3  # 35 deg seen at frames 6, 7, 8: 0.067 s, not yet
    assert statuses[9:12] == [FAULT] * 3  # persisted 0.1 s
    # 19 deg is inside the OK range (<= 20) but not 3 deg inside it: the hysteresis keeps
    # the improvement at WARNING; at 16 deg it clears to OK after the debounce.
    assert set(statuses[15:18]) == {WARNING}
    assert statuses[-1] == OK


def test_rule_validation_names_what_was_expected():
    with pytest.raises(ValueError, match="ANGLE expects 3 landmarks, got 2"):
        Rule("x", RuleKind.ANGLE, (1, 2))
    with pytest.raises(ValueError, match="low <= high"):
        Rule("x", RuleKind.ANGLE, (1, 2, 3), low=10, high=5)
    with pytest.raises(ValueError, match="unique"):
        RuleSet([Rule("x", RuleKind.ANGLE, (1, 2, 3))] * 2)
    with pytest.raises(ValueError, match=r"landmark indices must lie in 0\.\.32"):
        RuleSet([Rule("x", RuleKind.ANGLE, (1, 2, 40))])
    rs = RuleSet([Rule("x", RuleKind.ANGLE, (1, 2, 3))])
    with pytest.raises(ValueError, match=r"expected shape \(33, 2\), got \(17, 2\)"):
        rs.evaluate(np.zeros((17, 2)), np.zeros((33, 3)), np.zeros(33), 0.0)


# ---------------------------------------------------------------------------------------------
# Recorded plank landmarks, labelled per frame: C correct, H lower back too high, L too low.

PLANK = Path("../shared/testdata/exercise_correction_ngoquocbao/core/plank_model/test.csv")


def load_plank():
    if not PLANK.exists():
        pytest.skip(f"recorded plank landmarks not found at {PLANK}")
    with PLANK.open() as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    names = [c[:-2] for c in header[1::4]]  # nose_x, nose_y, nose_z, nose_v, ...
    labels = np.array([r[0] for r in rows[1:]])
    data = np.array([[float(v) for v in r[1:]] for r in rows[1:]]).reshape(len(labels), -1, 4)
    image = np.full((len(labels), N, 4), np.nan)
    image[:, :, 3] = 0.0
    for j, name in enumerate(names):
        image[:, I[name]] = data[:, j]  # x, y, z, visibility; z unused by image rules
    return labels, image


def plank_rules(debounce_s: float) -> list[Rule]:
    """Hip deviation from the shoulder-ankle line, both sides. The thresholds sit between the
    label groups of this recording (correct frames lie around -15 to -45 deg, "too high" below
    about -85, "too low" above about +20): the recording holds no separate training part, so
    this shows the rule machinery separates the classes, not a clinically tuned threshold."""
    out = []
    for side in ("left", "right"):
        lms = (I[f"{side}_shoulder"], I[f"{side}_hip"], I[f"{side}_ankle"])
        common = dict(hysteresis=2.0, debounce_s=debounce_s, min_visibility=0.3)
        out.append(Rule(f"{side}.hips_too_low", RuleKind.ALIGNMENT, lms, high=0.0, **common))
        out.append(Rule(f"{side}.hips_too_high", RuleKind.ALIGNMENT, lms, low=-70.0, **common))
    return out


def classify_plank(status: np.ndarray) -> np.ndarray:
    """Per frame C / L / H from the rules' statuses, the better seen side first; "?" when
    neither side is known (counted as wrong)."""
    pred = np.full(status.shape[0], "?")
    for f in range(status.shape[0]):
        for low, high in ((2, 3), (0, 1)):  # right side, then left
            if status[f, low] == UNKNOWN or status[f, high] == UNKNOWN:
                continue
            if status[f, low] == FAULT:
                pred[f] = "L"
            elif status[f, high] == FAULT:
                pred[f] = "H"
            else:
                pred[f] = "C"
            break
    return pred


@pytest.mark.parametrize(
    ("debounce_s", "measured", "floor"),
    [
        (0.0, 0.994, 0.99),  # every frame judged on its own
        # With a debounce each of the 24 label changes (the recording joins clips) costs the
        # debounce's frames; two and three frames at 30 fps:
        (0.05, 0.930, 0.92),
        (0.1, 0.894, 0.89),
    ],
)
def test_plank_rule_set_tells_correct_from_sagging_and_piking(debounce_s, measured, floor):
    labels, image = load_plank()
    t = np.arange(labels.shape[0]) / 30.0  # the recording has no timestamps; 30 fps assumed
    rs = RuleSet(plank_rules(debounce_s))
    status, _ = rs.run(image, np.full((labels.shape[0], N, 3), np.nan), t)
    pred = classify_plank(status)
    accuracy = float(np.mean(pred == labels))
    assert accuracy >= floor, f"plank frame accuracy {accuracy:.3f} (measured {measured})"
    for label in "CHL":  # no class is sacrificed for the others
        assert np.mean(pred[labels == label] == label) >= 0.85
    # Away from label changes (4 frames after each), debounce costs nothing.
    change = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    near = np.zeros(labels.shape[0], dtype=bool)
    for k in change:
        near[k : k + 4] = True
    assert np.mean(pred[~near] == labels[~near]) >= 0.99


def _lean_statuses(rs: RuleSet, degrees: list[float]) -> list[int]:
    """The first rule's status, frame by frame at 30 fps, for a trunk leaning ``degrees``."""
    statuses = []
    for f, deg in enumerate(degrees):
        xy = np.full((33, 2), np.nan)
        vis = np.zeros(33)
        xy[I["left_hip"]] = (0.5, 0.6)
        rad = math.radians(deg)
        xy[I["left_shoulder"]] = (0.5 + 0.3 * math.sin(rad), 0.6 - 0.3 * math.cos(rad))
        vis[[I["left_hip"], I["left_shoulder"]]] = 1.0
        status, _ = rs.evaluate(xy, np.full((33, 3), np.nan), vis, f / 30)
        statuses.append(int(status[0]))
    return statuses


def test_warning_and_fault_alternating_is_one_bad_spell_reported_as_a_warning():
    # A lean of 43, 50, 38 deg ... around the fault line never held either status for the
    # debounce alone; together they are a bad spell the patient must hear about.
    lean = Rule("lean", RuleKind.INCLINATION, (I["left_hip"], I["left_shoulder"]), high=35.0,
                fault_margin=10.0, debounce_s=0.3)  # fmt: skip
    rs = RuleSet([lean])
    statuses = _lean_statuses(rs, [20.0] * 15 + [43.0, 50.0, 38.0, 47.0, 41.0, 49.0, 44.0] * 3)
    assert statuses[14] == OK
    assert WARNING in statuses[-8:] and FAULT not in statuses[-8:]


def test_a_warning_that_becomes_a_lasting_fault_is_reported_as_a_fault():
    lean = Rule("lean", RuleKind.INCLINATION, (I["left_hip"], I["left_shoulder"]), high=35.0,
                fault_margin=10.0, debounce_s=0.3)  # fmt: skip
    rs = RuleSet([lean])
    statuses = _lean_statuses(rs, [20.0] * 15 + [40.0] * 15 + [55.0] * 15)
    assert statuses[14] == OK and statuses[29] == WARNING and statuses[-1] == FAULT
