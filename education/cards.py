"""Education cards: loading, validation, and which card a rest shows.

A card file (``cards/<id>.toml``)::

    order = 10                      # place in the deck
    note = "..."                    # optional: for the therapist, what the sources back
    [text.en]                       # one table per language in LANGS, all required
    title = "Keep active"           # at most TITLE_MAX characters
    points = ["...", "..."]         # POINTS_MIN..POINTS_MAX points, each <= POINT_MAX chars
    [text.de]
    ...
    [[sources]]                     # at least one
    short = "NICE NG59 (2016, updated 2020), rec. 1.2.1"   # shown on the card
    citation = "..."                # the full reference
    url = "https://..."

The limits keep every card readable from a few metres in the patient view's side column
(``tests/test_education_cards.py`` draws each one to prove it fits).
"""

from __future__ import annotations

import math
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from education import EducationError

CARDS_DIR = Path(__file__).resolve().parent / "cards"
LANGS = ("en", "de")
TITLE_MAX = 36
POINT_MAX = 90
POINTS_MIN, POINTS_MAX = 2, 4
SHORT_MAX = 60
ROTATE_S = 20.0  # a card stays this long before the next one shows
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_TOP_KEYS = {"order", "note", "text", "sources"}
_SOURCE_KEYS = {"short", "citation", "url"}


@dataclass(frozen=True, slots=True)
class CardText:
    title: str
    points: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Source:
    short: str
    citation: str
    url: str


@dataclass(frozen=True, slots=True)
class Card:
    id: str
    order: int
    texts: tuple[tuple[str, CardText], ...]  # (lang, text) for every language in LANGS
    sources: tuple[Source, ...]
    note: str = ""

    def text(self, lang: str) -> CardText:
        """The card in ``lang``; English for a language the cards are not written in."""
        texts = dict(self.texts)
        return texts.get(lang) or texts["en"]


def _string(file: Path, key: str, value: object, limit: int | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise EducationError(file, key, "a non-empty string", value)
    text = " ".join(value.split())  # one line on screen: no newlines or runs of spaces
    if limit is not None and len(text) > limit:
        raise EducationError(file, key, f"at most {limit} characters to fit the screen", text)
    return text


def _text(file: Path, lang: str, table: object) -> CardText:
    key = f"text.{lang}"
    if not isinstance(table, dict):
        raise EducationError(file, key, "a table with title and points", table)
    extra = set(table) - {"title", "points"}
    if extra:
        raise EducationError(file, key, "only title and points", sorted(extra))
    title = _string(file, f"{key}.title", table.get("title"), TITLE_MAX)
    points = table.get("points")
    if not isinstance(points, list) or not POINTS_MIN <= len(points) <= POINTS_MAX:
        raise EducationError(
            file, f"{key}.points", f"a list of {POINTS_MIN} to {POINTS_MAX} points", points
        )
    return CardText(
        title,
        tuple(_string(file, f"{key}.points[{i}]", p, POINT_MAX) for i, p in enumerate(points)),
    )


def _source(file: Path, i: int, table: object) -> Source:
    key = f"sources[{i}]"
    if not isinstance(table, dict) or set(table) != _SOURCE_KEYS:
        found = sorted(table) if isinstance(table, dict) else table
        raise EducationError(file, key, f"a table of exactly {sorted(_SOURCE_KEYS)}", found)
    url = _string(file, f"{key}.url", table["url"])
    if not url.startswith("https://") or " " in url:
        raise EducationError(file, f"{key}.url", "an https:// address", url)
    return Source(
        short=_string(file, f"{key}.short", table["short"], SHORT_MAX),
        citation=_string(file, f"{key}.citation", table["citation"]),
        url=url,
    )


def load_card(path: Path) -> Card:
    """One card file, validated; ``EducationError`` (one line) when it cannot be shown."""
    path = Path(path)
    if not _ID.match(path.stem):
        raise EducationError(path, "file name", "lower_case_id.toml", path.name)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise EducationError(path, "file", "a readable UTF-8 file", str(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise EducationError(path, "file", "valid TOML", str(exc)) from None
    extra = set(data) - _TOP_KEYS
    if extra:
        raise EducationError(path, "keys", f"only {sorted(_TOP_KEYS)}", sorted(extra))
    order = data.get("order")
    if not isinstance(order, int) or isinstance(order, bool):
        raise EducationError(path, "order", "an integer", order)
    texts = data.get("text")
    if not isinstance(texts, dict):
        raise EducationError(path, "text", f"a table per language {list(LANGS)}", texts)
    for lang in LANGS:
        if lang not in texts:
            raise EducationError(path, f"text.{lang}", "the card in this language", None)
    unknown = set(texts) - set(LANGS)
    if unknown:
        raise EducationError(path, "text", f"only languages {list(LANGS)}", sorted(unknown))
    sources = data.get("sources")
    if not isinstance(sources, list) or not sources:
        raise EducationError(path, "sources", "at least one [[sources]] entry", sources)
    note = data.get("note", "")
    return Card(
        id=path.stem,
        order=order,
        texts=tuple((lang, _text(path, lang, texts[lang])) for lang in LANGS),
        sources=tuple(_source(path, i, s) for i, s in enumerate(sources)),
        note=_string(path, "note", note) if note else "",
    )


def load_cards(directory: Path = CARDS_DIR) -> tuple[Card, ...]:
    """Every card in ``directory`` in deck order; the first bad file refuses the deck."""
    paths = sorted(Path(directory).glob("*.toml"))
    if not paths:
        raise EducationError(directory, "cards", "at least one card file (*.toml)", [])
    cards = [load_card(p) for p in paths]
    return tuple(sorted(cards, key=lambda c: (c.order, c.id)))


def card_at(cards: tuple[Card, ...], seconds: float, rotate_s: float = ROTATE_S) -> Card | None:
    """The card showing ``seconds`` into a rest: the deck in turn, ``rotate_s`` each."""
    if not cards:
        return None
    k = int(seconds // rotate_s) if math.isfinite(seconds) and seconds > 0 else 0
    return cards[k % len(cards)]


def main(argv: list[str] | None = None) -> int:
    """``python -m education.cards [FILE...]``: check card files (default: the shipped deck)."""
    args = sys.argv[1:] if argv is None else argv
    try:
        cards = [load_card(Path(a)) for a in args] if args else list(load_cards())
    except EducationError as exc:
        print(f"education.cards: error: {exc}", file=sys.stderr)
        return 2
    for c in cards:
        print(f"{c.id}: {c.text('en').title} ({', '.join(s.short for s in c.sources)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
