"""Small drawing pieces the clinic screens share (assessment, pain scale, programme, visit):
wrapped text, touch buttons with their hit-test, a value bar and a header line."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pygame

from feedback import style, widgets
from feedback.style import Colour


@dataclass(frozen=True, slots=True)
class Button:
    key: str  # what a press means (the screen turns it into an action)
    label: str
    rect: pygame.Rect
    primary: bool = False
    enabled: bool = True


def hit(buttons: list[Button], pos: tuple[int, int]) -> str | None:
    for b in buttons:
        if b.enabled and b.rect.collidepoint(pos):
            return b.key
    return None


def draw_buttons(surface: pygame.Surface, buttons: list[Button]) -> None:
    for b in buttons:
        fill = style.BLUISH_GREEN if b.primary else style.BLUE
        if not b.enabled:
            fill = style.TRACK
        radius = max(6, b.rect.h // 6)
        pygame.draw.rect(surface, fill, b.rect, border_radius=radius)
        pygame.draw.rect(surface, style.PANEL_EDGE, b.rect, width=2, border_radius=radius)
        colour = style.WHITE if b.enabled else style.TEXT_DIM
        style.text(
            surface, b.label, b.rect.h * 0.42, colour, b.rect.center, "center", b.rect.w * 0.9
        )


def button_row(
    size: tuple[int, int], items: list[tuple[str, str, bool]], y_share: float = 0.86
) -> list[Button]:
    """Buttons (key, label, primary) in one row across the bottom of the screen."""
    w, h = size
    if not items:
        return []
    bh = round(h * 0.1)
    gap = round(w * 0.02)
    bw = min(round(w * 0.22), (w - gap * (len(items) + 1)) // len(items))
    x = w - gap - len(items) * bw - (len(items) - 1) * gap
    y = round(h * y_share)
    out = []
    for key, label, primary in items:
        out.append(Button(key, label, pygame.Rect(x, y, bw, bh), primary))
        x += bw + gap
    return out


def wrap(text: str, size: int, width: float) -> list[str]:
    """Lines of ``text`` that fit ``width`` pixels at ``size``."""
    f = style.font(size)
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for word in para.split():
            trial = f"{line} {word}".strip()
            if line and f.size(trial)[0] > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return lines


def paragraph(
    surface: pygame.Surface,
    text: str,
    size: float,
    colour: Colour,
    topleft: tuple[float, float],
    width: float,
    max_lines: int = 8,
) -> float:
    """Wrapped text from ``topleft``; returns the y below it."""
    size = int(size)
    x, y = topleft
    lines = wrap(text, size, width)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], lines[max_lines - 1] + " ..."]
    for line in lines:
        style.text(surface, line, size, colour, (x, y), max_width=width)
        y += size * 1.12
    return y


def header(surface: pygame.Surface, left: str, right: str) -> None:
    w, h = surface.get_size()
    size = round(h * 0.035)
    style.text(surface, left, size, style.TEXT_DIM, (w * 0.04, h * 0.03), max_width=w * 0.6)
    style.text(surface, right, size, style.TEXT_DIM, (w * 0.96, h * 0.03), "topright")


def value_bar(
    surface: pygame.Surface,
    rect: pygame.Rect,
    value: float,
    scale_max: float,
    marks: list[tuple[float, str]],
    colour: Colour = style.SKY_BLUE,
) -> None:
    """A bar 0..scale_max with the value filled and labelled marks (best so far, norm)."""
    widgets.bar_track(surface, rect)
    if math.isfinite(value) and scale_max > 0:
        widgets.bar_fill(surface, rect, max(0.0, value), scale_max, colour)
    size = max(12, rect.h // 2)
    for v, label in marks:
        if not (math.isfinite(v) and scale_max > 0):
            continue
        x = widgets.value_x(rect, v, scale_max)
        pygame.draw.line(surface, style.WHITE, (x, rect.y - 6), (x, rect.bottom + 6), 3)
        style.text(surface, label, size, style.TEXT_DIM, (x, rect.bottom + 8), "midtop")
