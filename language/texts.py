"""Cue texts and count-out words from the language files in ``assets/lang/``."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

LANG_DIR = Path(__file__).resolve().parent.parent / "assets" / "lang"


@cache
def catalog(lang: str = "en") -> dict[str, str]:
    path = LANG_DIR / f"{lang}.toml"
    if not path.is_file():
        known = sorted(p.stem for p in LANG_DIR.glob("*.toml"))
        raise ValueError(f"no language file for {lang!r}; available: {', '.join(known)}")
    return dict(tomllib.loads(path.read_text(encoding="utf-8"))["cues"])


def cue_text(key: str, lang: str = "en") -> str:
    """The text for a cue key; falls back to English, then to the key itself."""
    return catalog(lang).get(key) or catalog("en").get(key) or key
