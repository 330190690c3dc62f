"""Range of motion on the driving signal: progress toward the target, peak per rep, and the
safety flag for the pain-free limit.

Progress is ``(value - start) / (target - start)``: 0 at the start position, 1 at the
patient's personal target, above 1 beyond it, negative behind the start. The signal may go
down (squat knee angle) or up (machine extension angle).

The **pain-free limit** is a value of the signal in the direction of movement. A sample is
*past* the limit when it lies strictly beyond it (a sample exactly on the limit is not). The
flag ``over_limit`` is raised for the block of samples (one frame's worth) that contains a
sample past the limit: the same frame, never earlier, never later; ``tripped`` latches until
:meth:`RangeOfMotion.reset_safety`. No debounce here: a safety stop must not wait.
NaN / inf samples are skipped; they never raise the flag and never move the peak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from kernels.config import JIT, JIT_INLINE

# Parameters: start, target, pain-free limit (NaN: none).
R_START, R_TARGET, R_LIMIT = 0, 1, 2
# State: latest progress, peak progress this rep, latched trip.
R_PROGRESS, R_PEAK, R_TRIPPED = 0, 1, 2


@njit(**JIT_INLINE)
def _rom_sample(v, params, state):
    # One sample; True when it lies past the pain-free limit. NaN / inf: skipped.
    if not math.isfinite(v):
        return False
    span = params[R_TARGET] - params[R_START]
    p = (v - params[R_START]) / span
    state[R_PROGRESS] = p
    if not (p <= state[R_PEAK]):  # also when the peak is still NaN
        state[R_PEAK] = p
    direction = 1.0 if span > 0.0 else -1.0
    if (v - params[R_LIMIT]) * direction > 0.0:
        state[R_TRIPPED] = 1.0
        return True
    return False


@njit(**JIT)
def _rom_block(values, params, state):
    # Returns the index in ``values`` of the first sample past the limit, or -1.
    first_over = -1
    for i in range(values.shape[0]):
        if _rom_sample(values[i], params, state) and first_over < 0:
            first_over = i
    return first_over


@njit(**JIT)
def _rom_run(values, frame_start, params, state, progress, peak, over, tripped):
    # Batch: frame f owns samples frame_start[f] .. frame_start[f + 1] - 1.
    for f in range(frame_start.shape[0] - 1):
        first = _rom_block(values[frame_start[f] : frame_start[f + 1]], params, state)
        progress[f] = state[R_PROGRESS]
        peak[f] = state[R_PEAK]
        over[f] = first >= 0
        tripped[f] = state[R_TRIPPED] == 1.0


def rom_params(start: float, target: float, pain_free_limit: float = math.nan) -> np.ndarray:
    """Validated parameter vector: ``start``, ``target``, ``pain_free_limit`` in the signal's
    unit (NaN: no limit). The limit must lie beyond the start in the direction of movement."""
    if not (math.isfinite(start) and math.isfinite(target)) or start == target:
        raise ValueError(
            f"range of motion: expected finite, distinct start and target, got {start}, {target}"
        )
    if math.isinf(pain_free_limit) or (
        math.isfinite(pain_free_limit) and (pain_free_limit - start) * (target - start) <= 0
    ):
        raise ValueError(
            "range of motion: expected a pain-free limit beyond the start in the direction of "
            f"the target (start {start}, target {target}), got {pain_free_limit}"
        )
    return np.array([start, target, pain_free_limit], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class RomState:
    """``progress``: latest progress (NaN before the first finite sample); ``peak``: highest
    progress since :meth:`RangeOfMotion.new_rep`; ``over_limit``: a sample of this update was
    past the pain-free limit; ``tripped``: one was, at some point since the last reset."""

    progress: float
    peak: float
    over_limit: bool
    tripped: bool


class RangeOfMotion:
    """Range progress and the pain-free safety flag, fed one frame's samples at a time."""

    def __init__(self, start: float, target: float, pain_free_limit: float = math.nan) -> None:
        self.params = rom_params(start, target, pain_free_limit)
        self._state = np.array([np.nan, np.nan, 0.0])

    @property
    def limit_progress(self) -> float:
        """Where the pain-free limit lies as progress (NaN if none)."""
        p = self.params
        return float((p[R_LIMIT] - p[R_START]) / (p[R_TARGET] - p[R_START]))

    def new_rep(self) -> None:
        """Start a new peak (call when a rep starts or ends)."""
        self._state[R_PEAK] = np.nan

    def reset_safety(self) -> None:
        self._state[R_TRIPPED] = 0.0

    def update(self, values: float | np.ndarray) -> RomState:
        """Feed the samples of one frame: a scalar or (k,) values in the signal's unit."""
        vals = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
        first = _rom_block(vals, self.params, self._state)
        s = self._state
        return RomState(float(s[R_PROGRESS]), float(s[R_PEAK]), first >= 0, s[R_TRIPPED] == 1.0)


@dataclass(frozen=True, slots=True)
class RomTrack:
    """Batch result, one entry per frame: ``progress``, ``peak`` float64 (f,), ``over_limit``,
    ``tripped`` bool (f,)."""

    progress: np.ndarray
    peak: np.ndarray
    over_limit: np.ndarray
    tripped: np.ndarray


def frame_offsets(name: str, frame_start: np.ndarray | None, n_samples: int) -> np.ndarray:
    """Validate a (frames + 1,) int64 offsets array into a sample array (CSR layout): frame
    ``f`` owns samples ``frame_start[f] .. frame_start[f + 1] - 1``. None: one per frame."""
    if frame_start is None:
        return np.arange(n_samples + 1, dtype=np.int64)
    fs = np.ascontiguousarray(frame_start, dtype=np.int64)
    if (
        fs.ndim != 1
        or fs.shape[0] < 1
        or fs[0] != 0
        or fs[-1] != n_samples
        or (fs.shape[0] > 1 and np.any(np.diff(fs) < 0))
    ):
        raise ValueError(
            f"{name}: expected frame_start (frames + 1,) rising from 0 to {n_samples}, "
            f"got shape {fs.shape}"
        )
    return fs


def track_range(
    values: np.ndarray,
    start: float,
    target: float,
    pain_free_limit: float = math.nan,
    frame_start: np.ndarray | None = None,
) -> RomTrack:
    """Batch :class:`RangeOfMotion` over a recording; ``values`` (m,) samples, grouped into
    frames by ``frame_start`` (see :func:`frame_offsets`). The peak is not reset per rep here
    (run per rep, or use :mod:`kernels.batch`)."""
    vals = np.ascontiguousarray(values, dtype=np.float64)
    if vals.ndim != 1:
        raise ValueError(f"track_range: expected values (m,), got {vals.shape}")
    fs = frame_offsets("track_range", frame_start, vals.shape[0])
    n = fs.shape[0] - 1
    progress = np.empty(n)
    peak = np.empty(n)
    over = np.empty(n, dtype=np.bool_)
    tripped = np.empty(n, dtype=np.bool_)
    state = np.array([np.nan, np.nan, 0.0])
    _rom_run(
        vals, fs, rom_params(start, target, pain_free_limit), state, progress, peak, over, tripped
    )
    return RomTrack(progress, peak, over, tripped)
