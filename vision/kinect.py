"""Kinect v2 skeletons from two research datasets, mapped onto the 33 BlazePose landmarks.

- **KIMORE** CSV (``JointPositionExercise*.csv``): one frame a row, 25 joints x (x, y, z,
  tracking state) in the sensor's camera space (metres; x to the sensor's left, y up, z away
  from the sensor); a blank row is a frame with no skeleton.
- **UI-PRMD** Kinect ``*_positions*.txt[.gz]`` with the matching ``*_angles*`` file: 22 joints
  x 3, each joint's position relative to its parent in the parent's own frame (centimetres),
  only joint 0 (waist) absolute; the angles file holds each joint's rotation relative to its
  parent as Euler angles in degrees, applied y first, then x, then z (R = Rz Rx Ry). Forward
  kinematics walks the hierarchy ``UIPRMD_PARENTS`` from the waist.

Both become a :class:`Skeleton` in one *scene frame*: metres, seen from the sensor, x to the
right of its picture, y down, z away from it. Joints with no BlazePose counterpart are
dropped; BlazePose landmarks with no Kinect counterpart stay NaN with visibility 0.
``docs/sources.md`` lists the mapping and why each pair was chosen.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from body.landmarks import INDEX, NUM_LANDMARKS
from vision.errors import RecordingError, SourceNotFound

KINECT_FPS = 30.0  # Kinect v2 skeleton stream, both datasets

# Kinect v2 SDK joint order (JointType enumeration); "left" is the person's own left.
KINECT_JOINTS: tuple[str, ...] = (
    "SpineBase", "SpineMid", "Neck", "Head",
    "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
    "ShoulderRight", "ElbowRight", "WristRight", "HandRight",
    "HipLeft", "KneeLeft", "AnkleLeft", "FootLeft",
    "HipRight", "KneeRight", "AnkleRight", "FootRight",
    "SpineShoulder", "HandTipLeft", "ThumbLeft", "HandTipRight", "ThumbRight",
)  # fmt: skip

# Kinect joint -> nearest BlazePose landmark. The spine joints, the neck and the palm centre
# have no BlazePose counterpart; BlazePose's eyes, ears, mouth, pinkies and heels have no
# Kinect counterpart.
KINECT_TO_BLAZEPOSE: dict[str, str] = {
    "Head": "nose",
    "ShoulderLeft": "left_shoulder", "ShoulderRight": "right_shoulder",
    "ElbowLeft": "left_elbow", "ElbowRight": "right_elbow",
    "WristLeft": "left_wrist", "WristRight": "right_wrist",
    "HandTipLeft": "left_index", "HandTipRight": "right_index",
    "ThumbLeft": "left_thumb", "ThumbRight": "right_thumb",
    "HipLeft": "left_hip", "HipRight": "right_hip",
    "KneeLeft": "left_knee", "KneeRight": "right_knee",
    "AnkleLeft": "left_ankle", "AnkleRight": "right_ankle",
    "FootLeft": "left_foot_index", "FootRight": "right_foot_index",
}  # fmt: skip

# UI-PRMD's 22-joint Kinect skeleton (Vakanski et al. 2018, Data 3(1):2) and its hierarchy.
UIPRMD_JOINTS: tuple[str, ...] = (
    "Waist", "Spine", "Chest", "Neck", "Head", "HeadTip",
    "LeftCollar", "LeftUpperArm", "LeftForearm", "LeftHand",
    "RightCollar", "RightUpperArm", "RightForearm", "RightHand",
    "LeftUpperLeg", "LeftLowerLeg", "LeftFoot", "LeftLegToes",
    "RightUpperLeg", "RightLowerLeg", "RightFoot", "RightLegToes",
)  # fmt: skip
UIPRMD_PARENTS: tuple[int, ...] = (
    -1, 0, 1, 2, 3, 4, 2, 6, 7, 8, 2, 10, 11, 12, 0, 14, 15, 16, 0, 18, 19, 20,
)  # fmt: skip

# Each segment is named after the joint it starts at: the upper arm starts at the shoulder,
# the forearm at the elbow, the hand at the wrist, the upper leg at the hip, the lower leg at
# the knee, the foot at the ankle.
UIPRMD_TO_BLAZEPOSE: dict[str, str] = {
    "Head": "nose",
    "LeftUpperArm": "left_shoulder", "RightUpperArm": "right_shoulder",
    "LeftForearm": "left_elbow", "RightForearm": "right_elbow",
    "LeftHand": "left_wrist", "RightHand": "right_wrist",
    "LeftUpperLeg": "left_hip", "RightUpperLeg": "right_hip",
    "LeftLowerLeg": "left_knee", "RightLowerLeg": "right_knee",
    "LeftFoot": "left_ankle", "RightFoot": "right_ankle",
    "LeftLegToes": "left_foot_index", "RightLegToes": "right_foot_index",
}  # fmt: skip

# Kinect tracking state -> visibility: tracked, inferred (the SDK's guess for a hidden
# joint: kept, but weak), not tracked (dropped).
_STATE_VISIBILITY = {2: 1.0, 1: 0.5, 0: 0.0}


@dataclass(frozen=True, slots=True)
class Skeleton:
    """A recorded 3-D skeleton on the 33 BlazePose landmarks, in the scene frame.

    ``xyz``: float64 (n, 33, 3) metres, x right and y down as the sensor saw it, z away from
    it; NaN where a landmark has no source joint or was not tracked. ``visibility``: (n, 33)
    in 0..1. ``present``: (n,) False for frames with no skeleton. ``fps``: frame rate.
    """

    xyz: np.ndarray
    visibility: np.ndarray
    present: np.ndarray
    fps: float
    name: str

    def __post_init__(self) -> None:
        n = self.present.shape[0]
        for label, arr, shape in (
            ("xyz", self.xyz, (n, NUM_LANDMARKS, 3)),
            ("visibility", self.visibility, (n, NUM_LANDMARKS)),
        ):
            if arr.shape != shape:
                raise ValueError(f"Skeleton.{label}: expected shape {shape}, got {arr.shape}")

    def __len__(self) -> int:
        return int(self.present.shape[0])


def _blank(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((n, NUM_LANDMARKS, 3), np.nan), np.zeros((n, NUM_LANDMARKS))


def _require_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise SourceNotFound(f"recording not found: {path}")
    return path


# -- KIMORE ----------------------------------------------------------------------------------


def load_kimore(path: str | Path) -> Skeleton:
    """A KIMORE ``JointPositionExercise*.csv`` file (Kinect v2 camera space, metres)."""
    path = _require_file(path)
    n_values = len(KINECT_JOINTS) * 4
    rows: list[np.ndarray | None] = []
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError:
        raise RecordingError(f"{path}: not a text file (expected KIMORE CSV rows)") from None
    for i, line in enumerate(lines, start=1):
        text = line.strip().rstrip(",")
        if not text:
            rows.append(None)  # no skeleton in this frame
            continue
        try:
            values = np.array([float(v) for v in text.split(",")])
        except ValueError:
            raise RecordingError(f"{path}: row {i}: expected numbers separated by commas") from None
        if values.size != n_values:
            raise RecordingError(
                f"{path}: row {i}: expected {n_values} values (25 joints x x, y, z, tracking "
                f"state), found {values.size}"
            )
        rows.append(values.reshape(len(KINECT_JOINTS), 4))
    if not any(r is not None for r in rows):
        raise RecordingError(f"{path}: no skeleton rows")
    xyz, vis = _blank(len(rows))
    present = np.array([r is not None for r in rows])
    for name, landmark in KINECT_TO_BLAZEPOSE.items():
        j, lm = KINECT_JOINTS.index(name), INDEX[landmark]
        for f, r in enumerate(rows):
            if r is None:
                continue
            state = int(r[j, 3])
            if state not in _STATE_VISIBILITY:
                raise RecordingError(
                    f"{path}: row {f + 1}, joint {name}: tracking state must be 0, 1 or 2, "
                    f"found {r[j, 3]:g}"
                )
            if state == 0 or not np.isfinite(r[j, :3]).all():
                continue
            # Kinect camera space (x to the sensor's left, y up) -> scene (x right, y down).
            xyz[f, lm] = (-r[j, 0], -r[j, 1], r[j, 2])
            vis[f, lm] = _STATE_VISIBILITY[state]
    return Skeleton(xyz, vis, present, KINECT_FPS, path.name)


# -- UI-PRMD ---------------------------------------------------------------------------------


def _read_table(path: Path, columns: int) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt") as fh:
            data = np.loadtxt(fh, delimiter=",", ndmin=2)
    except (OSError, ValueError, EOFError) as exc:
        raise RecordingError(f"{path}: expected comma-separated numbers ({exc})") from None
    if data.shape[1] != columns or data.shape[0] == 0:
        raise RecordingError(
            f"{path}: expected rows of {columns} values (22 joints x 3), found {data.shape}"
        )
    return data


def uiprmd_angles_path(positions: Path) -> Path:
    """The angles file that goes with a UI-PRMD positions file (sibling ``Angles`` folder in
    the dataset's layout, or the same folder)."""
    name = positions.name.replace("_positions", "_angles")
    candidates = [positions.with_name(name)]
    if positions.parent.name == "Positions":
        candidates.insert(0, positions.parent.parent / "Angles" / name)
    for c in candidates:
        if c.is_file():
            return c
    raise SourceNotFound(
        f"{positions}: UI-PRMD positions need their angles file for forward kinematics; "
        f"looked for {' and '.join(str(c) for c in candidates)}"
    )


def _euler_zxy(deg: np.ndarray) -> np.ndarray:
    """(..., 3) angles in degrees about x, y, z -> (..., 3, 3) rotations Rz @ Rx @ Ry."""
    x, y, z = (np.radians(deg[..., k]) for k in range(3))
    cx, sx, cy, sy, cz, sz = np.cos(x), np.sin(x), np.cos(y), np.sin(y), np.cos(z), np.sin(z)
    one, zero = np.ones_like(x), np.zeros_like(x)
    rx = np.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1).reshape(*x.shape, 3, 3)
    ry = np.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).reshape(*x.shape, 3, 3)
    rz = np.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1).reshape(*x.shape, 3, 3)
    return rz @ rx @ ry


