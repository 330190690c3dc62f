"""Frozen records that cross the storage boundary, in and out.

Times: ``*_at`` are wall-clock UTC ISO 8601 strings; ``*_s`` are seconds on the session clock
(0 at the start of the session). A missing measurement is NaN, stored as SQL NULL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import numpy as np

NAN = math.nan


class RepLike(Protocol):
    """What ``SessionWriter.add_rep`` reads: ``session.snapshot.RepView`` satisfies it."""

    index: int
    start_s: float
    end_s: float
    min_angle_deg: float
    max_angle_deg: float
    range_fraction: float
    duration_s: float
    tempo_ok: bool
    counted: bool
    faults: tuple[str, ...]
    # form_score (0-100), when the rep has one, is read with getattr: NaN otherwise


class CueLike(Protocol):
    """What ``SessionWriter.add_cue`` reads: ``session.snapshot.Cue`` satisfies it."""

    key: str
    text: str
    severity: int
    since_s: float


@dataclass(frozen=True, slots=True)
class Patient:
    code: str  # the pseudonym; the only identifier that leaves the clinic
    display_name: str | None = None  # optional, never exported
    created_at: str = ""
    sex: str = ""  # "female", "male" or "" (not recorded): norms are by sex
    birth_year: int | None = None  # norms are by age; None: not recorded


@dataclass(frozen=True, slots=True)
class Assessment:
    """Baseline for one exercise and side: range of motion, isometric strength, pain-free range."""

    exercise_id: str
    side: str = ""  # "", "left", "right"
    assessed_at: str = ""
    rom_deg: float = NAN
    max_force_n: float = NAN
    pain_free_rom_deg: float = NAN
    test_angle_deg: float = NAN  # angle of the isometric strength test
    notes: str = ""


@dataclass(frozen=True, slots=True)
class ProgrammeItem:
    """One exercise of a patient's programme with its dose and targets."""

    exercise_id: str
    sets: int
    reps: int
    side: str = ""
    tempo_s: float = NAN  # seconds per rep
    hold_s: float = NAN
    load_band_n: tuple[float, float] = (NAN, NAN)
    range_target_deg: float = NAN
    norm_rom_deg: float = NAN  # normative range of motion the target is compared with
    pain_free_limit_deg: float = NAN
    id: int | None = None
    programme: str = ""
    start_deg: float = NAN  # where each rep starts (machine angle); NaN: the exercise's own
    rest_s: float = NAN  # rest between sets; NaN: the exercise's own
    tested_max_n: float = NAN  # the tested maximum the load band is a share of


@dataclass(frozen=True, slots=True)
class RepRecord:
    index: int
    start_s: float
    end_s: float
    min_angle_deg: float
    max_angle_deg: float
    range_fraction: float
    duration_s: float
    tempo_ok: bool
    counted: bool
    faults: tuple[str, ...] = ()
    hold_s: float = NAN
    peak_force_n: float = NAN
    form_score: float = NAN  # 0-100 against the exercise's reference movement

    @property
    def rom_deg(self) -> float:
        return self.max_angle_deg - self.min_angle_deg

    @classmethod
    def from_rep(
        cls, rep: RepLike, *, hold_s: float | None = None, peak_force_n: float | None = None
    ) -> RepRecord:
        return cls(
            index=int(rep.index),
            start_s=float(rep.start_s),
            end_s=float(rep.end_s),
            min_angle_deg=float(rep.min_angle_deg),
            max_angle_deg=float(rep.max_angle_deg),
            range_fraction=float(rep.range_fraction),
            duration_s=float(rep.duration_s),
            tempo_ok=bool(rep.tempo_ok),
            counted=bool(rep.counted),
            faults=tuple(str(f) for f in rep.faults),
            hold_s=float(getattr(rep, "hold_s", NAN) if hold_s is None else hold_s),
            peak_force_n=float(
                getattr(rep, "peak_force_n", NAN) if peak_force_n is None else peak_force_n
            ),
            form_score=float(getattr(rep, "form_score", NAN)),
        )


