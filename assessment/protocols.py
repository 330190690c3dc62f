"""Assessment protocols as data: ``assessment/protocols/*.toml``, read and validated here.

A protocol is a list of tests run in order (machine range per direction, isometric strength at
fixed angles, camera trunk range, a timed sit-to-stand count, endurance holds) plus derived
results (left/right asymmetry, ratios, a total range). Every test names the norm it is compared
with (a test id of the norm file, which may be one of its documented gaps) or says why it has
none. ``python main.py --check-assessments`` validates every file, as ``--check-exercises``
does for exercises.
"""

from __future__ import annotations

import enum
import math
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from assessment.errors import ProtocolError

PROTOCOLS = Path(__file__).resolve().parent / "protocols"
_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_MISSING = object()
MACHINES = ("lumbar_extension", "lumbar_flexion", "rotation", "lateral_flexion")


class TestKind(enum.Enum):
    __test__ = False  # a name pytest would otherwise try to collect
    MACHINE_RANGE = "machine_range"  # furthest pain-free angle in one direction
    MACHINE_STRENGTH = "machine_strength"  # isometric maximal force at one locked angle
    CAMERA_RANGE = "camera_range"  # standing trunk range from the camera
    CAMERA_COUNT = "camera_count"  # reps of an exercise in a fixed time (30-s sit-to-stand)
    CAMERA_HOLD = "camera_hold"  # endurance hold, timed to the first lasting form failure

    @property
    def machine(self) -> bool:
        return self in (TestKind.MACHINE_RANGE, TestKind.MACHINE_STRENGTH)


class DerivedKind(enum.Enum):
    ASYMMETRY = "asymmetry"  # 100 x |a - b| / max(a, b), percent
    RATIO = "ratio"  # a / b
    SPAN = "span"  # a - b, e.g. flexion angle minus extension angle: the whole range


class Toward(enum.Enum):
    INCREASE = "increase"
    DECREASE = "decrease"

    @property
    def sign(self) -> float:
        return 1.0 if self is Toward.INCREASE else -1.0


class CameraMeasure(enum.Enum):
    """What a camera range test reads from the pose, in degrees from the upright start."""

    TRUNK_FLEXION = "trunk_flexion"  # forward lean of the hip-shoulder line (side view)
    TRUNK_EXTENSION = "trunk_extension"  # backward lean (side view)
    TRUNK_LATERAL_LEFT = "trunk_lateral_left"  # side bend to the patient's left (front view)
    TRUNK_LATERAL_RIGHT = "trunk_lateral_right"


@dataclass(frozen=True, slots=True)
class Timing:
    instruction_s: float
    countdown_s: float
    rest_s: float
    result_s: float
    measure_timeout_s: float


@dataclass(frozen=True, slots=True)
class EffortRules:
    """When an isometric effort counts (Graves-style testing: build up, then hold)."""

    ramp_min_s: float  # 10 % to 90 % of the effort's plateau no faster than this (no jerk)
    ramp_max_s: float
    hold_min_s: float  # at >= 90 % of the plateau at least this long
    onset_n: float  # above the resting force: an effort has started
    angle_tolerance_deg: float  # the lever must stay within this of the test angle
    force_limit_n: float  # safety: any sample above this stops the test


@dataclass(frozen=True, slots=True)
class TestDef:
    __test__ = False
    id: str
    kind: TestKind
    label: str
    unit: str
    instruction: str
    repeats: int  # trials, efforts or holds; the best is kept
    norm_test: str  # id in the norm file ("" for none); may be one of its documented gaps
    no_norm: str  # why there is no norm test at all ("" when norm_test is set)
    direction: str = ""  # machine tests: flexion, extension, left, right
    toward: Toward | None = None  # machine range
    angle_deg: float = math.nan  # machine strength
    measure: CameraMeasure | None = None  # camera range
    exercise: str = ""  # camera count / hold: the exercise definition whose rules judge it
    side: str = ""  # left / right for one-sided tests, "" otherwise
    view: str = ""  # camera: the view the test needs (side / front)
    window_s: float = math.nan  # camera count: the time window
    fail_grace_s: float = math.nan  # camera hold: a form failure this long ends the hold
    max_hold_s: float = math.nan  # camera hold: the test stops here (the hold is then "at least")


