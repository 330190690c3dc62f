"""Typed exercise definitions parsed from TOML, with errors that name file, key and expectation."""

from __future__ import annotations

import builtins
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from body.landmarks import INDEX
from exercises.errors import ExerciseError

if TYPE_CHECKING:
    from kernels.rules import Rule

RULE_KINDS = (
    "angle",
    "inclination",
    "alignment",
    "symmetry",
    "offset",
    "rotation",
    "lateral_lean",
    "visibility",
)
SIDES = ("auto", "left", "right")
REP_PHASES = ("rest", "out", "top", "back")


@dataclass(frozen=True, slots=True)
class AlternativeDef:
    """Another limb whose movement counts as the exercise's (alternating exercises: bird dog,
    dead bug): measured like the signal, with its own start and target."""

    kind: str
    landmarks: tuple[str, ...]
    start: float
    target: float
    label: str


@dataclass(frozen=True, slots=True)
class SignalDef:
    """What drives rep counting and the range gauge."""

    source: str  # "camera" or "machine"
    kind: str  # camera: a rule kind used as a measurement; machine: "angle"
    landmarks: tuple[str, ...]
    side: str
    space: str
    axis: str
    start: float  # default start position in ``unit`` when no personal profile is given
    target: float  # default target
    target_share: float  # with a profile: share of the patient's measured range
    pain_free_limit: float  # NaN: none unless the profile gives one
    leave: float
    back: float
    full: float
    hysteresis: float
    label: str
    unit: str
    partial_cue: str  # cue key for a rep that never reached the target (depth / range)
    # Only target - start counts (the movement's size); the start is where the patient rests.
    relative: bool = False
    # Alternating limbs: whichever limb, on either side, has moved furthest toward its target
    # drives the reps (the signal itself is read on both sides too).
    alternatives: tuple[AlternativeDef, ...] = ()
    # Values the body can take (a knee closes to about 30 deg at most): outside, the pose model
    # has lost the limb and the sample is not measured. (-inf, inf): no bounds.
    plausible: tuple[float, float] = (-math.inf, math.inf)


@dataclass(frozen=True, slots=True)
class TempoDef:
    out_s: float  # NaN: not checked
    hold_s: float
    back_s: float
    tolerance: float
    out_is_concentric: bool


@dataclass(frozen=True, slots=True)
class DoseDef:
    sets: int
    reps: int  # per set; for hold exercises the number of holds
    rest_s: float
    hold_s: float  # target seconds per hold (hold exercises) or at the top of each rep


@dataclass(frozen=True, slots=True)
class LoadDef:
    """Controlled loading for machine work, as shares of the patient's tested maximum."""

    band_low: float
    band_high: float
    limit: float  # share of maximum that stops the exercise
    max_rate_n_s: float  # steepest allowed rise of force, N/s
    default_max_force_n: float  # used when the patient has no strength test yet


@dataclass(frozen=True, slots=True)
class FusionDef:
    """Machine exercises: a camera rule that measures the same movement as the machine's
    angle, compared live. ``expected = offset + scale * machine_angle``."""

    camera_rule: str
    scale: float
    offset: float
    max_difference: float  # degrees before the therapist is told to check the camera


@dataclass(frozen=True, slots=True)
class RuleDef:
    key: str
    kind: str
    landmarks: tuple[str, ...]
    side: str  # "auto" follows the exercise's working side
    low: float
    high: float
    fault_margin: float
    severity: str  # "warning" or "fault"
    space: str
    axis: str
    hysteresis: float
    debounce_s: float
    min_visibility: float
    cue: str
    label: str
    phases: tuple[str, ...]  # rep phases in which the rule counts; () = always
    priority: int
    why: str
    # Camera views the rule can be judged from ("side", "front"); () = any. From another view
    # the rule shows "not judged".
    views: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ExerciseDef:
    id: str
    name: str
    category: str  # "floor" or "machine"
    view: str  # "side", "front", "any"
    mode: str  # "reps" or "hold"
    machine: str  # machine model for machine exercises, "" otherwise
    signal: SignalDef
    tempo: TempoDef
    dose: DoseDef
    load: LoadDef | None
    rules: tuple[RuleDef, ...]
    position_rules: tuple[str, ...]  # hold exercises: rules that define "in position"
    fusion: FusionDef | None
    notes: str
    source_file: str
    # The two or three points a patient should keep in mind, per language (en required),
    # shown in large type on the demonstration screen.
    key_points: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # The real recordings the exercise was checked on through the whole pipeline by a test
    # (tests/test_real_motion.py), and what was checked; "" = not validated on real motion.
    validated: str = ""

    def key_points_in(self, lang: str) -> tuple[str, ...]:
        """The key points in ``lang``, else in English, else none."""
        points = dict(self.key_points)
        return points.get(lang) or points.get("en", ())


