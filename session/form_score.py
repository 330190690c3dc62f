"""Form score per rep (0-100): how close the patient's movement came to the exercise's
reference over the judged angles, whatever its pace.

Channels: the driving signal as a share of the range (the patient's own start and target;
the reference's are the exercise's defaults), and the value each posture rule measures (once,
when two rules bound the same value; visibility checks left out), each divided by its
tolerance: a quarter of the range for the signal, the rule's own fault margin (the span it
allows from a warning to a fault; 15 deg, or 0.3 reference lengths for an offset, when it
has none), so one unit means "one tolerance off". The rep (or hold) and
the reference's rep are each resampled to ``SAMPLES`` points over their own duration (time
normalised), warped onto each other by dynamic time warping (:mod:`kernels.dtw`, a band of a
fifth of the rep) and the mean distance ``d`` per aligned pair becomes the score
``100 / (1 + d^2)``: 100 for the reference itself, 50 for a movement one tolerance off on
average. A rule the camera cannot see (NaN) is left out of the pairs it is missing from.
"""

from __future__ import annotations

import math

import numpy as np

from exercises.schema import ExerciseDef
from kernels.dtw import dtw_distance
from session.reference_run import VISIBILITY, ReferenceRun, reference_run

SAMPLES = 50
WINDOW = SAMPLES / 5
PROGRESS_TOLERANCE = 0.25
ANGLE_TOLERANCE_DEG = 15.0
OFFSET_TOLERANCE = 0.3
CAPACITY = 4096  # samples kept for the rep in progress: over two minutes at 30 a second


def score_from_distance(d: float) -> float:
    return 100.0 / (1.0 + d * d) if math.isfinite(d) else math.nan


def resample(t: np.ndarray, rows: np.ndarray, n: int = SAMPLES) -> np.ndarray:
    """``rows`` (k, c) at times ``t`` (k,) as (n, c) evenly spread over [t[0], t[-1]],
    linearly interpolated per channel between its finite samples (NaN for a channel with
    fewer than two)."""
    out = np.full((n, rows.shape[1]), np.nan)
    if t.shape[0] < 2 or not t[-1] > t[0]:
        return out
    grid = np.linspace(float(t[0]), float(t[-1]), n)
    for k in range(rows.shape[1]):
        ok = np.isfinite(rows[:, k])
        if ok.sum() >= 2:
            out[:, k] = np.interp(grid, t[ok], rows[ok, k])
    return out


class FormScorer:
    """Keeps the judged channels of the latest inputs and scores a finished rep or hold
    against the reference. Without a reference every score is NaN."""

    def __init__(self, exercise: ExerciseDef) -> None:
        self.reference: ReferenceRun | None = reference_run(exercise)
        used: list[int] = []
        seen: set[tuple] = set()
        scale = [PROGRESS_TOLERANCE]
        for i, rd in enumerate(exercise.rules):
            measure = (rd.kind, rd.landmarks, rd.side, rd.space, rd.axis)
            if rd.kind == VISIBILITY or measure in seen:
                continue  # not an angle; or a second bound on a value already judged
            seen.add(measure)
            used.append(i)
            fallback = OFFSET_TOLERANCE if rd.kind == "offset" else ANGLE_TOLERANCE_DEG
            scale.append(rd.fault_margin if rd.fault_margin > 0 else fallback)
        self._rules = np.array(used, dtype=np.int64)
        self._scale = np.array(scale)
        c = len(scale)
        self._t = np.full(CAPACITY, np.nan)
        self._rows = np.full((CAPACITY, c), np.nan)
        self._n = 0  # samples written so far (the ring holds the last CAPACITY)
        self._ref: np.ndarray | None = None
        ref = self.reference
        if ref is not None:
            t0, t1 = ref.window
            sel = (ref.t >= t0) & (ref.t <= t1)
            rows = np.column_stack([ref.progress[sel], ref.values[sel][:, self._rules]])
            self._ref = resample(ref.t[sel], rows / self._scale)
            # The compiled kernel loads now, at the session's start, not at its first rep.
            dtw_distance(self._ref[:2], self._ref[:2], 1.0)

    @property
    def available(self) -> bool:
        return self._ref is not None

    def record(self, t: float, progress: float, rule_values: np.ndarray) -> None:
        """One input that drove the signal: its time, progress and every rule's value."""
        k = self._n % CAPACITY
        self._t[k] = t
        self._rows[k, 0] = progress
        self._rows[k, 1:] = rule_values[self._rules]
        self._n += 1

    def window(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        """The kept samples with ``t0 <= t <= t1``, in time order (scaled to tolerances)."""
        n = min(self._n, CAPACITY)
        start = self._n - n
        order = (np.arange(start, self._n)) % CAPACITY
        t = self._t[order]
        sel = (t >= t0) & (t <= t1)
        return t[sel], self._rows[order][sel] / self._scale

    def score(self, t0: float, t1: float) -> float:
        """The form score of the movement between ``t0`` and ``t1`` (s), 0-100; NaN without a
        reference or with fewer than two samples."""
        if self._ref is None:
            return math.nan
        t, rows = self.window(t0, t1)
        if t.shape[0] < 2:
            return math.nan
        patient = resample(t, rows)
        return score_from_distance(dtw_distance(patient, self._ref, WINDOW))
