"""Kiosk mode as a state machine, independent of the display.

States (one place, all transitions here):

    WELCOME --code + OK--> SESSION --idle--> WELCOME
    WELCOME/SESSION --exit / settings / therapist--> PIN --right PIN--> (intent) / SESSION
    PIN --cancel or idle--> previous state; 5 wrong PINs lock the pad for 60 s

The welcome state never carries patient data: the entered code is cleared whenever the kiosk
returns there. The therapist PIN is stored only as a salted scrypt hash in a 0o600 file.

Set the PIN from a terminal: ``python -m feedback.kiosk --set-pin [--path FILE]``.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import hmac
import json
import logging
import os
import secrets
import sys
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path

from feedback.intents import EndSession, EnterPatient, ExitKiosk, Intent, OpenSettings

log = logging.getLogger(__name__)

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # ~16 MB, tens of ms: slow for guessing, fine for a kiosk


def default_pin_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "spinecoach" / "therapist_pin.json"


class PinStore:
    """The therapist PIN as a salted scrypt hash in a file only the user can read."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_pin_path()

    @property
    def is_set(self) -> bool:
        return self.path.exists()

    def set_pin(self, pin: str) -> None:
        if not (pin.isdigit() and 4 <= len(pin) <= 12):
            raise ValueError(f"PIN must be 4 to 12 digits, got {len(pin)} characters")
        salt = secrets.token_bytes(16)
        digest = hashlib.scrypt(pin.encode(), salt=salt, **_SCRYPT)
        record = {"kdf": "scrypt", **_SCRYPT, "salt": salt.hex(), "hash": digest.hex()}
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(record, fh)
        os.chmod(tmp, 0o600)  # in case the file pre-existed with wider permissions
        os.replace(tmp, self.path)

    def verify(self, pin: str) -> bool:
        try:
            rec = json.loads(self.path.read_text())
            salt = bytes.fromhex(rec["salt"])
            expected = bytes.fromhex(rec["hash"])
            digest = hashlib.scrypt(pin.encode(), salt=salt, n=rec["n"], r=rec["r"], p=rec["p"])
        except (OSError, ValueError, KeyError) as exc:
            log.warning("therapist PIN file %s unreadable: %s", self.path, exc)
            return False
        return hmac.compare_digest(digest, expected)


