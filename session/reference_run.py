"""The reference movement run once through an exercise's compiled checks, kept for the form
score and the ghost: per frame its time, landmarks, rep phase, progress and the judged values,
and the window of its one rep (or hold).

The checks are the session's own (``build_checks`` with the exercise's default targets), fed
exactly as the engine feeds them, so the reference's values are measured the way a
patient's are. Computed once per exercise definition (a few milliseconds) and cached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from exercises.errors import ExerciseError
from exercises.reference import ASPECT, load_reference
from exercises.schema import ExerciseDef
from kernels import frame as fr
from kernels.reps import RepPhase
from session.checks_setup import build_checks
from session.events import MachineBatch, PoseInput
from session.reference_inputs import reference_inputs
from session.targets import resolve_targets

VISIBILITY = "visibility"


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one run per exercise
class ReferenceRun:
    """``t`` (n,) seconds of the frames that drove the signal; ``progress`` (n,) share of the
    default range; ``phase`` (n,) RepPhase values; ``values`` (n, r) every exercise rule's
    value on the working side; ``landmarks`` (n, 33, 2) the figure's image landmarks
    (x, y, normalised to a picture of ``aspect``); ``window`` the rep's (or hold's) start and
    end; ``view`` "side" or "front"; where a webcam must stand to see the whole movement:
    ``camera_distance_m`` away, ``camera_height_m`` above the floor."""

    exercise_id: str
    t: np.ndarray
    progress: np.ndarray
    phase: np.ndarray
    values: np.ndarray
    landmarks: np.ndarray
    window: tuple[float, float]
    view: str
    aspect: float
    camera_distance_m: float
    camera_height_m: float

    def at(self, t: float) -> int:
        """Index of the frame at time ``t`` (clamped)."""
        i = int(np.searchsorted(self.t, t))
        return min(max(i, 0), self.t.shape[0] - 1)


_CACHE: dict[ExerciseDef, ReferenceRun | None] = {}


def reference_run(exercise: ExerciseDef) -> ReferenceRun | None:
    """The exercise's reference run, or None when it has no readable reference (an exercise
    file from outside the library): then there is no ghost and no form score."""
    if exercise not in _CACHE:
        if len(_CACHE) > 64:  # bounded: a kiosk sees only a handful of exercises
            _CACHE.clear()
        _CACHE[exercise] = _run(exercise)
    return _CACHE[exercise]


def _run(exercise: ExerciseDef) -> ReferenceRun | None:
    try:
        ref = load_reference(exercise)
    except ExerciseError:
        return None
    targets = resolve_targets(exercise, None)
    hold = exercise.dose.hold_s
    checks, _ = build_checks(exercise, targets, hold, ASPECT)
    span = targets.target - targets.start
    rows_t: list[float] = []
    rows_p: list[float] = []
    rows_ph: list[int] = []
    rows_v: list[np.ndarray] = []
    rows_lm: list[np.ndarray] = []
    window = (math.nan, math.nan)
    last_lm = np.full((33, 2), np.nan)
    for inp in reference_inputs(exercise, ref):
        if isinstance(inp, PoseInput):
            pose = inp.pose
            last_lm = pose.image[:, :2].astype(np.float64)
            checks.step_pose(inp.t, pose.image.astype(np.float64), pose.world.astype(np.float64))
        elif isinstance(inp, MachineBatch):
            checks.step_machine(inp.ts, inp.forces, inp.angles)
        out = checks.out
        value = float(out[fr.O_TRACE_V])
        if math.isfinite(value):
            rows_t.append(float(out[fr.O_TRACE_T]))
            rows_p.append((value - targets.start) / span)
            rows_ph.append(int(out[fr.O_PHASE]))
            rows_v.append(np.array(checks.value, dtype=np.float64))
            rows_lm.append(last_lm)
        if out[fr.O_N_REPS] and not math.isfinite(window[0]):
            rec = checks.finished_reps()[0][0]
            window = (rec.start_s, rec.end_s)
        if out[fr.O_HOLD_DONE] == 1.0 and not math.isfinite(window[0]):
            window = (float(out[fr.O_HOLD_START]), float(out[fr.O_HOLD_END]))
    if not rows_t or not math.isfinite(window[0]):
        return None  # --check-exercises says why; without one rep there is nothing to follow
    return ReferenceRun(
        exercise_id=exercise.id,
        t=np.array(rows_t),
        progress=np.array(rows_p),
        phase=np.array(rows_ph, dtype=np.int8),
        values=np.array(rows_v).reshape(len(rows_t), -1),
        landmarks=np.stack(rows_lm),
        window=window,
        view=ref.view,
        aspect=ASPECT,
        camera_distance_m=ref.camera_distance_m(),
        camera_height_m=ref.extent_m[1] / 2,
    )


def phase_times(run: ReferenceRun) -> dict[RepPhase, tuple[float, float]]:
    """When the reference is in each phase of its rep: (first, last) time per phase."""
    out: dict[RepPhase, tuple[float, float]] = {}
    t0, t1 = run.window
    for ph in RepPhase:
        sel = (run.phase == int(ph)) & (run.t >= t0) & (run.t <= t1)
        if sel.any():
            ts = run.t[sel]
            out[ph] = (float(ts[0]), float(ts[-1]))
    return out
