"""A simulated patient doing a machine assessment: a known pain-free range per direction and a
known strength curve by angle, so a test can check that the assessment finds them.

The patient follows a script (``AssessmentScript``, from a JSON file the host writes from its
protocol): for each range step it moves from the rest angle out to its pain-free limit and
back, once per trial; for each strength step it moves to the test angle (the lever is locked
there) and makes its maximal efforts with a ramp, a hold and a release, resting between them.
Each effort reaches a share of the true maximum drawn from ``1 - effort_variability .. 1``
(seeded), each range trial a share of the true excursion drawn the same way, so the best
trial is the truth within the variability. Now and then (``bad_effort_every``) an effort is
faulty, a jerk (ramp far too fast, overshooting the maximum) or a hold released too soon, and
the patient repeats it, as a patient told "again, please" would.

``measure(t)`` has the interface of ``machine_model.PatientModel``, so the simulated firmware
samples either one.
"""

from __future__ import annotations

import bisect
import json
import math
import random
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from device_bridge.errors import DeviceError

# How the simulated patient moves; the host's detection does not know these numbers.
MOVE_S = 2.5  # to a new test angle, or out to the range limit
RETURN_S = 2.5  # back from the range limit
LIMIT_PAUSE_S = 0.6  # at the end of the range before coming back
RAMP_S = 1.8  # a good effort builds up over this long
HOLD_S = 3.0  # and is held this long
RELEASE_S = 0.6
JERK_RAMP_S = 0.15
JERK_OVERSHOOT = 1.12  # a jerk's spike, above the true maximum
SHORT_HOLD_S = 0.6
REACTION_S = 1.0  # after the host's countdown ends
MOVING_FORCE_N = 15.0  # pushing lightly on an unloaded lever while moving
# Strength tests skip angles this close to (or past) the patient's own range limits; the
# host's protocol uses the same margin on the measured range.
ANGLE_MARGIN_DEG = 3.0


@dataclass(frozen=True, slots=True)
class StrengthCurve:
    """Maximal isometric force (N) by angle (deg): straight lines between the points, flat
    beyond the first and last."""

    points: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if not self.points:
            raise ValueError("strength curve: expected at least one (angle, N) point")
        angles = [a for a, _ in self.points]
        if angles != sorted(angles) or len(set(angles)) != len(angles):
            raise ValueError(f"strength curve: angles must rise strictly, got {angles}")
        for a, f in self.points:
            if not (math.isfinite(a) and math.isfinite(f) and f > 0):
                raise ValueError(
                    f"strength curve: expected finite angles and forces > 0, got {(a, f)}"
                )

    def at(self, angle: float) -> float:
        pts = self.points
        if angle <= pts[0][0]:
            return pts[0][1]
        if angle >= pts[-1][0]:
            return pts[-1][1]
        i = bisect.bisect_right([a for a, _ in pts], angle)
        (a0, f0), (a1, f1) = pts[i - 1], pts[i]
        return f0 + (f1 - f0) * (angle - a0) / (a1 - a0)


@dataclass(frozen=True, slots=True)
class PatientTruth:
    """What the simulated patient can really do: the values an assessment should find."""

    range_limits: dict[str, float]  # direction -> furthest pain-free angle (deg, machine scale)
    strength: dict[str, StrengthCurve]  # direction of effort -> maximal force by angle
    effort_variability: float = 0.04  # an effort reaches 1 - v .. 1 of the maximum
    range_variability: float = 0.02  # a range trial reaches 1 - v .. 1 of the excursion
    bad_effort_every: int = 0  # every n-th effort is faulty and repeated; 0: never
    seed: int = 1

    def __post_init__(self) -> None:
        for name in ("effort_variability", "range_variability"):
            v = getattr(self, name)
            if not (math.isfinite(v) and 0.0 <= v < 0.5):
                raise ValueError(f"{name}: expected 0 <= v < 0.5, got {v}")
        for d, a in self.range_limits.items():
            if not math.isfinite(a):
                raise ValueError(f"range limit {d}: expected a finite angle, got {a}")
        if self.bad_effort_every < 0:
            raise ValueError(f"bad_effort_every: expected >= 0, got {self.bad_effort_every}")

    def as_json(self) -> dict[str, Any]:
        return {
            "range_limits_deg": dict(self.range_limits),
            "strength_n": {d: [list(p) for p in c.points] for d, c in self.strength.items()},
            "effort_variability": self.effort_variability,
            "range_variability": self.range_variability,
            "bad_effort_every": self.bad_effort_every,
            "seed": self.seed,
        }


