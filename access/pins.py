"""PINs as salted scrypt hashes: rules for new PINs, hashing, strict reading of stored records.

A record is a small JSON object: ``{"kdf": "scrypt", "n", "r", "p", "salt", "hash",
"min_digits"}``. ``min_digits`` is the rule the PIN was set under, so a PIN set under an older,
weaker rule is recognised without storing its length.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass

from access.errors import BadPin, PinRecordError

PATIENT_MIN_DIGITS = 4
THERAPIST_MIN_DIGITS = 6
MAX_DIGITS = 12

# ~16 MB and tens of ms per check: slow for guessing, fine for one person at a kiosk.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_MAX_MEMORY = 32 * 1024 * 1024  # hashlib's own default limit; a record may not ask for more
_SALT_BYTES = 16
_HASH_BYTES = 64
_DUMMY_SALT = bytes(_SALT_BYTES)


def check_pin(pin: object, min_digits: int, who: str = "PIN") -> str:
    """``pin`` if it is ``min_digits`` to 12 ASCII digits (what the keypad can type)."""
    if not isinstance(pin, str):
        raise BadPin(f"{who}: expected {min_digits} to {MAX_DIGITS} digits, got no text")
    if re.fullmatch(rf"[0-9]{{{min_digits},{MAX_DIGITS}}}", pin):
        return pin
    if not re.fullmatch(r"[0-9]*", pin):
        # Never echo the PIN: say what kind of character is wrong, not which.
        raise BadPin(
            f"{who}: expected only the digits 0-9 (the kiosk keypad has no others), got "
            "another character"
        )
    raise BadPin(f"{who}: expected {min_digits} to {MAX_DIGITS} digits, got {len(pin)}")


@dataclass(frozen=True, slots=True)
class PinRecord:
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes
    min_digits: int  # 0 for records written before the rule was stored


def hash_pin(pin: str, min_digits: int) -> str:
    """The record to store for a new ``pin`` (checked against the rules first)."""
    check_pin(pin, min_digits)
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.scrypt(pin.encode("ascii"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    record = {"kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P,
              "salt": salt.hex(), "hash": digest.hex(), "min_digits": min_digits}  # fmt: skip
    return json.dumps(record)


def _int(rec: dict, key: str, lo: int, hi: int, where: str) -> int:
    v = rec.get(key)
    if type(v) is not int or not lo <= v <= hi:
        raise PinRecordError(f"{where}: {key!r} must be a whole number {lo}..{hi}, got {v!r}")
    return v


def _hex(rec: dict, key: str, sizes: range, where: str) -> bytes:
    v = rec.get(key)
    try:
        if not isinstance(v, str):
            raise ValueError
        b = bytes.fromhex(v)
    except ValueError:
        raise PinRecordError(f"{where}: {key!r} must be hexadecimal text") from None
    if len(b) not in sizes:
        raise PinRecordError(f"{where}: {key!r} has {len(b)} bytes, expected {sizes.start}+")
    return b


def parse_record(text: object, where: str) -> PinRecord:
    """Read a stored record strictly; ``where`` names it in the message (a file, a patient)."""
    try:
        rec = json.loads(text) if isinstance(text, str | bytes) else None
    except (ValueError, RecursionError):
        rec = None
    if not isinstance(rec, dict) or rec.get("kdf") != "scrypt":
        raise PinRecordError(f"{where}: expected a scrypt PIN record (JSON), got something else")
    n = _int(rec, "n", 2, 2**20, where)
    r = _int(rec, "r", 1, 64, where)
    p = _int(rec, "p", 1, 16, where)
    if n & (n - 1) or 128 * n * r * p > _MAX_MEMORY:
        raise PinRecordError(f"{where}: scrypt cost n={n} r={r} p={p} is not allowed")
    min_digits = rec.get("min_digits", 0)
    if type(min_digits) is not int or not 0 <= min_digits <= MAX_DIGITS:
        raise PinRecordError(f"{where}: 'min_digits' must be 0..{MAX_DIGITS}, got {min_digits!r}")
    salt = _hex(rec, "salt", range(8, 65), where)
    digest = _hex(rec, "hash", range(16, 129), where)
    return PinRecord(n, r, p, salt, digest, min_digits)


def verify(record: PinRecord, pin: str) -> bool:
    """True when ``pin`` is the PIN of ``record``; compared in constant time."""
    got = hashlib.scrypt(
        pin.encode("utf-8", "replace"), salt=record.salt, n=record.n, r=record.r, p=record.p,
        dklen=len(record.digest),
    )  # fmt: skip
    return hmac.compare_digest(got, record.digest)


def burn(pin: str) -> None:
    """The cost of one check without a record: an unknown code takes as long as a known one."""
    hashlib.scrypt(
        pin.encode("utf-8", "replace"), salt=_DUMMY_SALT, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P
    )
