"""Landmark tables other people saved from MediaPipe, read as our poses.

- kaiakol ``.npy``: frames x 17 x (x, y, visibility), landmarks nose, then left and right
  shoulder, elbow, wrist, hip, knee, ankle, heel and foot index; x and y image-normalised.
- ngoquocbao ``.csv``: a header ``label, nose_x, nose_y, nose_z, nose_v, ...`` and one frame a
  row, the first column a per-frame label (e.g. C correct, L leaning back).

Neither stores time stamps or world landmarks: frames are spaced at ``fps`` and world
landmarks are NaN; landmarks the table lacks are NaN with visibility 0.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from body.landmarks import INDEX, NUM_LANDMARKS
from body.pose import Pose
from vision.errors import RecordingError, SourceNotFound

_PARTS = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "heel", "foot_index")
KAIAKOL_17: tuple[str, ...] = (
    "nose",
    *(f"{side}_{part}" for part in _PARTS for side in ("left", "right")),
)


def _poses(image: np.ndarray, fps: float) -> list[Pose]:
    world = np.full((NUM_LANDMARKS, 3), np.nan, dtype=np.float32)
    return [Pose(i / fps, frame, world) for i, frame in enumerate(image)]


def load_npy17(path: str | Path, fps: float = 30.0) -> list[Pose]:
    """A kaiakol landmark array as poses."""
    path = Path(path)
    if not path.is_file():
        raise SourceNotFound(f"landmark file not found: {path}")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise RecordingError(f"{path}: not a numpy array file ({exc})") from None
    if data.ndim != 3 or data.shape[1:] != (len(KAIAKOL_17), 3) or data.shape[0] == 0:
        raise RecordingError(f"{path}: expected an array frames x 17 x 3, found {data.shape}")
    image = np.full((data.shape[0], NUM_LANDMARKS, 4), np.nan, dtype=np.float32)
    image[..., 3] = 0.0
    for j, name in enumerate(KAIAKOL_17):
        image[:, INDEX[name], :2] = data[:, j, :2]
        image[:, INDEX[name], 3] = data[:, j, 2]
    return _poses(image, fps)


def load_labelled_csv(path: str | Path, fps: float = 30.0) -> tuple[list[str], list[Pose]]:
    """A ngoquocbao landmark CSV: the per-frame labels and the poses."""
    path = Path(path)
    if not path.is_file():
        raise SourceNotFound(f"landmark file not found: {path}")
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    if len(rows) < 2:
        raise RecordingError(f"{path}: expected a header and at least one frame")
    header = rows[0]
    columns: dict[int, tuple[int, int]] = {}  # csv column -> (landmark, x/y/z/v slot)
    slots = {"x": 0, "y": 1, "z": 2, "v": 3}
    for c, name in enumerate(header[1:], start=1):
        landmark, _, axis = name.rpartition("_")
        if landmark not in INDEX or axis not in slots:
            raise RecordingError(f"{path}: column {name!r} is not <landmark>_<x|y|z|v>")
        columns[c] = (INDEX[landmark], slots[axis])
    image = np.full((len(rows) - 1, NUM_LANDMARKS, 4), np.nan, dtype=np.float32)
    image[..., 3] = 0.0
    labels = []
    for f, row in enumerate(rows[1:]):
        if len(row) != len(header):
            raise RecordingError(f"{path}: row {f + 2}: expected {len(header)} values")
        labels.append(row[0])
        try:
            for c, (lm, slot) in columns.items():
                image[f, lm, slot] = float(row[c])
        except ValueError:
            raise RecordingError(f"{path}: row {f + 2}: expected numbers") from None
    return labels, _poses(image, fps)


def label_runs(labels: list[str]) -> list[tuple[int, int, str]]:
    """Consecutive frames with the same label: (first, end exclusive, label)."""
    runs: list[tuple[int, int, str]] = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            runs.append((start, i, labels[start]))
            start = i
    return runs
