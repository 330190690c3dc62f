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


@dataclass(frozen=True, slots=True)
class TherapistAccess:
    """A therapist's dashboard account: the password record (salted scrypt, never the
    password) and the lock-out counts; times are unix seconds, ``-inf`` when never."""

    name: str
    password_record: str
    failures: int = 0
    lockouts: int = 0
    locked_until: float = -math.inf
    last_failure: float = -math.inf
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class AuditRecord:
    at: str  # wall-clock UTC ISO 8601
    therapist: str  # account name; "" before anyone signed in
    action: str  # access.audit.AuditAction
    patient_code: str = ""
    detail: str = ""  # JSON
    client: str = ""  # the browser's address as the dashboard saw it