class _Table:
    """Reads one TOML table, recording every key it was asked for to catch typos."""

    def __init__(self, file: str, data: Any, prefix: str) -> None:
        if not isinstance(data, dict):
            raise ExerciseError(file, prefix or "<file>", "a table", type(data).__name__)
        self.file, self.data, self.prefix = file, data, prefix
        self.seen: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def get(self, key: str, default: Any = ...) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if default is ...:
                raise ExerciseError(self.file, self._key(key), "a value (required)", "nothing")
            return default
        return self.data[key]

    def str(
        self, key: builtins.str, default: Any = ..., choices: tuple[builtins.str, ...] = ()
    ) -> builtins.str:
        value = self.get(key, default)
        if not isinstance(value, str):
            raise ExerciseError(self.file, self._key(key), "a string", value)
        if choices and value not in choices:
            raise ExerciseError(self.file, self._key(key), f"one of {', '.join(choices)}", value)
        return value

    def num(
        self, key: builtins.str, default: Any = ..., lo: float = -math.inf, hi: float = math.inf
    ) -> float:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ExerciseError(self.file, self._key(key), "a number", value)
        try:
            value = float(value)
        except OverflowError:  # TOML integers have no size limit
            raise ExerciseError(self.file, self._key(key), "a number", "one too large") from None
        # NaN means "not set" and is only allowed where that is the default (unchecked tempo
        # phases, no pain-free limit); elsewhere it would silently switch a check off.
        if math.isnan(value) and not (isinstance(default, float) and math.isnan(default)):
            raise ExerciseError(self.file, self._key(key), "a number (not nan)", value)
        if not math.isnan(value) and not lo <= value <= hi:
            raise ExerciseError(self.file, self._key(key), f"a number in {lo}..{hi}", value)
        return value

    def int(
        self, key: builtins.str, default: Any = ..., lo: int = 0, hi: int = 10_000
    ) -> builtins.int:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ExerciseError(self.file, self._key(key), f"a whole number in {lo}..{hi}", value)
        return value

    def bool(self, key: builtins.str, default: Any = ...) -> builtins.bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            raise ExerciseError(self.file, self._key(key), "true or false", value)
        return value

    def names(self, key: builtins.str, default: Any = ...) -> tuple[builtins.str, ...]:
        value = self.get(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ExerciseError(self.file, self._key(key), "a list of strings", value)
        return tuple(value)

    def table(self, key: builtins.str, default: Any = ...) -> _Table | None:
        """An optional table (``default`` None: not given)."""
        value = self.get(key, default)
        return None if value is None else _Table(self.file, value, self._key(key))

    def section(self, key: builtins.str) -> _Table:
        """A table the file must have."""
        return _Table(self.file, self.get(key), self._key(key))

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise ExerciseError(
                self.file,
                self._key(unknown[0]),
                f"one of the known keys {sorted(self.seen)}",
                unknown[0],
            )


def _landmarks(t: _Table, key: str, count: tuple[int, int] = (1, 6)) -> tuple[str, ...]:
    names = t.names(key)
    if not count[0] <= len(names) <= count[1]:
        raise ExerciseError(t.file, t._key(key), f"{count[0]} to {count[1]} landmarks", list(names))
    for name in names:
        if name not in INDEX and f"left_{name}" not in INDEX:
            raise ExerciseError(
                t.file, t._key(key), "landmark names such as 'knee' or 'left_hip'", name
            )
    return names


_NAN = float("nan")


def _signal(t: _Table) -> SignalDef:
    source = t.str("source", choices=("camera", "machine"))
    if source == "camera":
        kind = t.str("kind", "angle", choices=RULE_KINDS)
        landmarks = _landmarks(t, "landmarks")
    else:
        kind = t.str("kind", "angle", choices=("angle",))
        landmarks = ()
    start = t.num("start", lo=-360, hi=360)
    target = t.num("target", lo=-360, hi=360)
    if start == target:
        raise ExerciseError(t.file, t._key("target"), "a value different from start", target)
    sig = SignalDef(
        source=source,
        kind=kind,
        landmarks=landmarks,
        side=t.str("side", "auto", choices=SIDES),
        space=t.str("space", "image", choices=("image", "world")),
        axis=t.str("axis", "vertical", choices=("vertical", "horizontal")),
        start=start,
        target=target,
        target_share=t.num("target_share", 1.0, lo=0.05, hi=1.5),
        pain_free_limit=t.num("pain_free_limit", _NAN, lo=-360, hi=360),
        leave=t.num("leave", 0.25, lo=0.0, hi=1.0),
        back=t.num("back", 0.12, lo=0.0, hi=1.0),
        full=t.num("full", 0.8, lo=0.1, hi=1.5),
        hysteresis=t.num("hysteresis", 0.05, lo=0.0, hi=0.5),
        label=t.str("label", "angle"),
        unit=t.str("unit", "deg"),
        partial_cue=t.str("partial_cue", "generic.more_range"),
        relative=t.bool("relative", False),
        alternatives=_alternatives(t, source),
        plausible=_plausible(t),
    )
    if not sig.back < sig.leave < sig.full - sig.hysteresis:
        raise ExerciseError(
            t.file, t._key("leave"), "back < leave < full - hysteresis",
            f"back={sig.back}, leave={sig.leave}, full={sig.full}",
        )  # fmt: skip
    t.done()
    return sig


def _plausible(t: _Table) -> tuple[float, float]:
    value = t.get("plausible", None)
    if value is None:
        return (-math.inf, math.inf)
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and math.isfinite(value[0])
        and math.isfinite(value[1])
        and value[0] < value[1]
    )
    if not ok:
        raise ExerciseError(t.file, t._key("plausible"), "[low, high], low < high", value)
    return (float(value[0]), float(value[1]))


