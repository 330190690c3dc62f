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
6. the hold timer: runs while the patient is in position (by default: in the rep's TOP zone)
   and no rule reports FAULT.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

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


@njit(**JIT)
def _frame_step(
    t,
    image_xy,
    world,
    vis,
    aspect,
    xy_buf,
    kind,
    lms,
    nlm,
    rparams,
    rstate,
    signal_rule,
    rep_params,
    rep_state,
    rom_params,
    rom_state,
    load_params,
    load_state,
    load_bins,
    hold_reset,
    hold_gap,
    hold_state,
    in_position,
    dev_t,
    force,
    angle,
    status_out,
    value_out,
    out,
    rep_rows,
):
    # 1. posture rules
    _scale_x(image_xy, aspect, xy_buf)
    _evaluate(xy_buf, world, vis, t, kind, lms, nlm, rparams, rstate, status_out, value_out)
    posture_ok = True
    for r in range(status_out.shape[0]):
        if status_out[r] == 2:
            posture_ok = False
    at_rest = rep_state[rp.S_PHASE] == 0.0
    if at_rest:
        ld._reset_rep(load_state)
        rom_state[rm.R_PEAK] = np.nan
    # 3. loading
    flags = ld._load_block(dev_t, force, angle, load_params, load_state, load_bins)
    # 2, 4, 5. driving signal, range of motion, reps
    n_reps = 0
    was_at_rest = at_rest
    if signal_rule >= 0:
        sig = value_out[signal_rule]
        one = np.empty(1)
        one[0] = sig
        over = rm._rom_block(one, rom_params, rom_state) >= 0
        ev = rp._rep_step(t, sig, rep_params, rep_state)
        if ev != 0:
            for k in range(rp.N_REC):
                rep_rows[n_reps, k] = rep_state[rp.S_REC + k]
            n_reps += 1
    else:
        sig = np.nan
        for i in range(angle.shape[0]):
            if math.isfinite(angle[i]):
                sig = angle[i]
        over = rm._rom_block(angle, rom_params, rom_state) >= 0
        for i in range(dev_t.shape[0]):
            ev = rp._rep_step(dev_t[i], angle[i], rep_params, rep_state)
            if ev != 0 and n_reps < rep_rows.shape[0]:
                for k in range(rp.N_REC):
                    rep_rows[n_reps, k] = rep_state[rp.S_REC + k]
                n_reps += 1
    phase = rep_state[rp.S_PHASE]
    # 6. hold: one hold per rep, so it restarts when a rep starts; never for a static
    # exercise, which stays at rest.
    if was_at_rest and phase != 0.0:
        hold_state[rp.H_HELD] = 0.0
    placed = phase == 2.0 if in_position < 0 else in_position == 1
    held = rp._hold_step(t, placed and posture_ok, hold_reset, hold_gap, hold_state)

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


@dataclass(frozen=True, slots=True)
class FrameResult:
    """Every check of one frame.

    ``status`` int8 (r,) and ``value`` float64 (r,) per rule (see :mod:`kernels.rules`);
    ``signal`` the driving signal's latest value; ``phase`` RepPhase; ``progress`` and
    ``peak_progress`` shares of the range; ``count`` / ``partials`` reps so far;
    ``safety_stop`` True on the frame the pain-free limit or the force limit is crossed;
    ``force_n``, ``load_band`` (IN_BAND / BELOW / ABOVE / NO_FORCE), ``rate_n_s``,
    ``rate_exceeded``, ``tut_s`` as in :mod:`kernels.loading`; ``held_s`` the hold timer;
    ``reps`` the reps finished on this frame with ``loads`` their loading figures (empty
    when the rep had no machine samples).
    """

    t: float
    status: np.ndarray
    value: np.ndarray
    signal: float
    phase: rp.RepPhase
    progress: float
    peak_progress: float
    count: int
    partials: int
    posture_ok: bool
    over_pain_free_limit: bool
    over_force_limit: bool
    force_n: float
    load_band: int
    rate_n_s: float
    rate_exceeded: bool
    tut_s: float
    held_s: float
    reps: tuple[RepRecord, ...] = ()
    loads: tuple[ld.LoadRep, ...] = ()

    @property
    def safety_stop(self) -> bool:
        return self.over_pain_free_limit or self.over_force_limit


_NO_SAMPLES = np.empty(0, dtype=np.float64)


def rep_segments(rep: RepRecord) -> tuple[tuple[float, float], tuple[float, float]]:
    """The rep's two movements, out and back, as (start, end) times for the smoothness score."""
    return (rep.start_s, rep.start_s + rep.out_s), (rep.end_s - rep.back_s, rep.end_s)


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
        self._xy = np.empty((n_landmarks, 2))
        self._out = np.empty(N_OUT)
        self._rows = np.empty((MAX_REPS_PER_FRAME, rp.N_REC))
        self.reset()

    def reset(self) -> None:
        """A fresh set: rules UNKNOWN, no reps, hold at zero, safety flags cleared."""
        self.rule_set.reset()
        self._rep_state = rp._initial_state()
        self._rom_state = np.array([np.nan, np.nan, 0.0])
        self._load_state, self._load_bins = ld._initial_state()
        self._hold_state = np.array([0.0, np.nan, 0.0])

    @property
    def keys(self) -> tuple[str, ...]:
        return self.rule_set.keys

    @property
    def hold_done(self) -> bool:
        return self._hold_state[rp.H_HELD] >= self.hold_target_s

    def _arr(self, name: str, a, shape: tuple[int, ...]) -> np.ndarray:
        out = np.ascontiguousarray(a, dtype=np.float64)
        if out.shape != shape:
            raise ValueError(f"ExerciseChecks.update: expected {name} {shape}, got {out.shape}")
        return out

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
        xy = self._arr("image_xy", image_xy, (n, 2))
        wd = self._arr("world_xyz", world_xyz, (n, 3))
        vis = self._arr("visibility", visibility, (n,))
        if device_t is None:
            dt_ = fs = an = _NO_SAMPLES
        else:
            dt_, fs, an = ld._samples("ExerciseChecks.update", device_t, force, angle)
        rs = self.rule_set
        tb = rs.table
        r = len(rs)
        status = np.empty(r, dtype=np.int8)
        value = np.empty(r, dtype=np.float64)
        out = self._out
        n_reps = _frame_step(
            float(t),
            xy,
            wd,
            vis,
            rs.aspect,
            self._xy,
            tb.kind,
            tb.landmarks,
            tb.n_landmarks,
            tb.params,
            rs._state,
            self.signal_index,
            self.rep_params,
            self._rep_state,
            self.rom_params,
            self._rom_state,
            self.load_params,
            self._load_state,
            self._load_bins,
            self.hold_reset_on_break,
            self.hold_max_gap_s,
            self._hold_state,
            -1 if in_position is None else int(bool(in_position)),
            dt_,
            fs,
            an,
            status,
            value,
            out,
            self._rows,
        )
        reps: tuple[RepRecord, ...] = ()
        loads: tuple[ld.LoadRep, ...] = ()
        if n_reps:
            reps = tuple(
                RepRecord.from_row(self._rows[i], self.out_is_concentric) for i in range(n_reps)
            )
            if self._load_state[ld.S_N] > 0 or self._load_state[ld.S_N_BINS] > 0:
                last = reps[-1]
                loads = (
                    ld._rep_summary(
                        self._load_state, self._load_bins, self.load_params, rep_segments(last)
                    ),
                )
        return FrameResult(
            t=float(t),
            status=status,
            value=value,
            signal=float(out[O_SIGNAL]),
            phase=rp.RepPhase(int(out[O_PHASE])),
            progress=float(out[O_PROGRESS]),
            peak_progress=float(out[O_PEAK]),
            count=int(out[O_COUNT]),
            partials=int(out[O_PARTIALS]),
            posture_ok=out[O_POSTURE_OK] == 1.0,
            over_pain_free_limit=out[O_ROM_OVER] == 1.0,
            over_force_limit=out[O_LOAD_OVER] == 1.0,
            force_n=float(out[O_FORCE]),
            load_band=int(out[O_BAND]),
            rate_n_s=float(out[O_RATE]),
            rate_exceeded=out[O_RATE_EXCEEDED] == 1.0,
            tut_s=float(out[O_TUT]),
            held_s=float(out[O_HELD]),
            reps=reps,
            loads=loads,
        )
