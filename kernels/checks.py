"""All per-frame checks of one exercise in one compiled call: posture rules, reps and tempo,
range of motion, controlled loading and the hold timer.

:class:`ExerciseChecks` is what the session engine calls once per camera frame, with the pose
and the machine samples that arrived since the previous frame. The same frame kernel runs a
whole recorded session in :mod:`kernels.batch`, so a re-analysis gives exactly the live result.

Order inside a frame (producers before consumers):

1. posture rules on the pose (:mod:`kernels.rules`);
2. the driving signal: the value of one rule (``signal_rule``, e.g. a knee ANGLE rule), or
   every machine angle sample of the frame (``signal_rule=None``);
3. loading on the frame's machine samples (:mod:`kernels.loading`);
4. range of motion and the pain-free flag on the driving signal (:mod:`kernels.rom`);
5. the rep state machine on the driving signal (:mod:`kernels.reps`); while the patient is at
   rest, the per-rep peak and loading figures restart, so they cover exactly one rep;
6. the hold timer: runs while the patient is in position and no rule reports FAULT. By
   default "in position" is the rep's TOP zone and the timer restarts with each rep; a static
   hold (plank, isometric test) passes ``in_position`` each frame, and then the hold, the time
   under tension and the other loading figures run for the whole set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numba import njit

from kernels import loading as ld
from kernels import reps as rp
from kernels import rom as rm
from kernels.config import JIT
from kernels.reps import RepRecord
from kernels.rules import Rule, RuleSet, _evaluate, _scale_x

# Per-frame output vector.
(
    O_PHASE,
    O_PROGRESS,
    O_COUNT,
    O_PARTIALS,
    O_PEAK,
    O_ROM_OVER,
    O_ROM_TRIPPED,
    O_BAND,
    O_FORCE,
    O_RATE,
    O_RATE_EXCEEDED,
    O_LOAD_OVER,
    O_LOAD_TRIPPED,
    O_TUT,
    O_HELD,
    O_SIGNAL,
    O_POSTURE_OK,
    O_N_REPS,
) = range(18)
N_OUT = 18
MAX_REPS_PER_FRAME = 4  # rep rows one frame can hold (a rep needs at least two samples)

# One float64 workspace carries an exercise's parameters and state into the kernel: every
# array crossing from Python into a compiled function costs about a tenth of a microsecond.
M_ASPECT, M_SIGNAL, M_IN_POSITION, M_HOLD_RESET, M_HOLD_GAP = range(5)
W_MISC = 0
W_REP_P = W_MISC + 5
W_REP_S = W_REP_P + rp.N_PARAMS
W_ROM_P = W_REP_S + rp.N_STATE
W_ROM_S = W_ROM_P + 3
W_LOAD_P = W_ROM_S + 3
W_LOAD_S = W_LOAD_P + ld.N_LPARAMS
W_HOLD = W_LOAD_S + ld.N_LSTATE
W_OUT = W_HOLD + 3
W_ROWS = W_OUT + N_OUT
W_BINS = W_ROWS + MAX_REPS_PER_FRAME * rp.N_REC
W_TAIL = W_BINS + 2 * ld.BIN_CAPACITY  # then value (r,), then the scaled image x, y (n, 2)


@njit(**JIT)
def _frame_step(t, image_xy, world, vis, dev_t, force, angle, tab, rparams, ws, status_out):
    # All checks of one frame; returns the number of reps finished (rows at W_ROWS).
    n_rules = tab.shape[0]
    value_out = ws[W_TAIL : W_TAIL + n_rules]
    xy_buf = ws[W_TAIL + n_rules : W_TAIL + n_rules + 2 * image_xy.shape[0]].reshape(
        (image_xy.shape[0], 2)
    )
    rep_params = ws[W_REP_P:W_REP_S]
    rep_state = ws[W_REP_S:W_ROM_P]
    rom_params = ws[W_ROM_P:W_ROM_S]
    rom_state = ws[W_ROM_S:W_LOAD_P]
    load_params = ws[W_LOAD_P:W_LOAD_S]
    load_state = ws[W_LOAD_S:W_HOLD]
    hold_state = ws[W_HOLD:W_OUT]
    out = ws[W_OUT:W_ROWS]
    load_bins = ws[W_BINS:W_TAIL].reshape((ld.BIN_CAPACITY, 2))

    # 1. posture rules
    _scale_x(image_xy, ws[M_ASPECT], xy_buf)
    _evaluate(xy_buf, world, vis, t, tab, rparams, status_out, value_out)
    posture_ok = True
    for r in range(n_rules):
        if status_out[r] == 2:
            posture_ok = False
    was_at_rest = rep_state[rp.S_PHASE] == 0.0
    in_position = ws[M_IN_POSITION]
    if was_at_rest and in_position < 0.0:
        # Rep exercises: per-rep figures restart while at rest. A static hold (the caller
        # says when the patient is in position) keeps them for the whole set.
        ld._reset_rep(load_state)
        rom_state[rm.R_PEAK] = np.nan
    # 3. loading
    flags = ld._load_block(dev_t, force, angle, load_params, load_state, load_bins)
    # 2, 4, 5. driving signal, range of motion, reps
    n_reps = 0
    signal_rule = int(ws[M_SIGNAL])
    if signal_rule >= 0:
        sig = value_out[signal_rule]
        over = rm._rom_sample(sig, rom_params, rom_state)
        ev = rp._rep_step(t, sig, rep_params, rep_state)
        if ev != 0:
            for k in range(rp.N_REC):
                ws[W_ROWS + k] = rep_state[rp.S_REC + k]
            n_reps = 1
    else:
        sig = np.nan
        over = False
        for i in range(dev_t.shape[0]):
            if math.isfinite(angle[i]):
                sig = angle[i]
            if rm._rom_sample(angle[i], rom_params, rom_state):
                over = True
            ev = rp._rep_step(dev_t[i], angle[i], rep_params, rep_state)
            if ev != 0 and n_reps < MAX_REPS_PER_FRAME:
                for k in range(rp.N_REC):
                    ws[W_ROWS + n_reps * rp.N_REC + k] = rep_state[rp.S_REC + k]
                n_reps += 1
    phase = rep_state[rp.S_PHASE]
    # 6. hold: one hold per rep, so it restarts when a rep starts; never for a static
    # exercise, which stays at rest.
    if was_at_rest and phase != 0.0:
        hold_state[rp.H_HELD] = 0.0
    placed = phase == 2.0 if in_position < 0.0 else in_position == 1.0
    held = rp._hold_step(
        t, placed and posture_ok, ws[M_HOLD_RESET] == 1.0, ws[M_HOLD_GAP], hold_state
    )

    out[O_PHASE] = phase
    out[O_PROGRESS] = rep_state[rp.S_PROGRESS]
    out[O_COUNT] = rep_state[rp.S_COUNT]
    out[O_PARTIALS] = rep_state[rp.S_PARTIAL]
    out[O_PEAK] = rom_state[rm.R_PEAK]
    out[O_ROM_OVER] = 1.0 if over else 0.0
    out[O_ROM_TRIPPED] = rom_state[rm.R_TRIPPED]
    out[O_BAND] = load_state[ld.S_BAND]
    out[O_FORCE] = load_state[ld.S_F]
    out[O_RATE] = load_state[ld.S_RATE]
    out[O_RATE_EXCEEDED] = 1.0 if flags & 2 else 0.0
    out[O_LOAD_OVER] = 1.0 if flags & 1 else 0.0
    out[O_LOAD_TRIPPED] = load_state[ld.S_TRIPPED]
    out[O_TUT] = load_state[ld.S_TUT]
    out[O_HELD] = held
    out[O_SIGNAL] = sig
    out[O_POSTURE_OK] = 1.0 if posture_ok else 0.0
    out[O_N_REPS] = n_reps
    return n_reps


class FrameResult:
    """Every check of one frame (read-only; fields are computed from the frame's output
    vector when read, so building one costs next to nothing).

    ``status`` int8 (r,) and ``value`` float64 (r,) per rule (see :mod:`kernels.rules`);
    ``signal`` the driving signal's latest value; ``phase`` RepPhase; ``progress`` and
    ``peak_progress`` shares of the range; ``count`` / ``partials`` reps so far;
    ``posture_ok`` no rule at FAULT; ``over_pain_free_limit`` / ``over_force_limit`` True on
    the frame a limit is crossed, and ``safety_stop`` either; ``force_n``, ``load_band``
    (IN_BAND / BELOW / ABOVE / NO_FORCE), ``rate_n_s``, ``rate_exceeded``, ``tut_s`` as in
    :mod:`kernels.loading`; ``held_s`` the hold timer; ``reps`` the reps finished on this
    frame with ``loads`` their loading figures (empty when the rep had no machine samples).
    ``out`` float64 (N_OUT,) is the raw vector, columns ``O_*``.
    """

    __slots__ = ("loads", "out", "reps", "status", "t", "value")

    def __init__(self, t, status, value, out, reps=(), loads=()) -> None:
        self.t = t
        self.status = status
        self.value = value
        self.out = out
        self.reps = reps
        self.loads = loads

    def __repr__(self) -> str:
        return (
            f"FrameResult(t={self.t:.3f}, phase={self.phase.name}, count={self.count}, "
            f"progress={self.progress:.3f}, status={self.status.tolist()}, "
            f"safety_stop={self.safety_stop}, reps={len(self.reps)})"
        )

    @property
    def signal(self) -> float:
        return float(self.out[O_SIGNAL])

    @property
    def phase(self) -> rp.RepPhase:
        return rp.RepPhase(int(self.out[O_PHASE]))

    @property
    def progress(self) -> float:
        return float(self.out[O_PROGRESS])

    @property
    def peak_progress(self) -> float:
        return float(self.out[O_PEAK])

    @property
    def count(self) -> int:
        return int(self.out[O_COUNT])

    @property
    def partials(self) -> int:
        return int(self.out[O_PARTIALS])

    @property
    def posture_ok(self) -> bool:
        return bool(self.out[O_POSTURE_OK] == 1.0)

    @property
    def over_pain_free_limit(self) -> bool:
        return bool(self.out[O_ROM_OVER] == 1.0)

    @property
    def over_force_limit(self) -> bool:
        return bool(self.out[O_LOAD_OVER] == 1.0)

    @property
    def safety_stop(self) -> bool:
        return self.over_pain_free_limit or self.over_force_limit

    @property
    def force_n(self) -> float:
        return float(self.out[O_FORCE])

    @property
    def load_band(self) -> int:
        return int(self.out[O_BAND])

    @property
    def rate_n_s(self) -> float:
        return float(self.out[O_RATE])

    @property
    def rate_exceeded(self) -> bool:
        return bool(self.out[O_RATE_EXCEEDED] == 1.0)

    @property
    def tut_s(self) -> float:
        return float(self.out[O_TUT])

    @property
    def held_s(self) -> float:
        return float(self.out[O_HELD])


_NO_SAMPLES = np.empty(0, dtype=np.float64)


def rep_segments(rep: RepRecord) -> tuple[tuple[float, float], tuple[float, float]]:
    """The rep's two movements, out and back, as (start, end) times for the smoothness score."""
    return (rep.start_s, rep.start_s + rep.out_s), (rep.end_s - rep.back_s, rep.end_s)