def uiprmd_forward_kinematics(positions: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Absolute joint positions (n, 22, 3), same unit as ``positions`` (n, 22, 3), from
    parent-relative offsets and parent-relative rotations ``angles`` (n, 22, 3) degrees."""
    local = _euler_zxy(angles)
    out = np.empty_like(positions)
    glob = np.empty(local.shape)
    out[:, 0] = positions[:, 0]
    glob[:, 0] = local[:, 0]
    for j in range(1, len(UIPRMD_PARENTS)):
        p = UIPRMD_PARENTS[j]
        out[:, j] = out[:, p] + np.einsum("nij,nj->ni", glob[:, p], positions[:, j])
        glob[:, j] = glob[:, p] @ local[:, j]
    return out


def load_uiprmd_joints(path: str | Path) -> np.ndarray:
    """Absolute UI-PRMD joint positions (n, 22, 3) in the dataset's frame, centimetres."""
    path = _require_file(path)
    cols = len(UIPRMD_JOINTS) * 3
    pos = _read_table(path, cols).reshape(-1, len(UIPRMD_JOINTS), 3)
    ang = _read_table(uiprmd_angles_path(path), cols).reshape(-1, len(UIPRMD_JOINTS), 3)
    if ang.shape != pos.shape:
        raise RecordingError(f"{path}: {pos.shape[0]} position rows but {ang.shape[0]} angle rows")
    return uiprmd_forward_kinematics(pos, ang)


def load_uiprmd(path: str | Path) -> Skeleton:
    """A UI-PRMD Kinect positions file (one repetition) as a skeleton in the scene frame."""
    joints = load_uiprmd_joints(path)
    n = joints.shape[0]
    xyz, vis = _blank(n)
    for name, landmark in UIPRMD_TO_BLAZEPOSE.items():
        j, lm = UIPRMD_JOINTS.index(name), INDEX[landmark]
        # Dataset frame (cm; x toward the person's left as they face the sensor, y up, z from
        # the person toward the sensor) -> scene (m; x right, y down, z away from the sensor).
        xyz[:, lm] = joints[:, j] * np.array([0.01, -0.01, -0.01])
        vis[:, lm] = 1.0  # the dataset keeps no tracking state
    return Skeleton(xyz, vis, np.ones(n, dtype=bool), KINECT_FPS, Path(path).name)


def concatenate(skeletons: list[Skeleton], name: str) -> Skeleton:
    """Recordings played one after the other (e.g. single-repetition files into a set)."""
    if not skeletons:
        raise ValueError("concatenate: expected at least one skeleton")
    fps = {s.fps for s in skeletons}
    if len(fps) != 1:
        raise ValueError(f"concatenate: recordings differ in frame rate ({sorted(fps)})")
    return Skeleton(
        np.concatenate([s.xyz for s in skeletons]),
        np.concatenate([s.visibility for s in skeletons]),
        np.concatenate([s.present for s in skeletons]),
        fps.pop(),
        name,
    )


# -- recognising the files -------------------------------------------------------------------


def kinect_format(path: str | Path) -> str | None:
    """``"kimore"``, ``"uiprmd"`` or None, from the file name."""
    name = Path(path).name.lower()
    if name.endswith(".csv"):
        return "kimore"
    if "_positions" in name and name.endswith((".txt", ".txt.gz")):
        return "uiprmd"
    return None


def load_kinect(path: str | Path) -> Skeleton:
    kind = kinect_format(path)
    if kind == "kimore":
        return load_kimore(path)
    if kind == "uiprmd":
        return load_uiprmd(path)
    raise RecordingError(
        f"{path}: not a Kinect recording (expected a KIMORE .csv or a UI-PRMD "
        "*_positions*.txt[.gz] file)"
    )


def bone_lengths(sk: Skeleton, a: str, b: str) -> np.ndarray:
    """Distance (m) between two landmarks in every frame (NaN where either is missing)."""
    d = sk.xyz[:, INDEX[a]] - sk.xyz[:, INDEX[b]]
    return np.sqrt((d * d).sum(axis=1))
