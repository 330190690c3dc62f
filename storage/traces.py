"""Downsampling and compact encoding of signal traces for storage."""

from __future__ import annotations

import numpy as np

DEFAULT_RATE_HZ = 25.0  # enough for reports; a 30 min session is ~45k points a signal


def downsample(
    t: np.ndarray, values: np.ndarray, max_rate_hz: float = DEFAULT_RATE_HZ
) -> tuple[np.ndarray, np.ndarray]:
    """Reduce a signal to about ``2 * max_rate_hz`` points a second, keeping each bucket's
    minimum and maximum (in time order, the first one on ties) so peaks such as force spikes
    survive.

    ``t``: (n,) seconds, non-decreasing; ``values``: (n,). A NaN is kept only where a whole
    bucket is NaN (one sample). Returns float64 ``t`` and float32 ``values``.
    """
    t = np.asarray(t, dtype=np.float64).ravel()
    v = np.asarray(values, dtype=np.float64).ravel()
    if t.shape != v.shape:
        raise ValueError(f"trace: t and values must have the same length, got {t.shape} {v.shape}")
    if t.size == 0 or max_rate_hz <= 0:
        return t, v.astype(np.float32)
    bucket = np.floor((t - t[0]) * max_rate_hz).astype(np.int64)
    if np.count_nonzero(np.diff(bucket)) * 2 + 2 >= t.size:
        return t, v.astype(np.float32)  # already sparse enough
    # Per bucket, the first index of its minimum and of its maximum, without a Python loop:
    # sort by (bucket, value) and take each bucket's first row; NaN sorts as "never chosen".
    by_min = np.lexsort((np.where(np.isnan(v), np.inf, v), bucket))
    by_max = np.lexsort((np.where(np.isnan(v), np.inf, -v), bucket))
    first = np.r_[True, bucket[by_min][1:] != bucket[by_min][:-1]]
    idx = np.union1d(by_min[first], by_max[first])
    return t[idx], v[idx].astype(np.float32)


def encode(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a, dtype="<f4").tobytes()


def decode(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype="<f4").astype(np.float32)
