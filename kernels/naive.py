"""Plain-Python references of every kernel, written for clarity, not speed.

Each function restates a kernel's documented behaviour with lists and loops and no numba, so
the property tests can compare the compiled kernels against them on random and adversarial
input. Where a reference keeps the whole history (the rep counter) the kernel keeps bounded
state; the results must still agree.
"""

from __future__ import annotations

import math

# ---------------------------------------------------------------------------------------------
# Smoothing: One Euro filter, one channel at a time


def one_euro(xs, ts, min_cutoff=1.0, beta=0.05, d_cutoff=1.0):
    """xs: list of frames, each a list of channel values; ts: frame times. Returns frames."""
    n = len(xs[0]) if xs else 0
    hist = [None] * n  # per channel: (x_hat, dx_hat, t_prev) or None
    out = []
    for frame, t in zip(xs, ts, strict=True):
        row = []
        for i in range(n):
            x = frame[i]
            if not math.isfinite(x):
                hist[i] = None
                row.append(math.nan)
                continue
            h = hist[i]
            if h is None or not math.isfinite(h[2]):
                hist[i] = (x, 0.0, t)
                row.append(x)
                continue
            x_hat, dx_hat, t_prev = h
            dt = t - t_prev
            if not dt > 0:
                hist[i] = (x, dx_hat, t)
                row.append(x)
                continue

            def alpha(cutoff, dt=dt):
                return 1.0 / (1.0 + (1.0 / (2.0 * math.pi * cutoff)) / dt)

            dx = (x - x_hat) / dt
            dx_hat = dx_hat + alpha(d_cutoff) * (dx - dx_hat)
            x_hat = x_hat + alpha(min_cutoff + beta * abs(dx_hat)) * (x - x_hat)
            hist[i] = (x_hat, dx_hat, t)
            row.append(x_hat)
        out.append(row)
    return out


# ---------------------------------------------------------------------------------------------
# Geometry


def angle_at(points, a, b, c):
    """Angle at b in degrees, NaN if missing or degenerate. points: list of tuples."""
    pa, pb, pc = points[a], points[b], points[c]
    u = [pa[d] - pb[d] for d in range(len(pb))]
    v = [pc[d] - pb[d] for d in range(len(pb))]
    dot = sum(x * y for x, y in zip(u, v, strict=True))
    n1 = sum(x * x for x in u)
    n2 = sum(y * y for y in v)
    denom = math.sqrt(n1 * n2)
    if not (denom > 1e-12) or not math.isfinite(denom) or not math.isfinite(dot):
        return math.nan
    return math.degrees(math.acos(min(1.0, max(-1.0, dot / denom))))


def joint_angles(points, triplets):
    return [angle_at(points, a, b, c) for a, b, c in triplets]


# ---------------------------------------------------------------------------------------------
# Posture rules

OK, WARNING, FAULT, UNKNOWN = 0, 1, 2, 3


def rule_value(kind, lms, pts, vis, horizontal=False):
    """The measured value of one rule; pts: list of (x, y) or (x, y, z)."""
    dims = len(pts[0])
    if kind == 0:
        return angle_at(pts, *lms)
    if kind == 1:
        a, b = (pts[i] for i in lms)
        dy = b[1] - a[1]
        dx = b[0] - a[0]
        h = math.sqrt(dx * dx + (b[2] - a[2]) ** 2 if dims == 3 else dx * dx)
        if not (h + abs(dy) > 1e-12):
            return math.nan
        vert = math.degrees(math.atan2(h, abs(dy)))
        return 90.0 - vert if horizontal else vert
    if kind == 2:
        a, b, c = (pts[i] for i in lms)
        ac = [c[d] - a[d] for d in range(dims)]
        den = sum(x * x for x in ac)
        if not (den > 1e-24):
            return math.nan
        s = sum((b[d] - a[d]) * ac[d] for d in range(dims)) / den
        foot_y = a[1] + s * (c[1] - a[1])
        dev = 180.0 - angle_at(pts, *lms)
        return dev if b[1] >= foot_y else -dev
    if kind == 3:
        return angle_at(pts, *lms[:3]) - angle_at(pts, *lms[3:])
    if kind == 4:
        a, b, d0, d1 = (pts[i] for i in lms)
        fx = d1[0] - d0[0]
        fy = d1[1] - d0[1]
        fz = d1[2] - d0[2] if dims == 3 else 0.0
        scale = math.sqrt(fx * fx + fy * fy + fz * fz)
        fh = math.sqrt(fx * fx + fz * fz)
        if not (scale > 1e-12) or not (fh > 1e-12):
            return math.nan
        along = (a[0] - b[0]) * fx + ((a[2] - b[2]) * fz if dims == 3 else 0.0)
        return along / fh / scale
    if kind == 5:
        ls, rs, lh, rh = (pts[i] for i in lms)
        sx, sz = rs[0] - ls[0], rs[2] - ls[2]
        hx, hz = rh[0] - lh[0], rh[2] - lh[2]
        if not (sx * sx + sz * sz > 1e-24) or not (hx * hx + hz * hz > 1e-24):
            return math.nan
        return math.degrees(math.atan2(hx * sz - hz * sx, hx * sx + hz * sz))
    if kind == 6:
        ls, rs, lh, rh = (pts[i] for i in lms)
        dx = 0.5 * (ls[0] + rs[0]) - 0.5 * (lh[0] + rh[0])
        dy = 0.5 * (ls[1] + rs[1]) - 0.5 * (lh[1] + rh[1])
        if not (dx * dx + dy * dy > 1e-24):
            return math.nan
        return math.degrees(math.atan2(dx, -dy))
    return min([1.0] + [v if v >= 0.0 else 0.0 for v in (vis[i] for i in lms)])