@dataclass(frozen=True, slots=True)
class SetRecord:
    index: int  # 1-based
    target_reps: int = 0
    load_band_n: tuple[float, float] = (NAN, NAN)
    started_s: float = NAN
    reps: tuple[RepRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class CueEvent:
    t_s: float
    key: str
    text: str
    severity: int


@dataclass(frozen=True, slots=True)
class SafetyEvent:
    t_s: float
    kind: str  # e.g. "force_limit", "angle_limit", "pain_stop", "patient_stop"
    message: str = ""
    value: float = NAN
    limit: float = NAN
    unit: str = ""


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """A downsampled signal: session-clock times (s) and values, float32, same length."""

    label: str
    unit: str
    t: np.ndarray
    values: np.ndarray


@dataclass(frozen=True, slots=True)
class PainScore:
    score: float  # 0..10 numeric rating
    moment: str = "after"  # "before", "during", "after", "assessment"
    recorded_at: str = ""
    session_id: int | None = None
    visit_id: int | None = None


class EndReason(StrEnum):
    """Why a session ended, as the live loop saw it; stored in ``sessions.end_reason``."""

    COMPLETED = "completed"  # every set of the dose was done
    END_OF_SOURCE = "end_of_source"  # the video or recording ran to its end
    STOPPED_BY_PATIENT = "stopped_by_patient"  # the patient ended it or walked away (idle)
    STOPPED_BY_THERAPIST = "stopped_by_therapist"  # ended from the therapist's side or console
    SAFETY_STOP = "safety_stop"  # a safety limit stopped it
    TIME_LIMIT = "time_limit"  # the --seconds or --max-frames limit
    CRASH = "crash"  # the program hit an error; the session is "interrupted"


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """What the live loop knows at the end that the stored reps do not say."""

    end_reason: EndReason = EndReason.COMPLETED
    notes: str = ""

    def __post_init__(self) -> None:
        # A plain string is accepted if it names a reason; anything else is refused here.
        object.__setattr__(self, "end_reason", EndReason(self.end_reason))


@dataclass(frozen=True, slots=True)
class SessionKey:
    """A session as its writer knows it; a journal names its session by this, so it is never
    replayed into a different database that happens to use the same id."""

    session_id: int
    patient_code: str
    exercise_id: str
    started_at: str


@dataclass(frozen=True, slots=True)
class WriteStatus:
    """A session writer's writes that have not reached the database yet (it was locked, full,
    read-only or unreachable), for the screen and the console."""

    waiting: int = 0  # writes not in the database yet, in order
    in_memory: int = 0  # of those, the ones not even in the journal (it could not be written)
    journal: str = ""  # the journal file holding the others
    reason: str = ""  # the last error, one line
    written_later: int = 0  # writes that waited and are now in the database

    @property
    def ok(self) -> bool:
        return self.waiting == 0


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: int
    patient_code: str
    exercise_id: str
    started_at: str
    status: str  # "active", "finished", "interrupted"
    side: str = ""
    ended_at: str | None = None
    end_reason: str = ""
    source: str = ""
    machine_serial: str = ""
    programme_item_id: int | None = None
    notes: str = ""


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One session with everything recorded in it, as read back for reports and exports."""

    info: SessionInfo
    sets: tuple[SetRecord, ...] = ()
    cues: tuple[CueEvent, ...] = ()
    safety_events: tuple[SafetyEvent, ...] = ()
    traces: tuple[TraceRecord, ...] = ()
    pain_scores: tuple[PainScore, ...] = ()

    @property
    def reps(self) -> tuple[RepRecord, ...]:
        return tuple(r for s in self.sets for r in s.reps)


@dataclass(frozen=True, slots=True)
class PatientHistory:
    patient: Patient
    assessments: tuple[Assessment, ...] = ()
    programme: tuple[ProgrammeItem, ...] = ()
    pain_scores: tuple[PainScore, ...] = ()
    sessions: tuple[SessionRecord, ...] = field(default_factory=tuple)
    # storage.clinic_records.AssessmentRun: each test against its norm (FHIR referenceRange)
    assessment_runs: tuple = ()
