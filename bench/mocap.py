"""Camera angles against motion capture: KERAAL's BlazePose and Vicon recordings of the same
executions (``keraal_lbp/draw_skeleton/dataSampleKeraal``), aligned in time.

    python bench/mocap.py [--json]

For each exercise (CTK arms raised before the face, ELK flank stretch, RTK trunk rotation)
the angles the camera judges are computed in the picture from the BlazePose landmarks, with
x scaled to square pixels for a 16:9 video, and from the Vicon targets projected on the
person's frontal plane (the camera stood in front of them). The two traces are aligned by
cross-correlating a shared angle trace; the error is camera minus Vicon over the frames
where both exist: median and 95th percentile of its absolute value, and its median (the
bias). The same figures for the picture read as square (x not scaled) show what ignoring
the aspect costs.

Vicon targets are rigid marker clusters on the segments, not joint centres: a constant
offset between a target and the joint shows up as bias, not as noise.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from body.landmarks import INDEX  # noqa: E402
from vision.replay import load_keraal  # noqa: E402

SAMPLE = "keraal_lbp/draw_skeleton/dataSampleKeraal"
EXERCISES = {
    "CTK": "arms raised before the face (hiding_face)",
    "ELK": "flank stretch (flank_stretch)",
    "RTK": "trunk rotation (standing_trunk_rotation)",
}
CAMERA_FPS = 30.0  # KERAAL video and Kinect: 30 Hz
VICON_FPS = 60.0  # the Vicon files hold twice the rows of the 30 Hz files of the same execution
ASPECT = 16 / 9  # KERAAL videos; see docs/accuracy.md for the evidence
MAX_LAG_S = 2.0

# Vicon target order (keraal_lbp/doc/readme_files_format.txt, section 1.1).
VICON_TARGETS = (
    "RForearm", "LForearm", "RArm", "LArm", "Chest", "RThigh", "LThigh", "RShoulder",
    "LShoulder", "RHand", "LHand", "RFoot", "LFoot", "Hips", "Head", "RTibia", "LTibia",
)  # fmt: skip
V = {name: i for i, name in enumerate(VICON_TARGETS)}

ANGLES = {
    "trunk_lean": "trunk side lean (mid-hip to mid-shoulder against vertical)",
    "shoulder_tilt": "shoulder line tilt (left shoulder up +)",
    "arm_raise_left": "left arm raise (trunk line to upper arm, at the shoulder)",
    "arm_raise_right": "right arm raise",
    "elbow_left": "left elbow angle",
    "elbow_right": "right elbow angle",
    "shoulder_yaw": "shoulder line turn from the landmark depth (left shoulder back +)",
}
ALIGN_ON = {"CTK": "arm_raise_left", "ELK": "shoulder_tilt", "RTK": "arm_raise_left"}


def _angle2(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Unsigned angle (deg) between 2-D vectors (n, 2)."""
    dot = (u * v).sum(axis=1)
    norm = np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.degrees(np.arccos(np.clip(dot / norm, -1.0, 1.0)))


def _lean(down: np.ndarray) -> np.ndarray:
    """Signed angle (deg) of an upward 2-D vector (right, up) against vertical, + to the
    right."""
    return np.degrees(np.arctan2(down[:, 0], down[:, 1]))


# -- the camera: BlazePose landmarks in the picture --------------------------------------------


def _mirror_pairs() -> list[tuple[int, int]]:
    return [(INDEX[name], INDEX["right_" + name[5:]]) for name in INDEX if name.startswith("left_")]


def unmirror(image: np.ndarray) -> np.ndarray:
    """The KERAAL BlazePose files are a mirror image of the video: for the same frame their x
    is 1 - x of the OpenPose file's with left and right swapped, and their "left" arm rises
    when Vicon's right arm does. Flip x back and swap the sides."""
    out = image.copy()
    out[..., 0] = 1.0 - out[..., 0]
    for left, right in _mirror_pairs():
        out[:, [left, right]] = out[:, [right, left]]
    return out


