"""Every phrase the app may speak, per language: the cue texts plus the count-out words.

Cue texts come from the ``[cues]`` table of ``assets/lang/<lang>.toml`` (the same text the
screen shows); the count-out words ("one" .. "thirty", "hold", "relax") from its ``[count]``
table. A phrase is named by a key; its recording is ``<dir>/<lang>/<key>.wav``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from language import LANG_DIR, catalog
from speech import SpeechError

ROOT = Path(__file__).resolve().parent.parent
SPEECH_DIR = ROOT / "build" / "speech"

COUNT_MAX = 30  # rep targets stay well under this; a count past it is not spoken
HOLD = "count.hold"
RELAX = "count.relax"
_KEY = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")  # also a safe file name


@dataclass(frozen=True, slots=True)
class Voice:
    """espeak-ng settings for one language: voice name, words a minute, pitch, amplitude."""

    name: str
    speed_wpm: int = 140  # a little slower than espeak's 175: older listeners, a gym's echo
    pitch: int = 45
    amplitude: int = 140

    def args(self) -> list[str]:
        return [
            *("-v", self.name, "-s", str(self.speed_wpm)),
            *("-p", str(self.pitch), "-a", str(self.amplitude)),
        ]


VOICES: dict[str, Voice] = {"en": Voice("en-gb"), "de": Voice("de")}


def count_key(n: int) -> str:
    """The phrase key of the number word ``n`` (1 .. COUNT_MAX)."""
    return f"count.{n}"


def languages() -> list[str]:
    """Every language with a text file."""
    return sorted(p.stem for p in LANG_DIR.glob("*.toml"))


def _count_words(lang: str) -> dict[str, str]:
    path = LANG_DIR / f"{lang}.toml"
    table = tomllib.loads(path.read_text(encoding="utf-8")).get("count")
    if not isinstance(table, dict):
        raise SpeechError(f"{path}: no [count] table with the count-out words")
    wanted = [str(n) for n in range(1, COUNT_MAX + 1)] + ["hold", "relax"]
    missing = [w for w in wanted if not (isinstance(table.get(w), str) and table[w].strip())]
    if missing:
        raise SpeechError(f"{path}: [count] lacks words for {', '.join(missing)}")
    return {f"count.{w}": table[w].strip() for w in wanted}


def phrases(lang: str) -> dict[str, str]:
    """Key -> text of every phrase spoken in ``lang``: cue keys and count-out words."""
    if lang not in VOICES:
        raise SpeechError(f"no espeak-ng voice set for language {lang!r}; known: {sorted(VOICES)}")
    texts = {k: v.strip() for k, v in catalog(lang).items()}
    texts.update(_count_words(lang))
    for key, text in texts.items():
        if not _KEY.match(key):
            raise SpeechError(f"{lang}: phrase key {key!r} is not of the form 'group.name'")
        if not text:
            raise SpeechError(f"{lang}: phrase {key!r} has no text")
    return texts


def clip_path(directory: Path, lang: str, key: str) -> Path:
    return directory / lang / f"{key}.wav"
