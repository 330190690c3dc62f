"""Personal targets: a patient's assessment turns an exercise's relative targets into the
absolute thresholds the kernels get."""

from __future__ import annotations

import math
import re
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
    note: str = ""  # what was changed on the way (a tested maximum capped at the ceiling)


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
    note = ""
    if exercise.load is not None:
        # The exercise's default maximum is also its ceiling: no patient's limit goes past
        # what the machine is set up for, whatever a stored assessment says.
        ceiling = max_force = exercise.load.default_max_force_n
        if profile and exercise.id in profile.max_force_n:
            tested = profile.max_force_n[exercise.id]
            max_force = tested if math.isfinite(tested) and 0 < tested <= ceiling else ceiling
            if max_force != tested:
                note = (f"tested maximum {tested:g} N for {exercise.id} is not above 0 and "
                        f"within the machine's {ceiling:g} N: {ceiling:g} N used")  # fmt: skip
            source = "profile"
        band = (exercise.load.band_low * max_force, exercise.load.band_high * max_force)
        load_limit = exercise.load.limit * max_force
    return Targets(start, target, limit, band, load_limit, max_force, source, note)


class ProfileError(ValueError):
    """A profile that cannot be used; the one-line message names the file and the key."""


PROFILE_KEYS = ("code", "side", "ranges", "max_force_n")
RANGE_KEYS = ("start", "end", "pain_free_limit")
SIDES = ("auto", "left", "right")
_EXERCISE_ID = re.compile(r"[a-z0-9_]{1,100}")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _key(key: str) -> str:
    """A key as the message shows it: names from the file may hold a newline."""
    return key if key.isprintable() else repr(key)


def _number(path: Path, key: str, value: object) -> float:
    # bool is an int in Python and "12" converts with float(): both would hide a typo.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProfileError(f"{path}: {_key(key)}: expected a number, found {_show(value)}")
    try:
        return float(value)
    except OverflowError:
        raise ProfileError(f"{path}: {_key(key)}: expected a number, found one too large") from None


def _table(path: Path, key: str, value: object, known: tuple[str, ...] = ()) -> dict:
    if not isinstance(value, dict):
        raise ProfileError(f"{path}: {_key(key)}: expected a table, found {_show(value)}")
    unknown = sorted(set(value) - set(known)) if known else []
    if unknown:
        # A misspelt key would silently drop a limit: refuse it.
        where = unknown[0] if key == "<file>" else f"{key}.{unknown[0]}"
        raise ProfileError(f"{path}: {_key(where)}: expected one of the keys {', '.join(known)}")
    return value


def _read_toml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(f"profile not found: {path}") from None
    except IsADirectoryError:
        raise ProfileError(f"{path}: expected a profile file, found a folder") from None
    except UnicodeDecodeError as exc:
        raise ProfileError(
            f"{path}: expected UTF-8 text, undecodable byte at {exc.start}"
        ) from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read the profile ({exc.strerror})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: expected valid TOML ({exc})") from None
    except RecursionError:
        raise ProfileError(f"{path}: expected a profile, found values nested too deeply") from None


def load_profile(path: str | Path) -> PatientProfile:
    """A profile TOML: ``code``, ``side``, ``[ranges.EXERCISE] start/end/pain_free_limit``,
    ``[max_force_n] EXERCISE = newtons``. Raises ``ProfileError`` with one line."""
    path = Path(path)
    data = _table(path, "<file>", _read_toml(path), PROFILE_KEYS)
    if "code" not in data:
        raise ProfileError(f"{path}: code: expected the patient's code, found nothing")
    code = data["code"]
    if not isinstance(code, str) or not code:
        raise ProfileError(f"{path}: code: expected the patient's code, found {_show(code)}")
    side = data.get("side", "auto")
    if side not in SIDES:
        raise ProfileError(f"{path}: side: expected one of {', '.join(SIDES)}, found {_show(side)}")
    for table in ("ranges", "max_force_n"):
        for ex in _table(path, table, data.get(table, {})):
            if not _EXERCISE_ID.fullmatch(ex):
                raise ProfileError(
                    f"{path}: {_key(f'{table}.{ex}')}: expected an exercise id such as "
                    "lumbar_extension"
                )
    ranges: dict[str, RangeAssessment] = {}
    for ex, raw in data.get("ranges", {}).items():
        r = _table(path, f"ranges.{ex}", raw, RANGE_KEYS)
        for key in ("start", "end"):
            if key not in r:
                raise ProfileError(
                    f"{path}: {_key(f'ranges.{ex}.{key}')}: expected a number, found nothing"
                )
        ranges[ex] = RangeAssessment(
            *(_number(path, f"ranges.{ex}.{k}", r.get(k, math.nan)) for k in RANGE_KEYS)
        )
    forces = {
        k: _number(path, f"max_force_n.{k}", v) for k, v in data.get("max_force_n", {}).items()
    }
    try:
        _check_profile(path, ranges, forces)
    except ProfileError:
        raise
    except ValueError as exc:
        raise ProfileError(str(exc)) from None
    return PatientProfile(code, ranges, forces, side)


def _check_profile(
    path: Path, ranges: dict[str, RangeAssessment], forces: dict[str, float]
) -> None:
    """A profile sets safety limits: refuse values that would switch one off or make no sense."""
    for ex, f in forces.items():
        if not (math.isfinite(f) and f > 0):
            raise ValueError(
                f"{path}: max_force_n.{ex}: expected a positive number of newtons, got {f}"
            )
        ceiling = _force_ceiling(ex)
        if f > ceiling:
            raise ValueError(
                f"{path}: max_force_n.{ex}: {f:g} N is above the machine's maximum for this "
                f"exercise ({ceiling:g} N)"
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


def _force_ceiling(exercise_id: str) -> float:
    """The library exercise's maximum force (inf for an exercise not in the library, which
    ``resolve_targets`` caps when it is run)."""
    from exercises.errors import ExerciseError, UnknownExercise
    from exercises.library import get_exercise

    try:
        load = get_exercise(exercise_id).load
    except (ExerciseError, UnknownExercise):
        return math.inf
    return load.default_max_force_n if load is not None else math.inf