def camera_angles(image: np.ndarray, aspect: float) -> dict[str, np.ndarray]:
    """Angles per frame from image landmarks (n, 33, >=3): x, y normalised, z depth in x's
    scale. The picture's axes are turned to (right, up) with x scaled by ``aspect``."""

    def p(name: str) -> np.ndarray:
        pt = image[:, INDEX[name], :2].astype(np.float64)
        return np.stack([pt[:, 0] * aspect, -pt[:, 1]], axis=1)

    ls, rs, lh, rh = p("left_shoulder"), p("right_shoulder"), p("left_hip"), p("right_hip")
    le, re_, lw, rw = p("left_elbow"), p("right_elbow"), p("left_wrist"), p("right_wrist")
    sh = ls - rs
    z = image[:, :, 2].astype(np.float64)
    dx = image[:, INDEX["left_shoulder"], 0] - image[:, INDEX["right_shoulder"], 0]
    dz = z[:, INDEX["left_shoulder"]] - z[:, INDEX["right_shoulder"]]
    return {
        "trunk_lean": _lean((ls + rs) / 2 - (lh + rh) / 2),
        "shoulder_tilt": np.degrees(np.arctan2(sh[:, 1], sh[:, 0])),
        "arm_raise_left": _angle2(lh - ls, le - ls),
        "arm_raise_right": _angle2(rh - rs, re_ - rs),
        "elbow_left": _angle2(ls - le, lw - le),
        "elbow_right": _angle2(rs - re_, rw - re_),
        "shoulder_yaw": np.degrees(np.arctan2(dz, dx)),
    }


# -- motion capture: Vicon targets on the frontal plane ------------------------------------------


def load_vicon(path: Path) -> np.ndarray:
    """Target positions (n, 17, 3) in millimetres (x forward, y to the person's left, z up)."""
    data = np.loadtxt(path)
    if data.ndim != 2 or data.shape[1] != len(VICON_TARGETS) * 7:
        raise ValueError(f"{path}: expected rows of 119 values (17 targets x 7), got {data.shape}")
    return data.reshape(-1, len(VICON_TARGETS), 7)[:, :, :3]