def _band(v, low, high, margin):
    if low <= v <= high:
        return OK
    if low - margin <= v <= high + margin:
        return WARNING
    return FAULT


class NaiveRules:
    """Reference of kernels.rules.RuleSet over a list of kernels.rules.Rule objects."""

    def __init__(self, rules, aspect=1.0):
        self.rules = list(rules)
        self.aspect = aspect
        self.reported = [UNKNOWN] * len(self.rules)
        self.candidate = [UNKNOWN] * len(self.rules)
        self.since = [-math.inf] * len(self.rules)
        self.fault_since = [math.nan] * len(self.rules)

    def evaluate(self, image_xy, world, vis, t):
        statuses, values = [], []
        img = [(float(x) * self.aspect, float(y)) for x, y in image_xy]
        wd = [tuple(float(c) for c in p) for p in world]
        vs = [float(v) for v in vis]
        for r, rule in enumerate(self.rules):
            pts = wd if rule.space == "world" else img
            kind = int(rule.kind)
            seen = kind == 7 or all(
                vs[i] >= rule.min_visibility and all(math.isfinite(c) for c in pts[i])
                for i in rule.landmarks
            )
            value = math.nan
            if seen:
                value = rule_value(kind, rule.landmarks, pts, vs, rule.axis == "horizontal")
            if math.isfinite(value):
                raw = _band(value, rule.low, rule.high, rule.fault_margin)
                cur = self.reported[r]
                if raw < cur <= FAULT:
                    h = rule.hysteresis
                    raw = min(cur, _band(value, rule.low + h, rule.high - h, rule.fault_margin))
                raw = min(raw, int(rule.severity))
            else:
                raw = UNKNOWN
                value = math.nan
            if raw == self.reported[r]:
                self.candidate[r] = raw
                self.since[r] = t
            else:
                pending = self.candidate[r] != self.reported[r]
                both_bad = raw in (1, 2) and self.candidate[r] in (1, 2)
                if pending and both_bad and t >= self.since[r]:
                    # Warning and fault alternating: one bad spell, the milder one persists.
                    self.candidate[r] = min(raw, self.candidate[r])
                elif raw != self.candidate[r] or not (t >= self.since[r]):
                    self.candidate[r] = raw
                    self.since[r] = t
                if t - self.since[r] >= rule.debounce_s - 1e-6:
                    self.reported[r] = self.candidate[r]
                # A fault that lasted the debounce on its own is a fault.
                fs = self.fault_since[r]
                if raw == FAULT and t >= fs and t - fs >= rule.debounce_s - 1e-6:
                    self.reported[r] = self.candidate[r] = FAULT
            if raw != FAULT:
                self.fault_since[r] = math.nan
            elif not (self.fault_since[r] <= t):
                self.fault_since[r] = t
            statuses.append(self.reported[r])
            values.append(value)
        return statuses, values


# ---------------------------------------------------------------------------------------------
# Range of motion


def rom(blocks, start, target, limit=math.nan):
    """blocks: list of per-frame lists of values. Returns per frame (progress, peak, over,
    tripped), peak never reset."""
    span = target - start
    direction = 1.0 if span > 0 else -1.0
    progress = peak = math.nan
    tripped = False
    out = []
    for block in blocks:
        over = False
        for v in block:
            if not math.isfinite(v):
                continue
            progress = (v - start) / span
            if math.isnan(peak) or progress > peak:
                peak = progress
            if (v - limit) * direction > 0:
                over = True
        tripped = tripped or over
        out.append((progress, peak, over, tripped))
    return out


