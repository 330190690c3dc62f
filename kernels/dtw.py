"""Dynamic time warping of two multichannel movements: how far a patient's rep lies from the
reference once their timing is set aside.

Both movements are sequences of samples, each a row of channels (the driving signal's
progress, the judged angles) already divided by each channel's tolerance, so one unit means
"one tolerance off". The cost of pairing sample ``i`` of ``a`` with sample ``j`` of ``b`` is
the root mean square of their channel differences over the channels finite in both; a pair
with no such channel costs ``missing_cost``. The warping path runs from the first pair to the
last with steps (1, 0), (0, 1) and (1, 1), inside a band of ``window`` samples around the
diagonal (scaled for unequal lengths), and the distance is the mean cost along the cheapest
path (total cost over the number of pairs on it; on equal totals the diagonal step wins, then
the step from the row above). Equal movements are 0 apart.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from kernels.config import JIT


@njit(**JIT)
def _pair_cost(a, i, b, j, missing_cost):
    total = 0.0
    n = 0
    for k in range(a.shape[1]):
        d = a[i, k] - b[j, k]
        if math.isfinite(d):
            total += d * d
            n += 1
    if n == 0:
        return missing_cost
    return math.sqrt(total / n)


@njit(**JIT)
def _dtw(a, b, window, missing_cost, acc, steps):
    # acc, steps: (n, m) workspaces. Returns the mean cost on the cheapest path.
    n, m = a.shape[0], b.shape[0]
    for i in range(n):
        centre = i * (m - 1) / (n - 1) if n > 1 else 0.0
        lo = max(0, math.ceil(centre - window))
        hi = min(m - 1, math.floor(centre + window))
        for j in range(m):
            acc[i, j] = np.inf
            steps[i, j] = 0.0
        for j in range(lo, hi + 1):
            c = _pair_cost(a, i, b, j, missing_cost)
            if i == 0 and j == 0:
                acc[i, j] = c
                steps[i, j] = 1.0
                continue
            best = np.inf
            best_steps = 0.0
            if i > 0 and acc[i - 1, j] < best:
                best = acc[i - 1, j]
                best_steps = steps[i - 1, j]
            if j > 0 and acc[i, j - 1] < best:
                best = acc[i, j - 1]
                best_steps = steps[i, j - 1]
            if i > 0 and j > 0 and acc[i - 1, j - 1] <= best:
                best = acc[i - 1, j - 1]
                best_steps = steps[i - 1, j - 1]
            if best < np.inf:
                acc[i, j] = best + c
                steps[i, j] = best_steps + 1.0
    if not acc[n - 1, m - 1] < np.inf:
        return np.nan
    return acc[n - 1, m - 1] / steps[n - 1, m - 1]


def dtw_distance(a: np.ndarray, b: np.ndarray, window: float, missing_cost: float = 1.0) -> float:
    """Mean cost per pair on the cheapest warping path between ``a`` (n, c) and ``b`` (m, c),
    float, in the channels' (tolerance) units; ``window`` in samples (>= 0; a band this wide
    either side of the diagonal); ``missing_cost`` for a pair with no channel finite in both.
    NaN when either movement is empty."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(
            f"dtw_distance: expected a (n, c) and b (m, c), got {a.shape} and {b.shape}"
        )
    if not (math.isfinite(window) and window >= 0):
        raise ValueError(f"dtw_distance: expected a window >= 0, got {window}")
    if not (math.isfinite(missing_cost) and missing_cost >= 0):
        raise ValueError(f"dtw_distance: expected missing_cost >= 0, got {missing_cost}")
    if a.shape[0] == 0 or b.shape[0] == 0:
        return math.nan
    # The band must be wide enough for the path to cross it when the lengths differ.
    n, m = a.shape[0], b.shape[0]
    slope = (m - 1) / (n - 1) if n > 1 else 1.0
    window = max(float(window), 1.0, slope)
    acc = np.empty((a.shape[0], b.shape[0]))
    steps = np.empty((a.shape[0], b.shape[0]))
    return float(_dtw(a, b, window, float(missing_cost), acc, steps))
