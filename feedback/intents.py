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


Intent = Pause | Resume | Quit | AdjustTarget | EnterPatient | EndSession | ExitKiosk | OpenSettings