def _views(t: _Table) -> tuple[str, ...]:
    views = t.names("views", [])
    for v in views:
        if v not in ("side", "front"):
            raise ExerciseError(t.file, t._key("views"), "views from side, front", v)
    return views


def _alternatives(t: _Table, source: str) -> tuple[AlternativeDef, ...]:
    items = t.get("alternative", [])
    if not isinstance(items, list):
        raise ExerciseError(t.file, t._key("alternative"), "a list of tables", items)
    if items and source != "camera":
        raise ExerciseError(t.file, t._key("alternative"), "a camera signal", "a machine one")
    out = []
    for i, item in enumerate(items):
        a = _Table(t.file, item, t._key(f"alternative[{i}]"))
        start = a.num("start", lo=-360, hi=360)
        target = a.num("target", lo=-360, hi=360)
        if start == target:
            raise ExerciseError(a.file, a._key("target"), "a value different from start", target)
        out.append(
            AlternativeDef(
                kind=a.str("kind", "angle", choices=RULE_KINDS),
                landmarks=_landmarks(a, "landmarks"),
                start=start,
                target=target,
                label=a.str("label", "angle"),
            )
        )
        a.done()
    return tuple(out)


def _rule(t: _Table) -> RuleDef:
    kind = t.str("kind", choices=RULE_KINDS)
    low = t.num("low", -math.inf)
    high = t.num("high", math.inf)
    if low > high:
        raise ExerciseError(t.file, t._key("high"), f"a value >= low ({low})", high)
    phases = t.names("phases", [])
    for p in phases:
        if p not in REP_PHASES:
            raise ExerciseError(t.file, t._key("phases"), f"phases from {REP_PHASES}", p)
    rule = RuleDef(
        key=t.str("key"),
        kind=kind,
        landmarks=_landmarks(t, "landmarks"),
        side=t.str("side", "auto", choices=SIDES),
        low=low,
        high=high,
        fault_margin=t.num("fault_margin", 0.0, lo=0.0),
        severity=t.str("severity", "fault", choices=("warning", "fault")),
        space=t.str("space", "image", choices=("image", "world")),
        axis=t.str("axis", "vertical", choices=("vertical", "horizontal")),
        hysteresis=t.num("hysteresis", 0.0, lo=0.0),
        debounce_s=t.num("debounce_s", 0.25, lo=0.0, hi=5.0),
        min_visibility=t.num("min_visibility", 0.5, lo=0.0, hi=1.0),
        cue=t.str("cue"),
        label=t.str("label", ""),
        phases=phases,
        views=_views(t),
        priority=t.int("priority", 50, lo=0, hi=100),
        why=t.str("why"),
    )
    t.done()
    _check_with_kernel(t, rule)
    return rule


