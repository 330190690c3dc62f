"""Downsampling and compact encoding of signal traces for storage."""

from __future__ import annotations

import numpy as np

DEFAULT_RATE_HZ = 25.0  # enough for reports; a 30 min session is ~45k points a signal


def downsample(
    t: np.ndarray, values: np.ndarray, max_rate_hz: float = DEFAULT_RATE_HZ
) -> tuple[np.ndarray, np.ndarray]:
    """Reduce a signal to about ``2 * max_rate_hz`` points a second, keeping each bucket's
    minimum and maximum (in time order) so peaks such as force spikes survive.

    ``t``: (n,) seconds, non-decreasing; ``values``: (n,). NaN values are kept only where a
    whole bucket is NaN. Returns float64 ``t`` and float32 ``values``.
    """
    t = np.asarray(t, dtype=np.float64).ravel()
    v = np.asarray(values, dtype=np.float64).ravel()
    if t.shape != v.shape:
        raise ValueError(f"trace: t and values must have the same length, got {t.shape} {v.shape}")
    if t.size == 0 or max_rate_hz <= 0:
        return t, v.astype(np.float32)
    bucket = np.floor((t - t[0]) * max_rate_hz).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    if starts.size * 2 >= t.size:
        return t, v.astype(np.float32)
    keep: list[int] = []
    ends = np.r_[starts[1:], t.size]
    for s, e in zip(starts, ends, strict=True):
        seg = v[s:e]
        finite = np.isfinite(seg)
        if not finite.any():
            keep.append(s)
            continue
        lo = s + int(np.nanargmin(seg))
        hi = s + int(np.nanargmax(seg))
        keep.extend(sorted({lo, hi}))
    idx = np.asarray(keep, dtype=np.int64)
    return t[idx], v[idx].astype(np.float32)


def encode(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a, dtype="<f4").tobytes()


def decode(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype="<f4").astype(np.float32)
