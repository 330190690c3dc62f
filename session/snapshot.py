"""Immutable per-frame view of a session: what the screens draw and the recorder stores.

Produced once per frame by the session engine; consumed by ``feedback/`` (drawing) and
``storage/``. Nothing here is mutable, so the UI thread can hold the newest snapshot while
the next frame is being computed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

import numpy as np

from kernels.reps import RepPhase


class RuleStatus(IntEnum):
    OK = 0
    WARNING = 1
    FAULT = 2
    UNKNOWN = 3  # the landmarks the rule needs are not visible


class Severity(IntEnum):
    """Cue severity, in rising priority."""

    INFO = 0
    POSITIVE = 1
    WARNING = 2
    FAULT = 3
    SAFETY = 4


class ScreenPhase(StrEnum):
    """The session's phase as the screens show it: the phase machine's, and "hold" while a
    hold exercise is being held."""

    SETUP = "setup"
    COUNTDOWN = "countdown"
    WORKING = "working"
    HOLD = "hold"
    REST = "rest"
    PAUSED = "paused"
    STOPPED = "stopped"
    DONE = "done"


class SourceState(StrEnum):
    """How a source (camera, machine, storage) is doing, as the screens show it."""

    OK = "ok"
    SIMULATED = "simulated"  # the built-in machine simulator
    REPLAY = "replay"  # a recording, not a live camera
    RECONNECTING = "reconnecting"
    LOST = "lost"
    OFF = "off"  # not used by this session
    DELAYED = "delayed"  # storage: writes wait in the journal


HEALTHY_SOURCES = frozenset(
    {SourceState.OK, SourceState.SIMULATED, SourceState.REPLAY, SourceState.OFF}
)


@dataclass(frozen=True, slots=True)
class Cue:
    key: str  # stable id, e.g. "squat.trunk_lean"; the language file maps it to ``text``
    text: str
    severity: Severity
    since_s: float = 0.0  # session time the cue was first shown


@dataclass(frozen=True, slots=True)
class RuleView:
    key: str
    label: str
    status: RuleStatus
    value: float  # measured value, NaN when unknown
    low: float  # allowed range, NaN for an open side
    high: float
    unit: str = "deg"
    landmarks: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class RepView:
    index: int  # 1-based
    start_s: float
    end_s: float
    min_angle_deg: float
    max_angle_deg: float
    range_fraction: float  # peak progress toward the range target, 0..1 (may exceed 1)
    duration_s: float
    tempo_ok: bool
    counted: bool  # False for a partial rep: reported, not counted
    faults: tuple[str, ...] = ()
    form_score: float = math.nan  # 0-100 against the exercise's reference; NaN without one


@dataclass(frozen=True, slots=True)
class SourceStatus:
    name: str  # "camera", "machine", "storage"
    state: SourceState
    rate_hz: float = math.nan
    dropped: int = 0
    errors: int = 0
    message: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", SourceState(self.state))  # an unknown state raises

    @property
    def healthy(self) -> bool:
        return self.state in HEALTHY_SOURCES


@dataclass(frozen=True, slots=True)
class Trace:
    """A signal over the last seconds: times (s, session clock) and values, same length."""

    label: str
    unit: str
    t: np.ndarray
    values: np.ndarray


@dataclass(frozen=True, slots=True)
class Snapshot:
    t: float  # session time, seconds
    exercise_id: str
    exercise_name: str
    phase: ScreenPhase
    # Camera image, RGB uint8 (h, w, 3), or None for landmark-only replays.
    frame: np.ndarray | None = None
    # Smoothed image landmarks, normalised x, y (33, 2); NaN where not visible; None: no person.
    landmarks: np.ndarray | None = None
    # One status per body.landmarks.SKELETON segment, worst rule touching that segment.
    segment_status: tuple[RuleStatus, ...] = ()
    angles: tuple[tuple[str, float], ...] = ()  # (label, degrees) of the exercise's joints
    rep_count: int = 0
    reps_target: int = 0
    set_index: int = 1  # 1-based
    sets_total: int = 1
    # Range of motion on the driving signal, as fractions of start (0) .. target (1).
    range_progress: float = math.nan
    range_target: float = 1.0
    pain_free_limit: float = math.nan  # fraction where the pain-free limit lies, NaN if none
    signal_value: float = math.nan
    signal_unit: str = "deg"
    force_n: float = math.nan
    load_band_n: tuple[float, float] = (math.nan, math.nan)
    load_limit_n: float = math.nan
    tempo_position: float = math.nan  # 0..1: where in the rep the patient should be now
    tempo_phase: RepPhase | None = None  # where in the rep the patient is; None: no reps
    hold_s: float = 0.0
    hold_target_s: float = 0.0
    rest_remaining_s: float = 0.0
    countdown_s: float = 0.0
    cue: Cue | None = None
    safety_stop: bool = False
    rules: tuple[RuleView, ...] = ()
    reps: tuple[RepView, ...] = ()
    traces: tuple[Trace, ...] = ()
    camera: SourceStatus = field(default_factory=lambda: SourceStatus("camera", SourceState.OFF))
    machine: SourceStatus | None = None
    storage: SourceStatus | None = None  # None while every write is in the database
    pose_fps: float = math.nan
    patient_code: str = ""
    # The reference figure fitted to the patient, a little ahead in the rep (33, 2) like
    # ``landmarks``; None when there is none to follow (no reference, nobody seen, no set).
    ghost: np.ndarray | None = None
    # (width, height) in pixels of the image the landmarks refer to; (0, 0) when unknown.
    # Lets a landmark-only replay keep the body's proportions without the image.
    image_size: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "phase", ScreenPhase(self.phase))  # an unknown phase raises