# ---------------------------------------------------------------------------------------------
# Reps

LEVEL_STEP = 0.01
N_LEVELS = 256


def _level(p):
    return int(min(max(math.floor(p / LEVEL_STEP), 0), N_LEVELS - 1))


def _verdict(actual, target, tol, is_hold):
    if not math.isfinite(target):
        return 3
    if actual < target * (1.0 - tol):
        return 1
    if not is_hold and actual > target * (1.0 + tol):
        return 2
    return 0


STILL_SPEED = 0.5  # shares of the range a second (kernels.reps.STILL_SPEED)
REST_SIDE = 0.5  # kernels.reps.REST_SIDE


def reps(ts, vs, start, target, leave=0.2, back=0.1, full=0.8, hysteresis=0.05,
         tempo=(math.nan, math.nan, math.nan), tol=0.25, band=0.05, close=False,
         relative=False):  # fmt: skip
    """Whole-history reference of the rep counter (see kernels/reps.py for the rules).
    ``close``: the input ends after the last sample; ``relative``: the start position is the
    patient's own rest. Returns (per-sample phases, rep dicts)."""
    phase = 0
    rest_level = None  # the person's own rest: lowest progress held still (or in the band)
    rest = None  # (t, v) of the last sample at rest
    origin = 0.0  # relative counting: the rest the rep in progress left from
    samples = []  # (t, v, p) of the rep in progress, from the sample that left rest
    p_start = None  # progress the rep left from (None: not seen at rest)
    trough = None  # (t, v, p): the lowest point since the rep turned back
    prev = None  # (t, absolute progress) of the previous sample taken
    done = []
    phases = []

    def base():
        if relative:
            return rest_level
        return max(rest_level, 0.0) if rest_level is not None else 0.0

    def past_midpoint(p):
        peak = max(s[2] for s in samples)
        return p_start is not None and p <= p_start + 0.5 * (peak - p_start)

    def still_since(t, p):
        dt = t - prev[0] if prev is not None else 0.0
        return dt > 0 and abs(p - prev[1]) / dt < STILL_SPEED

    def finish(t_end, v_end, counted):
        t0 = rest[0] if rest is not None else samples[0][0]
        values = [s[1] for s in samples] + ([rest[1]] if rest is not None else [])
        peak = max(s[2] for s in samples)
        k = _level(peak - band)
        top = [s[0] for s in samples if _level(s[2]) >= k]
        out_s = top[0] - t0
        hold_s = top[-1] - top[0]
        back_s = t_end - top[-1]
        done.append(
            dict(
                start_s=t0,
                end_s=t_end,
                min_value=min(values),
                max_value=max(values),
                peak_progress=peak,
                out_s=out_s,
                hold_s=hold_s,
                back_s=back_s,
                counted=counted,
                tempo=(
                    _verdict(out_s, tempo[0], tol, False),
                    _verdict(hold_s, tempo[1], tol, True),
                    _verdict(back_s, tempo[2], tol, False),
                ),
            )
        )
        return (t_end, v_end)

    for t, v in zip(ts, vs, strict=True):
        if not (math.isfinite(t) and math.isfinite(v)) or (prev is not None and t < prev[0]):
            phases.append(phase)
            continue
        pa = (v - start) / (target - start)  # absolute progress
        if phase == 0:
            still = still_since(t, pa)
            settled = still if relative else (still and pa < REST_SIDE) or pa <= back
            if settled and (rest_level is None or pa < rest_level):
                rest_level = pa
            first = prev is None
            prev = (t, pa)
            if base() is None:  # relative counting waits for a first rest
                phases.append(phase)
                continue
            if pa <= base() + back:
                rest = (t, v)
            elif (not first or pa >= REST_SIDE) and pa >= base() + leave:
                origin = rest_level if relative else 0.0
                p = pa - origin
                phase = 1
                samples = [(t, v, p)]
                p_start = (rest[1] - start) / (target - start) - origin if rest else None
                if p >= full:
                    phase = 2
            phases.append(phase)
            continue
        p = pa - origin
        if p_start is None and p < REST_SIDE and still_since(t, pa):
            # a movement the input began in the middle of came to rest: no rep
            prev = (t, pa)
            phase = 0
            rest_level = pa
            rest = (t, v)
            phases.append(phase)
            continue
        prev = (t, pa)
        samples.append((t, v, p))
        line = back if relative else base() + back
        if phase == 1:
            if p >= full:
                phase = 2
            elif p <= line:
                # a movement begun before the input, back at rest without its top: no rep
                rest = finish(t, v, False) if p_start is not None else (t, v)
                phase = 0
        elif phase in (2, 3):
            if phase == 2 and p < full - hysteresis:
                phase = 3
                trough = (t, v, p)
            if phase == 3:
                if p >= full:
                    phase = 2
                else:
                    if p < trough[2]:
                        trough = (t, v, p)
                    if p <= line:
                        rest = finish(t, v, True)
                        phase = 0
                    elif past_midpoint(trough[2]) and p >= trough[2] + leave - back:
                        rest = finish(trough[0], trough[1], True)
                        rest_level = trough[2] + origin
                        phase = 0
        phases.append(phase)
    if close and phase == 3 and past_midpoint(trough[2]):
        finish(prev[0], start + prev[1] * (target - start), True)
    return phases, done


