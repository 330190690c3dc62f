"""What goes into a session and what comes out of it, as typed events.

Inputs reach the engine through one entry, :meth:`session.engine.SessionEngine.feed`: a pose,
a batch of machine samples, a safety report from outside the engine, a command, a target
change, the end. Outputs leave it in order as :data:`SessionEvent` values that the recorder,
the storage sink, the progress printer, the audio and the screens consume
(:meth:`~session.engine.SessionEngine.take_events`). A recording stores the inputs, so feeding
them again to a fresh engine gives the same outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from body.pose import Pose
from kernels.loading import LoadRep
from kernels.reps import RepRecord
from session.phases import Phase, Trigger
from session.snapshot import RepView, Severity


class Command(StrEnum):
    """What the patient's and the therapist's screens may ask of a session."""

    PAUSE = "pause"
    RESUME = "resume"
    ACKNOWLEDGE = "acknowledge"  # a safety stop, by the therapist
    FINISH = "finish"


class TargetKey(StrEnum):
    """The targets a therapist may change live (the therapist view's controls)."""

    RANGE_TARGET = "range_target"
    PAIN_FREE_LIMIT = "pain_free_limit"
    REPS_TARGET = "reps_target"
    HOLD_TARGET_S = "hold_target_s"
    LOAD_BAND_LOW_N = "load_band_low_n"
    LOAD_BAND_HIGH_N = "load_band_high_n"


class SafetyKind(StrEnum):
    """Why a session was stopped for safety; the STOP cue is ``safety.<kind>``."""

    PAIN_FREE_RANGE = "pain_free_range"  # the driving signal went past the pain-free limit
    OVERLOAD = "overload"  # force not finite, above the load limit or below the sensor's range
    RANGE = "range"  # the machine's angle outside its range, or not finite
    MACHINE_LOST = "machine_lost"  # no machine samples: the load cannot be checked
    OTHER = "other"  # a kind this version does not know (a newer recording's): still a stop

    @classmethod
    def named(cls, name: str) -> SafetyKind:
        """The kind called ``name``; an unknown name is still a stop, as OTHER."""
        try:
            return cls(name)
        except ValueError:
            return cls.OTHER

    @property
    def cue(self) -> str:
        return f"safety.{self.value}"


class FaultLevel(StrEnum):
    WARNING = "warning"
    FAULT = "fault"


# -- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoseInput:
    """One estimated pose at session time ``t`` (s); ``pose.detected`` False: nobody seen."""

    t: float
    pose: Pose


@dataclass(frozen=True, slots=True)
class MachineBatch:
    """The machine samples that arrived since the last display frame, on the session clock:
    times (s), angles (deg), forces (N), float64 (k,) with k >= 1; ``t`` the last time."""

    ts: np.ndarray
    angles: np.ndarray
    forces: np.ndarray

    @property
    def t(self) -> float:
        return float(self.ts[-1])


@dataclass(frozen=True, slots=True)
class SafetyReport:
    """A breach seen outside the engine: the machine bridge's own limit check, a lost link."""

    t: float
    kind: SafetyKind
    value: float
    limit: float


@dataclass(frozen=True, slots=True)
class CommandInput:
    t: float
    command: Command


@dataclass(frozen=True, slots=True)
class TargetChange:
    """A therapist's live change of one target by ``delta`` (its own unit or share)."""

    t: float
    key: TargetKey
    delta: float


@dataclass(frozen=True, slots=True)
class EndInput:
    """The session is over (the source ended, the screen was closed, a limit was reached)."""

    t: float


SessionInput = PoseInput | MachineBatch | SafetyReport | CommandInput | TargetChange | EndInput


# -- outputs ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PhaseChanged:
    t: float
    source: Phase
    target: Phase
    trigger: Trigger
    reason: str


@dataclass(frozen=True, slots=True)
class RepDone:
    """A finished rep, counted or partial, with the counter's record and, for machine work,
    its loading figures."""

    t: float
    rep: RepView
    record: RepRecord
    load: LoadRep | None
    set_index: int


@dataclass(frozen=True, slots=True)
class HoldDone:
    """A hold that ended: completed (the target time was held) or cut short by the end."""

    t: float
    start_s: float
    end_s: float
    hold_s: float  # time held in position with correct posture
    completed: bool
    set_index: int
    form_score: float = math.nan  # 0-100 against the exercise's reference; NaN without one


@dataclass(frozen=True, slots=True)
class CueShown:
    t: float
    key: str
    text: str
    severity: Severity


@dataclass(frozen=True, slots=True)
class FaultRaised:
    """A posture rule turned to warning or fault while it counted."""

    t: float
    rule: str
    level: FaultLevel


@dataclass(frozen=True, slots=True)
class SafetyStop:
    t: float
    kind: SafetyKind
    value: float
    limit: float


@dataclass(frozen=True, slots=True)
class SetStarted:
    t: float
    set_index: int
    reps_target: int
    load_band_n: tuple[float, float]


@dataclass(frozen=True, slots=True)
class TargetChanged:
    """A live target change the engine took (one it refused leaves no event)."""

    t: float
    key: TargetKey
    delta: float


SessionEvent = (
    PhaseChanged
    | RepDone
    | HoldDone
    | CueShown
    | FaultRaised
    | SafetyStop
    | SetStarted
    | TargetChanged
)
