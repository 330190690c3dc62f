"""The access package's one exception family. Messages never contain a PIN."""

from __future__ import annotations


class AccessError(Exception):
    """Anything about PINs and sign-in that cannot go on."""


class BadPin(AccessError, ValueError):
    """A new PIN that cannot be taken: against the rules (ASCII digits, length), typed
    differently twice, or not readable from where it was to come from."""


class PinRecordError(AccessError):
    """A stored PIN hash (the therapist PIN file, a patient's record) that cannot be read."""
