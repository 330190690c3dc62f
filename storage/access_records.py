"""Records of kiosk sign-in that cross the storage boundary (times as in ``records.py``)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PatientAccess:
    """A patient's kiosk sign-in: the PIN record (``None``: no PIN set, no kiosk sign-in) and
    the lock-out counts; lock-out times are unix seconds, ``-inf`` when never."""

    pin_record: str | None
    failures: int = 0
    lockouts: int = 0
    locked_until: float = -math.inf
    last_failure: float = -math.inf


@dataclass(frozen=True, slots=True)
class AccessAlertRecord:
    raised_at: str  # wall-clock UTC ISO 8601
    kind: str
    message: str
    patient_code: str = ""
    station: str = ""  # host name of the kiosk that raised it
