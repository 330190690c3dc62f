"""The exercise library: every ``exercises/definitions/*.toml`` file, loaded and validated."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from exercises.errors import UnknownExercise
from exercises.schema import ExerciseDef, load_exercise_file

DEFINITIONS = Path(__file__).resolve().parent / "definitions"


def definition_files(folder: Path = DEFINITIONS) -> list[Path]:
    return sorted(folder.glob("*.toml"))


@cache
def load_library(folder: Path = DEFINITIONS) -> dict[str, ExerciseDef]:
    """All exercises by id; raises ``ExerciseError`` on the first malformed file."""
    return {ex.id: ex for ex in map(load_exercise_file, definition_files(folder))}


def get_exercise(exercise_id: str, folder: Path = DEFINITIONS) -> ExerciseDef:
    path = folder / f"{exercise_id}.toml"
    # Only a plain id names a file here: no paths, no names longer than the system allows.
    plain = exercise_id.replace("_", "").isalnum() and exercise_id.isascii()
    if not (plain and len(exercise_id) <= 100 and path.is_file()):
        raise UnknownExercise(exercise_id, [p.stem for p in definition_files(folder)])
    return load_exercise_file(path)
