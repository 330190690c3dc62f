"""Re-analysis of a whole recorded session at once, with the live frame kernel.

When a therapist changes a threshold, the recorded pose and machine samples run through
:func:`analyse_session` with a new :class:`kernels.checks.ExerciseChecks` configuration. The
loop over frames is compiled, and each frame goes through the very kernel the live loop uses,
so the batch result equals what the live checks would have shown, frame for frame.

Layout of a recording (plain arrays, no per-frame Python objects):

* ``t`` (f,) frame times, seconds;
* ``image`` (f, n, 3 or 4) image landmarks, x and y image-normalised, visibility last;
* ``world`` (f, n, 3) world landmarks, metres (NaN when the source has none);
* ``device_t``, ``force``, ``angle`` (m,) machine samples on the frame clock (s, N, deg);
* ``frame_start`` (f + 1,) offsets: frame ``i`` owns samples ``frame_start[i]`` to
  ``frame_start[i + 1] - 1`` (the samples that arrived since the previous frame).

For signals alone (no pose), :func:`kernels.reps.count_reps`, :func:`kernels.rom.track_range`
and :func:`kernels.loading.track_loading` are the lighter batch entry points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from kernels import checks as ck
from kernels import frame as fr
from kernels import loading as ld
from kernels import reps as rp
from kernels.checks import ExerciseChecks
from kernels.config import JIT
from kernels.rom import frame_offsets


@njit(**JIT)
def _frame_run(
    ts,
    image,
    world,
    in_position,
    frame_start,
    dev_t,
    force,
    angle,
    tab,
    rparams,
    lay,
    ws,
    off,
    status_all,
    status_out,
    value_out,
    frame_out,
    rep_out,
    rep_frame,
    bins_out,
    bins_start,
    close,
):
    # Returns the number of reps written. Per rep: its row (counter record, loading state at
    # its end, worst rule statuses), its frame and its angle bins (bins_start[k] ..
    # bins_start[k + 1] - 1 in bins_out).
    r_ex = lay[fr.Y_N_EX]
    o_out = off[fr.K_OUT]
    o_rows = off[fr.K_ROWS]
    row_len = off[fr.K_ROW_LEN]
    load_params = ws[off[fr.K_LOAD_P] : off[fr.K_LOAD_S]]
    load_state = ws[off[fr.K_LOAD_S] : off[fr.K_HOLD]]
    load_bins = ws[off[fr.K_BINS] : off[fr.K_VALUE]].reshape((ld.BIN_CAPACITY, 2))
    n_lm = image.shape[1]
    last = image.shape[2] - 1
    img = np.empty((n_lm, 4))
    n_reps = 0
    n_bins = 0
    bins_start[0] = 0
    for f in range(ts.shape[0]):
        a = frame_start[f]
        b = frame_start[f + 1]
        seen = False
        for i in range(n_lm):  # the frame's x, y and visibility
            img[i, 0] = image[f, i, 0]
            img[i, 1] = image[f, i, 1]
            img[i, 2] = np.nan
            img[i, 3] = image[f, i, last]
            seen = seen or not math.isnan(img[i, 3])
        # A frame whose visibilities are all NaN had nobody in it (``Pose.empty``).
        kind = fr.STEP_POSE if seen else fr.STEP_NO_POSE
        ws[fr.M_IN_POSITION] = in_position[f]
        k = fr._step(
            ts[f], kind, img, world[f], dev_t[a:b], force[a:b], angle[a:b], tab, rparams, lay,
            ws, off, status_all,
        )  # fmt: skip
        for c in range(r_ex):
            status_out[f, c] = np.int8(ws[off[fr.K_EX_STATUS] + c])
            value_out[f, c] = ws[off[fr.K_EX_VALUE] + c]
        for c in range(fr.N_OUT):
            frame_out[f, c] = ws[o_out + c]
        if k > 0:
            ld._close_bin(load_params, load_state, load_bins)
            for j in range(k):
                for c in range(row_len):
                    rep_out[n_reps, c] = ws[o_rows + j * row_len + c]
                rep_frame[n_reps] = f
                nb = int(load_state[ld.S_N_BINS]) if j == k - 1 else 0
                for c in range(nb):
                    bins_out[n_bins, 0] = load_bins[c, 0]
                    bins_out[n_bins, 1] = load_bins[c, 1]
                    n_bins += 1
                n_reps += 1
                bins_start[n_reps] = n_bins
    if close and ts.shape[0] > 0:
        # The end of the recording: a rep on its way back past its midpoint counts.
        last = ts.shape[0] - 1
        if fr._step(ts[last], fr.STEP_END, img, world[last], dev_t[:0], force[:0], angle[:0],
                    tab, rparams, lay, ws, off, status_all):  # fmt: skip
            for c in range(row_len):
                rep_out[n_reps, c] = ws[o_rows + c]
            rep_frame[n_reps] = last
            n_reps += 1
            bins_start[n_reps] = n_bins
    return n_reps


@dataclass(frozen=True, slots=True)
class SessionAnalysis:
    """Per frame: ``status`` int8 (f, r), ``value`` float64 (f, r) per rule; ``frame`` float64
    (f, N_OUT) with the columns ``kernels.checks.O_*`` (phase, progress, count, peak, safety
    flags, force, band, rate, time under tension, hold, driving signal, posture ok).
    Per rep: ``reps`` with ``rep_frame`` (the frame each ended on); their loading figures
    from :meth:`rep_loads`. ``keys``: the rules' keys, the columns of status / value."""

    keys: tuple[str, ...]
    status: np.ndarray
    value: np.ndarray
    frame: np.ndarray
    reps: tuple[rp.RepRecord, ...]
    rep_frame: np.ndarray
    load_params: np.ndarray
    rep_load_state: np.ndarray  # (reps, N_LSTATE) loading state at each rep's end
    rep_bins: np.ndarray  # (bins, 2) time, mean angle of every rep's angle bins
    rep_bins_start: np.ndarray  # (reps + 1,) offsets into rep_bins
    rep_rule_worst: np.ndarray  # (reps, r) worst status each rule had during each rep

    def rep_loads(self) -> tuple[ld.LoadRep | None, ...]:
        """Loading figures per rep, None for a rep without machine samples. Computed on call
        (the smoothness score takes a spectrum per rep phase, about a third of a millisecond,
        so the frame analysis does not pay for it unless asked)."""
        out: list[ld.LoadRep | None] = []
        for i, rep in enumerate(self.reps):
            s = self.rep_load_state[i].copy()
            if s[ld.S_N] > 0 or s[ld.S_N_BINS] > 0:
                bins = self.rep_bins[self.rep_bins_start[i] : self.rep_bins_start[i + 1]]
                s[ld.S_N_BINS] = bins.shape[0]
                segments = ck.rep_segments(rep)
                out.append(ld._rep_summary(s, bins.copy(), self.load_params, segments))
            else:
                out.append(None)
        return tuple(out)

    def column(self, index: int) -> np.ndarray:
        """One ``kernels.checks.O_*`` column, e.g. ``column(O_COUNT)``."""
        return self.frame[:, index]

    @property
    def count(self) -> int:
        return int(self.frame[-1, ck.O_COUNT]) if self.frame.shape[0] else 0

    @property
    def safety_frames(self) -> np.ndarray:
        """Indices of the frames on which a pain-free or force limit was crossed."""
        f = self.frame
        return np.flatnonzero((f[:, ck.O_ROM_OVER] == 1.0) | (f[:, ck.O_LOAD_OVER] == 1.0))


