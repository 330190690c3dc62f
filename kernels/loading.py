"""Controlled loading for machine exercises: load band, rate of force change, time under
tension, movement smoothness per rep, and left / right comparison.

Fed the machine's samples of one frame at a time (device time s, force N, angle deg; 1 to a
few dozen samples a frame), so a limit crossed between two camera frames is still seen on the
frame that follows it.

* **Load band** ``[band_low_n, band_high_n]``: a share of the patient's tested maximum (see
  :func:`load_band`). Status of the latest sample: ``IN_BAND`` 0, ``BELOW`` 1, ``ABOVE`` 2,
  ``NO_FORCE`` 3 (no finite sample yet). ``limit_n`` is the hard safety limit: ``over_limit``
  on the frame whose samples hold one strictly above it, like the range-of-motion flag.
* **Rate of force change** (N/s): the sample-to-sample derivative through a one-pole low-pass
  at ``rate_hz``; ``rate_exceeded`` when its magnitude passes ``rate_limit_n_s`` in the frame.
* **Time under tension** (s): time between consecutive samples while force is at least
  ``tension_n``; gaps longer than ``max_gap_s`` count as ``max_gap_s``.
* **Smoothness**: spectral arc length (SPARC) of the angular speed profile, from the angle
  averaged over ``bin_s`` bins (bounded buffer) and scored once at rep end by :func:`sparc`.
  SPARC is made for one point-to-point movement, so a rep's out and back phases are scored
  apart and averaged. Closer to zero is smoother (a single smooth bell-shaped speed profile scores
  about -1.4; a hesitant, multi-peaked one lower). NaN when the rep had too little movement.

Per-rep figures accumulate from :meth:`LoadMonitor.start_rep` to :meth:`LoadMonitor.finish_rep`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from kernels.config import JIT
from kernels.rom import frame_offsets

IN_BAND, BELOW, ABOVE, NO_FORCE = 0, 1, 2, 3

# Parameters.
L_LOW, L_HIGH, L_LIMIT, L_RATE_LIMIT, L_RATE_HZ, L_TENSION, L_BIN_S, L_MAX_GAP = range(8)
N_LPARAMS = 8

# State: latest sample and filters, then the rep accumulators.
(
    S_T,
    S_F,
    S_RATE,
    S_BAND,
    S_TRIPPED,
    S_BIN_T,
    S_BIN_SUM,
    S_BIN_N,
    S_T_REP,
    S_TUT,
    S_N_BINS,
    S_N_IN,
    S_N,
    S_F_PEAK,
    S_F_SUM,
    S_RATE_PEAK,
) = range(16)
N_LSTATE = 16
# The rep's angle, averaged over bins of L_BIN_S, kept for the smoothness score at rep end.
BIN_CAPACITY = 4096  # 41 s at the default 10 ms bins; later bins are dropped

# Flags returned by a block.
FLAG_OVER_LIMIT, FLAG_RATE = 1, 2


def _initial_state() -> tuple[np.ndarray, np.ndarray]:
    s = np.full(N_LSTATE, np.nan)
    s[S_BAND] = NO_FORCE
    s[S_TRIPPED] = 0.0
    _reset_rep(s)
    return s, np.empty((BIN_CAPACITY, 2), dtype=np.float64)


@njit(**JIT)
def _reset_rep(s):
    s[S_T_REP] = np.nan
    s[S_TUT] = 0.0
    s[S_N_BINS] = 0.0
    s[S_BIN_T] = np.nan
    s[S_BIN_SUM] = 0.0
    s[S_BIN_N] = 0.0
    s[S_N_IN] = 0.0
    s[S_N] = 0.0
    s[S_F_PEAK] = np.nan
    s[S_F_SUM] = 0.0
    s[S_RATE_PEAK] = 0.0


@njit(**JIT)
def _close_bin(p, s, buf):
    k = int(s[S_N_BINS])
    if s[S_BIN_N] > 0.0 and k < buf.shape[0]:
        buf[k, 0] = s[S_BIN_T] + 0.5 * p[L_BIN_S]
        buf[k, 1] = s[S_BIN_SUM] / s[S_BIN_N]
        s[S_N_BINS] = k + 1.0
    s[S_BIN_SUM] = 0.0
    s[S_BIN_N] = 0.0


@njit(**JIT)
def _lowpass(prev, x, hz, dt):
    a = dt / (dt + 1.0 / (2.0 * math.pi * hz))
    return prev + a * (x - prev)


@njit(**JIT)
def _load_block(ts, force, angle, p, s, buf):
    # One frame's samples; returns FLAG_* bits. Samples with a non-finite or backwards time
    # are dropped; a non-finite force or angle skips only that channel.
    flags = 0
    for i in range(ts.shape[0]):
        t = ts[i]
        if not math.isfinite(t) or t < s[S_T]:
            continue
        dt = t - s[S_T]  # NaN on the very first sample
        has_dt = dt > 0.0
        gap = min(dt, p[L_MAX_GAP]) if has_dt else 0.0
        f = force[i]
        if math.isfinite(f):
            if math.isfinite(s[S_F]) and has_dt:
                raw_rate = (f - s[S_F]) / dt
                if math.isfinite(s[S_RATE]):
                    s[S_RATE] = _lowpass(s[S_RATE], raw_rate, p[L_RATE_HZ], dt)
                else:
                    s[S_RATE] = raw_rate
                if abs(s[S_RATE]) > p[L_RATE_LIMIT]:
                    flags |= 2
                s[S_RATE_PEAK] = max(s[S_RATE_PEAK], abs(s[S_RATE]))
                if f >= p[L_TENSION] and s[S_F] >= p[L_TENSION]:
                    s[S_TUT] += gap
            if f < p[L_LOW]:
                s[S_BAND] = 1.0
            elif f > p[L_HIGH]:
                s[S_BAND] = 2.0
            else:
                s[S_BAND] = 0.0
                s[S_N_IN] += 1.0
            s[S_N] += 1.0
            s[S_F_SUM] += f
            if not (f <= s[S_F_PEAK]):
                s[S_F_PEAK] = f
            if f > p[L_LIMIT]:
                flags |= 1
                s[S_TRIPPED] = 1.0
            s[S_F] = f
        x = angle[i]
        if math.isfinite(x):
            if not math.isfinite(s[S_BIN_T]):
                s[S_BIN_T] = t
            elif t >= s[S_BIN_T] + p[L_BIN_S]:
                _close_bin(p, s, buf)
                s[S_BIN_T] = t
            s[S_BIN_SUM] += x
            s[S_BIN_N] += 1.0
        if not math.isfinite(s[S_T_REP]):
            s[S_T_REP] = t
        s[S_T] = t
    return flags


@njit(**JIT)
def _load_run(ts, force, angle, frame_start, rep_start, p, s, buf, band, rate, flags, tut):
    # Batch: frame f owns samples frame_start[f] .. frame_start[f + 1] - 1; rep_start[f]
    # restarts the per-rep accumulators before that frame's samples.
    for f in range(frame_start.shape[0] - 1):
        if rep_start[f]:
            _reset_rep(s)
        a = frame_start[f]
        b = frame_start[f + 1]
        flags[f] = _load_block(ts[a:b], force[a:b], angle[a:b], p, s, buf)
        band[f] = np.int8(s[S_BAND])
        rate[f] = s[S_RATE]
        tut[f] = s[S_TUT]


def load_band(tested_max_n: float, low_share: float, high_share: float) -> tuple[float, float]:
    """The load band in newtons as shares of the tested maximum (e.g. 0.2 .. 0.4)."""
    if not (tested_max_n > 0 and 0 <= low_share <= high_share):
        raise ValueError(
            "load_band: expected tested_max_n > 0 and 0 <= low_share <= high_share, got "
            f"{tested_max_n}, {low_share}, {high_share}"
        )
    return tested_max_n * low_share, tested_max_n * high_share


def load_params(
    band_n: tuple[float, float],
    *,
    limit_n: float = math.inf,
    rate_limit_n_s: float = math.inf,
    rate_hz: float = 5.0,
    tension_n: float | None = None,
    bin_s: float = 0.01,
    max_gap_s: float = 0.1,
) -> np.ndarray:
    """Validated parameter vector (float64, ``N_LPARAMS``); ``tension_n`` defaults to the
    band's low edge."""
    low, high = band_n
    if math.isnan(low) or math.isnan(high) or low > high:
        raise ValueError(f"load monitor: expected band_n (low, high), low <= high, got {band_n}")
    tension = low if tension_n is None else tension_n
    if not (rate_hz > 0 and bin_s > 0 and max_gap_s > 0 and rate_limit_n_s > 0):
        raise ValueError(
            "load monitor: expected rate_hz, bin_s, max_gap_s, rate_limit_n_s > 0, got "
            f"{rate_hz}, {bin_s}, {max_gap_s}, {rate_limit_n_s}"
        )
    if math.isnan(limit_n) or math.isnan(tension):
        raise ValueError("load monitor: limit_n and tension_n must not be NaN")
    p = np.empty(N_LPARAMS, dtype=np.float64)
    p[:] = (low, high, limit_n, rate_limit_n_s, rate_hz, tension, bin_s, max_gap_s)
    return p


