"""Access alerts for the therapist: every lock-out is logged to stderr, kept for the therapist
view and, with a store, saved so ``main.py patient alerts`` lists it later."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

log = logging.getLogger(__name__)


class AlertKind(Enum):
    PATIENT_LOCKED = "patient_pin_lockout"  # one patient's PIN tried wrong too often
    KEYPAD_LOCKED = "kiosk_keypad_lockout"  # too many refused sign-ins in a row at this kiosk
    THERAPIST_LOCKED = "therapist_pin_lockout"  # the therapist PIN tried wrong too often


@dataclass(frozen=True, slots=True)
class AccessAlert:
    kind: AlertKind
    message: str
    patient_code: str = ""


AlertHandler = Callable[[AccessAlert], None]


class AlertLog:
    """Collects alerts: stderr (through logging), the last few in memory, and ``save``."""

    def __init__(self, save: AlertHandler | None = None, keep: int = 20) -> None:
        self._save = save
        self.recent: deque[AccessAlert] = deque(maxlen=keep)
        self.count = 0

    def __call__(self, alert: AccessAlert) -> None:
        self.count += 1
        self.recent.append(alert)
        log.warning("access alert: %s", alert.message)
        if self._save is not None:
            try:
                self._save(alert)
            except Exception as exc:  # an alert that cannot be saved must not stop the kiosk
                log.warning("access alert not saved: %s", exc)

    def note(self) -> str:
        """One line for the therapist view."""
        if not self.count:
            return "none"
        return f"{self.count} since start, last: {self.recent[-1].message}"
