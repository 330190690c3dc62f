"""The assessment package's exceptions: one family, each naming what was expected and found."""

from __future__ import annotations

from pathlib import Path


class AssessmentError(Exception):
    """Base of every error the assessment package raises."""


class NormFileError(AssessmentError):
    """A norm file that cannot be read or breaks a rule: names the file and the key."""

    def __init__(self, file: str | Path, key: str, expected: str, found: object) -> None:
        self.file = str(file)
        self.key = key
        self.expected = expected
        self.found = found
        where = f"{self.file}: {key}" if key else self.file
        super().__init__(f"{where}: expected {expected}, found {found!r}")


class NormQueryError(AssessmentError):
    """A norm lookup or comparison asked with an impossible argument (age, sex)."""


class ProtocolError(AssessmentError):
    """An assessment protocol file that cannot be read or breaks a rule: one line naming the
    file, the key, what was expected and what was found."""


class AssessmentRunError(AssessmentError):
    """An assessment that cannot be run as asked (no machine, a protocol for another machine,
    a patient without sex or age): one line for the user."""
