"""The ghost: the reference figure fitted to the patient, a little ahead of them in the rep.

Each display frame the reference movement (``session.reference_run``) is read at the moment
that matches where the patient is in their rep, plus ``LEAD_S``: on the way out at the
reference's moment of the same progress, at the top at the start of its top, on the way back
at its moment of the same progress on the way back, at rest at the start of its movement; a
hold exercise shows the held position. That reference frame is rebuilt segment by segment
from the patient's pelvis outward: each segment keeps the reference's direction in the
picture and its foreshortening, scaled to the patient's own length of that segment (the
longest it has been seen lately; a segment not seen takes the trunk's scale). The ghost turns
to face the way the patient faces, and swaps sides when the patient works the other side.

Everything here is numpy on normalised picture coordinates; drawing it is ``feedback``'s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from body.landmarks import INDEX, NAMES, NUM_LANDMARKS
from exercises.schema import ExerciseDef
from kernels.reps import RepPhase
from session.reference_run import ReferenceRun, reference_run

LEAD_S = 0.4  # how far ahead of the patient the ghost is, in the reference's seconds
HISTORY = 150  # patient segment lengths kept (about 5 s of poses)
LENGTH_PERCENTILE = 90  # a limb is never longer than it looks, often shorter (foreshortened)
SIDEWAYS = 0.06  # shoulders this far (share of the trunk) to one side: a bend to that side

_L, _R = "left_", "right_"
_MID_HIP, _MID_SH = -1, -2  # the tree's two virtual joints
# The skeleton as a tree from the mid-hip: (parent, child); segments whose lengths the patient
# gives are the limbs and the trunk; widths and the face follow the trunk's scale.
_LIMBS = [
    (f"{s}{a}", f"{s}{b}")
    for s in (_L, _R)
    for a, b in (
        ("shoulder", "elbow"),
        ("elbow", "wrist"),
        ("hip", "knee"),
        ("knee", "ankle"),
    )
]
_FOLLOW = [
    (f"{s}{a}", f"{s}{b}")
    for s in (_L, _R)
    for a, b in (
        ("wrist", "index"),
        ("wrist", "pinky"),
        ("wrist", "thumb"),
        ("ankle", "heel"),
        ("ankle", "foot_index"),
    )
]
_FACE = [n for n in NAMES if n == "nose" or "eye" in n or "ear" in n or "mouth" in n]
_SWAP = np.array(
    [
        INDEX[n.replace(_L, _R)]
        if n.startswith(_L)
        else INDEX[n.replace(_R, _L)]
        if n.startswith(_R)
        else INDEX[n.replace("_left", "_right")]
        if n.endswith("_left")
        else INDEX[n.replace("_right", "_left")]
        if n.endswith("_right")
        else i
        for i, n in enumerate(NAMES)
    ]
)
_HIPS = [INDEX["left_hip"], INDEX["right_hip"]]
_SHOULDERS = [INDEX["left_shoulder"], INDEX["right_shoulder"]]
# The same as index arrays, for building the figure a level of the tree at a time (a few
# array operations per display frame instead of one per landmark).
_FACE_IDX = np.array([INDEX[n] for n in _FACE])
_LIMB_A = np.array([INDEX[a] for a, _ in _LIMBS])
_LIMB_B = np.array([INDEX[b] for _, b in _LIMBS])
_ROOTED = np.array([a.endswith(("shoulder", "hip")) for a, _ in _LIMBS])  # from the trunk
_FOLLOW_A = np.array([INDEX[a] for a, _ in _FOLLOW])
_FOLLOW_B = np.array([INDEX[b] for _, b in _FOLLOW])


def _mid(p: np.ndarray, idx: Sequence[int]) -> np.ndarray:
    """The midpoint of two landmarks (NaN when either is)."""
    a, b = idx
    return 0.5 * (p[a] + p[b])


def _sideways(p: np.ndarray) -> float:
    """How far the shoulders are to the side of the feet in the picture (square units)."""
    ankles = [INDEX["left_ankle"], INDEX["right_ankle"]]
    d = _mid(p, _SHOULDERS)[0] - _mid(p, ankles)[0]
    return float(d) if math.isfinite(d) else 0.0


def facing(p: np.ndarray) -> float:
    """+1 when the body faces (or its head lies toward) the picture's right, -1 left, 0 when
    it cannot tell; ``p`` (33, 2) with x scaled to square pixels."""
    trunk = _mid(p, _SHOULDERS) - _mid(p, _HIPS)
    if np.isfinite(trunk).all() and abs(trunk[0]) > 0.5 * float(np.hypot(*trunk)):
        return float(np.sign(trunk[0]))  # lying: the head's end
    ears = p[[INDEX["left_ear"], INDEX["right_ear"]]]
    nose = p[INDEX["nose"]]
    if np.isfinite(nose).all() and np.isfinite(ears).any():
        ex = ears[:, 0]
        d = nose[0] - float(ex[np.isfinite(ex)].mean())
        if abs(d) > 1e-4:
            return float(np.sign(d))
    toes = p[[INDEX["left_foot_index"], INDEX["right_foot_index"]], 0]
    heels = p[[INDEX["left_heel"], INDEX["right_heel"]], 0]
    feet = toes - heels
    d = float(feet[np.isfinite(feet)].mean()) if np.isfinite(feet).any() else math.nan
    return float(np.sign(d)) if math.isfinite(d) and abs(d) > 1e-4 else 0.0


class Ghost:
    """One session's ghost: ``observe`` each new pose (limb lengths), ``pose`` per frame."""

    def __init__(self, run: ReferenceRun, hold_mode: bool) -> None:
        self.run = run
        self.hold_mode = hold_mode
        self.aspect_ref = run.aspect
        ref = run.landmarks.astype(np.float64).copy()
        ref[:, :, 0] *= run.aspect
        self._ref = ref  # (n, 33, 2), square units
        self._ref_len = np.array(
            [np.nanmax(np.hypot(*(ref[:, INDEX[b]] - ref[:, INDEX[a]]).T)) for a, b in _LIMBS]
        )
        trunk = _mid(ref.transpose(1, 0, 2), _SHOULDERS) - _mid(ref.transpose(1, 0, 2), _HIPS)
        self._ref_trunk = float(np.nanmax(np.hypot(*trunk.T)))
        self._ref_facing = facing(ref[0])
        self._lengths = np.full((HISTORY, len(_LIMBS) + 1), np.nan)
        self._n = 0
        self._estimate: np.ndarray | None = None
        self._mirrored = False  # front view: this rep goes to the other side than the reference's
        t0, t1 = run.window
        sel = (run.t >= t0) & (run.t <= t1)
        self._win = np.flatnonzero(sel)
        top = self._win[run.phase[self._win] == int(RepPhase.TOP)]
        self._top = (float(run.t[top[0]]), float(run.t[top[-1]])) if top.size else (t0, t0)

    @classmethod
    def for_exercise(cls, exercise: ExerciseDef) -> Ghost | None:
        run = reference_run(exercise)
        return None if run is None else cls(run, exercise.mode == "hold")

    # -- the patient's proportions ---------------------------------------------------------

    def observe(self, landmarks: np.ndarray, aspect: float) -> None:
        """A new pose's smoothed landmarks (33, 2), normalised; NaN where not seen."""
        p = np.asarray(landmarks, dtype=np.float64) * np.array([aspect, 1.0])
        row = self._lengths[self._n % HISTORY]
        d = p[_LIMB_B] - p[_LIMB_A]
        row[:-1] = np.hypot(d[:, 0], d[:, 1])
        row[-1] = float(np.hypot(*(_mid(p, _SHOULDERS) - _mid(p, _HIPS))))
        self._n += 1
        self._estimate = None

    def lengths(self) -> np.ndarray:
        """The patient's segment lengths (limbs, then the trunk), square units; NaN unseen."""
        if self._estimate is None:
            seen = self._lengths[: max(1, min(self._n, HISTORY))]  # a row of NaN at first
            finite = np.isfinite(seen)
            count = finite.sum(axis=0)
            ranked = np.sort(np.where(finite, seen, -np.inf), axis=0)  # unseen ones first
            k = seen.shape[0] - count + (LENGTH_PERCENTILE * np.maximum(count - 1, 0)) // 100
            est = ranked[np.minimum(k, seen.shape[0] - 1), np.arange(seen.shape[1])]
            self._estimate = np.where(count > 0, est, np.nan)
        return self._estimate

    # -- where in the reference ------------------------------------------------------------

    def reference_time(self, phase: RepPhase | None, progress: float) -> float:
        """The reference's moment the ghost shows, for the patient's rep phase and progress."""
        run = self.run
        t0, t1 = run.window
        if self.hold_mode or phase is None:
            return (t0 + t1) / 2
        top_in, top_out = self._top
        if phase == RepPhase.REST or not math.isfinite(progress):
            return float(run.t[0])  # at rest: the position the movement starts from
        elif phase == RepPhase.TOP:
            t = top_in
        else:
            out = phase == RepPhase.OUT
            seg = self._win[(run.t[self._win] <= top_in) if out else (run.t[self._win] >= top_out)]
            if seg.size == 0:
                t = top_in if out else top_out
            else:
                prog = run.progress[seg]
                # The first moment the reference is as far as the patient (out), or the
                # first moment it is back as near the start as they are (back).
                hit = np.flatnonzero(prog >= progress) if out else np.flatnonzero(prog <= progress)
                t = float(run.t[seg[hit[0]]]) if hit.size else float(run.t[seg[-1]])
                if not out and not hit.size:
                    t = t1
        if phase == RepPhase.TOP:
            return min(t + LEAD_S, top_out)
        return min(t + LEAD_S, t1)

    # -- the figure ------------------------------------------------------------------------

    def pose(
        self,
        landmarks: np.ndarray,
        aspect: float,
        phase: RepPhase | None,
        progress: float,
        side: int = 0,
    ) -> np.ndarray | None:
        """The ghost's landmarks (33, 2), normalised like ``landmarks``; None when the
        patient's hips are not seen. ``side`` the working side (0 left, 1 right)."""
        p = np.asarray(landmarks, dtype=np.float64) * np.array([aspect, 1.0])
        pelvis = _mid(p, _HIPS)
        if not np.isfinite(pelvis).all():
            return None
        ref = self._ref[self.run.at(self.reference_time(phase, progress))].copy()
        ref -= _mid(ref, _HIPS)
        if side == 1:  # the patient works their right side: the reference's left becomes it
            ref = ref[_SWAP]
            if self.run.view == "front":
                ref[:, 0] = -ref[:, 0]
        lengths = self.lengths()
        trunk = lengths[-1]
        scale = trunk / self._ref_trunk if math.isfinite(trunk) and trunk > 0 else math.nan
        if not math.isfinite(scale):
            return None
        if self.run.view == "side":
            them, us = facing(p), facing(ref) or self._ref_facing
            if them and us and them != us:
                ref[:, 0] = -ref[:, 0]
        else:  # a bend or a shift to one side: to the side the patient goes, for the whole rep
            them, us = _sideways(p), _sideways(ref)
            if phase in (None, RepPhase.REST):
                self._mirrored = False
            if abs(them) > SIDEWAYS * trunk and abs(us) > SIDEWAYS * self._ref_trunk:
                self._mirrored = them * us < 0
            if self._mirrored:
                ref = ref[_SWAP]
                ref[:, 0] = -ref[:, 0]
        out = np.full((NUM_LANDMARKS, 2), np.nan)
        out[_HIPS] = pelvis + ref[_HIPS] * scale
        mid_sh_ref = _mid(ref, _SHOULDERS)
        mid_sh = pelvis + mid_sh_ref * scale
        out[_SHOULDERS] = mid_sh + (ref[_SHOULDERS] - mid_sh_ref) * scale
        out[_FACE_IDX] = mid_sh + (ref[_FACE_IDX] - mid_sh_ref) * scale
        # A limb the reference only ever points at us, or one the patient's length of is
        # unknown, takes the trunk's scale.
        limb = lengths[:-1]
        seen_ref = self._ref_len > 1e-6
        with np.errstate(invalid="ignore", divide="ignore"):
            ok = seen_ref & (limb > 0)
            ratio = np.where(ok, limb / np.where(seen_ref, self._ref_len, 1.0), scale)
        for level in (_ROOTED, ~_ROOTED):  # upper arms and thighs, then forearms and shins
            a, b = _LIMB_A[level], _LIMB_B[level]
            out[b] = out[a] + (ref[b] - ref[a]) * ratio[level, None]
        out[_FOLLOW_B] = out[_FOLLOW_A] + (ref[_FOLLOW_B] - ref[_FOLLOW_A]) * scale
        return out / np.array([aspect, 1.0])