def _f64(name: str, a, shape: tuple[int, ...]) -> np.ndarray:
    out = np.ascontiguousarray(a, dtype=np.float64)
    if out.shape != shape:
        raise ValueError(f"analyse_session: expected {name} {shape}, got {out.shape}")
    return out


def analyse_session(
    checks: ExerciseChecks,
    t: np.ndarray,
    image: np.ndarray,
    world: np.ndarray | None = None,
    device_t: np.ndarray | None = None,
    force: np.ndarray | None = None,
    angle: np.ndarray | None = None,
    frame_start: np.ndarray | None = None,
    in_position: np.ndarray | None = None,
    close: bool = False,
) -> SessionAnalysis:
    """Run ``checks``' configuration over a whole recording (layout in the module docstring)
    from a fresh state; ``checks``' own live state is untouched. ``world`` None: no world
    landmarks. ``in_position`` (f,) bool for the hold timer, None: the rep's TOP zone.
    ``close``: the recording is over after its last frame, as a session's end is (a rep on
    its way back past its midpoint counts).
    """
    n = checks.n_landmarks
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[1] != n or img.shape[2] not in (3, 4):
        raise ValueError(f"analyse_session: expected image (frames, {n}, 3 or 4), got {img.shape}")
    nf = img.shape[0]
    ts = _f64("t", t, (nf,))
    img = np.ascontiguousarray(img, dtype=np.float64)
    wd = np.full((nf, n, 3), np.nan) if world is None else _f64("world", world, (nf, n, 3))
    if device_t is None:
        dev_t = np.empty(0)
        fs = np.empty(0)
        an = np.empty(0)
        offsets = np.zeros(nf + 1, dtype=np.int64)
    else:
        dev_t, fs, an = ld._samples("analyse_session", device_t, force, angle)
        offsets = frame_offsets("analyse_session", frame_start, dev_t.shape[0])
        if offsets.shape[0] != nf + 1:
            raise ValueError(
                f"analyse_session: expected frame_start ({nf + 1},), got {offsets.shape}"
            )
    if in_position is None:
        placed = np.full(nf, -1.0)
    else:
        placed = np.ascontiguousarray(in_position, dtype=np.bool_).astype(np.float64)
        if placed.shape != (nf,):
            raise ValueError(f"analyse_session: expected in_position ({nf},), got {placed.shape}")

    r = len(checks.checked)
    status = np.empty((nf, r), dtype=np.int8)
    value = np.empty((nf, r), dtype=np.float64)
    frame = np.empty((nf, ck.N_OUT), dtype=np.float64)
    n_signal = dev_t.shape[0] if checks.signal_columns is None else nf
    cap = n_signal // 2 + ck.MAX_REPS_PER_FRAME
    rep_out = np.empty((cap, fr.rep_row_length(r)))
    rep_frame = np.empty(cap, dtype=np.int64)
    bins_out = np.empty((max(dev_t.shape[0], 1), 2))
    bins_start = np.empty(cap + 1, dtype=np.int64)
    rparams, ws = checks.fresh_workspace()
    n_reps = _frame_run(
        ts,
        img,
        wd,
        placed,
        offsets,
        dev_t,
        fs,
        an,
        checks.rule_set.table.ints,
        rparams,
        checks.lay,
        ws,
        checks.offsets,
        np.empty(len(checks.rule_set), dtype=np.int8),
        status,
        value,
        frame,
        rep_out,
        rep_frame,
        bins_out,
        bins_start,
        close,
    )
    reps = tuple(
        rp.RepRecord.from_row(rep_out[i, : rp.N_REC], checks.out_is_concentric)
        for i in range(n_reps)
    )
    load_out = rep_out[:n_reps, rp.N_REC : rp.N_REC + ld.N_LSTATE]
    return SessionAnalysis(
        checks.rule_keys,
        status,
        value,
        frame,
        reps,
        rep_frame[:n_reps].copy(),
        checks.load_params.copy(),
        load_out[:n_reps].copy(),
        bins_out[: bins_start[n_reps]].copy(),
        bins_start[: n_reps + 1].copy(),
        rep_out[:n_reps, rp.N_REC + ld.N_LSTATE :].astype(np.int8),
    )
