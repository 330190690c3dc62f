"""Patient education between sets: short cards on posture, lifting, sitting, staying active,
heat and cold, in every language, each with its sources. Cards are TOML data in ``cards/``."""

from __future__ import annotations

from pathlib import Path


class EducationError(ValueError):
    """A card file that cannot be shown: names the file, the key, what was expected and found."""

    def __init__(self, file: str | Path, key: str, expected: str, found: object) -> None:
        self.file = str(file)
        self.key = key
        self.expected = expected
        self.found = found
        shown = repr(found)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        super().__init__(f"{self.file}: {key}: expected {expected}, found {shown}")
