"""The simulated patient on a simulated machine: what the sensors would measure, and the truth.

A rep on these machines is slow and controlled (about 4.5-5 s): move out through the range,
a short hold at the end, back, a short pause. Over a set the patient tires (a little less
range, a little slower, more tremor), now and then jerks, and at configured times overshoots
the range or spikes the force, so the session's checks have something real to catch.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class MachineSpec:
    model: str
    serial_prefix: str
    angle_min: float  # channel range, degrees
    angle_max: float
    start_deg: float  # where each rep starts and ends
    end_deg: float  # the far end of the range the patient reaches
    load_n: float  # working load (about 30 % of a typical tested maximum)
    force_max: float = 3000.0


MODELS: dict[str, MachineSpec] = {
    "lumbar_extension": MachineSpec("lumbar_extension", "LE", -30.0, 90.0, 66.0, 0.0, 280.0),
    "lumbar_flexion": MachineSpec("lumbar_flexion", "LF", -30.0, 90.0, 0.0, 48.0, 220.0),
    "rotation": MachineSpec("rotation", "RT", -70.0, 70.0, 0.0, 42.0, 120.0),
    "lateral_flexion": MachineSpec("lateral_flexion", "LX", -50.0, 50.0, 0.0, 28.0, 150.0),
}


def _bump(x: float, width: float) -> float:
    """Smooth 0..1..0 pulse over ``0 <= x < width`` (raised cosine)."""
    if x < 0.0 or x >= width:
        return 0.0
    return 0.5 - 0.5 * math.cos(2.0 * math.pi * x / width)


def _excursion(u: float) -> float:
    """Share of the range reached at rep phase ``u`` in [0, 1)."""
    if u < 0.42:  # out, accelerating then braking
        return 0.5 - 0.5 * math.cos(math.pi * u / 0.42)
    if u < 0.52:  # hold at the end of the range
        return 1.0
    if u < 0.94:  # back, controlled
        return 0.5 + 0.5 * math.cos(math.pi * (u - 0.52) / 0.42)
    return 0.0


@dataclass(slots=True)
class _Rep:
    index: int
    start: float
    duration: float
    amplitude: float
    jerk_at: float  # seconds into the rep, NaN for none
    overshoot: bool = False
    peak: float = math.nan  # largest measured excursion from the start angle, signed


@dataclass
class PatientModel:
    """Deterministic for a seed; ``measure(t)`` must be called with non-decreasing ``t``."""

    spec: MachineSpec
    seed: int = 1
    reps_per_set: int = 20
    rest_s: float = 30.0
    start_delay_s: float = 1.0
    overshoot_at: tuple[float, ...] = ()  # the rep in progress at each time overshoots
    overshoot_deg: float = 12.0
    overload_at: tuple[float, ...] = ()
    overload_n: float = 900.0
    jerk_probability: float = 0.1
    angle_noise_deg: float = 0.05
    force_noise_n: float = 1.5
    force_bias_n: float = 8.0  # sensor offset at rest, what a tare removes
    reps: list[_Rep] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._next_start = self.start_delay_s
        self._cursor = 0

    def _rep_at(self, t: float) -> _Rep | None:
        while not self.reps or t >= self.reps[-1].start + self.reps[-1].duration:
            self._plan_rep()
        while self._cursor < len(self.reps) - 1 and t >= self.reps[self._cursor + 1].start:
            self._cursor += 1
        rep = self.reps[self._cursor]
        return rep if t >= rep.start else None

    def _plan_rep(self) -> None:
        i = len(self.reps)
        in_set = i % self.reps_per_set
        if i and in_set == 0:
            self._next_start += self.rest_s
        fatigue = (in_set / max(1, self.reps_per_set - 1)) ** 1.5
        rng = self._rng
        duration = rng.uniform(4.5, 4.85) + 0.15 * fatigue
        amplitude = (1.0 - 0.08 * fatigue) * rng.uniform(0.98, 1.02)
        jerk = (
            rng.uniform(0.1, 0.8) * duration if rng.random() < self.jerk_probability else math.nan
        )
        start = self._next_start
        span = abs(self.spec.end_deg - self.spec.start_deg)
        overshoot = any(start <= at < start + duration for at in self.overshoot_at)
        if overshoot:  # this rep goes past the end of the range
            amplitude += self.overshoot_deg / span
        self.reps.append(_Rep(i + 1, start, duration, amplitude, jerk, overshoot))
        self._next_start += duration

    def _fatigue(self, rep: _Rep | None) -> float:
        if rep is None:
            return 0.0
        return ((rep.index - 1) % self.reps_per_set) / max(1, self.reps_per_set - 1)

    def measure(self, t: float) -> tuple[float, float]:
        """Angle (deg) and force (N) the sensors read at patient time ``t`` (s)."""
        spec = self.spec
        span = spec.end_deg - spec.start_deg
        direction = 1.0 if span >= 0 else -1.0
        rep = self._rep_at(t)
        angle = spec.start_deg
        force = 0.0
        if rep is not None:
            u = (t - rep.start) / rep.duration
            angle += span * rep.amplitude * _excursion(u)
            # Pushing against the load; a little more while accelerating out.
            push = 0.2 * math.sin(math.pi * u / 0.42) if u < 0.42 else 0.0
            force = spec.load_n * (0.95 + push) if u < 0.94 else 0.3 * spec.load_n
            tremor = 1.0 + 2.0 * self._fatigue(rep)
            force += self._rng.gauss(0.0, 0.01 * spec.load_n) * tremor
            if not math.isnan(rep.jerk_at):
                k = _bump(t - rep.start - rep.jerk_at, 0.12)
                angle += 3.0 * direction * k
                force += 0.6 * spec.load_n * k
        for at in self.overload_at:
            force += self.overload_n * min(1.0, 3.0 * _bump(t - at, 0.3))
        angle += self._rng.gauss(0.0, self.angle_noise_deg)
        force += self.force_bias_n + self._rng.gauss(0.0, self.force_noise_n)
        if rep is not None:
            excursion = angle - spec.start_deg
            if math.isnan(rep.peak) or abs(excursion) > abs(rep.peak):
                rep.peak = excursion
        return angle, force

    def overshoot_peaks(self) -> list[float]:
        """When the overshooting reps reach the far end (middle of their hold), patient time."""
        return [r.start + 0.47 * r.duration for r in self.reps if r.overshoot]

    def completed_reps(self, t: float) -> list[_Rep]:
        return [r for r in self.reps if r.start + r.duration <= t]