def _f64(name: str, a, shape: tuple[int, ...]) -> np.ndarray:
    # Fast path: the pose and the device arrays usually arrive as float64 already.
    if not (isinstance(a, np.ndarray) and a.dtype == np.float64 and a.flags.c_contiguous):
        a = np.ascontiguousarray(a, dtype=np.float64)
    if a.shape != shape:
        raise ValueError(f"ExerciseChecks.update: expected {name} {shape}, got {a.shape}")
    return a


class ExerciseChecks:
    """The per-frame checks of one exercise for one patient.

    ``rules``: the exercise's posture rules. ``signal_rule``: key of the rule whose value drives
    the rep counter (e.g. a knee ANGLE rule), or None for the machine's angle. ``start`` /
    ``target``: the patient's start position and personal target on that signal;
    ``pain_free_limit`` on the same scale (NaN: none). ``rep_options``: keyword arguments of
    :func:`kernels.reps.rep_params` (thresholds, tempo). ``load_band_n`` (low, high) and
    ``load_options`` (keyword arguments of :func:`kernels.loading.load_params`); without a
    band, force is reported but never out of band. ``hold_target_s``, ``hold_reset_on_break``:
    the hold timer. ``aspect``: camera width / height.
    """

    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        start: float,
        target: float,
        signal_rule: str | None = None,
        pain_free_limit: float = math.nan,
        rep_options: dict | None = None,
        out_is_concentric: bool = False,
        load_band_n: tuple[float, float] = (-math.inf, math.inf),
        load_options: dict | None = None,
        hold_target_s: float = math.inf,
        hold_reset_on_break: bool = False,
        hold_max_gap_s: float = 0.5,
        aspect: float = 1.0,
        n_landmarks: int = 33,
    ) -> None:
        self.rule_set = RuleSet(rules, aspect=aspect, n_landmarks=n_landmarks)
        if signal_rule is None:
            self.signal_index = -1
        else:
            keys = self.rule_set.keys
            if signal_rule not in keys:
                raise ValueError(
                    f"ExerciseChecks: signal_rule {signal_rule!r} is not one of {keys}"
                )
            self.signal_index = keys.index(signal_rule)
        self.rep_params = rp.rep_params(start, target, **(rep_options or {}))
        self.out_is_concentric = out_is_concentric
        self.rom_params = rm.rom_params(start, target, pain_free_limit)
        self.load_params = ld.load_params(load_band_n, **(load_options or {}))
        if not (hold_target_s > 0 and hold_max_gap_s > 0):
            raise ValueError(
                "ExerciseChecks: expected hold_target_s > 0 and hold_max_gap_s > 0, got "
                f"{hold_target_s}, {hold_max_gap_s}"
            )
        self.hold_target_s = float(hold_target_s)
        self.hold_reset_on_break = bool(hold_reset_on_break)
        self.hold_max_gap_s = float(hold_max_gap_s)
        self.n_landmarks = n_landmarks
        self.reset()

    def fresh_workspace(self) -> tuple[np.ndarray, np.ndarray]:
        """The rule table's float part and the workspace, both in their starting state."""
        r = len(self.rule_set)
        ws = np.full(W_TAIL + r + 2 * self.n_landmarks, np.nan)
        ws[M_ASPECT] = self.rule_set.aspect
        ws[M_SIGNAL] = self.signal_index
        ws[M_IN_POSITION] = -1.0
        ws[M_HOLD_RESET] = 1.0 if self.hold_reset_on_break else 0.0
        ws[M_HOLD_GAP] = self.hold_max_gap_s
        ws[W_REP_P:W_REP_S] = self.rep_params
        ws[W_REP_S:W_ROM_P] = rp._initial_state()
        ws[W_ROM_P:W_ROM_S] = self.rom_params
        ws[W_ROM_S:W_LOAD_P] = (np.nan, np.nan, 0.0)
        ws[W_LOAD_P:W_LOAD_S] = self.load_params
        ws[W_LOAD_S:W_HOLD] = ld._initial_state()[0]
        ws[W_HOLD:W_OUT] = (0.0, np.nan, 0.0)
        return self.rule_set.table.fresh(), ws

    def reset(self) -> None:
        """A fresh set: rules UNKNOWN, no reps, hold at zero, safety flags cleared."""
        self._rparams, self._ws = self.fresh_workspace()

    @property
    def keys(self) -> tuple[str, ...]:
        return self.rule_set.keys

    @property
    def hold_done(self) -> bool:
        return self._ws[W_HOLD + rp.H_HELD] >= self.hold_target_s

    def update(
        self,
        t: float,
        image_xy: np.ndarray,
        world_xyz: np.ndarray,
        visibility: np.ndarray,
        device_t: np.ndarray | None = None,
        force: np.ndarray | None = None,
        angle: np.ndarray | None = None,
        in_position: bool | None = None,
    ) -> FrameResult:
        """Run every check on one frame.

        ``t`` seconds; ``image_xy`` (n, 2) image-normalised; ``world_xyz`` (n, 3) metres;
        ``visibility`` (n,); ``device_t``, ``force`` (N), ``angle`` (deg): (k,) machine samples
        since the previous frame on the same clock as ``t`` (None: none); ``in_position``
        for the hold timer (None: the rep's TOP zone).
        """
        n = self.n_landmarks
        xy = _f64("image_xy", image_xy, (n, 2))
        wd = _f64("world_xyz", world_xyz, (n, 3))
        vis = _f64("visibility", visibility, (n,))
        if device_t is None:
            dt_ = fs = an = _NO_SAMPLES
        else:
            dt_ = _f64("device_t", device_t, np.shape(device_t))
            k = dt_.shape
            if dt_.ndim != 1:
                raise ValueError(f"ExerciseChecks.update: expected device_t (k,), got {k}")
            fs = np.full(k, np.nan) if force is None else _f64("force", force, k)
            an = np.full(k, np.nan) if angle is None else _f64("angle", angle, k)
        ws = self._ws
        ws[M_IN_POSITION] = -1.0 if in_position is None else float(bool(in_position))
        status = np.empty(len(self.rule_set), dtype=np.int8)
        n_reps = _frame_step(
            float(t), xy, wd, vis, dt_, fs, an, self.rule_set.table.ints, self._rparams, ws,
            status,
        )  # fmt: skip
        r = status.shape[0]
        value = ws[W_TAIL : W_TAIL + r].copy()
        out = ws[W_OUT:W_ROWS].copy()
        if not n_reps:
            return FrameResult(t, status, value, out)
        rows = ws[W_ROWS : W_ROWS + n_reps * rp.N_REC].reshape(n_reps, rp.N_REC)
        reps = tuple(RepRecord.from_row(row, self.out_is_concentric) for row in rows)
        loads: tuple[ld.LoadRep, ...] = ()
        load_state = ws[W_LOAD_S:W_HOLD]
        if load_state[ld.S_N] > 0 or load_state[ld.S_N_BINS] > 0:
            bins = ws[W_BINS:W_TAIL].reshape(ld.BIN_CAPACITY, 2)
            segments = rep_segments(reps[-1])
            loads = (ld._rep_summary(load_state, bins, self.load_params, segments),)
        return FrameResult(t, status, value, out, reps, loads)