class PinResult(Enum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"
    NOT_SET = "not set"


class PinGuard:
    """Counts wrong PINs; after ``max_failures`` the pad is locked for ``lockout_s``."""

    def __init__(
        self,
        store: PinStore,
        max_failures: int = 5,
        lockout_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self._clock = clock
        self.failures = 0
        self._locked_until = -float("inf")

    def locked_for(self) -> float:
        """Seconds left in the lock-out, 0 when the pad is usable."""
        return max(0.0, self._locked_until - self._clock())

    def check(self, pin: str) -> PinResult:
        if self.locked_for() > 0:
            return PinResult.LOCKED  # not even hashed: no timing or guessing while locked
        if not self.store.is_set:
            return PinResult.NOT_SET
        if self.store.verify(pin):
            self.failures = 0
            return PinResult.OK
        self.failures += 1
        log.warning("wrong therapist PIN (%d of %d)", self.failures, self.max_failures)
        if self.failures >= self.max_failures:
            self._locked_until = self._clock() + self.lockout_s
            self.failures = 0
            return PinResult.LOCKED
        return PinResult.WRONG


class KioskState(Enum):
    WELCOME = "welcome"
    SESSION = "session"
    PIN = "pin"


class PinPurpose(Enum):
    EXIT = "exit"
    SETTINGS = "settings"
    THERAPIST = "therapist"


# Keypad keys: digits plus these.
BACK, CLEAR, OK, CANCEL = "back", "clear", "ok", "cancel"


class Kiosk:
    """Welcome / session / PIN states, driven by keypad presses and a clock."""

    def __init__(
        self,
        guard: PinGuard | None = None,
        idle_timeout_s: float = 90.0,
        code_length: tuple[int, int] = (4, 8),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``guard`` defaults to the PIN file in the user's config folder."""
        self.guard = guard if guard is not None else PinGuard(PinStore(), clock=clock)
        self.idle_timeout_s = idle_timeout_s
        self.code_length = code_length
        self._clock = clock
        self.state = KioskState.WELCOME
        self.purpose: PinPurpose | None = None
        self.entry = ""  # digits typed on the current pad (code or PIN)
        self.message = ""
        self.therapist_unlocked = False
        self._return_to = KioskState.WELCOME
        self._last_activity = clock()

    # activity ----------------------------------------------------------------------------
    def touch(self) -> None:
        """Any input counts as activity."""
        self._last_activity = self._clock()

    def tick(self, person_present: bool) -> list[Intent]:
        """Call once a frame. A person in view counts as activity during a session."""
        now = self._clock()
        if person_present and self.state == KioskState.SESSION:
            self._last_activity = now
        if now - self._last_activity < self.idle_timeout_s:
            return []
        if self.state == KioskState.WELCOME:
            if self.entry or self.message:
                self.entry, self.message = "", ""
            return []
        had_session = self.state == KioskState.SESSION or self._return_to == KioskState.SESSION
        self._to_welcome()
        return [EndSession("idle")] if had_session else []

    def _to_welcome(self) -> None:
        self.state = KioskState.WELCOME
        self.entry = ""
        self.message = ""
        self.purpose = None
        self.therapist_unlocked = False
        self._return_to = KioskState.WELCOME
        self._last_activity = self._clock()

    # transitions -------------------------------------------------------------------------
    def request_pin(self, purpose: PinPurpose) -> None:
        self.touch()
        if self.state != KioskState.PIN:
            self._return_to = self.state
        self.state = KioskState.PIN
        self.purpose = purpose
        self.entry = ""
        self.message = ""

    def end_session(self) -> None:
        """The session finished (engine side): back to welcome, nothing of it kept."""
        self._to_welcome()

    def press(self, key: str) -> list[Intent]:
        """One keypad key: "0".."9", BACK, CLEAR, OK or CANCEL."""
        self.touch()
        if self.state == KioskState.SESSION:
            return []
        max_len = self.code_length[1] if self.state == KioskState.WELCOME else 12
        if self.state == KioskState.PIN and self.guard.locked_for() > 0:
            self.entry = ""
            if key == CANCEL:
                self._cancel_pin()
            return []
        if key.isdigit() and len(key) == 1:
            if len(self.entry) < max_len:
                self.entry += key
            self.message = ""
        elif key == BACK:
            self.entry = self.entry[:-1]
        elif key == CLEAR:
            self.entry = ""
        elif key == CANCEL:
            if self.state == KioskState.PIN:
                self._cancel_pin()
            else:
                self.entry = ""
        elif key == OK:
            return self._submit()
        return []

    def _cancel_pin(self) -> None:
        self.state = self._return_to
        self.purpose = None
        self.entry = ""
        self.message = ""

    def _submit(self) -> list[Intent]:
        if self.state == KioskState.WELCOME:
            lo, hi = self.code_length
            if not (lo <= len(self.entry) <= hi):
                self.message = f"The code has {lo} to {hi} digits"
                return []
            code, self.entry = self.entry, ""
            self.state = KioskState.SESSION
            return [EnterPatient(code)]
        pin, self.entry = self.entry, ""
        result = self.guard.check(pin)
        if result == PinResult.OK:
            purpose = self.purpose
            self.purpose = None
            self.message = ""
            if purpose == PinPurpose.EXIT:
                self.state = self._return_to
                return [ExitKiosk()]
            if purpose == PinPurpose.SETTINGS:
                self.state = self._return_to
                return [OpenSettings()]
            self.therapist_unlocked = True
            self.state = self._return_to
            return []
        if result == PinResult.LOCKED:
            self.message = "Too many wrong PINs"
        elif result == PinResult.NOT_SET:
            self.message = "No therapist PIN set on this kiosk"
        else:
            left = self.guard.max_failures - self.guard.failures
            self.message = f"Wrong PIN - {left} tries left"
        return []


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Set the kiosk's therapist PIN")
    ap.add_argument("--set-pin", action="store_true", required=True)
    ap.add_argument("--path", type=Path, default=None)
    args = ap.parse_args(argv)
    pin = getpass.getpass("New therapist PIN (4-12 digits): ")
    if pin != getpass.getpass("Repeat: "):
        print("PINs differ; nothing changed", file=sys.stderr)
        return 1
    store = PinStore(args.path)
    store.set_pin(pin)
    print(f"PIN stored in {store.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
