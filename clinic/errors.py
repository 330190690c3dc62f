"""The clinic package's exceptions: one family, each message one line for the user."""

from __future__ import annotations


class ClinicError(Exception):
    """Base of every error the clinic package raises."""


class RulesFileError(ClinicError):
    """A progression rules file that cannot be read or breaks a rule (names file and key)."""


class ProgrammeError(ClinicError):
    """A programme or a dose that cannot be used: unknown exercise, a range target past the
    pain-free limit, a load band at or above the stop limit, a visit without a programme."""