def kernel_rule(rd: RuleDef, landmarks: tuple[int, ...], key: str | None = None) -> Rule:
    """The rule kernel's ``Rule`` for a definition, on resolved landmark indices."""
    from kernels.rules import FAULT, WARNING, Rule, RuleKind

    return Rule(
        key=key or rd.key,
        kind=RuleKind[rd.kind.upper()],
        landmarks=landmarks,
        low=rd.low,
        high=rd.high,
        fault_margin=rd.fault_margin,
        severity=FAULT if rd.severity == "fault" else WARNING,
        space=rd.space,
        axis=rd.axis,
        hysteresis=rd.hysteresis,
        debounce_s=rd.debounce_s,
        min_visibility=rd.min_visibility,
        label=rd.label or rd.key,
    )


def _check_with_kernel(t: _Table, rd: RuleDef) -> None:
    """Let the rule kernel's own validation (landmark count, hysteresis, space) speak now,
    at load time, rather than when a session starts."""
    try:
        kernel_rule(rd, tuple(range(len(rd.landmarks))))
    except ValueError as exc:
        raise ExerciseError(t.file, t.prefix, "a rule the kernels accept", str(exc)) from None


def parse_exercise(data: dict, file: str) -> ExerciseDef:
    top = _Table(file, data, "")
    ex_id = top.str("id")
    if not ex_id.replace("_", "").isalnum() or ex_id != ex_id.lower():
        raise ExerciseError(file, "id", "a snake_case id", ex_id)
    if Path(file).suffix == ".toml" and Path(file).stem != ex_id:
        raise ExerciseError(file, "id", f"the file name ({Path(file).stem})", ex_id)
    category = top.str("category", choices=("floor", "machine"))
    mode = top.str("mode", "reps", choices=("reps", "hold"))
    signal = _signal(top.section("signal"))
    tt = top.section("tempo")
    tempo = TempoDef(
        out_s=tt.num("out_s", _NAN, lo=0.0, hi=60.0),
        hold_s=tt.num("hold_s", _NAN, lo=0.0, hi=600.0),
        back_s=tt.num("back_s", _NAN, lo=0.0, hi=60.0),
        tolerance=tt.num("tolerance", 0.35, lo=0.0, hi=2.0),
        out_is_concentric=tt.bool("out_is_concentric", False),
    )
    tt.done()
    dt = top.section("dose")
    dose = DoseDef(
        sets=dt.int("sets", lo=1, hi=20),
        reps=dt.int("reps", lo=1, hi=100),
        rest_s=dt.num("rest_s", lo=0.0, hi=600.0),
        hold_s=dt.num("hold_s", 0.0, lo=0.0, hi=600.0),
    )
    dt.done()
    if mode == "hold" and dose.hold_s <= 0:
        raise ExerciseError(
            file, "dose.hold_s", "a positive hold time for a hold exercise", dose.hold_s
        )
    lt = top.table("load", None)
    load = None
    if lt is not None:
        load = LoadDef(
            band_low=lt.num("band_low", lo=0.0, hi=1.0),
            band_high=lt.num("band_high", lo=0.0, hi=1.0),
            limit=lt.num("limit", lo=0.0, hi=1.5),
            max_rate_n_s=lt.num("max_rate_n_s", lo=1.0, hi=10_000.0),
            default_max_force_n=lt.num("default_max_force_n", lo=1.0, hi=10_000.0),
        )
        if not load.band_low < load.band_high <= load.limit:
            raise ExerciseError(
                file, "load", "band_low < band_high <= limit",
                f"{load.band_low}, {load.band_high}, {load.limit}",
            )  # fmt: skip
        lt.done()
    if category == "machine" and (load is None or signal.source != "machine"):
        raise ExerciseError(
            file,
            "signal.source",
            "'machine' with a [load] table for a machine exercise",
            signal.source,
        )
    raw_rules = top.get("rules", [])
    if not isinstance(raw_rules, list):
        raise ExerciseError(file, "rules", "an array of tables ([[rules]])", raw_rules)
    rules = tuple(_rule(_Table(file, r, f"rules[{i}]")) for i, r in enumerate(raw_rules))
    keys = [r.key for r in rules]
    if len(set(keys)) != len(keys):
        raise ExerciseError(file, "rules", "unique rule keys", keys)
    position = top.names("position_rules", [])
    for key in position:
        if key not in keys:
            raise ExerciseError(file, "position_rules", f"keys of rules ({keys})", key)
    if mode == "hold" and not position:
        raise ExerciseError(file, "position_rules", "at least one rule for a hold exercise", [])
    fusion = None
    ft = top.table("fusion", None)
    if ft is not None:
        fusion = FusionDef(
            camera_rule=ft.str("camera_rule"),
            scale=ft.num("scale", 1.0, lo=-10.0, hi=10.0),
            offset=ft.num("offset", 0.0, lo=-360.0, hi=360.0),
            max_difference=ft.num("max_difference", 15.0, lo=0.0, hi=180.0),
        )
        ft.done()
        if fusion.camera_rule not in keys:
            raise ExerciseError(
                file, "fusion.camera_rule", f"a rule key ({keys})", fusion.camera_rule
            )
        if signal.source != "machine":
            raise ExerciseError(file, "fusion", "a machine-driven exercise", signal.source)
    for key, cue in (
        ("signal.partial_cue", signal.partial_cue),
        *((f"rules[{i}].cue", r.cue) for i, r in enumerate(rules)),
    ):
        _check_cue(file, key, cue)
    ex = ExerciseDef(
        id=ex_id,
        name=top.str("name"),
        category=category,
        view=top.str("view", choices=("side", "front", "any")),
        mode=mode,
        machine=top.str("machine", ""),
        signal=signal,
        tempo=tempo,
        dose=dose,
        load=load,
        rules=rules,
        position_rules=position,
        fusion=fusion,
        notes=top.str("notes"),
        source_file=file,
        key_points=_key_points(top.table("key_points", None)),
        validated=top.str("validated", "").strip(),
    )
    top.done()
    return ex