def _angle3(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    dot = (u * v).sum(axis=1)
    norm = np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.degrees(np.arccos(np.clip(dot / norm, -1.0, 1.0)))


FRONTAL_SHARE = 0.5  # a segment keeping less of its length on the frontal plane is left out


def _frontal(v3: np.ndarray) -> np.ndarray:
    """True where a 3-D vector (n, 3) keeps at least FRONTAL_SHARE of its length on the
    frontal (y, z) plane."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.linalg.norm(v3[:, 1:], axis=1) / np.linalg.norm(v3, axis=1) >= FRONTAL_SHARE


def vicon_limb_angles_3d(xyz: np.ndarray) -> dict[str, np.ndarray]:
    """Arm raise and elbow angles in 3-D (the anatomical angle, no projection)."""

    def p(name: str) -> np.ndarray:
        return xyz[:, V[name]]

    out = {}
    for side, s in (("left", "L"), ("right", "R")):
        sh, arm = p(f"{s}Shoulder"), p(f"{s}Arm")
        out[f"arm_raise_{side}"] = _angle3(p(f"{s}Thigh") - sh, arm - sh)
        out[f"elbow_{side}"] = 180.0 - _angle3(arm - sh, p(f"{s}Hand") - p(f"{s}Forearm"))
    return out


def vicon_angles(xyz: np.ndarray, frontal_only: bool = True) -> dict[str, np.ndarray]:
    """The same angles from Vicon targets seen from the front: the frontal plane's (right, up)
    is the person's (left, up), i.e. (y, z); the turn uses x (forward) and y. With
    ``frontal_only`` the limb angles are NaN where a segment is foreshortened (points
    toward the camera), where a projected angle means little."""

    def p(name: str) -> np.ndarray:
        return xyz[:, V[name]][:, [1, 2]]

    def seen(*pairs: tuple[str, str]) -> np.ndarray:
        """NaN where one of the segments (a -> b) is foreshortened on the frontal plane."""
        ok = np.ones(xyz.shape[0], dtype=bool)
        for a, b in pairs:
            ok &= _frontal(xyz[:, V[b]] - xyz[:, V[a]])
        return np.where(ok, 1.0, np.nan)

    ls, rs = p("LShoulder"), p("RShoulder")
    sh = ls - rs
    d3 = xyz[:, V["LShoulder"]] - xyz[:, V["RShoulder"]]
    angles = {
        "trunk_lean": _lean((ls + rs) / 2 - p("Hips")),
        "shoulder_tilt": np.degrees(np.arctan2(sh[:, 1], sh[:, 0])),
        # The thigh target stands in for the hip on the same side, the arm target for the
        # elbow's direction; the forearm's direction runs from the forearm target to the hand.
        "arm_raise_left": _angle2(p("LThigh") - ls, p("LArm") - ls),
        "arm_raise_right": _angle2(p("RThigh") - rs, p("RArm") - rs),
        "elbow_left": 180.0 - _angle2(p("LArm") - ls, p("LHand") - p("LForearm")),
        "elbow_right": 180.0 - _angle2(p("RArm") - rs, p("RHand") - p("RForearm")),
        "shoulder_yaw": np.degrees(np.arctan2(-d3[:, 0], d3[:, 1])),
    }
    for side, s in (("left", "L"), ("right", "R")) if frontal_only else ():
        upper = (f"{s}Shoulder", f"{s}Arm")
        angles[f"arm_raise_{side}"] *= seen(upper, (f"{s}Shoulder", f"{s}Thigh"))
        angles[f"elbow_{side}"] *= seen(upper, (f"{s}Forearm", f"{s}Hand"))
    return angles


# -- alignment and errors --------------------------------------------------------------------------


def resample(trace: np.ndarray, fps: float, times: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``trace`` (sampled at ``fps`` from 0 s) at ``times``; NaN
    outside the recording."""
    t = np.arange(trace.size) / fps
    ok = np.isfinite(trace)
    out = np.interp(times, t[ok], trace[ok], left=np.nan, right=np.nan)
    return out


def best_lag(camera: np.ndarray, vicon: np.ndarray, max_lag_s: float = MAX_LAG_S) -> float:
    """The shift (s) of the Vicon trace that best matches the camera trace: the camera frame
    at time t shows what Vicon recorded at t + lag. Normalised cross-correlation over the
    overlap, searched in Vicon sample steps."""
    times = np.arange(camera.size) / CAMERA_FPS
    best, best_r = 0.0, -math.inf
    steps = round(max_lag_s * VICON_FPS)
    for k in range(-steps, steps + 1):
        lag = k / VICON_FPS
        v = resample(vicon, VICON_FPS, times + lag)
        ok = np.isfinite(v) & np.isfinite(camera)
        if ok.sum() < 0.5 * camera.size:
            continue
        a = camera[ok] - camera[ok].mean()
        b = v[ok] - v[ok].mean()
        denom = math.sqrt(float((a * a).sum() * (b * b).sum()))
        r = float((a * b).sum()) / denom if denom > 0 else -math.inf
        if r > best_r:
            best, best_r = lag, r
    return best


@dataclass(frozen=True, slots=True)
class AngleError:
    angle: str
    frames: int
    median_abs: float
    p95_abs: float
    bias: float
    median_abs_square: float  # the picture read as square (x not scaled)
    camera_range: tuple[float, float]
    vicon_range: tuple[float, float]
    median_abs_3d: float  # against Vicon's 3-D angle over all frames (limb angles only)


def _median_abs(e: np.ndarray) -> float:
    e = e[np.isfinite(e)]
    return float(np.median(np.abs(e))) if e.size else math.nan


def errors(
    camera: np.ndarray, vicon: np.ndarray, square: np.ndarray, angle: str, vicon_3d: np.ndarray
) -> AngleError:
    ok = np.isfinite(camera) & np.isfinite(vicon)
    e = camera[ok] - vicon[ok]
    es = square[ok] - vicon[ok]
    e3 = _median_abs(camera - vicon_3d)
    if e.size == 0:
        nan = math.nan
        return AngleError(angle, 0, nan, nan, nan, nan, (nan, nan), (nan, nan), e3)
    return AngleError(
        angle,
        int(e.size),
        float(np.median(np.abs(e))),
        float(np.percentile(np.abs(e), 95)),
        float(np.median(e)),
        float(np.median(np.abs(es))),
        (float(np.percentile(camera[ok], 5)), float(np.percentile(camera[ok], 95))),
        (float(np.percentile(vicon[ok], 5)), float(np.percentile(vicon[ok], 95))),
        e3,
    )


def wrap(a: np.ndarray) -> np.ndarray:
    """Angles to (-180, 180]."""
    return (a + 180.0) % 360.0 - 180.0


def _load(code: str, testdata: Path) -> tuple[np.ndarray, np.ndarray]:
    """Un-mirrored BlazePose image landmarks (n, 33, 4) and Vicon targets (m, 17, 3)."""
    folder = testdata / SAMPLE
    poses = load_keraal(folder / f"G3-BP-{code}-P1T1-Unknown-C-0.json")
    image = unmirror(np.array([p.image for p in poses]))
    return image, load_vicon(folder / f"G3-Vicon-{code}-P1T1-Unknown-C-0.txt")


def _lag(code: str, image: np.ndarray, xyz: np.ndarray) -> float:
    key = ALIGN_ON[code]
    return best_lag(camera_angles(image, ASPECT)[key], vicon_angles(xyz, False)[key])


def compare(code: str, testdata: Path) -> dict:
    image, xyz = _load(code, testdata)
    cam = camera_angles(image, ASPECT)
    cam_sq = camera_angles(image, 1.0)
    vic = vicon_angles(xyz)
    vic3 = vicon_limb_angles_3d(xyz)
    lag = _lag(code, image, xyz)
    times = np.arange(image.shape[0]) / CAMERA_FPS + lag
    out = []
    for angle in ANGLES:
        v = resample(vic[angle], VICON_FPS, times)
        v3 = resample(vic3[angle], VICON_FPS, times) if angle in vic3 else np.full_like(v, np.nan)
        c, s = cam[angle], cam_sq[angle]
        if angle in ("shoulder_tilt", "shoulder_yaw", "trunk_lean"):
            c, s, v = wrap(c), wrap(s), wrap(v)
        out.append(errors(c, v, s, angle, v3))
    return {
        "exercise": code,
        "what": EXERCISES[code],
        "camera_frames": int(image.shape[0]),
        "vicon_frames": int(xyz.shape[0]),
        "aligned_on": ALIGN_ON[code],
        "lag_s": lag,
        "angles": [asdict(e) | {"description": ANGLES[e.angle]} for e in out],
    }


def best_aspect(testdata: Path, min_angle: float = 15.0) -> dict[str, float]:
    """Per angle (shoulder tilt, trunk lean), the picture aspect (searched 1.0-2.4) under
    which the camera agrees best with Vicon (median absolute error) over the frames where
    Vicon reads at least ``min_angle`` degrees: only a clear tilt tells aspects apart."""
    data = []
    for code in EXERCISES:
        image, xyz = _load(code, testdata)
        vic = vicon_angles(xyz)
        times = np.arange(image.shape[0]) / CAMERA_FPS + _lag(code, image, xyz)
        data.append((image, {k: resample(vic[k], VICON_FPS, times) for k in vic}))
    out = {}
    for key in ("shoulder_tilt", "trunk_lean"):
        best, best_err = math.nan, math.inf
        for aspect in np.arange(1.0, 2.41, 0.01):
            errs = []
            for image, vic in data:
                e = wrap(camera_angles(image, float(aspect))[key] - vic[key])
                errs.append(np.abs(e[np.abs(vic[key]) >= min_angle]))
            e = np.concatenate(errs)
            e = e[np.isfinite(e)]
            err = float(np.median(e)) if e.size else math.inf
            if err < best_err:
                best, best_err = round(float(aspect), 2), err
        out[key] = best
    return out


def mocap_report(testdata: Path) -> dict:
    folder = testdata / SAMPLE
    if not folder.is_dir():
        return {"error": f"KERAAL sample not found at {folder}"}
    return {
        "aspect": ASPECT,
        "best_fitting_aspect": best_aspect(testdata),
        "exercises": [compare(code, testdata) for code in EXERCISES],
    }


def _f(x: float, digits: int = 1) -> str:
    return "-" if not math.isfinite(x) else f"{x:.{digits}f}"


def mocap_markdown(report: dict) -> str:
    out = ["## Angles against motion capture (KERAAL, BlazePose vs Vicon)", ""]
    if "error" in report:
        return "\n".join([*out, f"Not measured: {report['error']}.", ""])
    fit = report["best_fitting_aspect"]
    out += [
        "Produced by `bench/mocap.py` (run by `bench/accuracy.py`). One correct execution "
        "of each of three low-back-pain exercises, recorded at the same time by video "
        "(BlazePose landmarks, 30 Hz) and Vicon (17 rigid targets, 60 Hz). The camera's "
        "angles are those the exercises judge, measured in the picture; Vicon's are the "
        "same angles with its targets projected on the person's frontal plane (the camera "
        "stood in front). The traces are aligned by cross-correlating one shared angle; "
        "the error is camera minus Vicon over every aligned frame: median and 95th "
        "percentile of its absolute value, and its median (bias, which includes the "
        "offset between a Vicon target and the joint the camera sees).",
        "",
        "**Picture aspect.** The KERAAL landmark files carry no frame size and their "
        "documentation (`keraal_lbp/doc`) does not state it. The OpenPose files of the "
        "same executions lie on a 1/656 by 1/368 grid, OpenPose's network input for a "
        "16:9 frame (368 rows), so the videos are 16:9 and x is scaled by 16/9 here. "
        "Independently, over the frames where Vicon reads a tilt of 15 deg or more, the "
        "aspect under which the camera agrees best with Vicon is "
        f"{fit['shoulder_tilt']:.2f} for the shoulder tilt and {fit['trunk_lean']:.2f} for "
        "the trunk lean (16/9 = 1.78; square, 1.00, is worse for both; the spread comes "
        'from the targets not sitting on the joints). The column "read as square" shows '
        "the error when x is not scaled, as the app read KERAAL files until their replay "
        "was given the 16:9 aspect (`vision/replay.py`); the `flank_stretch` target was "
        "fitted then.",
        "",
        "**Mirror.** The KERAAL BlazePose files are a mirror image of the video: for the "
        "same frame their x is 1 - x of the OpenPose file's with left and right swapped, "
        'and their "left" arm rises when Vicon\'s right arm does. They are un-mirrored '
        "here before any angle is measured (the app replays them as they are: sides "
        "swapped, which matters for side-specific and signed rules only).",
        "",
    ]
    for ex in report["exercises"]:
        lag_frames = ex["lag_s"] * CAMERA_FPS
        out += [
            f"### {ex['exercise']}: {ex['what']}",
            "",
            f"{ex['camera_frames']} camera frames, {ex['vicon_frames']} Vicon frames; aligned "
            f"on {ex['aligned_on']}: lag {ex['lag_s']:+.3f} s ({lag_frames:+.1f} camera "
            "frames; the camera frame at t shows what Vicon recorded at t + lag).",
            "",
            "| angle | frames | median abs error (deg) | 95th pct abs error (deg) | "
            "bias (deg) | camera 5-95 % range | Vicon 5-95 % range | median abs error "
            "read as square | median abs error against Vicon 3-D |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for a in ex["angles"]:
            cr, vr = a["camera_range"], a["vicon_range"]
            out.append(
                f"| {a['description']} | {a['frames']} | {_f(a['median_abs'])} | "
                f"{_f(a['p95_abs'])} | {_f(a['bias'], 1)} | {_f(cr[0], 0)} to {_f(cr[1], 0)} | "
                f"{_f(vr[0], 0)} to {_f(vr[1], 0)} | {_f(a['median_abs_square'])} | "
                f"{_f(a['median_abs_3d'])} |"
            )
        out.append("")
    out += [
        "Reading the tables:",
        "",
        "- Limb angles (arm raise, elbow) are compared on the frames where Vicon's segments "
        f"keep at least {FRONTAL_SHARE:.0%} of their length on the frontal plane; an arm held "
        "toward the camera is foreshortened in any picture. The last column compares the "
        "camera's picture angle with Vicon's 3-D (anatomical) angle on every frame: how "
        "far an image-plane range target is from the joint's real angle.",
        "- The shoulder-line turn from the landmark depth (z) is what a landmark file without "
        "world landmarks could offer a rotation rule.",
        "- A bias that stays put across an execution comes mostly from where the targets sit "
        "on the body; the spread (95th percentile) is the camera's own noise plus moments "
        "the two systems see differently.",
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true")
    p.add_argument("--testdata", type=Path, default=(ROOT / ".." / "shared" / "testdata"))
    args = p.parse_args(argv)
    report = mocap_report(args.testdata.resolve())
    print(json.dumps(report, indent=2) if args.json else mocap_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