@dataclass(frozen=True, slots=True)
class ScriptStep:
    kind: str  # "range" or "strength"
    direction: str  # range: where the patient moves; strength: the direction of the effort
    sign: float  # range: +1 toward larger angles, -1 toward smaller ones
    count: int  # trials or efforts
    angle_deg: float = math.nan  # strength: the locked test angle


@dataclass(frozen=True, slots=True)
class AssessmentScript:
    """The host's protocol as the patient hears it: steps and the host's timing (seconds)."""

    rest_deg: float
    steps: tuple[ScriptStep, ...]
    start_delay_s: float = 4.0
    instruction_s: float = 6.0
    countdown_s: float = 3.0
    rest_s: float = 10.0
    result_s: float = 4.0
    limits: tuple[str, str] = ("", "")  # directions whose limits bound the strength angles

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> AssessmentScript:
        try:
            steps = tuple(
                ScriptStep(
                    kind=str(s["kind"]),
                    direction=str(s["direction"]),
                    sign=float(s.get("sign", 1.0)),
                    count=int(s["count"]),
                    angle_deg=float(s.get("angle_deg", math.nan)),
                )
                for s in raw["steps"]
            )
            timing = raw.get("timing", {})
            limits = tuple(raw.get("limits", ("", "")))
            return cls(
                rest_deg=float(raw["rest_deg"]),
                steps=steps,
                start_delay_s=float(timing.get("start_delay_s", 4.0)),
                instruction_s=float(timing.get("instruction_s", 6.0)),
                countdown_s=float(timing.get("countdown_s", 3.0)),
                rest_s=float(timing.get("rest_s", 10.0)),
                result_s=float(timing.get("result_s", 4.0)),
                limits=(str(limits[0]), str(limits[1])),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise DeviceError(f"assessment script: expected steps and timing, {exc}") from None


@dataclass(frozen=True, slots=True)
class _Segment:
    """One stretch of the patient's movement: angle and force between t0 and t1."""

    t0: float
    t1: float
    a0: float
    a1: float
    f_peak: float = 0.0  # effort above the moving force; 0 while only moving
    ramp_s: float = 0.0
    hold_s: float = 0.0


def _ease(u: float) -> float:
    u = min(1.0, max(0.0, u))
    return 0.5 - 0.5 * math.cos(math.pi * u)


@dataclass
class AssessmentPatient:
    """Deterministic for a seed; ``measure(t)`` is called with non-decreasing ``t``."""

    truth: PatientTruth
    script: AssessmentScript
    angle_noise_deg: float = 0.05
    force_noise_n: float = 1.5
    force_bias_n: float = 8.0  # sensor offset at rest, what a tare removes
    tremor: float = 0.01  # of the force held
    efforts: list[dict[str, Any]] = field(default_factory=list)  # what was done, for the truth
    trials: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.truth.seed)
        self._noise = random.Random(self.truth.seed + 101)
        self._segments: list[_Segment] = []
        self._plan()
        self._starts = [s.t0 for s in self._segments]
        # Unused by the assessment, read by the firmware's ground truth.
        self.overload_at: tuple[float, ...] = ()

    # -- the plan ---------------------------------------------------------------------------

    def _move(self, t: float, a0: float, a1: float, dur: float) -> float:
        self._segments.append(_Segment(t, t + dur, a0, a1))
        return t + dur

    def _still(self, t: float, a: float, dur: float) -> float:
        return self._move(t, a, a, dur)

    def _strength_range(self) -> tuple[float, float]:
        lo_dir, hi_dir = self.script.limits
        lim = self.truth.range_limits
        lo = lim.get(lo_dir, -math.inf)
        hi = lim.get(hi_dir, math.inf)
        return min(lo, hi), max(lo, hi)

    def _plan(self) -> None:
        sc, tr, rng = self.script, self.truth, self._rng
        t, a = 0.0, sc.rest_deg
        t = self._still(t, a, sc.start_delay_s)
        effort_no = 0
        lo, hi = self._strength_range()
        first = True
        for step in sc.steps:
            if step.kind == "strength" and not (
                lo + ANGLE_MARGIN_DEG <= step.angle_deg <= hi - ANGLE_MARGIN_DEG
            ):
                self.skipped.append({"direction": step.direction, "angle_deg": step.angle_deg})
                continue
            if not first:
                t = self._still(t, a, sc.result_s)
            first = False
            lead = sc.instruction_s + sc.countdown_s + REACTION_S
            if step.kind == "strength":
                # The therapist sets the lever during the instruction; the patient sits still.
                t = self._move(t, a, step.angle_deg, MOVE_S)
                a = step.angle_deg
                t = self._still(t, a, lead - MOVE_S)
                maximum = tr.strength[step.direction].at(a)
                good = 0
                while good < step.count:
                    effort_no += 1
                    share = rng.uniform(1.0 - tr.effort_variability, 1.0)
                    bad = tr.bad_effort_every and effort_no % tr.bad_effort_every == 0
                    kind = ("jerk" if effort_no % 2 else "short_hold") if bad else "good"
                    ramp, hold, peak = RAMP_S, HOLD_S, share * maximum
                    if kind == "jerk":
                        ramp, peak = JERK_RAMP_S, JERK_OVERSHOOT * maximum
                    elif kind == "short_hold":
                        hold = SHORT_HOLD_S
                    seg = _Segment(t, t + ramp + hold + RELEASE_S, a, a, peak, ramp, hold)
                    self._segments.append(seg)
                    self.efforts.append(
                        {
                            "t_s": t,
                            "direction": step.direction,
                            "angle_deg": a,
                            "force_n": peak,
                            "kind": kind,
                            "maximum_n": maximum,
                        }
                    )
                    t = seg.t1
                    good += kind == "good"
                    if good < step.count:
                        t = self._still(t, a, sc.rest_s)
            else:
                if not math.isclose(a, sc.rest_deg):
                    t = self._move(t, a, sc.rest_deg, MOVE_S)
                    a = sc.rest_deg
                t = self._still(t, a, lead)
                limit = tr.range_limits[step.direction]
                for k in range(step.count):
                    share = rng.uniform(1.0 - tr.range_variability, 1.0)
                    reach = a + share * (limit - a)
                    self.trials.append({"t_s": t, "direction": step.direction, "angle_deg": reach})
                    t = self._move(t, a, reach, MOVE_S)
                    t = self._still(t, reach, LIMIT_PAUSE_S)
                    t = self._move(t, reach, a, RETURN_S)
                    if k < step.count - 1:
                        t = self._still(t, a, sc.rest_s)
        t = self._still(t, a, sc.result_s)
        self.end_s = t
        self._segments.append(_Segment(t, math.inf, a, a))

    # -- sampling ---------------------------------------------------------------------------

    def measure(self, t: float) -> tuple[float, float]:
        """Angle (deg) and force (N) the sensors read at patient time ``t`` (s)."""
        i = max(0, bisect.bisect_right(self._starts, t) - 1)
        s = self._segments[i]
        dur = s.t1 - s.t0
        u = 1.0 if not math.isfinite(dur) or dur <= 0 else (t - s.t0) / dur
        angle = s.a0 + (s.a1 - s.a0) * _ease(u)
        force = MOVING_FORCE_N if s.a0 != s.a1 else 0.0
        if s.f_peak > 0.0:
            x = t - s.t0
            if x < s.ramp_s:
                level = _ease(x / s.ramp_s)
            elif x < s.ramp_s + s.hold_s:
                level = 1.0
            else:
                level = 1.0 - _ease((x - s.ramp_s - s.hold_s) / RELEASE_S)
            force = s.f_peak * level
            force += self._noise.gauss(0.0, self.tremor * s.f_peak) * level
        angle += self._noise.gauss(0.0, self.angle_noise_deg)
        force += self.force_bias_n + self._noise.gauss(0.0, self.force_noise_n)
        return angle, force

    # -- what the firmware's ground truth asks of any patient -----------------------------

    def completed_reps(self, t: float) -> list[Any]:
        return []

    def overshoot_peaks(self) -> list[float]:
        return []

    def ground_truth(self) -> dict[str, Any]:
        return {
            "patient": self.truth.as_json(),
            "efforts": self.efforts,
            "range_trials": self.trials,
            "skipped_strength_angles": self.skipped,
            "script_end_s": self.end_s,
        }


