"""Therapist accounts for the dashboard: password rules, salted scrypt records (the same
record format as PINs, ``access.pins``), and sign-in with lock-outs that grow.

Every refusal looks and takes the same: an unknown name, a disabled account, a wrong password
and a locked account all give ``Refused`` after one scrypt computation, so the login page
never tells whether a name exists; only the audit log and the account itself know why.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum

from access import pins
from access.console import ask_twice
from access.errors import AccessError
from access.lockout import LockoutPolicy, LockoutState, after_failure, after_success

log = logging.getLogger(__name__)

MIN_PASSWORD = 10
MAX_PASSWORD = 256


class BadPassword(AccessError, ValueError):
    """A new password that cannot be taken (too short, too long, blank)."""


def check_password(password: object) -> str:
    if not isinstance(password, str):
        raise BadPassword("password: expected text")
    if len(password) < MIN_PASSWORD:
        raise BadPassword(f"password: expected at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise BadPassword(f"password: expected at most {MAX_PASSWORD} characters")
    if not password.strip() or any(ord(ch) < 32 for ch in password):
        raise BadPassword("password: expected visible characters (no control characters)")
    return password


def hash_password(password: str) -> str:
    """The record to store for a new password (checked against the rules first)."""
    check_password(password)
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=pins.SCRYPT_N, r=pins.SCRYPT_R, p=pins.SCRYPT_P
    )
    record = {"kdf": "scrypt", "n": pins.SCRYPT_N, "r": pins.SCRYPT_R, "p": pins.SCRYPT_P,
              "salt": salt.hex(), "hash": digest.hex(), "min_digits": 0}  # fmt: skip
    return json.dumps(record)


class Outcome(Enum):
    OK = "ok"
    REFUSED = "refused"  # one answer for every refusal
    UNAVAILABLE = "unavailable"  # the store cannot be read


@dataclass(frozen=True, slots=True)
class SignInResult:
    outcome: Outcome
    name: str
    locked_out_now: bool = False  # this refusal started a lock-out (for the audit log)
    reason: str = ""  # why, for the audit log only: never shown on the login page


class TherapistGate:
    """Checks a name and password against the store (``storage.Store``)."""

    def __init__(
        self,
        store: object,
        policy: LockoutPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.policy = policy if policy is not None else LockoutPolicy()
        self._clock = clock  # wall-clock: the lock-out is stored and outlives this program

    def sign_in(self, name: str, password: str) -> SignInResult:
        from storage import NotFound, StorageError

        try:
            access = self.store.therapist_access(name)
        except (NotFound, ValueError):
            pins.burn(password)
            return SignInResult(Outcome.REFUSED, name, reason="unknown account")
        except StorageError as exc:
            log.warning("therapist sign-in unavailable: %s", exc)
            pins.burn(password)
            return SignInResult(Outcome.UNAVAILABLE, name, reason=str(exc))
        now = self._clock()
        if access.disabled:
            pins.burn(password)
            return SignInResult(Outcome.REFUSED, name, reason="account disabled")
        if _state(access).locked_for(now, self.policy) > 0:
            pins.burn(password)
            return SignInResult(Outcome.REFUSED, name, reason="locked out")
        try:
            record = pins.parse_record(access.password_record, f"therapist {name}")
            ok = pins.verify(record, password)
        except AccessError as exc:
            log.error("%s", exc)
            return SignInResult(Outcome.REFUSED, name, reason="unreadable password record")
        started: list[bool] = []

        def change(current):
            # Counted on the row as it is now, locked: another attempt may have counted too.
            state = _state(current)
            if state.locked_for(now, self.policy) > 0:
                started.append(False)
                return current
            new = after_success(state) if ok else after_failure(state, now, self.policy)
            started.append(not ok and new.lockouts > state.lockouts)
            return replace(
                current,
                failures=new.failures,
                lockouts=new.lockouts,
                locked_until=new.locked_until,
                last_failure=new.last_failure,
            )

        try:
            self.store.update_therapist_lockout(name, change)
        except StorageError as exc:
            log.warning("therapist sign-in unavailable: %s", exc)
            return SignInResult(Outcome.UNAVAILABLE, name, reason=str(exc))
        if ok:
            return SignInResult(Outcome.OK, name)
        locked = bool(started and started[0])
        return SignInResult(Outcome.REFUSED, name, locked, "wrong password")


def _state(access) -> LockoutState:
    return LockoutState(access.failures, access.lockouts, access.locked_until, access.last_failure)


def read_password(source) -> str:
    """The new password from ``source`` (one line; ``None``: asked twice at the terminal, no
    echo). ``BadPassword`` says what is wrong, never the password."""
    if source is None:
        return ask_twice(f"New password ({MIN_PASSWORD}+ characters): ", "password",
                         check_password, BadPassword, "--password-stdin")  # fmt: skip
    text = source.read()
    lines = text.splitlines()
    if len(lines) != 1:
        raise BadPassword("--password-stdin: expected the password alone on one line")
    return check_password(lines[0])
