"""Joint angles from landmark triplets, 2-D (image plane) or 3-D (world)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from kernels.config import JIT


@njit(**JIT)
def _joint_angles(points, triplets, out):
    # Angle at b between rays b->a and b->c, degrees in [0, 180]; NaN if missing or degenerate.
    dims = points.shape[1]
    for k in range(triplets.shape[0]):
        a = triplets[k, 0]
        b = triplets[k, 1]
        c = triplets[k, 2]
        dot = 0.0
        n1 = 0.0
        n2 = 0.0
        for d in range(dims):
            u = points[a, d] - points[b, d]
            v = points[c, d] - points[b, d]
            dot += u * v
            n1 += u * u
            n2 += v * v
        denom = math.sqrt(n1 * n2)
        if not (denom > 1e-12) or not math.isfinite(dot) or not math.isfinite(denom):
            out[k] = np.nan
            continue
        cosv = dot / denom
        cosv = min(1.0, max(-1.0, cosv))
        out[k] = math.degrees(math.acos(cosv))


def joint_angles(points: np.ndarray, triplets: np.ndarray) -> np.ndarray:
    """Angles in degrees at the middle landmark of each triplet.

    ``points``: (n_landmarks, 2 or 3) coordinates; NaN marks a missing landmark.
    ``triplets``: (k, 3) landmark indices (a, vertex, c).
    Returns (k,) float64 degrees in [0, 180], NaN where any of the three is missing.
    For 2-D image coordinates pass pixel-scaled points (x * width, y * height) so the
    angle is not distorted by the frame's aspect ratio.
    """
    pts = np.ascontiguousarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] not in (2, 3):
        raise ValueError(f"joint_angles: expected points (n, 2) or (n, 3), got {pts.shape}")
    tri = np.ascontiguousarray(triplets, dtype=np.int64)
    if tri.ndim != 2 or tri.shape[1] != 3:
        raise ValueError(f"joint_angles: expected triplets (k, 3), got {tri.shape}")
    if tri.size and (tri.min() < 0 or tri.max() >= pts.shape[0]):
        raise ValueError(
            f"joint_angles: triplet indices must lie in 0..{pts.shape[0] - 1}, "
            f"got {tri.min()}..{tri.max()}"
        )
    out = np.empty(tri.shape[0], dtype=np.float64)
    _joint_angles(pts, tri, out)
    return out
