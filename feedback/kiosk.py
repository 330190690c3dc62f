"""Kiosk mode as a state machine, independent of the display.

States (one place, all transitions here):

    WELCOME --code + OK--> SIGN_IN --personal PIN + OK, accepted--> SESSION
    SIGN_IN --refused, Cancel or idle--> WELCOME (one message for every refusal)
    SESSION --idle, or the summary shown for summary_s after the session ended--> WELCOME
    WELCOME/SIGN_IN/SESSION --exit / settings / therapist--> PIN --right PIN--> (intent)
    PIN --cancel or idle--> previous state

Refused sign-ins in a row lock the keypad, wrong therapist PINs lock the therapist pad; each
further lock-out lasts twice as long (``access.lockout``) and raises a therapist alert.

The welcome state never carries patient data: the entered code is cleared whenever the kiosk
returns there. PINs are stored only as salted scrypt hashes (``access.pins``): the therapist's
in a 0o600 file, each patient's in the database (``main.py patient add``).

Set the therapist PIN from a terminal: ``python -m feedback.kiosk --set-pin [--path FILE]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from enum import Enum
from pathlib import Path

from access import pins
from access.alerts import AccessAlert, AlertHandler, AlertKind
from access.errors import AccessError, PinRecordError
from access.lockout import Lockout, LockoutPolicy, LockoutState
from access.patients import KIOSK_CODE_DIGITS, PatientGate, SignIn, fmt_duration
from feedback.intents import EndSession, EnterPatient, ExitKiosk, Intent, OpenSettings
from storage.paths import name_too_long, not_a_file

log = logging.getLogger(__name__)

REFUSED = "Code or PIN not recognised. Try again or ask your therapist."
UNAVAILABLE = "Sign-in is not available just now. Please ask your therapist."
NOT_SET_UP = "Sign-in is not set up on this kiosk. Please ask your therapist."
TOO_MANY = "Too many tries"
_PIN_FILE_MAX = 4096  # bytes; a PIN record is about 250


def default_pin_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "spinecoach" / "therapist_pin.json"


def _write_private(path: Path, text: str) -> None:
    """Write ``path`` atomically, owner-only; no temporary file is left behind, whatever fails."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class PinStore:
    """The therapist PIN as a salted scrypt record in a file only the user can read."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_pin_path()

    @property
    def lockout_path(self) -> Path:
        """Where the lock-out state is kept between runs (beside the PIN file)."""
        return self.path.with_name(self.path.stem + ".lockout.json")

    @property
    def is_set(self) -> bool:
        return self.path.exists()

    def replace_problem(self) -> str | None:
        """Why a new PIN cannot be written at ``path``, or None: it creates the file or
        replaces a PIN record, never a folder, a device node or any other file (a database
        given by mistake)."""
        if self.path.is_dir():
            return f"{self.path} is a folder; expected a file name for the PIN"
        problem = not_a_file(self.path)
        if problem or not self.path.exists():
            return problem
        try:
            with self.path.open("rb") as fh:
                head = fh.read(_PIN_FILE_MAX + 1)
            if len(head) > _PIN_FILE_MAX:
                raise PinRecordError("too long for a PIN record")
            pins.parse_record(head.decode("utf-8"), str(self.path))
        except (OSError, UnicodeDecodeError, PinRecordError):
            return (
                f"{self.path} exists and is not a therapist PIN file; refusing to replace it "
                "(move it aside if it is no longer needed)"
            )
        return None

    def set_pin(self, pin: str) -> None:
        """A new therapist PIN: 6 to 12 ASCII digits. Raises ``AccessError`` with one line."""
        pins.check_pin(pin, pins.THERAPIST_MIN_DIGITS, "therapist PIN")
        problem = self.replace_problem()
        if problem:
            raise AccessError(problem)
        record = pins.hash_pin(pin, pins.THERAPIST_MIN_DIGITS)
        try:
            _write_private(self.path, record)
        except OSError as exc:
            raise AccessError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def load(self) -> pins.PinRecord | None:
        """The stored record, ``None`` when no PIN is set; ``PinRecordError`` (one line) when
        the file cannot be used."""
        where = f"therapist PIN file {self.path}"
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise PinRecordError(f"{where} is a folder") from None
        except OSError as exc:
            raise PinRecordError(f"{where} cannot be read: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise PinRecordError(f"{where} is not text") from None
        record = pins.parse_record(text, where)
        if record.min_digits < pins.THERAPIST_MIN_DIGITS:
            raise PinRecordError(
                f"{where} was set under the old 4-digit rule; set a new PIN of at least "
                f"{pins.THERAPIST_MIN_DIGITS} digits with 'python -m feedback.kiosk --set-pin'"
            )
        return record

    def verify(self, pin: str) -> bool:
        """True for the right PIN; ``PinRecordError`` when the file cannot be used."""
        record = self.load()
        return record is not None and pins.verify(record, pin)

    def problem(self) -> str | None:
        """Why the therapist cannot unlock this kiosk, or ``None`` when a usable PIN is set."""
        try:
            if self.load() is None:
                return f"no therapist PIN set ({self.path})"
        except PinRecordError as exc:
            return str(exc)
        return None


class PinResult(Enum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"
    NOT_SET = "not set"
    BROKEN = "broken"  # the PIN file cannot be used: refused, never a crash


class PinGuard:
    """Counts wrong therapist PINs; lock-outs grow (``access.lockout``) and raise an alert.

    With ``persist`` the state is kept beside the PIN file, so pulling the plug does not reset
    it; the clock is then wall-clock time."""

    def __init__(
        self,
        store: PinStore,
        policy: LockoutPolicy | None = None,
        clock: Callable[[], float] = time.time,
        on_alert: AlertHandler | None = None,
        persist: bool = False,
    ) -> None:
        self.store = store
        self.persist = persist
        self._on_alert = on_alert
        self._lock = Lockout(policy, clock, self._load_state() if persist else None)

    @property
    def failures(self) -> int:
        return self._lock.state.failures

    @property
    def max_failures(self) -> int:
        return self._lock.policy.max_failures

    @property
    def lockouts(self) -> int:
        return self._lock.state.lockouts

    def locked_for(self) -> float:
        """Seconds left in the lock-out, 0 when the pad is usable."""
        return self._lock.locked_for()

    def check(self, pin: str) -> PinResult:
        if self.locked_for() > 0:
            return PinResult.LOCKED  # not even hashed: no timing or guessing while locked
        try:
            record = self.store.load()
        except PinRecordError as exc:
            log.warning("therapist PIN refused: %s", exc)
            return PinResult.BROKEN
        if record is None:
            return PinResult.NOT_SET
        if pins.verify(record, pin):
            self._lock.success()
            self._save_state()
            return PinResult.OK
        locked = self._lock.failure()
        self._save_state()
        if not locked:
            log.warning("wrong therapist PIN (%d of %d)", self.failures, self.max_failures)
            return PinResult.WRONG
        if self._on_alert is not None:
            length = fmt_duration(self._lock.policy.duration_s(self.lockouts))
            self._on_alert(
                AccessAlert(
                    AlertKind.THERAPIST_LOCKED,
                    f"therapist PIN: {self.max_failures} wrong in a row, pad locked for "
                    f"{length} (lock-out {self.lockouts} in a row)",
                )
            )
        return PinResult.LOCKED

    def _load_state(self) -> LockoutState | None:
        path = self.store.lockout_path
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            state = LockoutState(
                int(raw["failures"]),
                int(raw["lockouts"]),
                float(raw["locked_until"]),
                float(raw["last_failure"]),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("therapist lock-out state %s unreadable (%s); starting afresh", path, exc)
            return None
        return state if state.failures >= 0 and state.lockouts >= 0 else None

    def _save_state(self) -> None:
        if not self.persist:
            return
        raw = {k: (v if math.isfinite(v) else -1e300) for k, v in asdict(self._lock.state).items()}
        try:
            _write_private(self.store.lockout_path, json.dumps(raw))
        except OSError as exc:
            log.warning("therapist lock-out state not saved (%s); kept in memory", exc)


class KioskState(Enum):
    WELCOME = "welcome"
    SIGN_IN = "sign_in"  # the patient's personal PIN, after the code
    SESSION = "session"
    PIN = "pin"  # the therapist PIN


class PinPurpose(Enum):
    EXIT = "exit"
    SETTINGS = "settings"
    THERAPIST = "therapist"


# Keypad keys: digits plus these.
BACK, CLEAR, OK, CANCEL = "back", "clear", "ok", "cancel"


class Kiosk:
    """Welcome / sign-in / session / PIN states, driven by keypad presses and a clock."""

    def __init__(
        self,
        guard: PinGuard | None = None,
        patients: PatientGate | None = None,
        idle_timeout_s: float = 90.0,
        summary_s: float = 20.0,
        code_length: tuple[int, int] = KIOSK_CODE_DIGITS,
        clock: Callable[[], float] = time.monotonic,
        keypad_policy: LockoutPolicy | None = None,
        on_alert: AlertHandler | None = None,
    ) -> None:
        """``guard`` defaults to the PIN file in the user's config folder (lock-out kept
        beside it); without ``patients`` every sign-in is refused."""
        if guard is None:
            guard = PinGuard(PinStore(), on_alert=on_alert, persist=True)
        self.guard = guard
        self.patients = patients
        self.idle_timeout_s = idle_timeout_s
        self.summary_s = summary_s
        self.code_length = code_length
        self._clock = clock
        self._on_alert = on_alert
        self.keypad = Lockout(keypad_policy, clock)  # refused sign-ins in a row at this kiosk
        self.state = KioskState.WELCOME
        self.purpose: PinPurpose | None = None
        self.entry = ""  # digits typed on the current pad (code or PIN)
        self.message = ""
        self.therapist_unlocked = False
        self._code = ""  # the code typed before the personal PIN; only while SIGN_IN
        self._session_over_at: float | None = None
        self._return_to = KioskState.WELCOME
        self._last_activity = clock()

    # activity ----------------------------------------------------------------------------
    def touch(self) -> None:
        """Any input counts as activity."""
        self._last_activity = self._clock()

    @property
    def session_over(self) -> bool:
        return self._session_over_at is not None

    def end_of_session(self) -> None:
        """The session ended (the engine is done): its summary shows for ``summary_s``."""
        if self._session_over_at is None and self._in_session():
            self._session_over_at = self._clock()

    def _in_session(self) -> bool:
        return self.state == KioskState.SESSION or self._return_to == KioskState.SESSION

    def tick(self, person_present: bool) -> list[Intent]:
        """Call once a frame. A person in view counts as activity while a session runs."""
        now = self._clock()
        over = self._session_over_at
        if over is None and person_present and self.state == KioskState.SESSION:
            self._last_activity = now
        if (
            over is not None
            and self.state == KioskState.SESSION
            and not self.therapist_unlocked
            and now - over >= self.summary_s
        ):
            self._to_welcome()
            return [EndSession("done")]
        if now - self._last_activity < self.idle_timeout_s:
            return []
        if self.state == KioskState.WELCOME:
            if self.entry or self.message:
                self.entry, self.message = "", ""
            return []
        had_session = self._in_session()
        self._to_welcome()
        return [EndSession("idle")] if had_session else []

    def _to_welcome(self) -> None:
        self.state = KioskState.WELCOME
        self.entry = ""
        self.message = ""
        self.purpose = None
        self.therapist_unlocked = False
        self._code = ""
        self._session_over_at = None
        self._return_to = KioskState.WELCOME
        self._last_activity = self._clock()

    def locked_for(self) -> float:
        """Seconds the pad on screen stays locked, 0 when it can be used."""
        if self.state == KioskState.PIN:
            return self.guard.locked_for()
        if self.state in (KioskState.WELCOME, KioskState.SIGN_IN):
            return self.keypad.locked_for()
        return 0.0

    # transitions -------------------------------------------------------------------------
    def request_pin(self, purpose: PinPurpose) -> None:
        self.touch()
        if self.state == KioskState.SIGN_IN:
            self.state, self._code = KioskState.WELCOME, ""  # the half sign-in is dropped
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
        if self.locked_for() > 0:
            self.entry = ""
            if key == CANCEL:
                self._cancel()
            return []
        max_len = self.code_length[1] if self.state == KioskState.WELCOME else pins.MAX_DIGITS
        if key in "0123456789" and len(key) == 1:
            if len(self.entry) < max_len:
                self.entry += key
            self.message = ""
        elif key == BACK:
            self.entry = self.entry[:-1]
        elif key == CLEAR:
            self.entry = ""
        elif key == CANCEL:
            self._cancel()
        elif key == OK:
            return self._submit()
        return []

    def _cancel(self) -> None:
        if self.state == KioskState.PIN:
            self.state = self._return_to
        elif self.state == KioskState.SIGN_IN:
            self.state, self._code = KioskState.WELCOME, ""
        self.purpose = None
        self.entry = ""
        self.message = ""

    def _submit(self) -> list[Intent]:
        if self.state == KioskState.WELCOME:
            lo, hi = self.code_length
            if not (lo <= len(self.entry) <= hi):
                self.message = f"The code has {lo} to {hi} digits"
                return []
            self._code, self.entry = self.entry, ""
            self.state = KioskState.SIGN_IN
            self.message = ""
            return []
        if self.state == KioskState.SIGN_IN:
            return self._sign_in()
        return self._therapist_pin()

    def _sign_in(self) -> list[Intent]:
        code, pin = self._code, self.entry
        self._code, self.entry = "", ""
        self.state = KioskState.WELCOME
        result = SignIn.UNAVAILABLE if self.patients is None else self.patients.sign_in(code, pin)
        if result == SignIn.OK:
            self.keypad.success(forget_level=False)
            self.state = KioskState.SESSION
            self._session_over_at = None
            self.message = ""
            return [EnterPatient(code)]
        if result == SignIn.UNAVAILABLE:
            self.message = UNAVAILABLE if self.patients is not None else NOT_SET_UP
            return []
        self.message = REFUSED
        if self.keypad.failure():
            self.message = TOO_MANY
            if self._on_alert is not None:
                k = self.keypad
                self._on_alert(
                    AccessAlert(
                        AlertKind.KEYPAD_LOCKED,
                        f"kiosk keypad: {k.policy.max_failures} refused sign-ins in a row, "
                        f"locked for {fmt_duration(k.policy.duration_s(k.state.lockouts))} "
                        f"(lock-out {k.state.lockouts} in a row)",
                    )
                )
        return []

    def _therapist_pin(self) -> list[Intent]:
        pin, self.entry = self.entry, ""
        result = self.guard.check(pin)
        if result == PinResult.OK:
            self.keypad.success()  # a therapist at the kiosk lifts the keypad's lock-out
            purpose = self.purpose
            self.purpose = None
            self.message = ""
            self.state = self._return_to
            if purpose == PinPurpose.EXIT:
                return [ExitKiosk()]
            if purpose == PinPurpose.SETTINGS:
                return [OpenSettings()]
            self.therapist_unlocked = True
            return []
        if result == PinResult.LOCKED:
            self.message = "Too many wrong PINs"
        elif result == PinResult.NOT_SET:
            self.message = "No therapist PIN set on this kiosk"
        elif result == PinResult.BROKEN:
            self.message = "No valid therapist PIN on this kiosk"
        else:
            left = self.guard.max_failures - self.guard.failures
            self.message = f"Wrong PIN - {left} tries left"
        return []


def _file_name(text: str) -> Path:
    """A name the system can look up; one longer than it allows is refused by argparse."""
    problem = name_too_long(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return Path(text)


def main(argv: list[str] | None = None) -> int:
    """``python -m feedback.kiosk --set-pin [--path FILE] [--pin-file FILE | --pin-stdin]``."""
    from access.cli import read_pin

    prog = "python -m feedback.kiosk"

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # one line, not argparse's usage block
            raise AccessError(message)

    ap = _Parser(prog=prog, description="Set the kiosk's therapist PIN")
    ap.add_argument("--set-pin", action="store_true", required=True)
    ap.add_argument("--path", type=_file_name, help="PIN file (default: user config)")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--pin-file", type=_file_name, metavar="FILE", help="PIN on its first line")
    src.add_argument("--pin-stdin", action="store_true", help="PIN on standard input")
    try:
        args = ap.parse_args(argv)
        store = PinStore(args.path)
        problem = store.replace_problem()
        if problem:  # before asking for the PIN, not after
            raise AccessError(f"--path: {problem}")
        store.set_pin(read_pin(args, pins.THERAPIST_MIN_DIGITS, "therapist PIN"))
    except AccessError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, EOFError):
        print(f"{prog}: error: cancelled; nothing changed", file=sys.stderr)
        return 2
    print(f"PIN stored in {store.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
