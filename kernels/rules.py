"""Posture rules as data, all of an exercise's rules evaluated in one compiled call per frame.

A :class:`Rule` names its kind, the landmarks it uses, the allowed range of its measured
value, how far outside that range is still only a warning, the worst status it may report,
and its debounce and hysteresis. :class:`RuleSet` compiles a list of rules into plain arrays
once; :meth:`RuleSet.evaluate` then returns, per rule, a status (``OK``, ``WARNING``,
``FAULT``, ``UNKNOWN`` when the landmarks it needs are not visible; the same numbers as
``session.snapshot.RuleStatus``) and the measured value (NaN when unknown).

Kinds, their landmarks and the unit of the value (image space uses x scaled by the frame's
aspect ratio so angles are not distorted; world space is metres, y down, as the pose type):

=============  =========================  =====================================================
kind           landmarks                  value
=============  =========================  =====================================================
ANGLE          a, b, c                    angle at b, deg in [0, 180]
INCLINATION    a, b                       segment a->b to the vertical (or horizontal), deg 0..90
ALIGNMENT      a, b, c                    deviation of b from the straight line a-c, deg, signed:
                                          + when b lies below the line (toward the floor)
SYMMETRY       la, lb, lc, ra, rb, rc     left angle at lb minus right angle at rb, deg
OFFSET         a, b, d0, d1               horizontal offset of a past b in the direction d0->d1
                                          (heel->toe), in lengths of d0-d1 (e.g. foot lengths)
ROTATION       ls, rs, lh, rh             shoulder line against hip line seen from above, deg,
                                          signed, in (-180, 180]; world space only
LATERAL_LEAN   ls, rs, lh, rh             trunk (hip centre -> shoulder centre) to the vertical
                                          in the frontal plane, deg, + toward +x
VISIBILITY     1 to 6 landmarks           the lowest visibility among them, 0..1 (never unknown)
=============  =========================  =====================================================

Status of a value ``v`` against ``low``, ``high`` and ``fault_margin``: OK inside
``[low, high]``; WARNING up to ``fault_margin`` outside; FAULT beyond; capped at the rule's
``severity``. **Hysteresis**: to improve (FAULT -> WARNING -> OK) the value must come
``hysteresis`` further inside the boundary than it took to worsen. **Debounce**: a new status is
reported only once it has persisted for ``debounce_s`` seconds (to within a microsecond, so
0.1 s means three frame steps at 30 fps), so one noisy frame never flashes a cue; 0 reports
every frame's status at once. Warning and fault alternating count as one bad spell, reported
as a warning unless the fault alone lasted the debounce. Every rule starts UNKNOWN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numba import njit

from kernels.config import JIT, JIT_INLINE

OK, WARNING, FAULT, UNKNOWN = 0, 1, 2, 3  # equal to session.snapshot.RuleStatus
MAX_LANDMARKS = 6
# Frame times are sums of float steps: 0.3 - 0.2 < 0.1. A microsecond of slack keeps a
# debounce of exactly three frames at 30 fps from taking four.
DEBOUNCE_SLACK_S = 1e-6


class RuleKind(IntEnum):
    ANGLE = 0
    INCLINATION = 1
    ALIGNMENT = 2
    SYMMETRY = 3
    OFFSET = 4
    ROTATION = 5
    LATERAL_LEAN = 6
    VISIBILITY = 7


LANDMARK_COUNT: dict[RuleKind, tuple[int, int]] = {
    RuleKind.ANGLE: (3, 3),
    RuleKind.INCLINATION: (2, 2),
    RuleKind.ALIGNMENT: (3, 3),
    RuleKind.SYMMETRY: (6, 6),
    RuleKind.OFFSET: (4, 4),
    RuleKind.ROTATION: (4, 4),
    RuleKind.LATERAL_LEAN: (4, 4),
    RuleKind.VISIBILITY: (1, MAX_LANDMARKS),
}

UNITS: dict[RuleKind, str] = {
    RuleKind.ANGLE: "deg",
    RuleKind.INCLINATION: "deg",
    RuleKind.ALIGNMENT: "deg",
    RuleKind.SYMMETRY: "deg",
    RuleKind.OFFSET: "ref lengths",
    RuleKind.ROTATION: "deg",
    RuleKind.LATERAL_LEAN: "deg",
    RuleKind.VISIBILITY: "visibility",
}

# Integer table columns: kind, landmark count, then the landmarks (-1 padded).
T_KIND, T_COUNT, T_LM = 0, 1, 2
N_TCOLS = T_LM + MAX_LANDMARKS
# Float table columns: parameters, then the rule's state (reported status, candidate status,
# time the candidate first appeared), so one array carries a rule set to the kernel.
C_LOW, C_HIGH, C_MARGIN, C_HYST, C_DEBOUNCE, C_MIN_VIS, C_CAP, C_WORLD, C_HORIZONTAL = range(9)
ST_REPORTED, ST_CANDIDATE, ST_SINCE, ST_FAULT_SINCE = 9, 10, 11, 12
N_COLS = 13


@dataclass(frozen=True, slots=True)
class Rule:
    """One posture rule. ``low`` / ``high`` bound the OK range in the kind's unit (see the
    module table; ``-inf`` / ``inf`` for an open side); ``fault_margin`` (same unit) is the
    warning zone beyond each bound; ``severity`` the worst status reported (``WARNING`` or
    ``FAULT``); ``space`` ``"image"`` (2-D) or ``"world"`` (3-D); ``axis`` ``"vertical"`` or
    ``"horizontal"`` for INCLINATION; ``hysteresis`` in the value's unit; ``debounce_s``
    seconds; ``min_visibility`` 0..1 below which a landmark counts as not visible.
    """

    key: str
    kind: RuleKind
    landmarks: tuple[int, ...]
    low: float = -math.inf
    high: float = math.inf
    fault_margin: float = 0.0
    severity: int = FAULT
    space: str = "image"
    axis: str = "vertical"
    hysteresis: float = 0.0
    debounce_s: float = 0.1
    min_visibility: float = 0.5
    label: str = ""

    def __post_init__(self) -> None:
        kind = RuleKind(self.kind)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "landmarks", tuple(int(i) for i in self.landmarks))
        lo, hi = LANDMARK_COUNT[kind]
        if not lo <= len(self.landmarks) <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            raise ValueError(
                f"rule {self.key!r}: {kind.name} expects {want} landmarks, "
                f"got {len(self.landmarks)}"
            )
        if any(i < 0 for i in self.landmarks):
            raise ValueError(f"rule {self.key!r}: landmark indices must be >= 0")
        if math.isnan(self.low) or math.isnan(self.high) or self.low > self.high:
            raise ValueError(
                f"rule {self.key!r}: expected low <= high, got {self.low}, {self.high}"
            )
        if not (self.fault_margin >= 0 and self.hysteresis >= 0 and self.debounce_s >= 0):
            raise ValueError(
                f"rule {self.key!r}: expected fault_margin, hysteresis, debounce_s >= 0, got "
                f"{self.fault_margin}, {self.hysteresis}, {self.debounce_s}"
            )
        if self.severity not in (WARNING, FAULT):
            raise ValueError(
                f"rule {self.key!r}: severity must be WARNING or FAULT, got {self.severity}"
            )
        if 2.0 * self.hysteresis > self.high - self.low:
            raise ValueError(
                f"rule {self.key!r}: hysteresis {self.hysteresis} must be at most half the OK "
                f"range {self.low}..{self.high}"
            )
        if self.space not in ("image", "world"):
            raise ValueError(f"rule {self.key!r}: space must be 'image' or 'world'")
        if self.axis not in ("vertical", "horizontal"):
            raise ValueError(f"rule {self.key!r}: axis must be 'vertical' or 'horizontal'")
        if kind == RuleKind.ROTATION and self.space != "world":
            raise ValueError(f"rule {self.key!r}: ROTATION needs space='world' (depth)")

    @property
    def unit(self) -> str:
        return UNITS[self.kind]


@dataclass(frozen=True, slots=True)
class RuleTable:
    """A rule list compiled to plain arrays: ``ints`` int64 (r, N_TCOLS) kind, landmark count
    and landmarks (-1 padded); ``params`` float64 (r, N_COLS) thresholds and the rules' state.
    """

    ints: np.ndarray
    params: np.ndarray

    def fresh(self) -> np.ndarray:
        """A copy of ``params`` with every rule back to UNKNOWN."""
        out = self.params.copy()
        reset_state(out)
        return out


def reset_state(params: np.ndarray) -> None:
    params[:, ST_REPORTED] = UNKNOWN
    params[:, ST_CANDIDATE] = UNKNOWN
    params[:, ST_SINCE] = -math.inf
    params[:, ST_FAULT_SINCE] = math.nan


def compile_rules(rules: Sequence[Rule]) -> RuleTable:
    r = len(rules)
    ints = np.full((r, N_TCOLS), -1, dtype=np.int64)
    params = np.empty((r, N_COLS), dtype=np.float64)
    for i, rule in enumerate(rules):
        ints[i, T_KIND] = int(rule.kind)
        ints[i, T_COUNT] = len(rule.landmarks)
        ints[i, T_LM : T_LM + len(rule.landmarks)] = rule.landmarks
        params[i, C_LOW] = rule.low
        params[i, C_HIGH] = rule.high
        params[i, C_MARGIN] = rule.fault_margin
        params[i, C_HYST] = rule.hysteresis
        params[i, C_DEBOUNCE] = rule.debounce_s
        params[i, C_MIN_VIS] = rule.min_visibility
        params[i, C_CAP] = float(rule.severity)
        params[i, C_WORLD] = 1.0 if rule.space == "world" else 0.0
        params[i, C_HORIZONTAL] = 1.0 if rule.axis == "horizontal" else 0.0
    reset_state(params)
    return RuleTable(ints, params)


# ---------------------------------------------------------------------------------------------
# Kernels


@njit(**JIT_INLINE)
def _angle_at(p, a, b, c, dims):
    dot = 0.0
    n1 = 0.0
    n2 = 0.0
    for d in range(dims):
        u = p[a, d] - p[b, d]
        v = p[c, d] - p[b, d]
        dot += u * v
        n1 += u * u
        n2 += v * v
    denom = math.sqrt(n1 * n2)
    if not (denom > 1e-12) or not math.isfinite(denom) or not math.isfinite(dot):
        return np.nan
    return math.degrees(math.acos(min(1.0, max(-1.0, dot / denom))))


@njit(**JIT_INLINE)
def _measure(tab, r, horizontal, p, vis):
    # The rule's value from points p (n, 2) image (x pre-scaled) or (n, 3) world; NaN if
    # undefined. Visibility was checked by the caller, except for VISIBILITY itself.
    dims = p.shape[1]
    kind = tab[r, T_KIND]
    lm0 = tab[r, T_LM]
    lm1 = tab[r, T_LM + 1]
    lm2 = tab[r, T_LM + 2]
    lm3 = tab[r, T_LM + 3]
    if kind == 0:  # ANGLE
        return _angle_at(p, lm0, lm1, lm2, dims)
    if kind == 1:  # INCLINATION
        dx = p[lm1, 0] - p[lm0, 0]
        dy = p[lm1, 1] - p[lm0, 1]
        h2 = dx * dx
        if dims == 3:
            dz = p[lm1, 2] - p[lm0, 2]
            h2 += dz * dz
        h = math.sqrt(h2)
        if not (h + abs(dy) > 1e-12):
            return np.nan
        to_vertical = math.degrees(math.atan2(h, abs(dy)))
        return 90.0 - to_vertical if horizontal else to_vertical
    if kind == 2:  # ALIGNMENT
        a = lm0
        b = lm1
        c = lm2
        ang = _angle_at(p, a, b, c, dims)
        # Which side of the line a-c is b on: compare b's height with its foot on the line.
        num = 0.0
        den = 0.0
        for d in range(dims):
            ac = p[c, d] - p[a, d]
            num += (p[b, d] - p[a, d]) * ac
            den += ac * ac
        if not (den > 1e-24):
            return np.nan
        s = num / den
        foot_y = p[a, 1] + s * (p[c, 1] - p[a, 1])
        dev = 180.0 - ang
        return dev if p[b, 1] >= foot_y else -dev
    if kind == 3:  # SYMMETRY
        return _angle_at(p, lm0, lm1, lm2, dims) - _angle_at(
            p, lm3, tab[r, T_LM + 4], tab[r, T_LM + 5], dims
        )
    if kind == 4:  # OFFSET
        a = lm0
        b = lm1
        d0 = lm2
        d1 = lm3
        fx = p[d1, 0] - p[d0, 0]
        fz = p[d1, 2] - p[d0, 2] if dims == 3 else 0.0
        fy = p[d1, 1] - p[d0, 1]
        scale = math.sqrt(fx * fx + fy * fy + fz * fz)
        fh = math.sqrt(fx * fx + fz * fz)
        if not (scale > 1e-12) or not (fh > 1e-12):
            return np.nan
        along = (p[a, 0] - p[b, 0]) * fx
        if dims == 3:
            along += (p[a, 2] - p[b, 2]) * fz
        return along / fh / scale
    if kind == 5:  # ROTATION (world only): angles of both lines in the x-z plane
        sx = p[lm1, 0] - p[lm0, 0]
        sz = p[lm1, 2] - p[lm0, 2]
        hx = p[lm3, 0] - p[lm2, 0]
        hz = p[lm3, 2] - p[lm2, 2]
        if not (sx * sx + sz * sz > 1e-24) or not (hx * hx + hz * hz > 1e-24):
            return np.nan
        return math.degrees(math.atan2(hx * sz - hz * sx, hx * sx + hz * sz))
    if kind == 6:  # LATERAL_LEAN
        dx = 0.5 * (p[lm0, 0] + p[lm1, 0]) - 0.5 * (p[lm2, 0] + p[lm3, 0])
        dy = 0.5 * (p[lm0, 1] + p[lm1, 1]) - 0.5 * (p[lm2, 1] + p[lm3, 1])
        if not (dx * dx + dy * dy > 1e-24):
            return np.nan
        return math.degrees(math.atan2(dx, -dy))
    # VISIBILITY
    lowest = 1.0
    for j in range(tab[r, T_COUNT]):
        v = vis[tab[r, T_LM + j]]
        if not (v >= 0.0):  # NaN visibility: not seen at all
            v = 0.0
        lowest = min(lowest, v)
    return lowest


@njit(**JIT_INLINE)
def _classify(v, low, high, margin):
    if low <= v <= high:
        return 0
    if low - margin <= v <= high + margin:
        return 1
    return 2


@njit(**JIT)
def _evaluate(image_xy, world, vis, t, tab, params, status_out, value_out):
    # image_xy (n, 2) with x already scaled by the aspect ratio; world (n, 3); vis (n,);
    # tab (r, N_TCOLS) and params (r, N_COLS), whose state columns this updates.
    for r in range(tab.shape[0]):
        k = tab[r, T_KIND]
        is_world = params[r, C_WORLD] == 1.0
        pts = world if is_world else image_xy
        raw = 3
        value = np.nan
        seen = True
        if k != 7:
            min_vis = params[r, C_MIN_VIS]
            for j in range(tab[r, T_COUNT]):
                i = tab[r, T_LM + j]
                if not (vis[i] >= min_vis):
                    seen = False
                    break
                for d in range(pts.shape[1]):
                    if not math.isfinite(pts[i, d]):
                        seen = False
                if not seen:
                    break
        if seen:
            value = _measure(tab, r, params[r, C_HORIZONTAL] == 1.0, pts, vis)
            if not math.isfinite(value):
                value = np.nan
        reported = int(params[r, ST_REPORTED])
        if math.isfinite(value):
            low = params[r, C_LOW]
            high = params[r, C_HIGH]
            margin = params[r, C_MARGIN]
            raw = _classify(value, low, high, margin)
            if raw < reported <= 2:
                # Improving: the value must clear each boundary by the hysteresis.
                h = params[r, C_HYST]
                raw = min(reported, _classify(value, low + h, high - h, margin))
            cap = int(params[r, C_CAP])
            if raw > cap:
                raw = cap
        # Debounce: a new status must persist debounce_s before it is reported.
        if raw == reported:
            params[r, ST_CANDIDATE] = raw
            params[r, ST_SINCE] = t
        else:
            cand = int(params[r, ST_CANDIDATE])
            pending = cand != reported  # a change waiting out its debounce
            both_bad = (raw == 1 or raw == 2) and (cand == 1 or cand == 2)
            if pending and both_bad and t >= params[r, ST_SINCE]:
                # Warning and fault alternating are one bad spell: the milder one persists.
                params[r, ST_CANDIDATE] = min(raw, cand)
            elif raw != cand or not (t >= params[r, ST_SINCE]):
                params[r, ST_CANDIDATE] = raw
                params[r, ST_SINCE] = t
            if t - params[r, ST_SINCE] >= params[r, C_DEBOUNCE] - DEBOUNCE_SLACK_S:
                reported = int(params[r, ST_CANDIDATE])
            # Inside a bad spell, a fault that lasted the debounce on its own is a fault.
            fault_since = params[r, ST_FAULT_SINCE]
            lasted = t - fault_since >= params[r, C_DEBOUNCE] - DEBOUNCE_SLACK_S
            if raw == 2 and fault_since == fault_since and t >= fault_since and lasted:
                reported = 2
                params[r, ST_CANDIDATE] = 2
            params[r, ST_REPORTED] = reported
        # The start of the present unbroken run of FAULT frames (NaN: none).
        if raw != 2:
            params[r, ST_FAULT_SINCE] = math.nan
        elif not (params[r, ST_FAULT_SINCE] <= t):
            params[r, ST_FAULT_SINCE] = t
        status_out[r] = reported
        value_out[r] = value


@njit(**JIT)
def _scale_x(src, aspect, dst):
    for i in range(src.shape[0]):
        dst[i, 0] = src[i, 0] * aspect
        dst[i, 1] = src[i, 1]


@njit(**JIT)
def _evaluate_run(image_xy, world, vis, ts, aspect, tab, params, status_out, value_out):
    # The whole session through the per-frame kernel, frame by frame.
    xy = np.empty((image_xy.shape[1], 2))
    for f in range(ts.shape[0]):
        _scale_x(image_xy[f], aspect, xy)
        _evaluate(xy, world[f], vis[f], ts[f], tab, params, status_out[f], value_out[f])


class RuleSet:
    """An exercise's posture rules, compiled once, evaluated once per frame.

    ``aspect``: frame width / height, so image-space angles use square pixels.
    ``n_landmarks``: landmarks per pose (33 for the pose model).
    """

    def __init__(
        self, rules: Sequence[Rule], *, aspect: float = 1.0, n_landmarks: int = 33
    ) -> None:
        self.rules = tuple(rules)
        keys = [r.key for r in self.rules]
        if len(set(keys)) != len(keys):
            raise ValueError(f"RuleSet: rule keys must be unique, got {keys}")
        if not (math.isfinite(aspect) and aspect > 0):
            raise ValueError(f"RuleSet: expected a positive aspect ratio, got {aspect}")
        for rule in self.rules:
            if max(rule.landmarks) >= n_landmarks:
                raise ValueError(
                    f"rule {rule.key!r}: landmark indices must lie in 0..{n_landmarks - 1}, "
                    f"got {rule.landmarks}"
                )
        self.aspect = float(aspect)
        self.n_landmarks = n_landmarks
        self.table = compile_rules(self.rules)
        self._params = self.table.fresh()
        self._xy = np.empty((n_landmarks, 2), dtype=np.float64)

    def __len__(self) -> int:
        return len(self.rules)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(r.key for r in self.rules)

    def reset(self) -> None:
        """Forget debounce and hysteresis history: every rule back to UNKNOWN."""
        reset_state(self._params)

    def _check(self, name: str, arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        out = np.ascontiguousarray(arr, dtype=np.float64)
        if out.shape != shape:
            raise ValueError(f"RuleSet.{name}: expected shape {shape}, got {out.shape}")
        return out

    def evaluate(
        self, image_xy: np.ndarray, world_xyz: np.ndarray, visibility: np.ndarray, t: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Evaluate every rule on one frame.

        ``image_xy`` (n, 2) image-normalised x, y; ``world_xyz`` (n, 3) metres (NaN when the
        source has none); ``visibility`` (n,) 0..1; ``t`` seconds, monotonic.
        Returns ``status`` int8 (r,) and ``value`` float64 (r,) in the rules' order.
        """
        n = self.n_landmarks
        xy = self._check("image_xy", image_xy, (n, 2))
        wd = self._check("world_xyz", world_xyz, (n, 3))
        vis = self._check("visibility", visibility, (n,))
        _scale_x(xy, self.aspect, self._xy)
        r = len(self.rules)
        status = np.empty(r, dtype=np.int8)
        value = np.empty(r, dtype=np.float64)
        _evaluate(self._xy, wd, vis, float(t), self.table.ints, self._params, status, value)
        return status, value

    def evaluate_pose(self, pose) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`evaluate` on a ``body.pose.Pose`` at its own timestamp."""
        image = pose.image
        return self.evaluate(image[:, :2], pose.world, image[:, 3], pose.timestamp)

    def run(
        self, image: np.ndarray, world: np.ndarray, t: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Batch: evaluate a whole recorded session from a fresh state (this set's live state
        is untouched).

        ``image`` (f, n, 3 or 4) x, y, [z,] visibility as stored per frame, visibility last;
        ``world`` (f, n, 3) metres; ``t`` (f,) seconds. Returns ``status`` int8 (f, r) and
        ``value`` float64 (f, r).
        """
        n = self.n_landmarks
        img = np.asarray(image)
        if img.ndim != 3 or img.shape[1] != n or img.shape[2] not in (3, 4):
            raise ValueError(f"RuleSet.run: expected image (frames, {n}, 3 or 4), got {img.shape}")
        f = img.shape[0]
        xy = np.ascontiguousarray(img[:, :, :2], dtype=np.float64)
        vis = np.ascontiguousarray(img[:, :, -1], dtype=np.float64)
        wd = self._check("run world", world, (f, n, 3))
        ts = self._check("run t", t, (f,))
        r = len(self.rules)
        status = np.empty((f, r), dtype=np.int8)
        value = np.empty((f, r), dtype=np.float64)
        tab = self.table
        _evaluate_run(xy, wd, vis, ts, self.aspect, tab.ints, tab.fresh(), status, value)
        return status, value