KEY_POINTS = (1, 3)  # how many a language gives: the screen shows them in large type
KEY_POINT_CHARS = 60


def _key_points(t: _Table | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if t is None:
        return ()
    from language import LANG_DIR

    langs = sorted(p.stem for p in LANG_DIR.glob("*.toml"))
    out = []
    for lang in sorted(t.data):
        if lang not in langs:
            raise ExerciseError(t.file, t._key(lang), f"a language of {LANG_DIR} {langs}", lang)
        points = t.names(lang)
        lo, hi = KEY_POINTS
        if not lo <= len(points) <= hi:
            raise ExerciseError(t.file, t._key(lang), f"{lo} to {hi} key points", len(points))
        for point in points:
            if not point.strip() or len(point) > KEY_POINT_CHARS:
                raise ExerciseError(
                    t.file, t._key(lang), f"a point of 1 to {KEY_POINT_CHARS} characters", point
                )
        out.append((lang, points))
    if "en" not in t.data:
        raise ExerciseError(t.file, t._key("en"), "the key points in English", "none")
    t.done()
    return tuple(out)


def _check_cue(file: str, key: str, cue: str) -> None:
    """A cue key without a text would put the bare key on the patient's screen."""
    from language import LANG_DIR, catalog

    if cue not in catalog("en"):
        raise ExerciseError(file, key, f"a cue key with a text in {LANG_DIR / 'en.toml'}", cue)


def load_exercise_file(path: str | Path) -> ExerciseDef:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ExerciseError(path, "<file>", "an existing .toml file", "no such file") from None
    except IsADirectoryError:
        raise ExerciseError(path, "<file>", "an existing .toml file", "a folder") from None
    except UnicodeDecodeError as exc:
        raise ExerciseError(
            path, "<file>", "UTF-8 text", f"undecodable byte at {exc.start}"
        ) from None
    except OSError as exc:  # unreadable, or a name longer than the system allows
        raise ExerciseError(path, "<file>", "a readable file", exc.strerror) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ExerciseError(path, "<file>", "valid TOML", str(exc)) from None
    except RecursionError:
        raise ExerciseError(path, "<file>", "valid TOML", "values nested too deeply") from None
    return parse_exercise(data, str(path))
