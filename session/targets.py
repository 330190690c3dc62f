"""Personal targets: a patient's assessment turns an exercise's relative targets into the
absolute thresholds the kernels get."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from exercises.schema import ExerciseDef


@dataclass(frozen=True, slots=True)
class RangeAssessment:
    """Measured range of motion for one exercise's driving signal (same unit, usually deg)."""

    start: float  # value in the start position
    end: float  # furthest value reached comfortably
    pain_free_limit: float = math.nan  # beyond this the patient reported pain


@dataclass(frozen=True, slots=True)
class PatientProfile:
    code: str
    ranges: dict[str, RangeAssessment] = field(default_factory=dict)  # by exercise id
    max_force_n: dict[str, float] = field(default_factory=dict)  # tested maximum by exercise id
    side: str = "auto"  # affected / preferred side for one-sided work


@dataclass(frozen=True, slots=True)
class Targets:
    """Absolute thresholds for one exercise and patient."""

    start: float
    target: float
    pain_free_limit: float  # NaN: none
    load_band_n: tuple[float, float]  # NaN, NaN for floor work
    load_limit_n: float
    max_force_n: float
    source: str  # "profile" or "defaults": shown to the therapist


def resolve_targets(exercise: ExerciseDef, profile: PatientProfile | None = None) -> Targets:
    sig = exercise.signal
    start, target, limit, source = sig.start, sig.target, sig.pain_free_limit, "defaults"
    assessed = profile.ranges.get(exercise.id) if profile else None
    if assessed is not None:
        start = assessed.start
        target = assessed.start + sig.target_share * (assessed.end - assessed.start)
        if math.isfinite(assessed.pain_free_limit):
            limit = assessed.pain_free_limit
        source = "profile"
    band = (math.nan, math.nan)
    load_limit = max_force = math.nan
    if exercise.load is not None:
        max_force = exercise.load.default_max_force_n
        if profile and exercise.id in profile.max_force_n:
            max_force = profile.max_force_n[exercise.id]
            source = "profile"
        band = (exercise.load.band_low * max_force, exercise.load.band_high * max_force)
        load_limit = exercise.load.limit * max_force
    return Targets(start, target, limit, band, load_limit, max_force, source)


def load_profile(path: str | Path) -> PatientProfile:
    """A profile TOML: ``code``, ``side``, ``[ranges.EXERCISE] start/end/pain_free_limit``,
    ``[max_force_n] EXERCISE = newtons``."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"profile not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: expected valid TOML ({exc})") from None
    try:
        ranges = {
            k: RangeAssessment(
                float(v["start"]), float(v["end"]), float(v.get("pain_free_limit", math.nan))
            )
            for k, v in data.get("ranges", {}).items()
        }
        forces = {k: float(v) for k, v in data.get("max_force_n", {}).items()}
        _check_profile(path, ranges, forces)

        return PatientProfile(str(data["code"]), ranges, forces, str(data.get("side", "auto")))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"{path}: expected code, [ranges.ID] with start and end numbers, "
            f"[max_force_n] ID = number ({exc!r})"
        ) from None


def _check_profile(
    path: Path, ranges: dict[str, RangeAssessment], forces: dict[str, float]
) -> None:
    """A profile sets safety limits: refuse values that would switch one off or make no sense."""
    for ex, f in forces.items():
        if not (math.isfinite(f) and f > 0):
            raise ValueError(
                f"{path}: max_force_n.{ex}: expected a positive number of newtons, got {f}"
            )
    for ex, r in ranges.items():
        if not (math.isfinite(r.start) and math.isfinite(r.end)) or r.start == r.end:
            raise ValueError(f"{path}: ranges.{ex}: expected finite, different start and end")
        lim = r.pain_free_limit
        if math.isinf(lim) or (math.isfinite(lim) and (lim - r.start) * (r.end - r.start) <= 0):
            raise ValueError(
                f"{path}: ranges.{ex}.pain_free_limit: expected a value beyond start in the "
                f"direction of end ({r.start} -> {r.end}), got {lim}"
            )
