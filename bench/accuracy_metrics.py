"""The accuracy bench's figures: per case against its label, then per exercise and overall.

Definitions (also printed in ``docs/accuracy.md``):

- **counted reps**: on correct or unlabelled material the repetitions the patient sees
  counted; on material labelled incorrect the repetitions recognised, counted or reported
  as short of range (a faulty repetition may rightly be refused; the fault columns judge
  it). A case that could not run counts as 0 reps, 0 s held and no flag.
- **exact**: counted reps equal to the label; **count error**: their absolute difference.
- **hold error**: absolute difference between the seconds held and the label.
- **flagged**: at least one form fault or warning (position and visibility rules excluded,
  a repetition short of range included).
- **fault sensitivity**: share of cases labelled incorrect that were flagged;
  **false alarms**: share of cases labelled correct that were flagged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from bench.accuracy_cases import Case
from bench.accuracy_run import Outcome

GOALS = {"exact_rate": 0.95, "count_mae": 0.1, "sensitivity": 0.90, "false_alarms": 0.10,
         "hold_error_s": 0.5}  # fmt: skip


def counted_reps(case: Case, outcome: Outcome) -> int:
    """The repetitions that the label is compared with (see the module's definitions)."""
    if not outcome.ran:
        return 0
    if case.form == "incorrect":
        return outcome.rep_count + outcome.partial_reps
    return outcome.rep_count


def count_error(case: Case, outcome: Outcome) -> int | None:
    """Absolute count error, None when the case has no rep label."""
    if case.reps is None:
        return None
    return abs(counted_reps(case, outcome) - case.reps)


def hold_error(case: Case, outcome: Outcome) -> float | None:
    if case.hold_s is None:
        return None
    held = outcome.hold_s if outcome.ran else 0.0
    return abs(held - case.hold_s)


def flagged(outcome: Outcome) -> bool:
    return outcome.ran and bool(outcome.flags)


@dataclass(frozen=True, slots=True)
class Row:
    """One case's result against its label."""

    case: Case
    outcome: Outcome
    counted: int
    count_error: int | None
    hold_error: float | None
    flagged: bool


def score(case: Case, outcome: Outcome) -> Row:
    return Row(
        case,
        outcome,
        counted_reps(case, outcome),
        count_error(case, outcome),
        hold_error(case, outcome),
        flagged(outcome),
    )


def _rate(hits: int, n: int) -> float:
    return hits / n if n else math.nan


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


@dataclass(frozen=True, slots=True)
class Summary:
    """Figures over a set of rows; NaN where no case carries the label."""

    cases: int
    misses: int  # cases the program could not run
    count_cases: int
    exact: int
    count_mae: float
    hold_cases: int
    hold_error_s: float
    incorrect: int
    incorrect_flagged: int
    correct: int
    correct_flagged: int

    @property
    def exact_rate(self) -> float:
        return _rate(self.exact, self.count_cases)

    @property
    def sensitivity(self) -> float:
        return _rate(self.incorrect_flagged, self.incorrect)

    @property
    def false_alarms(self) -> float:
        return _rate(self.correct_flagged, self.correct)

    def as_dict(self) -> dict:
        return {
            "cases": self.cases,
            "misses": self.misses,
            "count_cases": self.count_cases,
            "exact": self.exact,
            "exact_rate": self.exact_rate,
            "count_mae": self.count_mae,
            "hold_cases": self.hold_cases,
            "hold_error_s": self.hold_error_s,
            "incorrect": self.incorrect,
            "incorrect_flagged": self.incorrect_flagged,
            "sensitivity": self.sensitivity,
            "correct": self.correct,
            "correct_flagged": self.correct_flagged,
            "false_alarms": self.false_alarms,
        }


def summarize_rows(rows: Iterable[Row]) -> Summary:
    rows = list(rows)
    counts = [r.count_error for r in rows if r.count_error is not None]
    holds = [r.hold_error for r in rows if r.hold_error is not None]
    incorrect = [r for r in rows if r.case.form == "incorrect"]
    correct = [r for r in rows if r.case.form == "correct"]
    return Summary(
        cases=len(rows),
        misses=sum(1 for r in rows if not r.outcome.ran),
        count_cases=len(counts),
        exact=sum(1 for e in counts if e == 0),
        count_mae=_mean([float(e) for e in counts]),
        hold_cases=len(holds),
        hold_error_s=_mean(holds),
        incorrect=len(incorrect),
        incorrect_flagged=sum(1 for r in incorrect if r.flagged),
        correct=len(correct),
        correct_flagged=sum(1 for r in correct if r.flagged),
    )


def by_exercise(rows: Iterable[Row]) -> dict[str, Summary]:
    groups: dict[str, list[Row]] = {}
    for r in rows:
        groups.setdefault(r.case.exercise, []).append(r)
    return {ex: summarize_rows(g) for ex, g in sorted(groups.items())}


def goals_met(s: Summary) -> dict[str, bool | None]:
    """Each goal of the issue against the figure (None: no labelled case for it)."""
    figures = {
        "exact_rate": (s.exact_rate, True),
        "count_mae": (s.count_mae, False),
        "sensitivity": (s.sensitivity, True),
        "false_alarms": (s.false_alarms, False),
        "hold_error_s": (s.hold_error_s, False),
    }
    out: dict[str, bool | None] = {}
    for key, (value, higher_is_better) in figures.items():
        if math.isnan(value):
            out[key] = None
        else:
            out[key] = value >= GOALS[key] if higher_is_better else value <= GOALS[key]
    return out
