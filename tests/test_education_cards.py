"""Education cards: the shipped deck loads in both languages with sources, bad files are
refused in one line, every card fits the rest screen, and the rest and end screens draw one
on a real pygame surface."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from dataclasses import replace
from pathlib import Path

import numpy as np
import pygame
import pytest

from education import EducationError
from education.cards import (
    LANGS,
    POINT_MAX,
    ROTATE_S,
    TITLE_MAX,
    card_at,
    load_card,
    load_cards,
    main,
)
from feedback import style
from feedback.app_window import Screen
from feedback.education_view import MIN_BODY, layout_card
from feedback.patient_view import patient_layout
from session.snapshot import Cue, Severity, Snapshot

SIZE = (1280, 720)


def rest_snapshot() -> Snapshot:
    """A rest after the first of three sets (no recording needed: the card is the subject)."""
    return Snapshot(
        t=100.0,
        exercise_id="squat",
        exercise_name="Squat",
        phase="rest",
        rep_count=10,
        reps_target=10,
        set_index=1,
        sets_total=3,
        rest_remaining_s=42.0,
        cue=Cue("session.rest", "Rest - breathe easy", Severity.INFO, 100.0),
    )


@pytest.fixture(autouse=True)
def _pygame():
    pygame.display.init()
    pygame.font.init()
    yield


def test_the_deck_covers_the_topics_in_both_languages_with_sources():
    cards = load_cards()
    assert {c.id for c in cards} == {"staying_active", "posture", "sitting", "lifting", "heat_cold"}
    for c in cards:
        assert {lang for lang, _ in c.texts} == set(LANGS) == {"en", "de"}
        en, de = c.text("en"), c.text("de")
        assert en.title != de.title or en.points != de.points  # translated, not copied
        assert len(en.points) == len(de.points)
        assert c.sources and all(s.url.startswith("https://") for s in c.sources)
        assert c.note  # what the sources back, for the therapist
    nice = [s for c in cards for s in c.sources if "NG59" in s.citation]
    assert nice and all("nice.org.uk/guidance/ng59" in s.url for s in nice)
    heat = next(c for c in cards if c.id == "heat_cold")
    assert not any("NG59" in s.citation for s in heat.sources)  # NG59 is not its evidence
    assert c.text("fr") == c.text("en")  # a language without cards reads English


def _bad(tmp_path: Path, text: str, name: str = "bad_card.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def card_toml(
    title: str = "Heat and cold",
    points: tuple[str, ...] = ("Warmth may ease pain a little.", "Wrap packs in a cloth."),
    german: bool = True,
    url: str = "https://doi.org/10.1002/14651858.CD004750.pub2",
    sources: bool = True,
    order: str = "50",
    extra: str = "",
) -> str:
    def table(lang: str, t: str, pts: tuple[str, ...]) -> str:
        lines = ",\n".join(f"    {p!r}".replace("'", '"') for p in pts)
        return f'[text.{lang}]\ntitle = "{t}"\npoints = [\n{lines},\n]\n'

    out = f"order = {order}\n{extra}\n" + table("en", title, points)
    if german:
        out += table("de", "Wärme und Kälte", ("Wärme kann etwas lindern.", "In ein Tuch wickeln."))
    if sources:
        out += f'[[sources]]\nshort = "Cochrane"\ncitation = "French SD et al."\nurl = "{url}"\n'
    return out


BAD = {
    "no German": (card_toml(german=False), "text.de"),
    "title too long": (card_toml(title="x" * (TITLE_MAX + 1)), "text.en.title"),
    "point too long": (card_toml(points=("fine", "y" * (POINT_MAX + 1))), "text.en.points[1]"),
    "one point": (card_toml(points=("only this",)), "text.en.points"),
    "five points": (card_toml(points=("a",) * 5), "text.en.points"),
    "empty point": (card_toml(points=("fine", " ")), "text.en.points[1]"),
    "no sources": (card_toml(sources=False), "sources"),
    "plain http": (card_toml(url="http://example.org/x"), "sources[0].url"),
    "unknown key": (card_toml(extra='colour = "red"'), "keys"),
    "order a string": (card_toml(order='"fifty"'), "order"),
    "not TOML": ("order = = 3\n", "file"),
}


def test_the_card_maker_makes_a_good_card(tmp_path):
    card = load_card(_bad(tmp_path, card_toml(), "good_card.toml"))
    assert card.text("de").title == "Wärme und Kälte" and len(card.sources) == 1


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_card_is_refused_in_one_line(tmp_path, case, capsys):
    text, key = BAD[case]
    path = _bad(tmp_path, text)
    with pytest.raises(EducationError) as err:
        load_card(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and f": {key}" in msg, msg
    assert main([str(path)]) == 2
    out = capsys.readouterr()
    assert out.err.startswith("education.cards: error: ") and out.err.count("\n") == 1
    with pytest.raises(EducationError):  # one bad file refuses the deck it sits in
        load_cards(tmp_path)


def test_the_shipped_deck_checks_out_on_the_command_line(capsys):
    assert main([]) == 0
    assert capsys.readouterr().out.count("\n") == len(load_cards())


def test_a_bad_file_name_and_an_empty_folder_are_refused(tmp_path):
    with pytest.raises(EducationError, match="file name"):
        load_card(_bad(tmp_path, card_toml(), "Heat Cold.toml"))
    with pytest.raises(EducationError, match="at least one card"):
        load_cards(tmp_path / "none")


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080), (1024, 768)])
def test_every_card_fits_the_rest_screen_in_readable_type(lang, size):
    side = patient_layout(size, machine=False, hold=True).side
    for card in load_cards():
        lay = layout_card(card, lang, side, size[1])
        assert lay.fits, f"{card.id} ({lang}) overflows the side column at {size}"
        assert lay.body >= round(size[1] * MIN_BODY)


def test_cards_rotate_through_the_deck():
    cards = load_cards()
    assert card_at(cards, 0.0) is cards[0]
    assert card_at(cards, ROTATE_S - 0.1) is cards[0]
    assert card_at(cards, ROTATE_S) is cards[1]
    assert card_at(cards, ROTATE_S * len(cards)) is cards[0]
    assert card_at(cards, float("nan")) is cards[0]
    assert card_at((), 5.0) is None


def _screen(snap, lang="en", cards=None) -> Screen:
    s = Screen(SIZE, mirror=False, lang=lang)
    if cards is not None:
        s.patient.cards = cards
    s.update(snap)
    return s


def _title_drawn(surface, screen) -> bool:
    """The card's title, rendered on its own, appears pixel for pixel where the card puts it."""
    lay = screen.patient.layout_for(SIZE)
    card, _ = screen.patient.current_card()
    cl = layout_card(card, screen.lang, lay.side, SIZE[1])
    pad = max(10, round(lay.side.w * 0.05))
    y = lay.side.y + pad + round(cl.small * 1.4)
    text = style.render(cl.title_lines[0], cl.title, style.TEXT)
    want = pygame.surfarray.array3d(text)
    bg = np.array(style.PANEL)
    alpha = pygame.surfarray.array_alpha(text)[..., None] / 255.0
    want = np.round(want * alpha + bg * (1 - alpha))
    got = pygame.surfarray.array3d(surface)[
        lay.side.x + pad : lay.side.x + pad + text.get_width(), y : y + text.get_height()
    ]
    return got.shape == want.shape and np.abs(got - want).max() <= 2


