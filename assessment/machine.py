"""Machine tests read from the machine's samples: range trials and isometric efforts.

Both work on one test's samples (session-clock seconds, degrees, newtons) and can be run again
on the growing buffer while the test goes on: what they find in the same samples is always the
same. Nothing here waits on a clock; the runner (``assessment.run``) decides when a test ends.

Range: the patient starts at rest, moves out in the test's direction as far as is pain-free
and comes back; a trial is one such excursion of more than ``MOVE_DEG``, its value the furthest
angle reached (100 ms mean, so one noisy sample does not make the range).

Strength: with the lever locked at the test angle the patient pushes; an effort is a stretch
of force above the resting force plus ``onset_n``. Its value is the best one-second mean force
above rest (the plateau). It counts only when it was built up gradually (10 % to 90 % of the
plateau in ``ramp_min_s`` .. ``ramp_max_s``), held at >= 90 % of the plateau for ``hold_min_s``,
and made at the test angle with the lever still (``angle_tolerance_deg``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from assessment.protocols import EffortRules

MOVE_DEG = 3.0  # an excursion beyond this from rest is a range trial
MIN_EXCURSION_DEG = 5.0  # a trial must reach at least this far to count
SMOOTH_S = 0.1  # range: the furthest 100 ms mean
PLATEAU_S = 1.0  # strength: the best one-second mean
REST_PERCENTILE = 20.0  # the resting force: most samples of a strength test are at rest
MERGE_GAP_S = 0.2  # a dip shorter than this does not split an effort


@dataclass(frozen=True, slots=True)
class RangeTrial:
    start_s: float
    end_s: float
    reached_deg: float  # furthest angle reached, machine scale
    excursion_deg: float  # from the resting angle, in the test's direction
    counted: bool
    reason: str = ""  # why it did not count


@dataclass(frozen=True, slots=True)
class Effort:
    start_s: float
    end_s: float
    plateau_n: float  # best one-second mean above the resting force
    ramp_s: float  # 10 % to 90 % of the plateau
    hold_s: float  # longest stretch at >= 90 % of the plateau
    angle_deg: float  # median angle during the effort
    counted: bool
    reason: str = ""


def _moving_mean(x: np.ndarray, n: int) -> np.ndarray:
    """Centred moving mean over ``n`` samples (fewer at the ends)."""
    n = max(1, min(int(n), x.shape[0]))
    if n == 1:
        return x.astype(np.float64)
    c = np.cumsum(np.insert(x.astype(np.float64), 0, 0.0))
    idx = np.arange(x.shape[0])
    lo = np.clip(idx - n // 2, 0, x.shape[0])
    hi = np.clip(idx - n // 2 + n, 0, x.shape[0])
    return (c[hi] - c[lo]) / np.maximum(hi - lo, 1)


def _rate(t: np.ndarray) -> float:
    """Samples per second of a buffer (median spacing), NaN for fewer than two samples."""
    if t.shape[0] < 2:
        return math.nan
    dt = float(np.median(np.diff(t)))
    return 1.0 / dt if dt > 0 else math.nan


def _runs(mask: np.ndarray, t: np.ndarray, merge_gap_s: float) -> list[tuple[int, int]]:
    """(first, last+1) index pairs of True stretches, merging gaps shorter than ``merge_gap_s``."""
    if not mask.any():
        return []
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    runs: list[tuple[int, int]] = []
    for s, e in zip(starts, ends, strict=True):
        if runs and t[s] - t[runs[-1][1] - 1] < merge_gap_s:
            runs[-1] = (runs[-1][0], int(e))
        else:
            runs.append((int(s), int(e)))
    return runs


def resting_angle(t: np.ndarray, angle: np.ndarray, first_s: float = 1.0) -> float:
    """Median angle over the first ``first_s`` of a test: the patient sits at rest then."""
    if t.shape[0] == 0:
        return math.nan
    keep = t <= t[0] + first_s
    return float(np.median(angle[keep]))


def find_range_trials(
    t: np.ndarray, angle: np.ndarray, rest_deg: float, sign: float
) -> tuple[list[RangeTrial], bool]:
    """Trials in one direction (``sign`` +1: toward larger angles) and whether one is still
    going on at the end of the samples (not listed until it comes back)."""
    if t.shape[0] < 2 or not math.isfinite(rest_deg):
        return [], False
    rate = _rate(t)
    smooth = _moving_mean(angle, round(SMOOTH_S * rate) if math.isfinite(rate) else 1)
    excursion = (smooth - rest_deg) * sign
    out: list[RangeTrial] = []
    in_progress = False
    for s, e in _runs(excursion > MOVE_DEG, t, MERGE_GAP_S):
        if e >= t.shape[0]:  # still out at the end of the buffer
            in_progress = True
            break
        k = s + int(np.argmax(excursion[s:e]))
        reach = float(smooth[k])
        exc = float(excursion[k])
        counted = exc >= MIN_EXCURSION_DEG
        reason = "" if counted else f"moved only {exc:.0f} deg"
        out.append(RangeTrial(float(t[s]), float(t[e - 1]), reach, exc, counted, reason))
    return out, in_progress


def resting_force(force: np.ndarray) -> float:
    if force.shape[0] == 0:
        return math.nan
    return float(np.percentile(force, REST_PERCENTILE))


def find_efforts(
    t: np.ndarray,
    angle: np.ndarray,
    force: np.ndarray,
    rules: EffortRules,
    test_angle_deg: float,
    rest_n: float | None = None,
) -> tuple[list[Effort], bool]:
    """Efforts at one test angle, judged; and whether one is still going on at the end."""
    if t.shape[0] < 2:
        return [], False
    rest = resting_force(force) if rest_n is None else rest_n
    rate = _rate(t)
    if not math.isfinite(rate):
        return [], False
    above = force - rest
    out: list[Effort] = []
    in_progress = False
    window = max(1, round(PLATEAU_S * rate))
    for s, e in _runs(above > rules.onset_n, t, MERGE_GAP_S):
        if e >= t.shape[0]:
            in_progress = True
            break
        out.append(_judge(t, angle, above, s, e, window, rules, test_angle_deg))
    return out, in_progress


def _judge(
    t: np.ndarray,
    angle: np.ndarray,
    above: np.ndarray,
    s: int,
    e: int,
    window: int,
    rules: EffortRules,
    test_angle_deg: float,
) -> Effort:
    seg = above[s:e]
    n = seg.shape[0]
    if n >= window:
        c = np.cumsum(np.insert(seg, 0, 0.0))
        means = (c[window:] - c[:-window]) / window
        plateau = float(means.max())
    else:
        plateau = float(seg.mean())
    # The effort's own start: back from the onset crossing to 10 % of the plateau.
    lo10, hi90 = 0.1 * plateau, 0.9 * plateau
    first = s
    while first > 0 and above[first - 1] >= lo10:
        first -= 1
    reach = np.flatnonzero(above[first:e] >= hi90)
    ramp = float(t[first + reach[0]] - t[first]) if reach.size else math.inf
    held = 0.0
    for hs, he in _runs(seg >= hi90, t[s:e], 0.0):
        held = max(held, float(t[s + he - 1] - t[s + hs]))
    a = angle[s:e]
    a_med = float(np.median(a))
    drift = float(np.max(np.abs(a - a_med)))
    reason = ""
    if abs(a_med - test_angle_deg) > rules.angle_tolerance_deg:
        reason = f"lever at {a_med:.0f} deg, not the test angle {test_angle_deg:.0f} deg"
    elif drift > rules.angle_tolerance_deg:
        reason = f"the lever moved {drift:.0f} deg during the effort"
    elif ramp < rules.ramp_min_s:
        reason = (
            f"too fast: built up in {ramp:.1f} s (build up over {rules.ramp_min_s:g} s or more)"
        )
    elif ramp > rules.ramp_max_s:
        reason = f"too slow to build up ({ramp:.1f} s)"
    elif held < rules.hold_min_s:
        reason = f"held {held:.1f} s (hold at least {rules.hold_min_s:g} s)"
    return Effort(
        start_s=float(t[first]),
        end_s=float(t[e - 1]),
        plateau_n=plateau,
        ramp_s=ramp,
        hold_s=held,
        angle_deg=a_med,
        counted=not reason,
        reason=reason,
    )
