"""Errors for malformed exercise files: they name the file, the key, what was expected and found."""

from __future__ import annotations

from pathlib import Path


class ExerciseError(ValueError):
    def __init__(self, file: str | Path, key: str, expected: str, found: object) -> None:
        self.file = str(file)
        self.key = key
        self.expected = expected
        self.found = found
        shown = repr(found)  # one line, however large the value in the file
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        where = key if key.isprintable() else repr(key)  # a key from the file may hold a newline
        super().__init__(f"{self.file}: {where}: expected {expected}, found {shown}")


class UnknownExercise(LookupError):
    def __init__(self, exercise_id: str, known: list[str]) -> None:
        self.exercise_id = exercise_id
        super().__init__(
            f"unknown exercise {exercise_id!r}; known exercises: {', '.join(sorted(known))}"
        )