@pytest.mark.parametrize("lang", LANGS)
def test_the_rest_screen_draws_a_card_on_a_real_surface(lang):
    rest = rest_snapshot()
    surface = pygame.Surface(SIZE)
    screen = _screen(rest, lang)
    screen.draw(surface)
    card, k = screen.patient.current_card()
    assert k == 0 and card == load_cards()[0]
    assert _title_drawn(surface, screen)
    side = screen.patient.layout_for(SIZE).side
    px = pygame.surfarray.array3d(surface)[side.x : side.right, side.y : side.bottom]
    assert np.all(px == style.SKY_BLUE, axis=2).sum() > 2000  # the card's stripe and bullets
    # Without cards the column shows the counters instead: the pixels differ.
    plain = pygame.Surface(SIZE)
    _screen(rest, lang, cards=()).draw(plain)
    other = pygame.surfarray.array3d(plain)[side.x : side.right, side.y : side.bottom]
    assert (np.any(px != other, axis=2)).mean() > 0.1


def test_the_card_turns_during_a_rest_and_the_next_rest_starts_further_on():
    rest = rest_snapshot()
    screen = _screen(rest)
    cards = screen.patient.cards
    assert screen.patient.current_card() == (cards[0], 0)
    screen.update(replace(rest, t=rest.t + ROTATE_S + 0.5))
    assert screen.patient.current_card() == (cards[1], 1)
    screen.update(replace(rest, t=rest.t + 30, phase="working"))
    assert screen.patient.current_card() is None  # working: the counters are back
    screen.update(replace(rest, t=rest.t + 60))
    assert screen.patient.current_card() == (cards[1], 1)
    done = replace(rest, t=rest.t + 90, phase="done")
    screen.update(done)
    surface = pygame.Surface(SIZE)
    screen.draw(surface)
    assert screen.patient.current_card() == (cards[2], 2)
    assert _title_drawn(surface, screen)


def test_a_bad_deck_leaves_the_rest_screen_without_a_card(tmp_path, monkeypatch, caplog):
    import feedback.patient_view as pv

    _bad(tmp_path, "order = = 1\n")
    monkeypatch.setattr(pv, "load_cards", lambda: load_cards(tmp_path))
    pv.education_deck.cache_clear()
    try:
        with caplog.at_level("ERROR", logger="feedback.patient_view"):
            screen = _screen(rest_snapshot())
            screen.draw(pygame.Surface(SIZE))
        assert screen.patient.cards == () and screen.patient.current_card() is None
        assert len([r for r in caplog.records if "education cards" in r.getMessage()]) == 1
    finally:
        pv.education_deck.cache_clear()