@dataclass(frozen=True, slots=True)
class LoadState:
    """After one frame: ``force_n`` latest finite force (NaN if none yet); ``band`` IN_BAND /
    BELOW / ABOVE / NO_FORCE; ``rate_n_s`` filtered rate of force change; ``rate_exceeded`` and
    ``over_limit`` for this frame's samples; ``tripped`` latched over-limit; ``tut_s`` time under
    tension in the rep so far."""

    force_n: float
    band: int
    rate_n_s: float
    rate_exceeded: bool
    over_limit: bool
    tripped: bool
    tut_s: float


@dataclass(frozen=True, slots=True)
class LoadRep:
    """Loading figures of one rep: time under tension (s), share of force samples in band
    (0..1, NaN if none), peak and mean force (N), peak |rate of force change| (N/s), SPARC
    smoothness of the angle (dimensionless, NaN if no movement), rep duration (s)."""

    tut_s: float
    in_band_share: float
    peak_force_n: float
    mean_force_n: float
    peak_rate_n_s: float
    smoothness_sparc: float
    duration_s: float


def _segments_smoothness(bins: np.ndarray, segments) -> float:
    if segments is None:
        return movement_smoothness(bins[:, 0], bins[:, 1])
    scores = []
    for t0, t1 in segments:
        inside = (bins[:, 0] >= t0) & (bins[:, 0] <= t1)
        score = movement_smoothness(bins[inside, 0], bins[inside, 1])
        if math.isfinite(score):
            scores.append(score)
    return float(np.mean(scores)) if scores else math.nan