def hold(ts, active, reset_on_break=False, max_gap_s=0.5):
    held = 0.0
    prev_t = None
    prev_active = False
    out = []
    for t, a in zip(ts, active, strict=True):
        if not math.isfinite(t) or (prev_t is not None and t < prev_t):
            out.append(held)
            continue
        if a:
            if prev_active and prev_t is not None:
                held += min(t - prev_t, max_gap_s)
        elif reset_on_break:
            held = 0.0
        prev_active = bool(a)
        prev_t = t
        out.append(held)
    return out


# ---------------------------------------------------------------------------------------------
# Loading


def loading(blocks, low, high, limit=math.inf, rate_limit=math.inf, rate_hz=5.0,
            tension=None, max_gap_s=0.1):  # fmt: skip
    """blocks: per frame a list of (t, force) samples. Returns per frame (band, rate,
    rate_exceeded, over_limit, tut)."""
    tension = low if tension is None else tension
    last_t = math.nan
    last_f = math.nan
    rate = math.nan
    band = 3
    tut = 0.0
    out = []
    for block in blocks:
        exceeded = over = False
        for t, f in block:
            if not math.isfinite(t) or t < last_t:
                continue
            dt = t - last_t
            if math.isfinite(f):
                if math.isfinite(last_f) and dt > 0:
                    raw = (f - last_f) / dt
                    if math.isfinite(rate):
                        a = dt / (dt + 1.0 / (2.0 * math.pi * rate_hz))
                        rate = rate + a * (raw - rate)
                    else:
                        rate = raw
                    exceeded = exceeded or abs(rate) > rate_limit
                    if f >= tension and last_f >= tension:
                        tut += min(dt, max_gap_s)
                band = 1 if f < low else (2 if f > high else 0)
                over = over or f > limit
                last_f = f
            last_t = t
        out.append((band, rate, exceeded, over, tut))
    return out


# ---------------------------------------------------------------------------------------------
# Dynamic time warping (the form score's distance)


def dtw_distance(a, b, window, missing_cost=1.0):
    """a, b: lists of rows of channel values. Mean pair cost on the cheapest path inside the
    band, the band at least as wide as the slope of the diagonal; NaN for an empty input."""
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return math.nan
    slope = (m - 1) / (n - 1) if n > 1 else 1.0
    window = max(window, 1.0, slope)

    def cost(i, j):
        diffs = [x - y for x, y in zip(a[i], b[j], strict=True)]
        diffs = [d for d in diffs if math.isfinite(d)]
        if not diffs:
            return missing_cost
        return math.sqrt(sum(d * d for d in diffs) / len(diffs))

    inf = math.inf
    best = {}  # (i, j) -> (total cost, pairs on the path)
    for i in range(n):
        centre = i * (m - 1) / (n - 1) if n > 1 else 0.0
        for j in range(m):
            if not centre - window <= j <= centre + window:
                continue
            if i == 0 and j == 0:
                best[i, j] = (cost(0, 0), 1)
                continue
            # On equal totals the diagonal step wins, then the step from the row above.
            total, pairs = inf, 0
            for k, ties in (((i - 1, j), False), ((i, j - 1), False), ((i - 1, j - 1), True)):
                t_k, p_k = best.get(k, (inf, 0))
                if t_k < total or (ties and t_k == total and t_k < inf):
                    total, pairs = t_k, p_k
            if total < inf:
                best[i, j] = (total + cost(i, j), pairs + 1)
    if (n - 1, m - 1) not in best:
        return math.nan
    total, pairs = best[n - 1, m - 1]
    return total / pairs