@dataclass(frozen=True, slots=True)
class DerivedDef:
    id: str
    kind: DerivedKind
    label: str
    of: tuple[str, str]
    norm_test: str
    no_norm: str
    flag_above: float  # asymmetry: flagged above this percent (a clinic setting, not a norm)
    flag_note: str


@dataclass(frozen=True, slots=True)
class Protocol:
    id: str
    name: str
    kind: str  # "machine" or "camera"
    machine: str  # machine model, "" for camera protocols
    informs: tuple[str, ...]  # exercises whose targets and dose this protocol sets
    rest_deg: float  # machine: the angle the patient rests at between tests
    strength_limits: tuple[str, str]  # machine: range directions that bound strength angles
    timing: Timing
    effort: EffortRules | None
    tests: tuple[TestDef, ...]
    derived: tuple[DerivedDef, ...]
    notes: str
    source_file: str

    def test(self, test_id: str) -> TestDef:
        for t in self.tests:
            if t.id == test_id:
                return t
        raise KeyError(test_id)


# Units each kind reports in.
_UNITS = {
    TestKind.MACHINE_RANGE: "deg",
    TestKind.MACHINE_STRENGTH: "N",
    TestKind.CAMERA_RANGE: "deg",
    TestKind.CAMERA_COUNT: "stands",
    TestKind.CAMERA_HOLD: "s",
}


def protocol_files(folder: Path = PROTOCOLS) -> list[Path]:
    return sorted(folder.glob("*.toml"))


@cache
def load_protocols(folder: Path = PROTOCOLS) -> dict[str, Protocol]:
    """Every protocol by id; ``ProtocolError`` on the first bad file."""
    return {p.id: p for p in map(load_protocol_file, protocol_files(folder))}


def get_protocol(protocol_id: str, folder: Path = PROTOCOLS) -> Protocol:
    """A protocol by id, or by path to a protocol file (``.toml``)."""
    if protocol_id.endswith(".toml"):
        return load_protocol_file(Path(protocol_id))
    found = load_protocols(folder).get(protocol_id)
    if found is None:
        known = ", ".join(sorted(load_protocols(folder)))
        shown = protocol_id if len(protocol_id) <= 60 else protocol_id[:57] + "..."
        raise ProtocolError(f"unknown assessment protocol {shown!r}; known protocols: {known}")
    return found


