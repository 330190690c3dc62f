"""The progression rules file (``clinic/rules/progression_v1.toml``): read and validated once.

Every rule must carry its reason and source; the pain flag, the start dose and the step sizes
each carry theirs. ``RulesFileError`` names the file and the key of anything wrong.
"""

from __future__ import annotations

import enum
import math
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from clinic.errors import RulesFileError

RULES_FILE = Path(__file__).resolve().parent / "rules" / "progression_v1.toml"
SCHEMA = 1
_MISSING = object()


class Condition(enum.Enum):
    PAIN_HIGH = "pain_high"  # pain >= high_score before or after
    PAIN_RISE = "pain_rise"  # after - before >= rise_points
    SAFETY_STOP = "safety_stop"
    NOT_DONE = "not_done"  # skipped, or not at this station
    UNFINISHED = "unfinished"  # fewer sets or reps than the dose
    FAULTS = "faults"  # share of reps with a form fault >= fault_share
    GOOD = "good"  # always true: the last rule


class Action(enum.Enum):
    PROGRESS = "progress"
    HOLD = "hold"
    STEP_BACK = "step_back"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    when: Condition
    action: Action
    reason: str
    source: str
    fault_share: float = math.nan


@dataclass(frozen=True, slots=True)
class PainRule:
    rise_points: float
    high_score: float
    reason: str
    source: str


@dataclass(frozen=True, slots=True)
class StartDose:
    load_low_share: float
    load_high_share: float
    load_reason: str
    load_source: str
    range_share: float
    range_reason: str
    range_source: str
    hold_share_of_measured: float
    hold_reason: str
    hold_source: str


@dataclass(frozen=True, slots=True)
class Steps:
    load_step_share: float
    load_max_share: float
    load_min_share: float
    range_step_share: float
    range_max_share: float
    range_min_share: float
    hold_step_s: float
    hold_max_s: float
    hold_min_s: float
    reps_step: int
    reps_max_extra: int
    reason: str
    source: str


@dataclass(frozen=True, slots=True)
class RuleBook:
    version: str
    path: str
    pain: PainRule
    start: StartDose
    steps: Steps
    rules: tuple[Rule, ...]