def default_truth(model: str, seed: int = 1) -> PatientTruth:
    """A plausible patient for each machine model (the simulator's default)."""
    curves = {
        # Lumbar extension strength rises with flexion (the extensors are longer).
        "lumbar_extension": {
            "extension": StrengthCurve(((0.0, 420.0), (36.0, 610.0), (72.0, 780.0)))
        },
        "lumbar_flexion": {"flexion": StrengthCurve(((0.0, 380.0), (48.0, 300.0)))},
        "rotation": {
            "left": StrengthCurve(((-40.0, 190.0), (0.0, 230.0), (40.0, 170.0))),
            "right": StrengthCurve(((-40.0, 150.0), (0.0, 200.0), (40.0, 175.0))),
        },
        "lateral_flexion": {
            "left": StrengthCurve(((-30.0, 230.0), (0.0, 260.0), (30.0, 200.0))),
            "right": StrengthCurve(((-30.0, 190.0), (0.0, 220.0), (30.0, 215.0))),
        },
    }
    ranges = {
        "lumbar_extension": {"flexion": 62.0, "extension": 8.0},
        "lumbar_flexion": {"flexion": 44.0, "extension": -6.0},
        "rotation": {"left": 38.0, "right": -31.0},
        "lateral_flexion": {"left": 24.0, "right": -19.0},
    }
    if model not in curves:
        raise DeviceError(f"simulated patient: no default for machine {model!r}")
    return PatientTruth(ranges[model], curves[model], seed=seed)


def load_truth(path: str | Path, seed: int = 1) -> PatientTruth:
    """A simulated patient from TOML::

    range_limits_deg = { flexion = 62.0, extension = 8.0 }
    effort_variability = 0.04
    bad_effort_every = 3
    [strength_n]
    extension = [[0.0, 420.0], [36.0, 610.0], [72.0, 780.0]]
    """
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DeviceError(f"simulated patient {path}: {exc}") from None
    try:
        return PatientTruth(
            range_limits={str(k): float(v) for k, v in raw["range_limits_deg"].items()},
            strength={
                str(d): StrengthCurve(tuple((float(a), float(f)) for a, f in pts))
                for d, pts in raw["strength_n"].items()
            },
            effort_variability=float(raw.get("effort_variability", 0.04)),
            range_variability=float(raw.get("range_variability", 0.02)),
            bad_effort_every=int(raw.get("bad_effort_every", 0)),
            seed=int(raw.get("seed", seed)),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DeviceError(f"simulated patient {path}: {exc}") from None


def load_script(path: str | Path) -> AssessmentScript:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DeviceError(f"assessment script {path}: {exc}") from None
    return AssessmentScript.from_json(raw)