def load_protocol_file(path: Path) -> Protocol:
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ProtocolError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError(f"{path}: expected valid TOML ({exc})") from None
    except RecursionError:
        raise ProtocolError(f"{path}: values nested too deeply") from None
    return _Reader(path).protocol(data)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, expected: str, found: object) -> ProtocolError:
        shown = "nothing" if found is _MISSING else repr(found)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        where = key if key.isprintable() else repr(key)
        return ProtocolError(f"{self.path}: {where}: expected {expected}, found {shown}")

    def only(self, raw: dict[str, Any], where: str, allowed: set[str]) -> None:
        for key in raw:
            if key not in allowed:
                name = f"{where}.{key}" if where else key
                raise self.fail(name, f"one of {', '.join(sorted(allowed))}", "an unknown key")

    def text(self, raw: dict[str, Any], key: str, where: str, default: Any = _MISSING) -> str:
        value = raw.get(key, default)
        name = f"{where}.{key}" if where else key
        if value is _MISSING or not isinstance(value, str) or (default is _MISSING and not value):
            raise self.fail(name, "a non-empty string", value)
        return value.strip()

    def ident(self, raw: dict[str, Any], key: str, where: str) -> str:
        value = raw.get(key, _MISSING)
        if not isinstance(value, str) or not _ID.match(value):
            name = f"{where}.{key}" if where else key
            raise self.fail(name, "an id of lower-case letters, digits and _", value)
        return value

    def number(
        self, raw: dict[str, Any], key: str, where: str, lo: float, hi: float, default: Any
    ) -> float:
        value = raw.get(key, default)
        name = f"{where}.{key}" if where else key
        if value is _MISSING:
            raise self.fail(name, f"a number in {lo}..{hi}", value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(name, f"a number in {lo}..{hi}", value)
        value = float(value)
        if not (math.isfinite(value) and lo <= value <= hi):
            raise self.fail(name, f"a number in {lo}..{hi}", value)
        return value

    def count(self, raw: dict[str, Any], key: str, where: str, default: Any) -> int:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10:
            raise self.fail(f"{where}.{key}", "a whole number from 1 to 10", value)
        return value

    def choice(self, raw: dict[str, Any], key: str, where: str, kind: type[enum.Enum]) -> Any:
        value = raw.get(key, _MISSING)
        try:
            return kind(value)
        except ValueError:
            names = ", ".join(m.value for m in kind)
            raise self.fail(f"{where}.{key}", f"one of {names}", value) from None

    def table(self, raw: dict[str, Any], key: str) -> dict[str, Any]:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, "a table", value)
        return value

    # -- the file -----------------------------------------------------------------------

    def protocol(self, data: dict[str, Any]) -> Protocol:
        self.only(
            data,
            "",
            {"id", "name", "kind", "machine", "informs", "rest_deg", "strength_limits", "notes"}
            | {"timing", "effort", "tests", "derived"},
        )
        pid = self.ident(data, "id", "")
        if pid != self.path.stem:
            raise self.fail("id", f"the file name {self.path.stem!r}", pid)
        kind = data.get("kind", _MISSING)
        if kind not in ("machine", "camera"):
            raise self.fail("kind", "machine or camera", kind)
        machine = ""
        if kind == "machine":
            machine = data.get("machine", _MISSING)
            if machine not in MACHINES:
                raise self.fail("machine", f"one of {', '.join(MACHINES)}", machine)
        elif "machine" in data:
            raise self.fail("machine", "no machine in a camera protocol", data["machine"])
        informs = data.get("informs", [])
        if not isinstance(informs, list) or not all(isinstance(x, str) for x in informs):
            raise self.fail("informs", "a list of exercise ids", informs)
        self._known_exercises("informs", informs)
        timing = self.timing(self.table(data, "timing"))
        effort = None
        if kind == "machine":
            effort = self.effort(self.table(data, "effort"))
        raw_tests = data.get("tests", _MISSING)
        if not isinstance(raw_tests, list) or not raw_tests:
            raise self.fail("tests", "an array of tables ([[tests]])", raw_tests)
        tests = tuple(self.test(f"tests[{i}]", r, kind) for i, r in enumerate(raw_tests))
        ids = [t.id for t in tests]
        dup = next((i for i in ids if ids.count(i) > 1), None)
        if dup:
            raise self.fail("tests", "test ids used once each", dup)
        raw_derived = data.get("derived", [])
        if not isinstance(raw_derived, list):
            raise self.fail("derived", "an array of tables ([[derived]])", raw_derived)
        derived = tuple(self.derived(f"derived[{i}]", r, tests) for i, r in enumerate(raw_derived))
        rest_deg, limits = math.nan, ("", "")
        if kind == "machine":
            rest_deg = self.number(data, "rest_deg", "", -180.0, 180.0, _MISSING)
            raw_limits = data.get("strength_limits", _MISSING)
            directions = {t.direction for t in tests if t.kind is TestKind.MACHINE_RANGE}
            if (
                not isinstance(raw_limits, list)
                or len(raw_limits) != 2
                or not set(raw_limits) <= directions
            ):
                expected = f"two range directions of this protocol {sorted(directions)}"
                raise self.fail("strength_limits", expected, raw_limits)
            limits = (raw_limits[0], raw_limits[1])
        return Protocol(
            id=pid,
            name=self.text(data, "name", ""),
            kind=kind,
            machine=machine,
            informs=tuple(informs),
            rest_deg=rest_deg,
            strength_limits=limits,
            timing=timing,
            effort=effort,
            tests=tests,
            derived=derived,
            notes=self.text(data, "notes", "", default=""),
            source_file=str(self.path),
        )

    def timing(self, raw: dict[str, Any]) -> Timing:
        self.only(raw, "timing", set(Timing.__slots__))
        return Timing(
            instruction_s=self.number(raw, "instruction_s", "timing", 0.0, 120.0, 6.0),
            countdown_s=self.number(raw, "countdown_s", "timing", 0.0, 10.0, 3.0),
            rest_s=self.number(raw, "rest_s", "timing", 0.0, 600.0, 10.0),
            result_s=self.number(raw, "result_s", "timing", 0.0, 60.0, 4.0),
            measure_timeout_s=self.number(raw, "measure_timeout_s", "timing", 5.0, 600.0, 30.0),
        )

    def effort(self, raw: dict[str, Any]) -> EffortRules:
        self.only(raw, "effort", set(EffortRules.__slots__))
        e = EffortRules(
            ramp_min_s=self.number(raw, "ramp_min_s", "effort", 0.0, 10.0, _MISSING),
            ramp_max_s=self.number(raw, "ramp_max_s", "effort", 0.1, 20.0, _MISSING),
            hold_min_s=self.number(raw, "hold_min_s", "effort", 0.5, 30.0, _MISSING),
            onset_n=self.number(raw, "onset_n", "effort", 1.0, 500.0, _MISSING),
            angle_tolerance_deg=self.number(raw, "angle_tolerance_deg", "effort", 0.5, 20.0, 3.0),
            force_limit_n=self.number(raw, "force_limit_n", "effort", 1.0, 5000.0, _MISSING),
        )
        if e.ramp_max_s <= e.ramp_min_s:
            raise self.fail(
                "effort.ramp_max_s", f"more than ramp_min_s ({e.ramp_min_s})", e.ramp_max_s
            )
        return e

    def test(self, where: str, raw: object, protocol_kind: str) -> TestDef:
        if not isinstance(raw, dict):
            raise self.fail(where, "a table", raw)
        kind = self.choice(raw, "kind", where, TestKind)
        if kind.machine != (protocol_kind == "machine"):
            raise self.fail(f"{where}.kind", f"a {protocol_kind} test", kind.value)
        common = {"id", "kind", "label", "instruction", "repeats", "norm_test", "no_norm"}
        extra = {
            TestKind.MACHINE_RANGE: {"direction", "toward"},
            TestKind.MACHINE_STRENGTH: {"direction", "angle_deg"},
            TestKind.CAMERA_RANGE: {"measure", "view"},
            TestKind.CAMERA_COUNT: {"exercise", "view", "window_s"},
            TestKind.CAMERA_HOLD: {"exercise", "view", "side", "fail_grace_s", "max_hold_s"},
        }[kind]
        self.only(raw, where, common | extra)
        norm_test, no_norm = self.norm_fields(raw, where)
        fields: dict[str, Any] = {
            "id": self.ident(raw, "id", where),
            "kind": kind,
            "label": self.text(raw, "label", where),
            "unit": _UNITS[kind],
            "instruction": self.text(raw, "instruction", where),
            "repeats": self.count(raw, "repeats", where, 1),
            "norm_test": norm_test,
            "no_norm": no_norm,
        }
        if kind.machine:
            fields["direction"] = self.ident(raw, "direction", where)
        if kind is TestKind.MACHINE_RANGE:
            fields["toward"] = self.choice(raw, "toward", where, Toward)
        elif kind is TestKind.MACHINE_STRENGTH:
            fields["angle_deg"] = self.number(raw, "angle_deg", where, -180.0, 180.0, _MISSING)
        else:
            view = raw.get("view", _MISSING)
            if view not in ("side", "front"):
                raise self.fail(f"{where}.view", "side or front", view)
            fields["view"] = view
        if kind is TestKind.CAMERA_RANGE:
            fields["measure"] = self.choice(raw, "measure", where, CameraMeasure)
        if kind in (TestKind.CAMERA_COUNT, TestKind.CAMERA_HOLD):
            fields["exercise"] = self.ident(raw, "exercise", where)
            self._known_exercises(f"{where}.exercise", [fields["exercise"]])
        if kind is TestKind.CAMERA_COUNT:
            fields["window_s"] = self.number(raw, "window_s", where, 5.0, 300.0, _MISSING)
        if kind is TestKind.CAMERA_HOLD:
            side = raw.get("side", "")
            if side not in ("", "left", "right"):
                raise self.fail(f"{where}.side", "left, right or nothing", side)
            fields["side"] = side
            fields["fail_grace_s"] = self.number(raw, "fail_grace_s", where, 0.2, 10.0, 1.0)
            fields["max_hold_s"] = self.number(raw, "max_hold_s", where, 5.0, 900.0, 300.0)
        return TestDef(**fields)

    def norm_fields(self, raw: dict[str, Any], where: str) -> tuple[str, str]:
        has_test, has_reason = "norm_test" in raw, "no_norm" in raw
        if has_test == has_reason:
            raise self.fail(
                where, "either norm_test (a test id of the norm file) or no_norm (why none)",
                "both" if has_test else "neither",
            )  # fmt: skip
        if has_test:
            norm_test = self.ident(raw, "norm_test", where)
            self._known_norm_test(f"{where}.norm_test", norm_test)
            return norm_test, ""
        return "", self.text(raw, "no_norm", where)

    def derived(self, where: str, raw: object, tests: tuple[TestDef, ...]) -> DerivedDef:
        if not isinstance(raw, dict):
            raise self.fail(where, "a table", raw)
        self.only(
            raw, where,
            {"id", "kind", "label", "of", "norm_test", "no_norm", "flag_above", "flag_note"},
        )  # fmt: skip
        kind = self.choice(raw, "kind", where, DerivedKind)
        of = raw.get("of", _MISSING)
        ids = {t.id: t for t in tests}
        if not isinstance(of, list) or len(of) != 2 or not all(x in ids for x in of):
            raise self.fail(f"{where}.of", "two test ids of this protocol", of)
        if ids[of[0]].unit != ids[of[1]].unit:
            raise self.fail(f"{where}.of", "two tests measured in the same unit", of)
        norm_test, no_norm = self.norm_fields(raw, where)
        flag_above = math.nan
        note = ""
        if kind is DerivedKind.ASYMMETRY:
            flag_above = self.number(raw, "flag_above", where, 0.0, 100.0, _MISSING)
            note = self.text(raw, "flag_note", where)
        return DerivedDef(
            id=self.ident(raw, "id", where),
            kind=kind,
            label=self.text(raw, "label", where),
            of=(of[0], of[1]),
            norm_test=norm_test,
            no_norm=no_norm,
            flag_above=flag_above,
            flag_note=note,
        )

    def _known_norm_test(self, where: str, test: str) -> None:
        from assessment.errors import NormFileError
        from assessment.norms import load_norms

        try:
            table = _norms_cached(load_norms)
        except NormFileError as exc:
            raise ProtocolError(
                f"{self.path}: {where}: the norm file cannot be read: {exc}"
            ) from None
        if table.test_info(test) is None and not table.gaps(test):
            raise self.fail(where, "a test id of the norm file (a norm or a documented gap)", test)

    def _known_exercises(self, where: str, ids: list[str]) -> None:
        from exercises.library import definition_files

        known = {p.stem for p in definition_files()}
        for x in ids:
            if x not in known:
                raise self.fail(where, "ids of exercises in the library", x)


_NORMS: list[Any] = []


def _norms_cached(loader: Any) -> Any:
    if not _NORMS:
        _NORMS.append(loader())
    return _NORMS[0]
