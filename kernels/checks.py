"""All checks of one exercise for one patient, one compiled call per input.

:class:`ExerciseChecks` owns the workspace of :func:`kernels.frame._step`: the posture rule
table (both body sides when the exercise's rules are sided), the rep counter, range of motion,
loading, the hold timer, the landmark smoother and the working side. The session engine feeds it
every pose and every batch of machine samples (:meth:`ExerciseChecks.step_pose`,
:meth:`~ExerciseChecks.step_no_pose`, :meth:`~ExerciseChecks.step_machine`); the batch
re-analysis (:mod:`kernels.batch`) runs the very same step over a whole recording; the simpler
:meth:`ExerciseChecks.update` takes a pose and the samples of its frame together.

A step's results stay in the workspace until the next step: :attr:`ExerciseChecks.out` (the
``O_*`` columns of :mod:`kernels.frame`), the rules' status and value on the working side,
the finished reps (:meth:`ExerciseChecks.finished_reps`), this step's fault log
(:meth:`ExerciseChecks.fault_log`), the smoothed landmarks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kernels import frame as fr
from kernels import loading as ld
from kernels import reps as rp
from kernels import rom as rm
from kernels.frame import (
    GATE_IDLE,
    GATE_STOPPED,
    GATE_WORKING,
    MAX_REPS_PER_FRAME,
    N_OUT,
    O_BAND,
    O_COUNT,
    O_FORCE,
    O_HELD,
    O_LOAD_OVER,
    O_N_REPS,
    O_PARTIALS,
    O_PEAK,
    O_PHASE,
    O_POSTURE_OK,
    O_PROGRESS,
    O_RATE,
    O_RATE_EXCEEDED,
    O_ROM_OVER,
    O_ROM_TRIPPED,
    O_SIGNAL,
    O_TUT,
    STEP_MACHINE,
    STEP_NO_POSE,
    STEP_POSE,
)
from kernels.reps import RepPhase, RepRecord
from kernels.rules import UNKNOWN, Rule, RuleSet, reset_state

__all__ = [
    "GATE_IDLE",
    "GATE_STOPPED",
    "GATE_WORKING",
    "MAX_REPS_PER_FRAME",
    "N_OUT",
    "O_BAND",
    "O_COUNT",
    "O_FORCE",
    "O_HELD",
    "O_LOAD_OVER",
    "O_PARTIALS",
    "O_PEAK",
    "O_PHASE",
    "O_POSTURE_OK",
    "O_PROGRESS",
    "O_RATE",
    "O_RATE_EXCEEDED",
    "O_ROM_OVER",
    "O_ROM_TRIPPED",
    "O_SIGNAL",
    "O_TUT",
    "CheckedRule",
    "ExerciseChecks",
    "FrameResult",
    "Smoothing",
    "rep_segments",
]


@dataclass(frozen=True, slots=True)
class CheckedRule:
    """One exercise rule as the step reads it: its columns in the compiled rule set for the
    left and the right working side (equal for a side-free rule), the rep phases in which it
    counts (empty: all), and whether it says "in position" for a hold."""

    left: int
    right: int
    phases: frozenset[RepPhase] = frozenset()
    position: bool = False
    key: str = ""  # the exercise rule's own name (default: the left column's rule key)
    views: frozenset[int] = frozenset()  # kernels.frame.VIEW_* it can be judged from (all)


@dataclass(frozen=True, slots=True)
class Smoothing:
    """One Euro smoothing of the landmarks (:mod:`kernels.smoothing`): cutoffs in Hz, betas per
    unit of speed; landmarks below ``min_visibility`` are missing."""

    min_cutoff: float = 1.5
    beta: float = 0.3
    world_beta: float = 0.5
    d_cutoff: float = 1.0
    min_visibility: float = 0.5


SIDE_SWITCH_MARGIN = 0.15  # visibility lead the other side needs before the working side switches


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

    def __init__(
        self,
        t: float,
        status: np.ndarray,
        value: np.ndarray,
        out: np.ndarray,
        reps: tuple[RepRecord, ...] = (),
        loads: tuple[ld.LoadRep, ...] = (),
    ) -> None:
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


def _f64(name: str, a: object, shape: tuple[int, ...]) -> np.ndarray:
    # Fast path: the pose and the device arrays usually arrive as float64 already.
    if not (isinstance(a, np.ndarray) and a.dtype == np.float64 and a.flags.c_contiguous):
        a = np.ascontiguousarray(a, dtype=np.float64)
    if a.shape != shape:
        raise ValueError(f"ExerciseChecks.update: expected {name} {shape}, got {a.shape}")
    return a


class ExerciseChecks:
    """The per-input checks of one exercise for one patient.

    ``rules``: the compiled posture rules (both sides of a sided rule are two rules).
    ``start`` / ``target``: the patient's start position and personal target on the driving
    signal; ``pain_free_limit`` on the same scale (NaN: none). ``signal_rule``: key of the rule
    whose value drives the rep counter, or None for the machine's angle; ``signal_columns``
    (left, right) instead when the signal has a rule per side. ``rep_options``: keyword
    arguments of :func:`kernels.reps.rep_params` (thresholds, tempo). ``load_band_n`` and
    ``load_options`` (:func:`kernels.loading.load_params`); a finite ``limit_n`` is checked on
    every sample as finite-and-inside. ``hold_target_s``, ``hold_reset_on_break``,
    ``hold_max_gap_s``: the hold timer; ``hold_mode``: the exercise is a hold (no reps; in
    position when every position rule is OK; a release between holds).

    Session layout (default: every rule is an exercise rule, counted in every phase):
    ``checked`` the exercise rules (:class:`CheckedRule`); ``signal_landmarks`` (left, right)
    the landmarks the driving signal needs, for the working side and "person in view";
    ``side`` 0 left, 1 right, ``auto_side`` switch to the better-seen side; ``smoothing``
    (None: landmarks as given); ``angle_check``: a non-finite machine angle is a breach;
    ``signal_candidates`` (column, start, target): alternating limbs, the one moved furthest
    toward its target drives the reps (start and target NaN: the driving signal's own);
    ``plausible`` (low, high): a camera signal outside is a broken skeleton, not a value.
    ``aspect``: camera width / height.
    """

    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        start: float,
        target: float,
        signal_rule: str | None = None,
        signal_columns: tuple[int, int] | None = None,
        pain_free_limit: float = math.nan,
        rep_options: dict | None = None,
        out_is_concentric: bool = False,
        load_band_n: tuple[float, float] = (-math.inf, math.inf),
        load_options: dict | None = None,
        hold_target_s: float = math.inf,
        hold_reset_on_break: bool = False,
        hold_max_gap_s: float = 0.5,
        hold_mode: bool = False,
        checked: Sequence[CheckedRule] | None = None,
        signal_landmarks: tuple[tuple[int, ...], tuple[int, ...]] = ((), ()),
        side: int = 0,
        auto_side: bool = False,
        smoothing: Smoothing | None = None,
        angle_check: bool = False,
        signal_candidates: Sequence[tuple[int, float, float]] = (),
        plausible: tuple[float, float] = (-math.inf, math.inf),
        aspect: float = 1.0,
        n_landmarks: int = 33,
    ) -> None:
        self.rule_set = RuleSet(rules, aspect=aspect, n_landmarks=n_landmarks)
        keys = self.rule_set.keys
        if signal_rule is not None:
            if signal_rule not in keys:
                raise ValueError(
                    f"ExerciseChecks: signal_rule {signal_rule!r} is not one of {keys}"
                )
            signal_columns = (keys.index(signal_rule), keys.index(signal_rule))
        self.signal_columns = signal_columns
        self.signal_index = -1 if signal_columns is None else signal_columns[0]
        r_all = len(keys)
        if checked is None:
            checked = [CheckedRule(i, i) for i in range(r_all)]
        self.checked = tuple(checked)
        for c in self.checked:
            if not (0 <= c.left < r_all and 0 <= c.right < r_all):
                raise ValueError(f"ExerciseChecks: rule columns must lie in 0..{r_all - 1}")
        if not (hold_target_s > 0 and hold_max_gap_s > 0):
            raise ValueError(
                "ExerciseChecks: expected hold_target_s > 0 and hold_max_gap_s > 0, got "
                f"{hold_target_s}, {hold_max_gap_s}"
            )
        if side not in (0, 1):
            raise ValueError(f"ExerciseChecks: side must be 0 (left) or 1 (right), got {side}")
        sig_l, sig_r = (tuple(int(i) for i in lms) for lms in signal_landmarks)
        if len(sig_l) != len(sig_r):
            raise ValueError("ExerciseChecks: signal landmarks need as many on either side")
        self.out_is_concentric = out_is_concentric
        self.hold_mode = hold_mode
        self.n_landmarks = n_landmarks
        self.signal_landmarks = (sig_l, sig_r)
        self.smoothing = smoothing
        self.hold_reset_on_break = bool(hold_reset_on_break)
        self.hold_max_gap_s = float(hold_max_gap_s)
        self._side0 = side
        self._auto_side = auto_side
        self._rep_options = dict(rep_options or {})
        self._load_options = dict(load_options or {})
        r_ex = len(self.checked)
        cands = tuple(signal_candidates)
        for col, _, _ in cands:
            if not 0 <= col < r_all:
                raise ValueError(f"ExerciseChecks: signal candidate column {col} out of range")
        self.signal_candidates = cands
        if not plausible[0] < plausible[1]:
            raise ValueError(f"ExerciseChecks: expected plausible (low, high), got {plausible}")
        self.plausible = (float(plausible[0]), float(plausible[1]))
        lay = np.zeros(
            fr.Y_RULES + fr.RULE_INTS * r_ex + 2 * len(sig_l) + len(cands), dtype=np.int64
        )
        lay[fr.Y_N_CAND] = len(cands)
        lay[fr.Y_N_EX] = r_ex
        lay[fr.Y_SIG_L], lay[fr.Y_SIG_R] = signal_columns if signal_columns else (-1, -1)
        lay[fr.Y_N_SIGLM] = len(sig_l)
        lay[fr.Y_MACHINE_SIGNAL] = 1 if signal_columns is None else 0
        lay[fr.Y_MODE] = fr.MODE_HOLD if hold_mode else fr.MODE_REPS
        lay[fr.Y_ANGLE_CHECK] = 1 if angle_check else 0
        for i, c in enumerate(self.checked):
            base = fr.Y_RULES + fr.RULE_INTS * i
            lay[base + fr.Y_COL_L] = c.left
            lay[base + fr.Y_COL_R] = c.right
            lay[base + fr.Y_PHASES] = sum(1 << int(p) for p in c.phases)
            lay[base + fr.Y_POSITION] = 1 if c.position else 0
            lay[base + fr.Y_VIEWS] = sum(1 << v for v in c.views)
        first = fr.Y_RULES + fr.RULE_INTS * r_ex
        lay[first : first + len(sig_l)] = sig_l
        lay[first + len(sig_l) : first + 2 * len(sig_l)] = sig_r
        lay[first + 2 * len(sig_l) :] = [col for col, _, _ in cands]
        self._lay = lay
        self._off = fr.layout_offsets(r_all, r_ex, n_landmarks, len(cands))
        self._status_all = np.empty(r_all, dtype=np.int8)
        self._no_image = np.full((n_landmarks, 4), np.nan)
        self._no_world = np.full((n_landmarks, 3), np.nan)
        self.retarget(start, target, pain_free_limit, load_band_n, hold_target_s)

    # -- configuration ----------------------------------------------------------------------

    def retarget(
        self,
        start: float,
        target: float,
        pain_free_limit: float,
        load_band_n: tuple[float, float],
        hold_target_s: float,
    ) -> None:
        """New personal targets: a fresh rep, range, loading and hold state (the rules, the
        smoother and the working side keep theirs)."""
        self.rep_params = rp.rep_params(start, target, **self._rep_options)
        self.rom_params = rm.rom_params(start, target, pain_free_limit)
        self.load_params = ld.load_params(load_band_n, **self._load_options)
        if not hold_target_s > 0:
            raise ValueError(f"ExerciseChecks: expected hold_target_s > 0, got {hold_target_s}")
        self.hold_target_s = float(hold_target_s)
        self._lay[fr.Y_LOAD] = 1 if math.isfinite(self.load_params[ld.L_LIMIT]) else 0
        if not hasattr(self, "_ws"):
            self.reset()
            return
        self._write_counters(self._ws)

    def _write_counters(self, ws: np.ndarray) -> None:
        off = self._off
        ws[off[fr.K_REP_P] : off[fr.K_REP_S]] = self.rep_params
        ws[off[fr.K_REP_S] : off[fr.K_ROM_P]] = rp._initial_state()
        ws[off[fr.K_ROM_P] : off[fr.K_ROM_S]] = self.rom_params
        ws[off[fr.K_ROM_S] : off[fr.K_LOAD_P]] = (np.nan, np.nan, 0.0)
        ws[off[fr.K_LOAD_P] : off[fr.K_LOAD_S]] = self.load_params
        ws[off[fr.K_LOAD_S] : off[fr.K_HOLD]] = ld._initial_state()[0]
        ws[off[fr.K_HOLD] : off[fr.K_OUT]] = (0.0, np.nan, 0.0)
        ws[fr.M_HOLD_TARGET] = self.hold_target_s
        ws[fr.M_HOLD_START] = np.nan
        ws[fr.M_RELEASE] = 0.0
        ws[fr.M_REP_T0] = np.nan
        ex = slice(off[fr.K_EX_FAULT], off[fr.K_FAULTS])
        ws[ex] = 0.0

    def fresh_workspace(self) -> tuple[np.ndarray, np.ndarray]:
        """The rule table's float part and the workspace, both in their starting state."""
        off = self._off
        ws = np.full(off[fr.K_END], np.nan)
        ws[fr.M_ASPECT] = self.rule_set.aspect
        ws[fr.M_GATE] = GATE_WORKING
        ws[fr.M_SIDE] = self._side0
        ws[fr.M_AUTO_SIDE] = 1.0 if self._auto_side else 0.0
        ws[fr.M_SIDE_MARGIN] = SIDE_SWITCH_MARGIN
        sm = self.smoothing
        ws[fr.M_SMOOTH] = 0.0 if sm is None else 1.0
        sm = sm or Smoothing()
        ws[fr.M_SM_MIN_CUT] = sm.min_cutoff
        ws[fr.M_SM_BETA] = sm.beta
        ws[fr.M_SM_WORLD_BETA] = sm.world_beta
        ws[fr.M_SM_D_CUT] = sm.d_cutoff
        ws[fr.M_SM_MIN_VIS] = sm.min_visibility
        ws[fr.M_IN_POSITION] = -1.0
        ws[fr.M_VIEW] = fr.VIEW_UNKNOWN
        ws[fr.M_PLAUSIBLE_LOW], ws[fr.M_PLAUSIBLE_HIGH] = self.plausible
        ws[fr.M_HOLD_RESET] = 1.0 if self.hold_reset_on_break else 0.0
        ws[fr.M_HOLD_GAP] = self.hold_max_gap_s
        for i, (_, c_start, c_target) in enumerate(self.signal_candidates):
            ws[off[fr.K_CANDS] + 2 * i : off[fr.K_CANDS] + 2 * i + 2] = (c_start, c_target)
        self._write_counters(ws)
        ws[off[fr.K_OUT] : off[fr.K_ROWS]] = np.nan
        ws[off[fr.K_OUT] + fr.O_N_REPS] = 0.0
        ws[off[fr.K_OUT] + fr.O_N_FAULTS] = 0.0
        ws[off[fr.K_OUT] + fr.O_SAFETY] = fr.SAFE_NONE
        ws[off[fr.K_OUT] + fr.O_PHASE] = float(RepPhase.REST)
        ws[off[fr.K_OUT] + fr.O_BAND] = ld.NO_FORCE
        r_ex = len(self.checked)
        ws[off[fr.K_EX_STATUS] : off[fr.K_EX_STATUS] + r_ex] = UNKNOWN
        ws[off[fr.K_EX_ACTIVE] : off[fr.K_EX_ACTIVE] + r_ex] = 1.0
        ws[off[fr.K_EX_PREV] : off[fr.K_EX_PREV] + r_ex] = UNKNOWN
        n = self.n_landmarks
        for k, ch in ((fr.K_SM_IMAGE, fr.N_SMOOTH_IMAGE), (fr.K_SM_WORLD, fr.N_SMOOTH_WORLD)):
            state = ws[off[k] : off[k] + 3 * ch * n].reshape(ch * n, 3)
            state[:, 0] = np.nan
            state[:, 1] = 0.0
            state[:, 2] = np.nan
        return self.rule_set.table.fresh(), ws

    def reset(self) -> None:
        """A fresh set: rules UNKNOWN, no reps, hold at zero, safety flags cleared."""
        self._rparams, self._ws = self.fresh_workspace()
        self._bind()

    def _bind(self) -> None:
        ws, off = self._ws, self._off
        r_ex = len(self.checked)
        n = self.n_landmarks
        self.out = ws[off[fr.K_OUT] : off[fr.K_ROWS]]
        self.status = ws[off[fr.K_EX_STATUS] : off[fr.K_EX_STATUS] + r_ex]
        self.value = ws[off[fr.K_EX_VALUE] : off[fr.K_EX_VALUE] + r_ex]
        self.active = ws[off[fr.K_EX_ACTIVE] : off[fr.K_EX_ACTIVE] + r_ex]
        self.landmarks_xy = ws[off[fr.K_XY] : off[fr.K_XY] + 2 * n].reshape(n, 2)

    def reset_reps(self) -> None:
        """A new set: the rep counter back to rest with zero counts."""
        off = self._off
        self._ws[off[fr.K_REP_S] : off[fr.K_ROM_P]] = rp._initial_state()

    def clear_safety(self) -> None:
        """After a stop is acknowledged: the latched range and load flags clear."""
        off = self._off
        self._ws[off[fr.K_ROM_S] + rm.R_TRIPPED] = 0.0
        self._ws[off[fr.K_LOAD_S] + ld.S_TRIPPED] = 0.0

    def fix_side(self, side: int) -> None:
        """Work on this side only (0 left, 1 right), whatever is better seen."""
        if side not in (0, 1):
            raise ValueError(f"side: expected 0 (left) or 1 (right), got {side}")
        self._side0, self._auto_side = side, False
        self._ws[fr.M_SIDE] = side
        self._ws[fr.M_AUTO_SIDE] = 0.0

    def set_aspect(self, aspect: float) -> None:
        if not (math.isfinite(aspect) and aspect > 0):
            raise ValueError(f"ExerciseChecks: expected a positive aspect ratio, got {aspect}")
        self.rule_set.aspect = float(aspect)
        self._ws[fr.M_ASPECT] = aspect

    def set_gate(self, gate: int) -> None:
        """GATE_STOPPED, GATE_IDLE (range of motion only) or GATE_WORKING."""
        self._ws[fr.M_GATE] = gate

    # -- reading ----------------------------------------------------------------------------

    @property
    def keys(self) -> tuple[str, ...]:
        return self.rule_set.keys

    @property
    def rule_keys(self) -> tuple[str, ...]:
        """The exercise rules' keys (their left column's), the order of :attr:`status`."""
        keys = self.rule_set.keys
        return tuple(c.key or keys[c.left] for c in self.checked)

    @property
    def lay(self) -> np.ndarray:
        return self._lay

    @property
    def offsets(self) -> np.ndarray:
        return self._off

    @property
    def side(self) -> int:
        return int(self._ws[fr.M_SIDE])

    @property
    def view(self) -> int:
        """The camera's view of the body as last estimated: kernels.frame.VIEW_*."""
        return int(self._ws[fr.M_VIEW])

    @property
    def hold_done(self) -> bool:
        return self.held_s >= self.hold_target_s

    @property
    def held_s(self) -> float:
        return float(self._ws[self._off[fr.K_HOLD] + rp.H_HELD])

    @property
    def hold_start(self) -> float:
        return float(self._ws[fr.M_HOLD_START])

    @property
    def rep_started(self) -> float:
        return float(self._ws[fr.M_REP_T0])

    @property
    def limit_progress(self) -> float:
        """Where the pain-free limit lies as progress (NaN if none)."""
        p = self.rom_params
        return float((p[rm.R_LIMIT] - p[rm.R_START]) / (p[rm.R_TARGET] - p[rm.R_START]))

    def finished_reps(self) -> tuple[tuple[RepRecord, tuple[int, ...], ld.LoadRep | None], ...]:
        """The reps finished on the latest step: record, worst status per exercise rule during
        the rep, loading figures (None without machine samples)."""
        n_reps = int(self.out[O_N_REPS])
        off = self._off
        out = []
        r_ex = len(self.checked)
        for k in range(n_reps):
            row = self._ws[off[fr.K_ROWS] + k * off[fr.K_ROW_LEN] :][: off[fr.K_ROW_LEN]]
            rec = RepRecord.from_row(row[: rp.N_REC], self.out_is_concentric)
            state = row[rp.N_REC : rp.N_REC + ld.N_LSTATE].copy()
            worst = tuple(int(x) for x in row[rp.N_REC + ld.N_LSTATE :][:r_ex])
            load = None
            if state[ld.S_N] > 0 or state[ld.S_N_BINS] > 0:
                bins = self._ws[off[fr.K_BINS] : off[fr.K_VALUE]].reshape(ld.BIN_CAPACITY, 2)
                if k < n_reps - 1:  # the angle bins belong to the step's last rep only
                    state[ld.S_N_BINS] = 0.0
                load = ld._rep_summary(state, bins.copy(), self.load_params, rep_segments(rec))
            out.append((rec, worst, load))
        return tuple(out)

    def fault_log(self) -> tuple[tuple[int, int], ...]:
        """This step's new warnings and faults: (exercise rule, WARNING or FAULT)."""
        n = int(self.out[fr.O_N_FAULTS])
        if not n:
            return ()
        o = self._off[fr.K_FAULTS]
        return tuple((int(self._ws[o + 2 * i]), int(self._ws[o + 2 * i + 1])) for i in range(n))

    # -- steps ------------------------------------------------------------------------------

    def step_pose(self, t: float, image: np.ndarray, world: np.ndarray) -> int:
        """A detected pose: ``image`` (n, 4) x, y, z, visibility (image-normalised),
        ``world`` (n, 3) metres, float64 and C-contiguous. Returns the reps finished."""
        return fr._step(
            t, STEP_POSE, image, world, _NO_SAMPLES, _NO_SAMPLES, _NO_SAMPLES,
            self.rule_set.table.ints, self._rparams, self._lay, self._ws, self._off,
            self._status_all,
        )  # fmt: skip

    def step_no_pose(self, t: float) -> int:
        """A camera frame with nobody in it: rules UNKNOWN, no camera signal, smoothing restarts."""
        return fr._step(
            t, STEP_NO_POSE, self._no_image, self._no_world, _NO_SAMPLES, _NO_SAMPLES, _NO_SAMPLES,
            self.rule_set.table.ints, self._rparams, self._lay, self._ws, self._off,
            self._status_all,
        )  # fmt: skip

    def step_machine(self, ts: np.ndarray, force: np.ndarray, angle: np.ndarray) -> int:
        """One batch of machine samples (k,) on the session clock (s, N, deg), float64; the
        step's time is the last sample's."""
        if ts.shape[0] == 0:
            return 0
        return fr._step(
            float(ts[-1]), STEP_MACHINE, self._no_image, self._no_world, ts, force, angle,
            self.rule_set.table.ints, self._rparams, self._lay, self._ws, self._off,
            self._status_all,
        )  # fmt: skip

    def step_end(self, t: float) -> int:
        """The input is over: a rep whose return has passed its midpoint is counted (its
        record ends on the last sample); any other rep in progress is dropped."""
        return fr._step(
            t, fr.STEP_END, self._no_image, self._no_world, _NO_SAMPLES, _NO_SAMPLES,
            _NO_SAMPLES, self.rule_set.table.ints, self._rparams, self._lay, self._ws,
            self._off, self._status_all,
        )  # fmt: skip

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
        """Run every check on one frame: a pose and the machine samples since the previous frame.

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
        image = np.empty((n, 4))
        image[:, :2] = xy
        image[:, 2] = np.nan
        image[:, 3] = vis
        ws = self._ws
        ws[fr.M_IN_POSITION] = -1.0 if in_position is None else float(bool(in_position))
        fr._step(
            float(t), STEP_POSE, image, wd, dt_, fs, an, self.rule_set.table.ints,
            self._rparams, self._lay, ws, self._off, self._status_all,
        )  # fmt: skip
        status = self.status.astype(np.int8)
        value = self.value.copy()
        out = self.out.copy()
        found = self.finished_reps()
        return FrameResult(
            t,
            status,
            value,
            out,
            tuple(rep for rep, _, _ in found),
            tuple(load for _, _, load in found if load is not None),
        )

    def reset_rules(self) -> None:
        """Forget debounce and hysteresis history: every rule back to UNKNOWN."""
        reset_state(self._rparams)
