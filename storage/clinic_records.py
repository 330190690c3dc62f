"""Frozen records of the clinic's method that cross the storage boundary: assessment runs with
their results against the norm, programmes with their progression setting, visits with pain
before and after, and every change of dose with who, when and why.

Times: ``*_at`` are wall-clock UTC ISO 8601 strings. A missing number is NaN (SQL NULL).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from storage.records import PainScore, ProgrammeItem

NAN = math.nan
SEXES = ("female", "male")


@dataclass(frozen=True, slots=True)
class AssessmentResultRecord:
    """One test of an assessment: the value, or why it could not be measured, and the norm."""

    test_id: str
    kind: str  # assessment.protocols.TestKind / DerivedKind value
    label: str
    unit: str
    value: float = NAN
    reason: str = ""  # why it could not be measured; "" when it was
    trials: tuple[float, ...] = ()
    rejected: tuple[str, ...] = ()
    angle_deg: float = NAN
    direction: str = ""
    side: str = ""
    at_least: bool = False
    norm_test: str = ""
    norm_mean: float = NAN
    norm_sd: float = NAN
    norm_low: float = NAN  # the normal band, NaN when the norm has none
    norm_high: float = NAN
    percent_of_norm: float = NAN
    z_score: float = NAN
    position: str = "unknown"  # below, within, above, unknown
    norm_source: str = ""
    norm_verified: bool = False
    no_norm: str = ""  # why there is no norm; "" when there is one
    flag_note: str = ""

    @property
    def measured(self) -> bool:
        return not self.reason and math.isfinite(self.value)

    @property
    def flagged(self) -> bool:
        return self.position in ("below", "above")


@dataclass(frozen=True, slots=True)
class AssessmentRun:
    protocol_id: str
    results: tuple[AssessmentResultRecord, ...] = ()
    started_at: str = ""
    finished_at: str = ""
    device: str = ""  # sim:MODEL, a port, "camera", a video file
    machine_serial: str = ""
    norm_version: str = ""
    sex: str = ""  # as used for the norm lookup
    age_years: int | None = None
    status: str = "finished"  # "finished" or "stopped" (a safety stop or the therapist)
    notes: str = ""
    id: int | None = None

    def result(self, test_id: str) -> AssessmentResultRecord | None:
        return next((r for r in self.results if r.test_id == test_id), None)


@dataclass(frozen=True, slots=True)
class Programme:
    """A patient's active programme: its items and how its dose may change."""

    id: int
    name: str
    created_at: str
    items: tuple[ProgrammeItem, ...]
    created_by: str = ""
    auto_progress: bool = False  # apply the rules' proposals after a visit without a flag
    assessment_run_id: int | None = None


class VisitOutcome(StrEnum):
    DONE = "done"  # every set of the dose
    UNFINISHED = "unfinished"  # ended before the dose was done (not by safety)
    SKIPPED = "skipped"  # the patient skipped it, with a reason
    STOPPED = "stopped"  # a safety stop ended it
    NOT_HERE = "not_here"  # needs a machine or camera this station does not have


@dataclass(frozen=True, slots=True)
class VisitItem:
    exercise_id: str
    position: int  # 1-based order in the visit
    outcome: VisitOutcome
    side: str = ""
    programme_item_id: int | None = None
    reason: str = ""
    session_id: int | None = None
    sets_done: int = 0
    sets_target: int = 0
    reps_done: int = 0  # counted reps (or holds) over all sets
    reps_target: int = 0
    fault_reps: int = 0  # reps with at least one form fault
    hold_s: float = NAN  # mean time held, hold exercises


class VisitStatus(StrEnum):
    OPEN = "open"
    FINISHED = "finished"
    ABANDONED = "abandoned"  # the patient walked away or the station stopped


@dataclass(frozen=True, slots=True)
class Visit:
    id: int
    patient_code: str
    started_at: str
    status: VisitStatus
    programme_id: int | None = None
    ended_at: str | None = None
    station: str = ""
    flagged: bool = False
    flag_reason: str = ""
    items: tuple[VisitItem, ...] = ()
    pain: tuple[PainScore, ...] = ()

    def pain_at(self, moment: str) -> float:
        found = [p.score for p in self.pain if p.moment == moment]
        return found[-1] if found else NAN


class DoseDecision(StrEnum):
    PROPOSED = "proposed"  # waiting for the therapist
    APPLIED = "applied"  # in the programme (confirmed, automatic, or the therapist's own)
    DECLINED = "declined"
    OVERRIDDEN = "overridden"  # the therapist set another dose instead
    SUPERSEDED = "superseded"  # a newer proposal for the same item replaced it


@dataclass(frozen=True, slots=True)
class Dose:
    """The numbers of one item that progression changes."""

    sets: int
    reps: int
    hold_s: float = NAN
    load_low_n: float = NAN
    load_high_n: float = NAN
    range_target_deg: float = NAN
    pain_free_limit_deg: float = NAN

    @classmethod
    def of(cls, item: ProgrammeItem) -> Dose:
        return cls(
            item.sets,
            item.reps,
            item.hold_s,
            item.load_band_n[0],
            item.load_band_n[1],
            item.range_target_deg,
            item.pain_free_limit_deg,
        )


@dataclass(frozen=True, slots=True)
class DoseChange:
    exercise_id: str
    side: str
    action: str  # progress, hold, step_back, set (the therapist's own edit)
    reason: str
    before: Dose
    after: Dose
    rule_id: str = ""
    source: str = ""  # where the rule comes from
    decision: DoseDecision = DoseDecision.PROPOSED
    decided_by: str = ""  # a therapist, or "progression rules (automatic)"
    proposed_at: str = ""
    decided_at: str | None = None
    visit_id: int | None = None
    programme_id: int | None = None  # the programme version it made, once applied
    id: int | None = None
