"""The one compiled step of a session: every check of one input (a pose or a batch of machine
samples) in one call. The live engine, the replay of a recording and the batch re-analysis all
run this very function, so they cannot disagree.

Order inside a step (producers before consumers):

1. pose: One Euro smoothing of the landmarks (visibility-gated), the working side (the side
   whose driving-signal landmarks are better seen, sticky), every posture rule on both sides,
   then each exercise rule read on the working side;
2. machine samples: the load limit on every sample (finite and inside, else a breach, whatever
   the sample's time), a non-finite machine angle, then loading (band, rate, time under
   tension, smoothness bins);
3. the driving signal (a rule's value, or every machine angle of the batch) drives, when the
   session gate allows it: range of motion and the pain-free flag (any phase but a stop), then
   only while working: the rules' rep-phase activity and the fault log, then the rep counter
   (reps exercises) or the hold (hold exercises: in position when every position rule is OK,
   timed while no other active rule is at FAULT, a release out of position between holds).

Everything is plain arrays: ``lay`` (int64) says how the exercise is laid out, ``ws``
(float64) holds its parameters, state and this step's outputs; ``tab`` / ``rparams`` are the
posture rule table (:mod:`kernels.rules`). :mod:`kernels.checks` builds and reads them.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from kernels import loading as ld
from kernels import reps as rp
from kernels import rom as rm
from kernels.config import JIT_STEP
from kernels.rules import ST_CANDIDATE, ST_FAULT_SINCE, ST_REPORTED, ST_SINCE, _evaluate
from kernels.smoothing import _one_euro_step

# Step kinds.
STEP_POSE, STEP_NO_POSE, STEP_MACHINE, STEP_END = 0, 1, 2, 3
# Session gate: stopped drives nothing; idle checks the range of motion only; working counts.
GATE_STOPPED, GATE_IDLE, GATE_WORKING = 0, 1, 2
MODE_REPS, MODE_HOLD = 0, 1
# Safety breaches a step can report (the first one of the step).
SAFE_NONE, SAFE_PAIN_FREE, SAFE_OVERLOAD, SAFE_ANGLE_LOST = 0, 1, 2, 3

# Layout (int64): header, then 4 ints per exercise rule, then the signal landmarks per side.
Y_N_EX, Y_SIG_L, Y_SIG_R, Y_N_SIGLM, Y_MACHINE_SIGNAL, Y_MODE, Y_LOAD, Y_ANGLE_CHECK = range(8)
Y_N_CAND = 8  # alternating limbs: how many signal candidates (their columns follow the landmarks)
Y_RULES = 10
# Per exercise rule: its columns per side, the rep phases it counts in (bit k: RepPhase k), whether
# it says "in position", the camera views it can be judged from (bit VIEW_*; 0: any).
Y_COL_L, Y_COL_R, Y_PHASES, Y_POSITION, Y_VIEWS = range(5)
RULE_INTS = 5
VIEW_UNKNOWN, VIEW_SIDE, VIEW_FRONT = 0, 1, 2
# Shoulder width over trunk length in the picture: below this the body is seen from the side,
# above the other the front; in between the last view holds.
SIDE_BELOW, FRONT_ABOVE = 0.35, 0.5

# Workspace (float64): misc parameters and state.
(
    M_ASPECT,
    M_GATE,
    M_SIDE,  # 0 left, 1 right
    M_AUTO_SIDE,
    M_SIDE_MARGIN,
    M_SMOOTH,
    M_SM_MIN_CUT,
    M_SM_BETA,
    M_SM_WORLD_BETA,
    M_SM_D_CUT,
    M_SM_MIN_VIS,
    M_IN_POSITION,  # -1: decided by the exercise (TOP zone or position rules); else the caller
    M_HOLD_RESET,
    M_HOLD_GAP,
    M_HOLD_TARGET,
    M_RELEASE,  # 1 after a completed hold until the patient leaves the position
    M_HOLD_START,
    M_REP_T0,  # time the rep in progress left rest
    M_VIEW_RATIO,  # shoulder width over trunk length, smoothed
    M_VIEW,  # VIEW_*
    M_PLAUSIBLE_LOW,  # a camera signal outside these bounds is a broken skeleton: not measured
    M_PLAUSIBLE_HIGH,
) = range(22)
N_MISC = 22

# Outputs of the step (a row of the workspace).
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
    O_SAFETY,
    O_SAFETY_T,
    O_SAFETY_VALUE,
    O_SAFETY_LIMIT,
    O_N_FAULTS,
    O_HOLD_DONE,
    O_HOLD_START,
    O_HOLD_END,
    O_HOLD_HELD,
    O_IN_POSITION,
    O_TRACE_T,
    O_TRACE_V,
    O_RANGE,
    O_VIEW,
) = range(32)
N_OUT = 32
MAX_REPS_PER_FRAME = 4  # rep rows one step can hold (a rep needs at least two samples)
N_SMOOTH_IMAGE = 2  # channels per landmark
N_SMOOTH_WORLD = 3


# Blocks of the workspace after the misc block, in order; ``off[K_*]`` is where each starts.
(
    K_REP_P,
    K_REP_S,
    K_ROM_P,
    K_ROM_S,
    K_LOAD_P,
    K_LOAD_S,
    K_HOLD,
    K_OUT,
    K_ROWS,
    K_BINS,
    K_VALUE,
    K_EX_STATUS,
    K_EX_VALUE,
    K_EX_ACTIVE,
    K_EX_PREV,
    K_EX_FAULT,
    K_FAULTS,
    K_XY,
    K_XY_SCALED,
    K_WORLD,
    K_VIS,
    K_SM_IMAGE,
    K_SM_WORLD,
    K_CANDS,
    K_END,
    K_ROW_LEN,
) = range(26)


def rep_row_length(r_ex: int) -> int:
    """A finished rep's row: the counter's record, the loading state at its end, then the
    worst status each exercise rule had during it."""
    return rp.N_REC + ld.N_LSTATE + r_ex


def layout_offsets(r_all: int, r_ex: int, n: int, n_cand: int = 0) -> np.ndarray:
    """Block offsets (int64, ``K_ROW_LEN + 1``) of a workspace for ``r_all`` compiled rules
    (both sides), ``r_ex`` exercise rules, ``n`` landmarks and ``n_cand`` signal candidates;
    ``off[K_END]`` is its size."""
    sizes = (
        rp.N_PARAMS,
        rp.N_STATE,
        3,  # range of motion parameters
        3,  # range of motion state
        ld.N_LPARAMS,
        ld.N_LSTATE,
        3,  # hold timer
        N_OUT,
        MAX_REPS_PER_FRAME * rep_row_length(r_ex),
        2 * ld.BIN_CAPACITY,
        r_all,  # every compiled rule's value
        r_ex,
        r_ex,
        r_ex,
        r_ex,
        r_ex,
        2 * r_ex,  # this step's fault log: rule, level pairs
        2 * n,  # smoothed image landmarks (NaN: not seen)
        2 * n,  # the same with x scaled to square pixels
        3 * n,  # smoothed world landmarks
        n,  # visibility, NaN read as 0
        3 * N_SMOOTH_IMAGE * n,  # One Euro state
        3 * N_SMOOTH_WORLD * n,
        2 * n_cand,  # each signal candidate's start and target (NaN: the signal's own)
    )
    off = np.empty(K_ROW_LEN + 1, dtype=np.int64)
    o = N_MISC
    for k, size in enumerate(sizes):
        off[k] = o
        o += size
    off[K_END] = o
    off[K_ROW_LEN] = rep_row_length(r_ex)
    return off


@njit(**JIT_STEP)
def _smooth(image, world, t, ws, xy_out, world_out, sm_image, sm_world):
    # Landmarks below the visibility floor are missing (NaN), never zero.
    n = image.shape[0]
    min_vis = ws[M_SM_MIN_VIS]
    raw_xy = np.empty(2 * n)
    raw_w = np.empty(3 * n)
    for i in range(n):
        hidden = not (image[i, 3] >= min_vis)
        for d in range(2):
            raw_xy[2 * i + d] = np.nan if hidden else image[i, d]
        for d in range(3):
            raw_w[3 * i + d] = np.nan if hidden else world[i, d]
    out_xy = np.empty(2 * n)
    out_w = np.empty(3 * n)
    d_cut = ws[M_SM_D_CUT]
    min_cut = ws[M_SM_MIN_CUT]
    _one_euro_step(raw_xy, t, sm_image, min_cut, ws[M_SM_BETA], d_cut, out_xy)
    _one_euro_step(raw_w, t, sm_world, min_cut, ws[M_SM_WORLD_BETA], d_cut, out_w)
    for i in range(n):
        for d in range(2):
            xy_out[i, d] = out_xy[2 * i + d]
        for d in range(3):
            world_out[i, d] = out_w[3 * i + d]


@njit(**JIT_STEP)
def _reset_smoother(sm_image, sm_world):
    for s in (sm_image, sm_world):
        for i in range(s.shape[0]):
            s[i, 0] = np.nan
            s[i, 1] = 0.0
            s[i, 2] = np.nan


@njit(**JIT_STEP)
def _choose_side(vis, lay, ws):
    # The side whose signal landmarks are better seen; the other side must lead by a margin.
    k = lay[Y_N_SIGLM]
    if ws[M_AUTO_SIDE] != 1.0 or k == 0:
        return
    first = Y_RULES + RULE_INTS * lay[Y_N_EX]
    score = np.empty(2)
    for s in range(2):
        low = np.inf
        for j in range(k):
            v = vis[lay[first + s * k + j]]
            if not math.isfinite(v):
                v = 0.0
            low = min(low, v)
        score[s] = low
    cur = int(ws[M_SIDE])
    if score[1 - cur] > score[cur] + ws[M_SIDE_MARGIN]:
        ws[M_SIDE] = 1.0 - cur


@njit(**JIT_STEP)
def _alternating(lay, ws, off, value_all, rep_params):
    # Alternating limbs: the candidate that has moved furthest toward its target, as a share
    # of its own range, read on the driving signal's scale. NaN when none is seen.
    first = Y_RULES + RULE_INTS * lay[Y_N_EX] + 2 * lay[Y_N_SIGLM]
    start, target = rep_params[rp.P_START], rep_params[rp.P_TARGET]
    o = off[K_CANDS]
    best = np.nan
    for i in range(lay[Y_N_CAND]):
        v = value_all[lay[first + i]]
        c_start, c_target = ws[o + 2 * i], ws[o + 2 * i + 1]
        if not math.isfinite(c_start):
            c_start, c_target = start, target
        p = (v - c_start) / (c_target - c_start)
        if math.isfinite(p) and not (p <= best):
            best = p
    return start + best * (target - start)


@njit(**JIT_STEP)
def _safety_check(dev_t, force, angle, lay, load_p, out):
    # Every sample, whatever its time: a value passes only when finite and inside its limit.
    if lay[Y_LOAD] == 1:
        limit = load_p[ld.L_LIMIT]
        for i in range(force.shape[0]):
            if not (math.isfinite(force[i]) and force[i] <= limit):
                out[O_LOAD_OVER] = 1.0
                out[O_SAFETY] = SAFE_OVERLOAD
                out[O_SAFETY_T] = dev_t[i]
                out[O_SAFETY_VALUE] = force[i]
                out[O_SAFETY_LIMIT] = limit
                return
    if lay[Y_ANGLE_CHECK] == 1:
        for i in range(angle.shape[0]):
            if not math.isfinite(angle[i]):
                out[O_SAFETY] = SAFE_ANGLE_LOST
                out[O_SAFETY_T] = dev_t[i]
                out[O_SAFETY_VALUE] = angle[i]
                out[O_SAFETY_LIMIT] = np.nan
                return


@njit(**JIT_STEP)
def _estimate_view(xy, ws):
    # Side or front, from how far apart the shoulders are against the trunk's length (both in
    # square pixels); smoothed, with a band in which the last view holds.
    ls, rs, lh, rh = xy[11], xy[12], xy[23], xy[24]
    width = math.hypot(ls[0] - rs[0], ls[1] - rs[1])
    trunk = math.hypot(0.5 * (ls[0] + rs[0] - lh[0] - rh[0]), 0.5 * (ls[1] + rs[1] - lh[1] - rh[1]))
    if math.isfinite(width) and math.isfinite(trunk) and trunk > 0.0:
        ratio = width / trunk
        prev = ws[M_VIEW_RATIO]
        ws[M_VIEW_RATIO] = ratio if not math.isfinite(prev) else prev + 0.2 * (ratio - prev)
        r = ws[M_VIEW_RATIO]
        if r < SIDE_BELOW:
            ws[M_VIEW] = VIEW_SIDE
        elif r > FRONT_ABOVE:
            ws[M_VIEW] = VIEW_FRONT
    return int(ws[M_VIEW])


@njit(**JIT_STEP)
def _rest_idle_rules(lay, rparams, rep_phase):
    # A rule that does not count in this rep phase starts afresh when it does: its debounce
    # must not carry a lean seen while seated over to the standing top.
    for i in range(lay[Y_N_EX]):
        base = Y_RULES + RULE_INTS * i
        mask = lay[base + Y_PHASES]
        if mask == 0 or (mask >> rep_phase) & 1 == 1:
            continue
        for col in (lay[base + Y_COL_L], lay[base + Y_COL_R]):
            rparams[col, ST_REPORTED] = 3.0
            rparams[col, ST_CANDIDATE] = 3.0
            rparams[col, ST_SINCE] = -np.inf
            rparams[col, ST_FAULT_SINCE] = np.nan


@njit(**JIT_STEP)
def _check_rules(lay, ex_status, ex_active, ex_prev, ex_fault, faults, rep_phase, is_reps):
    # Which rules count in this rep phase; new warnings and faults go to the fault log.
    n_faults = 0
    for i in range(lay[Y_N_EX]):
        mask = lay[Y_RULES + RULE_INTS * i + Y_PHASES]
        active = mask == 0 or (mask >> rep_phase) & 1 == 1
        ex_active[i] = 1.0 if active else 0.0
        st = ex_status[i]
        if active and (st == 1.0 or st == 2.0):
            if is_reps and st > ex_fault[i]:
                ex_fault[i] = st
            if st != ex_prev[i]:
                faults[2 * n_faults] = i
                faults[2 * n_faults + 1] = st
                n_faults += 1
        ex_prev[i] = st if active else 0.0
    return n_faults


@njit(**JIT_STEP)
def _hold_mode(t, lay, ws, ex_status, ex_active, hold_state, out):
    # Hold exercises: in position when every position rule is OK; the timer pauses on a FAULT
    # of any other active rule; after a completed hold the patient leaves the position first.
    in_position = True
    posture_ok = True
    for i in range(lay[Y_N_EX]):
        base = Y_RULES + RULE_INTS * i
        if lay[base + Y_POSITION] == 1:
            if ex_status[i] != 0.0:
                in_position = False
        elif ex_active[i] == 1.0 and ex_status[i] == 2.0:
            posture_ok = False
    if ws[M_IN_POSITION] >= 0.0:
        in_position = ws[M_IN_POSITION] == 1.0
    out[O_IN_POSITION] = 1.0 if in_position else 0.0
    out[O_POSTURE_OK] = 1.0 if posture_ok else 0.0
    if ws[M_RELEASE] == 1.0:
        if not in_position:
            ws[M_RELEASE] = 0.0
        out[O_HELD] = hold_state[rp.H_HELD]
        return
    if in_position and not math.isfinite(ws[M_HOLD_START]):
        ws[M_HOLD_START] = t
    held = rp._hold_step(
        t, in_position and posture_ok, ws[M_HOLD_RESET] == 1.0, ws[M_HOLD_GAP], hold_state
    )
    out[O_HELD] = held
    if held >= ws[M_HOLD_TARGET]:
        out[O_HOLD_DONE] = 1.0
        out[O_HOLD_START] = ws[M_HOLD_START]
        out[O_HOLD_END] = t
        out[O_HOLD_HELD] = held
        hold_state[rp.H_HELD] = 0.0
        hold_state[rp.H_LAST_T] = np.nan
        hold_state[rp.H_WAS_ACTIVE] = 0.0
        ws[M_HOLD_START] = np.nan
        ws[M_RELEASE] = 1.0
        out[O_HELD] = 0.0


@njit(**JIT_STEP)
def _write_rep(ws, row, rep_state, load_state, ex_fault, r_ex):
    for k in range(rp.N_REC):
        ws[row + k] = rep_state[rp.S_REC + k]
    for k in range(ld.N_LSTATE):
        ws[row + rp.N_REC + k] = load_state[k]
    for i in range(r_ex):
        ws[row + rp.N_REC + ld.N_LSTATE + i] = ex_fault[i]
        ex_fault[i] = 0.0


@njit(**JIT_STEP)
def _step(t, kind, image, world, dev_t, force, angle, tab, rparams, lay, ws, off, status_all):
    # One input; ``off`` holds the block offsets (:class:`Layout`). Returns reps finished.
    o_rep_p, o_rep_s, o_rom_p, o_rom_s = off[K_REP_P], off[K_REP_S], off[K_ROM_P], off[K_ROM_S]
    o_load_p, o_load_s, o_hold, o_out = off[K_LOAD_P], off[K_LOAD_S], off[K_HOLD], off[K_OUT]
    o_rows, row_len, o_bins, o_value_all = off[K_ROWS], off[K_ROW_LEN], off[K_BINS], off[K_VALUE]
    o_ex_status, o_ex_value, o_ex_active = off[K_EX_STATUS], off[K_EX_VALUE], off[K_EX_ACTIVE]
    o_ex_prev, o_ex_fault, o_faults = off[K_EX_PREV], off[K_EX_FAULT], off[K_FAULTS]
    o_xy, o_xy_scaled, o_world, o_vis = off[K_XY], off[K_XY_SCALED], off[K_WORLD], off[K_VIS]
    o_sm_image, o_sm_world = off[K_SM_IMAGE], off[K_SM_WORLD]
    n_all = tab.shape[0]
    r_ex = lay[Y_N_EX]
    n = image.shape[0]
    rep_params = ws[o_rep_p:o_rep_s]
    rep_state = ws[o_rep_s:o_rom_p]
    rom_params = ws[o_rom_p:o_rom_s]
    rom_state = ws[o_rom_s:o_load_p]
    load_params = ws[o_load_p:o_load_s]
    load_state = ws[o_load_s:o_hold]
    hold_state = ws[o_hold:o_out]
    out = ws[o_out:o_rows]
    load_bins = ws[o_bins:o_value_all].reshape((ld.BIN_CAPACITY, 2))
    value_all = ws[o_value_all:o_ex_status]
    ex_status = ws[o_ex_status:o_ex_value]
    ex_value = ws[o_ex_value:o_ex_active]
    ex_active = ws[o_ex_active:o_ex_prev]
    ex_prev = ws[o_ex_prev:o_ex_fault]
    ex_fault = ws[o_ex_fault:o_faults]
    faults = ws[o_faults : o_faults + 2 * r_ex]
    xy = ws[o_xy : o_xy + 2 * n].reshape((n, 2))
    xy_scaled = ws[o_xy_scaled : o_xy_scaled + 2 * n].reshape((n, 2))
    world_s = ws[o_world : o_world + 3 * n].reshape((n, 3))
    vis_s = ws[o_vis : o_vis + n]
    sm_image = ws[o_sm_image : o_sm_image + 3 * N_SMOOTH_IMAGE * n].reshape((N_SMOOTH_IMAGE * n, 3))
    sm_world = ws[o_sm_world : o_sm_world + 3 * N_SMOOTH_WORLD * n].reshape((N_SMOOTH_WORLD * n, 3))

    out[O_ROM_OVER] = 0.0
    out[O_LOAD_OVER] = 0.0
    out[O_RATE_EXCEEDED] = 0.0
    out[O_N_REPS] = 0.0
    out[O_SAFETY] = SAFE_NONE
    out[O_N_FAULTS] = 0.0
    out[O_HOLD_DONE] = 0.0
    out[O_TRACE_T] = np.nan
    out[O_TRACE_V] = np.nan
    gate = int(ws[M_GATE])
    hold_mode = lay[Y_MODE] == MODE_HOLD
    machine_signal = lay[Y_MACHINE_SIGNAL] == 1
    if kind == STEP_END:
        # The input is over: a rep whose return has passed its midpoint counts.
        if gate == GATE_WORKING and not hold_mode and rp._rep_close(rep_params, rep_state):
            _write_rep(ws, o_rows, rep_state, load_state, ex_fault, r_ex)
            out[O_N_REPS] = 1.0
        out[O_PHASE] = rep_state[rp.S_PHASE]
        out[O_COUNT] = rep_state[rp.S_COUNT]
        return int(out[O_N_REPS])

    # 1. the pose
    sig = np.nan
    if kind == STEP_POSE:
        if ws[M_SMOOTH] == 1.0:
            _smooth(image, world, t, ws, xy, world_s, sm_image, sm_world)
        else:
            for i in range(n):
                xy[i, 0] = image[i, 0]
                xy[i, 1] = image[i, 1]
                for d in range(3):
                    world_s[i, d] = world[i, d]
        aspect = ws[M_ASPECT]
        for i in range(n):
            xy_scaled[i, 0] = xy[i, 0] * aspect
            xy_scaled[i, 1] = xy[i, 1]
            v = image[i, 3]
            vis_s[i] = v if math.isfinite(v) else 0.0
        _choose_side(vis_s, lay, ws)
        _rest_idle_rules(lay, rparams, int(rep_state[rp.S_PHASE]))
        _evaluate(xy_scaled, world_s, vis_s, t, tab, rparams, status_all, value_all)
        view = _estimate_view(xy_scaled, ws)
        right = ws[M_SIDE] == 1.0
        for i in range(r_ex):
            base = Y_RULES + RULE_INTS * i
            col = lay[base + Y_COL_R] if right else lay[base + Y_COL_L]
            ex_status[i] = status_all[col]
            ex_value[i] = value_all[col]
            views = lay[base + Y_VIEWS]
            if views != 0 and (views >> view) & 1 == 0:
                ex_status[i] = 3.0  # not judged from this view
        if not machine_signal:
            if lay[Y_N_CAND] > 0:
                sig = _alternating(lay, ws, off, value_all, rep_params)
            else:
                col = lay[Y_SIG_R] if right else lay[Y_SIG_L]
                if col >= 0:
                    sig = value_all[col]
            if not (ws[M_PLAUSIBLE_LOW] <= sig <= ws[M_PLAUSIBLE_HIGH]):
                sig = np.nan
    elif kind == STEP_NO_POSE:
        _reset_smoother(sm_image, sm_world)
        for i in range(n):
            xy[i, 0] = np.nan
            xy[i, 1] = np.nan
        for i in range(r_ex):
            ex_status[i] = 3.0
        for c in range(n_all):
            status_all[c] = 3
    posture_ok = True
    for i in range(r_ex):
        if ex_status[i] == 2.0:
            posture_ok = False
    out[O_POSTURE_OK] = 1.0 if posture_ok else 0.0

    # 2. machine samples: the safety check first, on every sample
    if dev_t.shape[0] > 0:
        _safety_check(dev_t, force, angle, lay, load_params, out)
        if out[O_SAFETY] != SAFE_NONE:
            gate = GATE_STOPPED
    rest_at_start = rep_state[rp.S_PHASE] == 0.0
    if gate == GATE_WORKING and rest_at_start and not hold_mode and ws[M_IN_POSITION] < 0.0:
        # Per-rep loading and peak restart while the patient is at rest between reps.
        ld._reset_rep(load_state)
        rom_state[rm.R_PEAK] = np.nan
    flags = ld._load_block(dev_t, force, angle, load_params, load_state, load_bins)
    if flags & ld.FLAG_RATE:
        out[O_RATE_EXCEEDED] = 1.0
    if flags & ld.FLAG_OVER_LIMIT:
        out[O_LOAD_OVER] = 1.0

    # 3. the driving signal: a camera rule on pose steps, the machine angle on sample batches
    machine_step = dev_t.shape[0] > 0 or kind == STEP_MACHINE
    drives = machine_step if machine_signal else kind != STEP_MACHINE
    n_reps = 0
    if drives:
        if machine_signal:
            for i in range(angle.shape[0]):
                if math.isfinite(angle[i]):
                    out[O_TRACE_V] = angle[i]
            sig = angle[angle.shape[0] - 1] if angle.shape[0] else np.nan
        else:
            out[O_TRACE_V] = sig
        out[O_TRACE_T] = t
        out[O_SIGNAL] = sig
    if drives and gate != GATE_STOPPED:
        if machine_signal:
            first_over = rm._rom_block(angle, rom_params, rom_state)
        else:
            first_over = 0 if rm._rom_sample(sig, rom_params, rom_state) else -1
        if first_over >= 0:
            # Past the pain-free limit: the session stops on this very sample.
            out[O_ROM_OVER] = 1.0
            out[O_SAFETY] = SAFE_PAIN_FREE
            out[O_SAFETY_T] = dev_t[first_over] if machine_signal else t
            out[O_SAFETY_VALUE] = angle[first_over] if machine_signal else sig
            out[O_SAFETY_LIMIT] = rom_params[rm.R_LIMIT]
        elif gate == GATE_WORKING:
            rep_phase = int(rep_state[rp.S_PHASE])
            out[O_N_FAULTS] = _check_rules(
                lay, ex_status, ex_active, ex_prev, ex_fault, faults, rep_phase, not hold_mode
            )
            if hold_mode:
                _hold_mode(t, lay, ws, ex_status, ex_active, hold_state, out)
            else:
                n_sig = angle.shape[0] if machine_signal else 1
                for j in range(n_sig):
                    tj = dev_t[j] if machine_signal else t
                    vj = angle[j] if machine_signal else sig
                    at_rest = rep_state[rp.S_PHASE] == 0.0
                    ev = rp._rep_step(tj, vj, rep_params, rep_state)
                    if at_rest and rep_state[rp.S_PHASE] != 0.0:
                        ws[M_REP_T0] = tj
                    if ev != 0:
                        if n_reps < MAX_REPS_PER_FRAME:
                            row = o_rows + n_reps * row_len
                            _write_rep(ws, row, rep_state, load_state, ex_fault, r_ex)
                            n_reps += 1
                        rom_state[rm.R_PEAK] = np.nan
                # A rep's top zone is a hold too (e.g. a held stretch), one per rep.
                phase = rep_state[rp.S_PHASE]
                if rest_at_start and phase != 0.0:
                    hold_state[rp.H_HELD] = 0.0
                placed = phase == 2.0 if ws[M_IN_POSITION] < 0.0 else ws[M_IN_POSITION] == 1.0
                out[O_IN_POSITION] = 1.0 if placed else 0.0
                active = placed and posture_ok
                reset = ws[M_HOLD_RESET] == 1.0
                out[O_HELD] = rp._hold_step(t, active, reset, ws[M_HOLD_GAP], hold_state)

    out[O_PHASE] = rep_state[rp.S_PHASE]
    out[O_PROGRESS] = rep_state[rp.S_PROGRESS]
    out[O_COUNT] = rep_state[rp.S_COUNT]
    out[O_PARTIALS] = rep_state[rp.S_PARTIAL]
    out[O_PEAK] = rom_state[rm.R_PEAK]
    out[O_RANGE] = rom_state[rm.R_PROGRESS]
    out[O_VIEW] = ws[M_VIEW]
    out[O_ROM_TRIPPED] = rom_state[rm.R_TRIPPED]
    out[O_BAND] = load_state[ld.S_BAND]
    out[O_FORCE] = load_state[ld.S_F]
    out[O_RATE] = load_state[ld.S_RATE]
    out[O_LOAD_TRIPPED] = load_state[ld.S_TRIPPED]
    out[O_TUT] = load_state[ld.S_TUT]
    out[O_N_REPS] = n_reps
    return n_reps
