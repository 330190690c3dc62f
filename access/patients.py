"""Patient sign-in at the kiosk: a code the therapist created and the patient's personal PIN.

Every refusal looks and takes the same: an unknown code, a patient without a PIN, a wrong PIN
and a locked-out patient all give ``SignIn.REFUSED`` after one scrypt computation, so the
keypad never tells whether a code exists. Wrong PINs lock that patient out for longer each
time (stored, so a restart or another kiosk does not reset it) and raise a therapist alert.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import Enum

from access import pins
from access.alerts import AccessAlert, AlertHandler, AlertKind
from access.errors import AccessError
from access.lockout import LockoutPolicy, LockoutState, after_failure, after_success
from storage.access_records import PatientAccess

log = logging.getLogger(__name__)


# What the kiosk keypad can type as a patient code (a therapist may use longer codes at a desk).
KIOSK_CODE_DIGITS = (4, 8)


class SignIn(Enum):
    OK = "ok"
    REFUSED = "refused"  # unknown code, no PIN, wrong PIN or locked out: one answer for all
    UNAVAILABLE = "unavailable"  # the store cannot be read; nothing about the code is known


def fmt_duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 60:.3g} min" if seconds >= 60 else f"{seconds:.0f} s"


class PatientGate:
    """Checks a code and PIN against the store (``storage.Store``)."""

    def __init__(
        self,
        store: object,
        policy: LockoutPolicy | None = None,
        clock: Callable[[], float] = time.time,
        on_alert: AlertHandler | None = None,
    ) -> None:
        self.store = store
        self.policy = policy if policy is not None else LockoutPolicy()
        self._clock = clock  # wall-clock: the lock-out is stored and outlives this program
        self._on_alert = on_alert

    def sign_in(self, code: str, pin: str) -> SignIn:
        from storage import NotFound, StorageError

        try:
            access = self.store.patient_access(code)
        except (NotFound, ValueError):  # ValueError: not even a valid code
            access = None
        except StorageError as exc:
            log.warning("patient sign-in unavailable: %s", exc)
            pins.burn(pin)
            return SignIn.UNAVAILABLE
        record = self._record(code, access)
        now = self._clock()
        if record is None:
            pins.burn(pin)
            return SignIn.REFUSED
        state = LockoutState(
            access.failures, access.lockouts, access.locked_until, access.last_failure
        )
        if state.locked_for(now, self.policy) > 0:
            pins.burn(pin)
            return SignIn.REFUSED
        ok = pins.verify(record, pin)
        new = after_success(state) if ok else after_failure(state, now, self.policy)
        if new != state:
            saved = PatientAccess(
                access.pin_record, new.failures, new.lockouts, new.locked_until, new.last_failure
            )
            try:
                self.store.save_patient_lockout(code, saved)
            except StorageError as exc:  # the answer stays the same; the keypad lock still holds
                log.warning("patient %s: lock-out count not saved: %s", code, exc)
        if not ok and new.locked_for(now, self.policy) > 0:
            self._alert(code, new.lockouts)
        return SignIn.OK if ok else SignIn.REFUSED

    def _record(self, code: str, access: object) -> pins.PinRecord | None:
        if access is None or access.pin_record is None:
            return None
        try:
            return pins.parse_record(access.pin_record, f"PIN record of patient {code}")
        except AccessError as exc:
            log.warning("%s; set a new PIN with 'main.py patient set-pin %s'", exc, code)
            return None

    def _alert(self, code: str, lockouts: int) -> None:
        if self._on_alert is None:
            return
        length = fmt_duration(self.policy.duration_s(lockouts))
        self._on_alert(
            AccessAlert(
                AlertKind.PATIENT_LOCKED,
                f"patient {code}: {self.policy.max_failures} wrong PINs in a row, kiosk sign-in "
                f"locked for {length} (lock-out {lockouts} in a row)",
                code,
            )
        )
