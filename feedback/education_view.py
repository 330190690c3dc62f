"""An education card drawn into a rectangle: a large title, a few points, its sources.

Type is sized from the window height like the rest of the patient view and shrinks only as
far as ``MIN_BODY`` of the window height; the card files' length limits
(``education.cards``) keep every shipped card above that in the side column.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygame

from education.cards import Card
from feedback import style

BODY = 0.042  # body type as a share of the window height (30 px at 720)
MIN_BODY = 0.03  # never smaller than this: still readable from a few metres
WORDS = {
    "en": {"head": "Good to know", "source": "Source", "sources": "Sources"},
    "de": {"head": "Gut zu wissen", "source": "Quelle", "sources": "Quellen"},
}


def wrap(text: str, size: int, width: float) -> list[str]:
    """Greedy word wrap at ``size`` px into lines no wider than ``width`` (a single word
    wider than that keeps a line of its own, and the caller sees it does not fit)."""
    f = style.font(size)
    lines: list[str] = []
    line = ""
    for word in text.split():
        trial = f"{line} {word}" if line else word
        if not line or f.size(trial)[0] <= width:
            line = trial
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


@dataclass(frozen=True, slots=True)
class CardLayout:
    """Wrapped lines at one type size, and whether they fit the rectangle."""

    body: int
    title: int
    small: int
    title_lines: tuple[str, ...]
    points: tuple[tuple[str, ...], ...]
    source_lines: tuple[str, ...]
    height: int
    fits: bool


def _words(lang: str) -> dict[str, str]:
    return WORDS.get(lang, WORDS["en"])


def layout_card(card: Card, lang: str, rect: pygame.Rect, window_h: int) -> CardLayout:
    """The largest type (from ``BODY`` down to ``MIN_BODY``) at which the card fits."""
    text = card.text(lang)
    w = _words(lang)
    label = w["sources"] if len(card.sources) > 1 else w["source"]
    source = f"{label}: " + "; ".join(s.short for s in card.sources)
    pad = max(10, round(rect.w * 0.05))
    lowest = max(12, round(window_h * MIN_BODY))
    body = max(lowest, round(window_h * BODY))
    while True:
        title, small = round(body * 1.3), max(12, round(body * 0.62))
        inner = rect.w - 2 * pad
        title_lines = wrap(text.title, title, inner)
        points = tuple(tuple(wrap(p, body, inner - body * 0.9)) for p in text.points)
        source_lines = wrap(source, small, inner)
        height = (
            pad
            + round(small * 1.4)  # "Good to know"
            + round(title * 1.1) * len(title_lines)
            + round(body * 0.6)
            + sum(round(body * 1.12) * len(p) + round(body * 0.5) for p in points)
            + round(small * 1.15) * len(source_lines)
            + pad
        )
        widest = max(
            style.font(size).size(line)[0]
            for size, lines in (
                (title, title_lines),
                (small, source_lines),
                *((body, p) for p in points),
            )
            for line in lines
        )
        fits = height <= rect.h and widest <= inner
        if fits or body <= lowest:
            return CardLayout(
                body,
                title,
                small,
                tuple(title_lines),
                points,
                tuple(source_lines),
                height,
                fits,
            )
        body = max(lowest, round(body * 0.92))


def draw_card(
    surface: pygame.Surface,
    rect: pygame.Rect,
    card: Card,
    lang: str,
    window_h: int,
    position: tuple[int, int] | None = None,
) -> CardLayout:
    """Draw ``card`` in ``lang`` into ``rect``; ``position`` (k, n): "k / n" in the corner."""
    lay = layout_card(card, lang, rect, window_h)
    pad = max(10, round(rect.w * 0.05))
    style.panel(surface, rect)
    pygame.draw.rect(
        surface,
        style.SKY_BLUE,
        (rect.x, rect.y, max(8, rect.w // 40), rect.h),
        border_top_left_radius=8,
        border_bottom_left_radius=8,
    )
    clip = surface.get_clip()
    surface.set_clip(rect.clip(clip) if clip else rect)
    x = rect.x + pad
    y = rect.y + pad
    r = lay.small * 0.42
    style.icon(surface, "info", (x + r, y + lay.small * 0.5), r)
    style.text(surface, _words(lang)["head"], lay.small, style.SKY_BLUE, (x + r * 2.6, y))
    if position is not None:
        style.text(
            surface,
            f"{position[0]} / {position[1]}",
            lay.small,
            style.TEXT_DIM,
            (rect.right - pad, y),
            "topright",
        )
    y += round(lay.small * 1.4)
    for line in lay.title_lines:
        style.text(surface, line, lay.title, style.TEXT, (x, y))
        y += round(lay.title * 1.1)
    y += round(lay.body * 0.6)
    indent = lay.body * 0.9
    for lines in lay.points:
        pygame.draw.circle(
            surface, style.SKY_BLUE, (x + lay.body * 0.3, y + lay.body * 0.38), lay.body * 0.16
        )
        for line in lines:
            style.text(surface, line, lay.body, style.TEXT, (x + indent, y))
            y += round(lay.body * 1.12)
        y += round(lay.body * 0.5)
    y = max(y, rect.bottom - pad - round(lay.small * 1.15) * len(lay.source_lines))
    for line in lay.source_lines:
        style.text(surface, line, lay.small, style.TEXT_DIM, (x, y))
        y += round(lay.small * 1.15)
    surface.set_clip(clip)
    return lay
