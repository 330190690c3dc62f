"""What the screens ask the session engine to do. Plain frozen values, no pygame types."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Pause:
    pass


@dataclass(frozen=True, slots=True)
class Resume:
    pass


@dataclass(frozen=True, slots=True)
class Quit:
    pass


@dataclass(frozen=True, slots=True)
class AdjustTarget:
    """Change a personal target by ``delta`` in the target's own unit (see TARGET_CONTROLS)."""

    key: str
    delta: float


@dataclass(frozen=True, slots=True)
class EnterPatient:
    code: str


@dataclass(frozen=True, slots=True)
class EndSession:
    reason: str  # "idle", "therapist"


@dataclass(frozen=True, slots=True)
class ExitKiosk:
    pass


@dataclass(frozen=True, slots=True)
class OpenSettings:
    pass


# The kiosk visit (clinic.visit): pain before and after, the programme item by item.
@dataclass(frozen=True, slots=True)
class GivePain:
    score: int  # 0..10, confirmed on the touch scale


@dataclass(frozen=True, slots=True)
class StartItem:
    pass


@dataclass(frozen=True, slots=True)
class AskSkip:
    pass


@dataclass(frozen=True, slots=True)
class SkipItem:
    reason: str


@dataclass(frozen=True, slots=True)
class CancelSkip:
    pass


@dataclass(frozen=True, slots=True)
class NextStep:
    """The rest between items, the summary or the no-programme notice, ended by a tap."""


# The therapist's programme view at the kiosk (behind the PIN).
@dataclass(frozen=True, slots=True)
class SaveDose:
    """The dose of one item as edited in the programme view: (field, new value) pairs."""

    exercise_id: str
    side: str
    changes: tuple[tuple[str, object], ...]


@dataclass(frozen=True, slots=True)
class ConfirmProposals:
    pass


@dataclass(frozen=True, slots=True)
class DeclineProposals:
    pass


@dataclass(frozen=True, slots=True)
class StartAssessment:
    """Run this assessment protocol for the signed-in patient at this station."""

    protocol_id: str


@dataclass(frozen=True, slots=True)
class AssessmentAction:
    """A button of the assessment screen: start, repeat, skip, acknowledge, end, close."""

    action: str


VisitIntent = GivePain | StartItem | AskSkip | SkipItem | CancelSkip | NextStep
ProgrammeIntent = (
    SaveDose | ConfirmProposals | DeclineProposals | StartAssessment | AssessmentAction
)
Intent = (
    Pause
    | Resume
    | Quit
    | AdjustTarget
    | EnterPatient
    | EndSession
    | ExitKiosk
    | OpenSettings
    | VisitIntent
    | ProgrammeIntent
)
