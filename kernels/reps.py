"""Rep counting and tempo on any driving signal, plus a posture-gated hold timer.

The driving signal is whatever the exercise moves: a knee angle from the camera (squat:
170 deg standing, 60 deg at the bottom, so the signal goes *down*) or the machine's angle
(lumbar extension: the signal goes *up*). The counter works on **progress**
``p = (value - start) / (target - start)``, 0 at the patient's start position and 1 at their
personal target, so every threshold is a share of the personal range and direction does not
matter.

Rep state machine (thresholds on ``p``; defaults in brackets)::

    REST --p >= rest + leave [0.20]--> OUT --p >= full [0.80]--> TOP
     ^                                  |                        |  ^
     |                      p <= rest + back [0.10]   p < full - hysteresis [0.75]
     |                         (partial rep)                     v  |  p >= full
     +---- p <= rest + back, or a turn below the midpoint ---- BACK
                       (counted rep)

* **The person's own rest.** ``rest`` is the lowest progress the patient has held still at
  (moving slower than ``STILL_SPEED`` shares of the range a second, nearer the start than
  the target) or come back to, never below the start position: a person whose knees stay
  at 150 deg when standing, or whose later curls come back only to 130 deg, is at rest
  there. It starts at 0 (the start position) until the patient is seen still, and it moves
  to where a rep turned around.
* A rep starts at the last frame the patient was still at rest (``p <= rest + back``) and
  ends on the first frame they are back there; **or**, when the return has passed the
  midpoint between the rep's start and its peak and the patient turns to the next rep
  (progress rises ``leave - back`` above its lowest point), at that lowest point. A rep that
  left from a frame not seen at rest (a recording that starts mid-movement) can only end back
  at rest, and comes to nothing if it never reached the top or the patient holds still on
  the start's side of the middle before coming back. At the end of the input, a rep whose
  return has passed its midpoint counts (:func:`_rep_close`); one still out, at the top or
  short of the midpoint does not.
* A rep that left rest but never reached ``full`` is *partial*: reported, never counted.
* ``leave > back`` and the ``hysteresis`` below ``full`` keep a noisy signal hovering at a
  threshold from starting or ending reps.
* Phase durations split the rep at its **top**: the samples within ``hold_band`` [0.05] of the
  rep's peak progress (boundaries resolved to 1 % of the range). ``out_s`` runs from the start
  to the first top sample, ``hold_s`` from the first to the last top sample, ``back_s`` from
  the last top sample to the end; a smooth rep without a pause has a short hold.
  Concentric / eccentric follow from which half works against the load
  (``out_is_concentric``: False for a squat, whose way down is eccentric; True for machine
  extension against resistance).
* Tempo verdict per phase against a target ``(out_s, hold_s, back_s)``: within
  ``tempo_tolerance`` (a share of the target) is OK; a hold is only ever "too short".

Samples with a NaN / inf value or time, or a time earlier than the previous sample, are
ignored: the counter neither advances nor resets on them.

Public API: :class:`RepCounter` (``update(t, value) -> RepState``), :class:`RepRecord`,
:class:`HoldTimer` (``update(t, in_position, posture_ok) -> held seconds``), and the
batch functions :func:`count_reps` and :func:`hold_times`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numba import njit

from kernels.config import JIT


class RepPhase(IntEnum):
    REST = 0  # at the start position
    OUT = 1  # moving from start toward the target (a squat's way down)
    TOP = 2  # in the target zone (a squat's bottom)
    BACK = 3  # returning to the start


class Tempo(IntEnum):
    OK = 0
    TOO_FAST = 1  # or, for a hold, too short
    TOO_SLOW = 2
    UNCHECKED = 3  # no target for this phase


# Parameter vector layout.
P_START, P_TARGET, P_LEAVE, P_BACK, P_FULL, P_HYST = 0, 1, 2, 3, 4, 5
P_OUT_S, P_HOLD_S, P_BACK_S, P_TOL, P_BAND, P_RELATIVE = 6, 7, 8, 9, 10, 11
N_PARAMS = 12

# State vector layout.
S_PHASE, S_T_REST, S_V_REST, S_T_START, S_PEAK, S_REACHED, S_VMIN, S_VMAX = 0, 1, 2, 3, 4, 5, 6, 7
S_LEVEL_MAX, S_T_TOP_OUT, S_COUNT, S_PARTIAL, S_LAST_T, S_PROGRESS = 8, 9, 10, 11, 12, 13
S_REST, S_P_START, S_TROUGH, S_T_TROUGH, S_V_TROUGH, S_LAST_P = 14, 15, 16, 17, 18, 19
S_ORIGIN = 20  # relative counting: the rest (as progress) the rep in progress left from
S_REC = 24  # the rep finished on the latest frame, REC_* fields
S_LEVELS = S_REC + 12  # first time each progress level was reached in the rep in progress
LEVEL_STEP = 0.01  # progress resolution of the top-zone boundaries: 1 % of the range
N_LEVELS = 256  # progress up to 2.56, beyond that the top level
N_STATE = S_LEVELS + N_LEVELS

# Rep record layout (also the row layout of batch output).
REC_START, REC_END, REC_VMIN, REC_VMAX, REC_PEAK, REC_OUT, REC_HOLD, REC_BACK = range(8)
REC_COUNTED, REC_TEMPO_OUT, REC_TEMPO_HOLD, REC_TEMPO_BACK = 8, 9, 10, 11
N_REC = 12

EVENT_NONE, EVENT_COUNTED, EVENT_PARTIAL = 0, 1, 2
# Slower than this (shares of the range a second) the patient is holding still: a rest.
STILL_SPEED = 0.5
REST_SIDE = 0.5  # a still posture is a rest only this side of the middle of the range


def _initial_state() -> np.ndarray:
    state = np.full(N_STATE, np.nan)
    state[S_PHASE] = RepPhase.REST
    state[S_ORIGIN] = 0.0
    state[S_COUNT] = 0.0
    state[S_PARTIAL] = 0.0
    return state


@njit(**JIT)
def _tempo_verdict(actual, target, tol, is_hold):
    if not math.isfinite(target):
        return 3.0
    if actual < target * (1.0 - tol):
        return 1.0
    if not is_hold and actual > target * (1.0 + tol):
        return 2.0
    return 0.0


@njit(**JIT)
def _level(p):
    # Progress quantised to LEVEL_STEP, clamped to the level table.
    k = math.floor(p / LEVEL_STEP)
    return int(min(max(k, 0.0), N_LEVELS - 1.0))


@njit(**JIT)
def _track(t, v, p, params, state):
    # Bookkeeping for a rep in progress: extremes, peak, first-reach time of each level and
    # the last time progress was within the hold band of the peak.
    state[S_VMIN] = min(state[S_VMIN], v)
    state[S_VMAX] = max(state[S_VMAX], v)
    lv = _level(p)
    while state[S_LEVEL_MAX] < lv:
        state[S_LEVEL_MAX] += 1.0
        state[S_LEVELS + int(state[S_LEVEL_MAX])] = t
    if p > state[S_PEAK]:
        state[S_PEAK] = p
    if lv >= _level(state[S_PEAK] - params[P_BAND]):
        state[S_T_TOP_OUT] = t


@njit(**JIT)
def _finish_rep(t, v, params, state, counted):
    rec = S_REC
    t_start = state[S_T_START]
    t_top_in = state[S_LEVELS + _level(state[S_PEAK] - params[P_BAND])]
    t_top_out = state[S_T_TOP_OUT]
    out_s = t_top_in - t_start
    hold_s = t_top_out - t_top_in
    back_s = t - t_top_out
    state[rec + REC_START] = t_start
    state[rec + REC_END] = t
    state[rec + REC_VMIN] = state[S_VMIN]
    state[rec + REC_VMAX] = state[S_VMAX]
    state[rec + REC_PEAK] = state[S_PEAK]
    state[rec + REC_OUT] = out_s
    state[rec + REC_HOLD] = hold_s
    state[rec + REC_BACK] = back_s
    tol = params[P_TOL]
    state[rec + REC_COUNTED] = 1.0 if counted else 0.0
    state[rec + REC_TEMPO_OUT] = _tempo_verdict(out_s, params[P_OUT_S], tol, False)
    state[rec + REC_TEMPO_HOLD] = _tempo_verdict(hold_s, params[P_HOLD_S], tol, True)
    state[rec + REC_TEMPO_BACK] = _tempo_verdict(back_s, params[P_BACK_S], tol, False)
    if counted:
        state[S_COUNT] += 1.0
    else:
        state[S_PARTIAL] += 1.0
    state[S_PHASE] = 0.0
    state[S_T_REST] = t
    state[S_V_REST] = v


@njit(**JIT)
def _rest_base(params, state):
    # The rest line: the person's own rest; never behind the start position, unless the
    # counting is relative (then the start position is wherever the patient rests).
    rest = state[S_REST]
    if params[P_RELATIVE] == 1.0:
        return rest
    return rest if rest > 0.0 else 0.0


@njit(**JIT)
def _still(t, p, state):
    # Moving slower than STILL_SPEED since the previous sample.
    last_t = state[S_LAST_T]
    if not (math.isfinite(state[S_LAST_P]) and math.isfinite(last_t) and t > last_t):
        return False
    return abs(p - state[S_LAST_P]) / (t - last_t) < STILL_SPEED


@njit(**JIT)
def _at_rest(t, v, p, params, state):
    # A sample in REST: learn the person's rest; returns True when it leaves rest. The very
    # first sample never leaves: whether the patient holds still there is not known yet.
    first = not math.isfinite(state[S_LAST_P])
    still = _still(t, p, state)
    relative = params[P_RELATIVE] == 1.0
    # Held still nearer the start than the target: the patient rests there. Still nearer the
    # target, they are at the turn of a rep that began before the input did. Counting
    # relative to the rest, any stillness is the rest, and nothing starts before one is seen.
    settled = still if relative else (still and p < REST_SIDE) or p <= params[P_BACK]
    if settled and not (p >= state[S_REST]):  # NaN rest: first
        state[S_REST] = p
    base = _rest_base(params, state)
    if not math.isfinite(base):
        return False
    if p <= base + params[P_BACK]:
        state[S_T_REST] = t
        state[S_V_REST] = v
        return False
    return (not first or p >= REST_SIDE) and p >= base + params[P_LEAVE]


@njit(**JIT)
def _leave_rest(t, v, p, params, state):
    # Leaving rest: the rep started on the last frame the patient was still at rest. ``p``
    # is already measured from the rep's origin.
    t_rest = state[S_T_REST]
    if math.isfinite(t_rest):
        state[S_T_START] = t_rest
        state[S_VMIN] = state[S_V_REST]
        state[S_VMAX] = state[S_V_REST]
        span = params[P_TARGET] - params[P_START]
        p_rest = (state[S_V_REST] - params[P_START]) / span
        state[S_P_START] = p_rest - state[S_ORIGIN]
    else:
        state[S_T_START] = t
        state[S_VMIN] = v
        state[S_VMAX] = v
        state[S_P_START] = np.nan  # not seen at rest: only a return to rest ends it
    state[S_PEAK] = p
    state[S_LEVEL_MAX] = -1.0
    state[S_REACHED] = 0.0
    state[S_PHASE] = 1.0


@njit(**JIT)
def _past_midpoint(p, state):
    # The return has come back past half the way from the peak to the rep's start.
    p_start = state[S_P_START]
    return math.isfinite(p_start) and p <= p_start + 0.5 * (state[S_PEAK] - p_start)


@njit(**JIT)
def _rep_step(t, v, params, state):
    # One sample of the rep state machine; returns EVENT_*.
    if not (math.isfinite(t) and math.isfinite(v)):
        return 0
    last_t = state[S_LAST_T]
    if math.isfinite(last_t) and t < last_t:
        return 0
    p_abs = (v - params[P_START]) / (params[P_TARGET] - params[P_START])
    phase = state[S_PHASE]
    relative = params[P_RELATIVE] == 1.0
    event = 0
    if phase == 0.0:
        leaves = _at_rest(t, v, p_abs, params, state)
        state[S_LAST_T] = t
        state[S_LAST_P] = p_abs
        rest = state[S_REST]
        origin = rest if relative and math.isfinite(rest) else 0.0
        state[S_PROGRESS] = p_abs - origin
        if not leaves:
            return 0
        state[S_ORIGIN] = origin
        _leave_rest(t, v, p_abs - origin, params, state)
        phase = 1.0
    elif (
        not math.isfinite(state[S_P_START])
        and p_abs - state[S_ORIGIN] < REST_SIDE
        and _still(t, p_abs, state)
    ):
        # A movement the input began in the middle of has come to rest: it was no rep.
        state[S_PHASE] = 0.0
        state[S_REST] = p_abs
        state[S_T_REST] = t
        state[S_V_REST] = v
        state[S_LAST_T] = t
        state[S_LAST_P] = p_abs
        state[S_PROGRESS] = p_abs - state[S_ORIGIN]
        return 0
    origin = state[S_ORIGIN]
    p = p_abs - origin
    state[S_PROGRESS] = p
    state[S_LAST_T] = t
    state[S_LAST_P] = p_abs
    _track(t, v, p, params, state)
    back_line = params[P_BACK] if relative else _rest_base(params, state) + params[P_BACK]
    if phase == 1.0:
        if p >= params[P_FULL]:
            state[S_REACHED] = 1.0
            state[S_PHASE] = 2.0
            return 0
        if p <= back_line:
            if not math.isfinite(state[S_P_START]):
                # Back at rest from a movement the input began in the middle of: no rep.
                state[S_PHASE] = 0.0
                state[S_T_REST] = t
                state[S_V_REST] = v
                return 0
            _finish_rep(t, v, params, state, False)
            return 2
        return 0
    if phase == 2.0:
        if p >= params[P_FULL] - params[P_HYST]:
            return 0
        state[S_PHASE] = 3.0
        state[S_TROUGH] = p
        state[S_T_TROUGH] = t
        state[S_V_TROUGH] = v
    # BACK
    if p >= params[P_FULL]:
        state[S_PHASE] = 2.0
        return 0
    if p < state[S_TROUGH]:
        state[S_TROUGH] = p
        state[S_T_TROUGH] = t
        state[S_V_TROUGH] = v
    if p <= back_line:
        _finish_rep(t, v, params, state, True)
        return 1
    trough = state[S_TROUGH]
    if _past_midpoint(trough, state) and p >= trough + params[P_LEAVE] - params[P_BACK]:
        # Turned to the next rep before coming all the way back: this one ended at its
        # lowest point, which is where the patient rests now.
        _finish_rep(state[S_T_TROUGH], state[S_V_TROUGH], params, state, True)
        state[S_REST] = trough + origin
        event = 1
    return event


@njit(**JIT)
def _rep_close(params, state):
    # The end of the input: a rep whose return has passed its midpoint counts, ending on its
    # last sample; any other rep in progress is dropped. Returns EVENT_*.
    if state[S_PHASE] == 3.0 and _past_midpoint(state[S_TROUGH], state):
        t = state[S_LAST_T]
        p = state[S_PROGRESS] + state[S_ORIGIN]
        v = p * (params[P_TARGET] - params[P_START]) + params[P_START]
        _finish_rep(t, v, params, state, True)
        return 1
    return 0


@njit(**JIT)
def _rep_run(ts, vs, params, state, phase_out, progress_out, count_out, reps_out):
    # Whole-session loop over the same step; returns the number of rep rows written.
    n_reps = 0
    for i in range(ts.shape[0]):
        ev = _rep_step(ts[i], vs[i], params, state)
        if ev != 0:
            for k in range(N_REC):
                reps_out[n_reps, k] = state[S_REC + k]
            n_reps += 1
        phase_out[i] = np.int8(state[S_PHASE])
        progress_out[i] = state[S_PROGRESS] if math.isfinite(vs[i]) else np.nan
        count_out[i] = np.int32(state[S_COUNT])
    return n_reps


@dataclass(frozen=True, slots=True)
class RepRecord:
    """One finished rep (counted) or partial rep (reported, not counted).

    Times in seconds on the caller's clock; values in the driving signal's unit (deg for a
    camera angle or machine angle); ``peak_progress`` the deepest progress reached, a share of
    the personal range (0 start, 1 target, may exceed 1).
    """

    start_s: float
    end_s: float
    min_value: float
    max_value: float
    peak_progress: float
    out_s: float
    hold_s: float
    back_s: float
    counted: bool
    tempo_out: Tempo
    tempo_hold: Tempo
    tempo_back: Tempo
    out_is_concentric: bool = False

    @property
    def partial(self) -> bool:
        return not self.counted

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def concentric_s(self) -> float:
        return self.out_s if self.out_is_concentric else self.back_s

    @property
    def eccentric_s(self) -> float:
        return self.back_s if self.out_is_concentric else self.out_s

    @property
    def tempo_ok(self) -> bool:
        return all(v in (Tempo.OK, Tempo.UNCHECKED) for v in self._verdicts())

    def _verdicts(self) -> tuple[Tempo, Tempo, Tempo]:
        return (self.tempo_out, self.tempo_hold, self.tempo_back)

    @classmethod
    def from_row(cls, row: np.ndarray, out_is_concentric: bool = False) -> RepRecord:
        return cls(
            start_s=float(row[REC_START]),
            end_s=float(row[REC_END]),
            min_value=float(row[REC_VMIN]),
            max_value=float(row[REC_VMAX]),
            peak_progress=float(row[REC_PEAK]),
            out_s=float(row[REC_OUT]),
            hold_s=float(row[REC_HOLD]),
            back_s=float(row[REC_BACK]),
            counted=bool(row[REC_COUNTED] == 1.0),
            tempo_out=Tempo(int(row[REC_TEMPO_OUT])),
            tempo_hold=Tempo(int(row[REC_TEMPO_HOLD])),
            tempo_back=Tempo(int(row[REC_TEMPO_BACK])),
            out_is_concentric=out_is_concentric,
        )


@dataclass(frozen=True, slots=True)
class RepState:
    """The counter after one sample: phase, progress (NaN until a finite sample), counts,
    and ``rep``: the rep finished on this very sample, else None."""

    phase: RepPhase
    progress: float
    count: int
    partials: int
    rep: RepRecord | None = None


def rep_params(
    start: float,
    target: float,
    *,
    leave: float = 0.2,
    back: float = 0.1,
    full: float = 0.8,
    hysteresis: float = 0.05,
    tempo: tuple[float, float, float] | None = None,
    tempo_tolerance: float = 0.25,
    hold_band: float = 0.05,
    relative: bool = False,
) -> np.ndarray:
    """Validated parameter vector (float64, ``N_PARAMS``) for the rep kernels.

    ``start`` and ``target`` in the signal's unit; ``leave``, ``back``, ``full``,
    ``hysteresis``, ``hold_band`` as shares of the range; ``tempo`` target seconds
    (out, hold, back), NaN for an unchecked phase; ``tempo_tolerance`` a share of each target.
    ``relative``: only ``target - start`` counts (the movement's size and direction); the
    start position is wherever the patient holds still (small movements whose resting angle
    differs more between patients than the movement itself: pelvic tilt, cat-cow).
    """
    if not (math.isfinite(start) and math.isfinite(target)) or start == target:
        raise ValueError(
            f"rep counter: expected finite, distinct start and target, got {start}, {target}"
        )
    if not 0.0 <= back < leave < full - hysteresis or hysteresis < 0.0:
        raise ValueError(
            "rep counter: expected 0 <= back < leave < full - hysteresis, hysteresis >= 0, "
            f"got back={back}, leave={leave}, full={full}, hysteresis={hysteresis}"
        )
    out_s, hold_s, back_s = tempo if tempo is not None else (math.nan, math.nan, math.nan)
    if not (tempo_tolerance >= 0.0 and hold_band >= 0.0):
        raise ValueError(
            "rep counter: expected tempo_tolerance >= 0 and hold_band >= 0, got "
            f"{tempo_tolerance}, {hold_band}"
        )
    p = np.empty(N_PARAMS, dtype=np.float64)
    p[:P_BAND] = (
        start,
        target,
        leave,
        back,
        full,
        hysteresis,
        out_s,
        hold_s,
        back_s,
        tempo_tolerance,
    )
    p[P_BAND] = hold_band
    p[P_RELATIVE] = 1.0 if relative else 0.0
    return p


class RepCounter:
    """Counts reps on a driving signal, one sample at a time.

    ``start``: the signal at the patient's start position (e.g. knee 170 deg standing);
    ``target``: their personal target (e.g. knee 90 deg). Other thresholds are shares of
    that range (see the module docstring for the state machine). Example, a squat counter::

        counter = RepCounter(start=170.0, target=90.0, tempo=(2.0, math.nan, 2.0))
        state = counter.update(t, knee_deg)
        if state.rep is not None and state.rep.counted: ...

    Bounded: keeps only the counts and the rep in progress; the caller stores finished reps.
    """

    def __init__(
        self,
        start: float,
        target: float,
        *,
        leave: float = 0.2,
        back: float = 0.1,
        full: float = 0.8,
        hysteresis: float = 0.05,
        tempo: tuple[float, float, float] | None = None,
        tempo_tolerance: float = 0.25,
        hold_band: float = 0.05,
        out_is_concentric: bool = False,
        relative: bool = False,
    ) -> None:
        self.params = rep_params(
            start,
            target,
            leave=leave,
            back=back,
            full=full,
            hysteresis=hysteresis,
            tempo=tempo,
            tempo_tolerance=tempo_tolerance,
            hold_band=hold_band,
            relative=relative,
        )
        self.out_is_concentric = out_is_concentric
        self._state = _initial_state()

    def reset(self) -> None:
        """Back to rest with zero counts (a new set)."""
        self._state = _initial_state()

    @property
    def count(self) -> int:
        return int(self._state[S_COUNT])

    @property
    def partials(self) -> int:
        return int(self._state[S_PARTIAL])

    @property
    def phase(self) -> RepPhase:
        return RepPhase(int(self._state[S_PHASE]))

    def update(self, t: float, value: float) -> RepState:
        """Feed one sample: ``t`` seconds (monotonic), ``value`` in the signal's unit."""
        s = self._state
        ev = _rep_step(float(t), float(value), self.params, s)
        rep = None
        if ev:
            rep = RepRecord.from_row(s[S_REC : S_REC + N_REC], self.out_is_concentric)
        return RepState(
            RepPhase(int(s[S_PHASE])), float(s[S_PROGRESS]), int(s[S_COUNT]), int(s[S_PARTIAL]), rep
        )


@dataclass(frozen=True, slots=True)
class RepTrack:
    """Batch result of :func:`count_reps` over ``n`` samples.

    ``phase`` int8 (n,) RepPhase; ``progress`` float64 (n,), NaN on missing samples;
    ``count`` int32 (n,) counted reps so far; ``reps`` every finished rep in order.
    """

    phase: np.ndarray
    progress: np.ndarray
    count: np.ndarray
    reps: tuple[RepRecord, ...]

    @property
    def counted(self) -> int:
        return sum(r.counted for r in self.reps)

    @property
    def partials(self) -> int:
        return sum(not r.counted for r in self.reps)


def _as_series(name: str, t: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ts = np.ascontiguousarray(t, dtype=np.float64)
    vs = np.ascontiguousarray(values, dtype=np.float64)
    if ts.ndim != 1 or vs.shape != ts.shape:
        raise ValueError(
            f"{name}: expected t and values of the same shape (n,), got {ts.shape} and {vs.shape}"
        )
    return ts, vs


def count_reps(
    t: np.ndarray, values: np.ndarray, start: float, target: float, **kwargs
) -> RepTrack:
    """Run :class:`RepCounter` over a whole recorded signal at once.

    ``t`` (n,) seconds, ``values`` (n,) signal; keyword arguments as for :class:`RepCounter`.
    """
    ts, vs = _as_series("count_reps", t, values)
    out_is_concentric = bool(kwargs.pop("out_is_concentric", False))
    params = rep_params(start, target, **kwargs)
    n = ts.shape[0]
    phase = np.empty(n, dtype=np.int8)
    progress = np.empty(n, dtype=np.float64)
    count = np.empty(n, dtype=np.int32)
    rows = np.empty((n // 2 + 1, N_REC), dtype=np.float64)
    n_reps = _rep_run(ts, vs, params, _initial_state(), phase, progress, count, rows)
    reps = tuple(RepRecord.from_row(rows[i], out_is_concentric) for i in range(n_reps))
    return RepTrack(phase, progress, count, reps)


# ---------------------------------------------------------------------------------------------
# Hold timer

H_HELD, H_LAST_T, H_WAS_ACTIVE = 0, 1, 2


@njit(**JIT)
def _hold_step(t, active, reset_on_break, max_gap_s, state):
    # Time accrues between two consecutive active frames, capped at max_gap_s so a frozen
    # camera cannot credit a hold the patient may not have kept.
    if not math.isfinite(t):
        return state[H_HELD]
    last_t = state[H_LAST_T]
    if math.isfinite(last_t) and t < last_t:
        return state[H_HELD]
    if active:
        if state[H_WAS_ACTIVE] == 1.0 and math.isfinite(last_t):
            state[H_HELD] += min(t - last_t, max_gap_s)
        state[H_WAS_ACTIVE] = 1.0
    else:
        if reset_on_break:
            state[H_HELD] = 0.0
        state[H_WAS_ACTIVE] = 0.0
    state[H_LAST_T] = t
    return state[H_HELD]


@njit(**JIT)
def _hold_run(ts, active, reset_on_break, max_gap_s, state, out):
    for i in range(ts.shape[0]):
        out[i] = _hold_step(ts[i], active[i], reset_on_break, max_gap_s, state)


class HoldTimer:
    """Seconds held in position; runs only while the patient is in position *and* posture is
    correct. On a break the timer pauses (default) or restarts (``reset_on_break``).

    ``target_s``: the prescribed hold; :attr:`done` once reached.
    """

    def __init__(
        self, target_s: float = math.inf, *, reset_on_break: bool = False, max_gap_s: float = 0.5
    ) -> None:
        if not target_s > 0 or not max_gap_s > 0:
            raise ValueError(
                f"HoldTimer: expected target_s > 0 and max_gap_s > 0, got {target_s}, {max_gap_s}"
            )
        self.target_s = float(target_s)
        self.reset_on_break = bool(reset_on_break)
        self.max_gap_s = float(max_gap_s)
        self._state = np.array([0.0, np.nan, 0.0])

    def reset(self) -> None:
        self._state[:] = (0.0, np.nan, 0.0)

    @property
    def held_s(self) -> float:
        return float(self._state[H_HELD])

    @property
    def done(self) -> bool:
        return self.held_s >= self.target_s

    def update(self, t: float, in_position: bool, posture_ok: bool = True) -> float:
        """Feed one frame at ``t`` seconds; returns the seconds held so far."""
        active = bool(in_position) and bool(posture_ok)
        return float(_hold_step(float(t), active, self.reset_on_break, self.max_gap_s, self._state))


def hold_times(
    t: np.ndarray, active: np.ndarray, *, reset_on_break: bool = False, max_gap_s: float = 0.5
) -> np.ndarray:
    """Batch :class:`HoldTimer`: ``t`` (n,) seconds, ``active`` (n,) bool (in position and
    posture correct); returns (n,) float64 seconds held after each frame."""
    ts = np.ascontiguousarray(t, dtype=np.float64)
    act = np.ascontiguousarray(active, dtype=np.bool_)
    if ts.ndim != 1 or act.shape != ts.shape:
        raise ValueError(
            f"hold_times: expected t and active of the same shape (n,), got {ts.shape} and "
            f"{act.shape}"
        )
    out = np.empty(ts.shape[0], dtype=np.float64)
    _hold_run(ts, act, bool(reset_on_break), float(max_gap_s), np.array([0.0, np.nan, 0.0]), out)
    return out