def _rep_summary(s: np.ndarray, buf: np.ndarray, p: np.ndarray, segments=None) -> LoadRep:
    _close_bin(p, s, buf)
    k = int(s[S_N_BINS])
    n = s[S_N]
    duration = float(s[S_T] - s[S_T_REP]) if math.isfinite(s[S_T_REP]) else math.nan
    return LoadRep(
        tut_s=float(s[S_TUT]),
        in_band_share=float(s[S_N_IN] / n) if n else math.nan,
        peak_force_n=float(s[S_F_PEAK]),
        mean_force_n=float(s[S_F_SUM] / n) if n else math.nan,
        peak_rate_n_s=float(s[S_RATE_PEAK]),
        smoothness_sparc=_segments_smoothness(buf[:k], segments),
        duration_s=duration,
    )


def _channel(values, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    return np.ascontiguousarray(values, dtype=np.float64).reshape(-1)


def _samples(name: str, t, force, angle) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ts = np.ascontiguousarray(t, dtype=np.float64).reshape(-1)
    n = ts.shape[0]
    fs = _channel(force, n)
    an = _channel(angle, n)
    if fs.shape != ts.shape or an.shape != ts.shape:
        raise ValueError(
            f"{name}: expected t, force and angle of one length (k,), got {ts.shape}, "
            f"{fs.shape}, {an.shape}"
        )
    return ts, fs, an


class LoadMonitor:
    """Loading checks over the machine's samples, one frame's worth per :meth:`update`.

    ``band_n`` (low, high) newtons; ``limit_n`` hard safety limit N; ``rate_limit_n_s`` N/s;
    ``rate_hz`` low-pass of the rate; ``tension_n`` minimum force counted as tension (default
    the band's low edge); ``bin_s`` the angle averaging for the smoothness score; ``max_gap_s`` the
    longest sample gap credited to time under tension.
    """

    def __init__(self, band_n: tuple[float, float], **kwargs) -> None:
        self.params = load_params(band_n, **kwargs)
        self._state, self._bins = _initial_state()

    def reset(self) -> None:
        self._state, self._bins = _initial_state()

    def start_rep(self) -> None:
        """Restart the per-rep figures (call when a rep starts)."""
        _reset_rep(self._state)

    def finish_rep(self, segments: Sequence[tuple[float, float]] | None = None) -> LoadRep:
        """The figures of the rep since :meth:`start_rep`; restarts them. ``segments``: the
        rep's movements as (start, end) times, e.g. its out and back phases, scored apart
        and averaged (None: the whole rep as one movement)."""
        rep = _rep_summary(self._state, self._bins, self.params, segments)
        _reset_rep(self._state)
        return rep

    def update(
        self, t: np.ndarray, force: np.ndarray, angle: np.ndarray | None = None
    ) -> LoadState:
        """Feed one frame's device samples: ``t`` (k,) device seconds, ``force`` (k,) N,
        ``angle`` (k,) deg or None. ``k`` may be 0."""
        ts, fs, an = _samples("LoadMonitor.update", t, force, angle)
        s = self._state
        flags = _load_block(ts, fs, an, self.params, s, self._bins)
        return LoadState(
            float(s[S_F]),
            int(s[S_BAND]),
            float(s[S_RATE]),
            bool(flags & FLAG_RATE),
            bool(flags & FLAG_OVER_LIMIT),
            s[S_TRIPPED] == 1.0,
            float(s[S_TUT]),
        )


@dataclass(frozen=True, slots=True)
class LoadTrack:
    """Batch result per frame: ``band`` int8 (f,), ``rate_n_s`` float64 (f,), ``over_limit``
    and ``rate_exceeded`` bool (f,), ``tut_s`` float64 (f,) (per rep)."""

    band: np.ndarray
    rate_n_s: np.ndarray
    over_limit: np.ndarray
    rate_exceeded: np.ndarray
    tut_s: np.ndarray


def track_loading(
    t: np.ndarray,
    force: np.ndarray,
    angle: np.ndarray | None,
    band_n: tuple[float, float],
    frame_start: np.ndarray | None = None,
    rep_start: np.ndarray | None = None,
    **kwargs,
) -> LoadTrack:
    """Batch :class:`LoadMonitor` over a recording: samples (m,) grouped into frames by
    ``frame_start`` (frames + 1,) offsets (None: one sample a frame); ``rep_start`` (frames,)
    bool restarts the per-rep figures before that frame."""
    ts, fs, an = _samples("track_loading", t, force, angle)
    offsets = frame_offsets("track_loading", frame_start, ts.shape[0])
    n = offsets.shape[0] - 1
    if rep_start is None:
        reps = np.zeros(n, dtype=np.bool_)
    else:
        reps = np.ascontiguousarray(rep_start, dtype=np.bool_)
        if reps.shape != (n,):
            raise ValueError(f"track_loading: expected rep_start ({n},), got {reps.shape}")
    band = np.empty(n, dtype=np.int8)
    rate = np.empty(n)
    flags = np.empty(n, dtype=np.int64)
    tut = np.empty(n)
    params = load_params(band_n, **kwargs)
    state, bins = _initial_state()
    _load_run(ts, fs, an, offsets, reps, params, state, bins, band, rate, flags, tut)
    return LoadTrack(band, rate, (flags & FLAG_OVER_LIMIT) != 0, (flags & FLAG_RATE) != 0, tut)


# ---------------------------------------------------------------------------------------------
# Smoothness (once per rep, numpy: not in the per-frame path)


def sparc(
    speed: np.ndarray, fs: float, *, pad_level: int = 4, fc_hz: float = 10.0, amp_th: float = 0.05
) -> float:
    """Spectral arc length of a speed profile ``speed`` (n,) sampled at ``fs`` Hz.

    The arc length of the normalised magnitude spectrum, zero-padded to ``2**(ceil(log2 n) +
    pad_level)`` points, up to ``fc_hz`` and cut where the magnitude last exceeds ``amp_th``.
    Dimensionless, negative, closer to zero is smoother. NaN for fewer than 4 samples or a
    profile without movement.
    """
    v = np.asarray(speed, dtype=np.float64).reshape(-1)
    if v.shape[0] < 4 or not np.all(np.isfinite(v)) or not np.any(v != 0):
        return math.nan
    nfft = int(2 ** (math.ceil(math.log2(v.shape[0])) + pad_level))
    freq = np.arange(nfft) * (fs / nfft)
    mag = np.abs(np.fft.fft(v, nfft))
    mag = mag / mag.max()
    keep = freq <= fc_hz
    freq = freq[keep]
    mag = mag[keep]
    above = np.flatnonzero(mag >= amp_th)
    freq = freq[above[0] : above[-1] + 1]
    mag = mag[above[0] : above[-1] + 1]
    if freq.shape[0] < 2:
        return 0.0
    df = np.diff(freq) / (freq[-1] - freq[0])
    return float(-np.sum(np.sqrt(df * df + np.diff(mag) ** 2)))


def movement_smoothness(t: np.ndarray, angle: np.ndarray, fs: float = 100.0) -> float:
    """SPARC of the angular speed of a movement sampled at times ``t`` (n,) s, ``angle`` (n,)
    deg (any unit), resampled to ``fs`` Hz; NaN with fewer than 4 finite samples."""
    ts = np.asarray(t, dtype=np.float64).reshape(-1)
    xs = np.asarray(angle, dtype=np.float64).reshape(-1)
    ok = np.isfinite(ts) & np.isfinite(xs)
    ts = ts[ok]
    xs = xs[ok]
    if ts.shape[0] < 4 or not ts[-1] > ts[0] or np.any(np.diff(ts) < 0):
        return math.nan
    grid = np.arange(ts[0], ts[-1], 1.0 / fs)
    if grid.shape[0] < 4:
        return math.nan
    speed = np.abs(np.diff(np.interp(grid, ts, xs))) * fs
    return sparc(speed, fs)


# ---------------------------------------------------------------------------------------------
# Left / right comparison


@njit(**JIT)
def _finite_mean(x):
    total = 0.0
    n = 0
    for v in x:
        if math.isfinite(v):
            total += v
            n += 1
    return total / n if n else np.nan


@dataclass(frozen=True, slots=True)
class SideComparison:
    """Left against right (e.g. peak rotation range or peak force per rep, either unit):
    means of the finite values, and the asymmetry in percent,
    ``100 * (left - right) / mean(|left|, |right|)`` (+ when left is larger), NaN if either
    side has no finite value."""

    left_mean: float
    right_mean: float
    asymmetry_pct: float
    tolerance_pct: float

    @property
    def balanced(self) -> bool:
        return abs(self.asymmetry_pct) <= self.tolerance_pct


def compare_sides(
    left: Sequence[float] | np.ndarray,
    right: Sequence[float] | np.ndarray,
    tolerance_pct: float = 15.0,
) -> SideComparison:
    """Compare per-rep figures of the left and the right side; ``tolerance_pct`` the
    asymmetry still called balanced."""
    lv = np.ascontiguousarray(left, dtype=np.float64).reshape(-1)
    rv = np.ascontiguousarray(right, dtype=np.float64).reshape(-1)
    lm = float(_finite_mean(lv))
    rm = float(_finite_mean(rv))
    denom = 0.5 * (abs(lm) + abs(rm))
    pct = 100.0 * (lm - rm) / denom if denom > 0 else (0.0 if lm == rm else math.nan)
    return SideComparison(lm, rm, pct, float(tolerance_pct))