@cache
def load_rules(path: Path = RULES_FILE) -> RuleBook:
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise RulesFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise RulesFileError(f"{path}: expected valid TOML ({exc})") from None
    except RecursionError:
        raise RulesFileError(f"{path}: values nested too deeply") from None
    return _Reader(path).book(data)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, expected: str, found: object) -> RulesFileError:
        shown = "nothing" if found is _MISSING else repr(found)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        return RulesFileError(f"{self.path}: {key}: expected {expected}, found {shown}")

    def table(self, data: dict[str, Any], key: str, fields: tuple[str, ...]) -> dict[str, Any]:
        raw = data.get(key, _MISSING)
        if not isinstance(raw, dict):
            raise self.fail(key, "a table", raw)
        unknown = sorted(set(raw) - set(fields))
        if unknown:
            raise self.fail(f"{key}.{unknown[0]}", f"one of {', '.join(fields)}", "an unknown key")
        return raw

    def text(self, raw: dict[str, Any], key: str, where: str) -> str:
        value = raw.get(key, _MISSING)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}.{key}", "a non-empty string", value)
        return value.strip()

    def number(self, raw: dict[str, Any], key: str, where: str, lo: float, hi: float) -> float:
        value = raw.get(key, _MISSING)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or not lo <= value <= hi:
            raise self.fail(f"{where}.{key}", f"a number in {lo}..{hi}", value)
        return float(value)

    def whole(self, raw: dict[str, Any], key: str, where: str, lo: int, hi: int) -> int:
        value = raw.get(key, _MISSING)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.fail(f"{where}.{key}", f"a whole number in {lo}..{hi}", value)
        return value

    def book(self, data: dict[str, Any]) -> RuleBook:
        allowed = {"schema", "version", "pain", "start", "steps", "rules"}
        for key in data:
            if key not in allowed:
                raise self.fail(key, f"one of {', '.join(sorted(allowed))}", "an unknown key")
        if data.get("schema") != SCHEMA or isinstance(data.get("schema"), bool):
            raise self.fail("schema", str(SCHEMA), data.get("schema", _MISSING))
        version = data.get("version", _MISSING)
        if not isinstance(version, str) or not version:
            raise self.fail("version", "a version string", version)
        p = self.table(data, "pain", tuple(PainRule.__slots__))
        pain = PainRule(
            self.number(p, "rise_points", "pain", 1.0, 10.0),
            self.number(p, "high_score", "pain", 1.0, 10.0),
            self.text(p, "reason", "pain"),
            self.text(p, "source", "pain"),
        )
        s = self.table(data, "start", tuple(StartDose.__slots__))
        start = StartDose(
            load_low_share=self.number(s, "load_low_share", "start", 0.05, 0.6),
            load_high_share=self.number(s, "load_high_share", "start", 0.05, 0.6),
            load_reason=self.text(s, "load_reason", "start"),
            load_source=self.text(s, "load_source", "start"),
            range_share=self.number(s, "range_share", "start", 0.1, 1.0),
            range_reason=self.text(s, "range_reason", "start"),
            range_source=self.text(s, "range_source", "start"),
            hold_share_of_measured=self.number(s, "hold_share_of_measured", "start", 0.1, 1.0),
            hold_reason=self.text(s, "hold_reason", "start"),
            hold_source=self.text(s, "hold_source", "start"),
        )
        if start.load_high_share <= start.load_low_share:
            raise self.fail(
                "start.load_high_share", "more than load_low_share", start.load_high_share
            )
        t = self.table(data, "steps", tuple(Steps.__slots__))
        steps = Steps(
            load_step_share=self.number(t, "load_step_share", "steps", 0.0, 0.2),
            load_max_share=self.number(t, "load_max_share", "steps", 0.05, 0.7),
            load_min_share=self.number(t, "load_min_share", "steps", 0.0, 0.5),
            range_step_share=self.number(t, "range_step_share", "steps", 0.0, 0.5),
            range_max_share=self.number(t, "range_max_share", "steps", 0.1, 0.99),
            range_min_share=self.number(t, "range_min_share", "steps", 0.0, 1.0),
            hold_step_s=self.number(t, "hold_step_s", "steps", 0.0, 60.0),
            hold_max_s=self.number(t, "hold_max_s", "steps", 1.0, 600.0),
            hold_min_s=self.number(t, "hold_min_s", "steps", 0.0, 600.0),
            reps_step=self.whole(t, "reps_step", "steps", 0, 10),
            reps_max_extra=self.whole(t, "reps_max_extra", "steps", 0, 50),
            reason=self.text(t, "reason", "steps"),
            source=self.text(t, "source", "steps"),
        )
        # The start must lie inside the bounds progression keeps to.
        if (
            not steps.load_min_share
            <= start.load_low_share
            < start.load_high_share
            <= steps.load_max_share
        ):
            raise self.fail("start", "a load band inside steps.load_min_share..load_max_share",
                            (start.load_low_share, start.load_high_share))  # fmt: skip
        if not steps.range_min_share <= start.range_share <= steps.range_max_share:
            raise self.fail(
                "start.range_share", "a share inside steps.range_min..max", start.range_share
            )
        raw_rules = data.get("rules", _MISSING)
        if not isinstance(raw_rules, list) or not raw_rules:
            raise self.fail("rules", "an array of tables ([[rules]])", raw_rules)
        rules = tuple(self.rule(f"rules[{i}]", r) for i, r in enumerate(raw_rules))
        if rules[-1].when is not Condition.GOOD:
            raise self.fail(
                "rules",
                'a last rule with when = "good" (every item gets one)',
                rules[-1].when.value,
            )
        ids = [r.id for r in rules]
        if len(set(ids)) != len(ids):
            raise self.fail("rules", "rule ids used once each", ids)
        return RuleBook(version, str(self.path), pain, start, steps, rules)

    def rule(self, where: str, raw: object) -> Rule:
        if not isinstance(raw, dict):
            raise self.fail(where, "a table", raw)
        fields = ("id", "when", "action", "reason", "source", "fault_share")
        unknown = sorted(set(raw) - set(fields))
        if unknown:
            raise self.fail(
                f"{where}.{unknown[0]}", f"one of {', '.join(fields)}", "an unknown key"
            )
        rid = raw.get("id", _MISSING)
        if not isinstance(rid, str) or not rid.replace("_", "").isalnum():
            raise self.fail(f"{where}.id", "an id of letters, digits and _", rid)
        try:
            when = Condition(raw.get("when"))
            action = Action(raw.get("action"))
        except ValueError:
            names = f"when in {[c.value for c in Condition]}, action in {[a.value for a in Action]}"
            raise self.fail(where, names, (raw.get("when"), raw.get("action"))) from None
        share = math.nan
        if when is Condition.FAULTS:
            share = self.number(raw, "fault_share", where, 0.01, 1.0)
        elif "fault_share" in raw:
            raise self.fail(
                f"{where}.fault_share", 'no fault_share unless when = "faults"', raw["fault_share"]
            )
        return Rule(
            rid,
            when,
            action,
            self.text(raw, "reason", where),
            self.text(raw, "source", where),
            share,
        )
