"""Palette, type and status icons shared by every screen.

Colours are the Okabe-Ito set, chosen because the common colour-vision deficiencies still tell
them apart; every status colour also comes with its own shape, so nothing relies on colour
alone.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import pygame

from session.snapshot import RuleStatus, Severity

Colour = tuple[int, int, int]

# Okabe-Ito
BLACK: Colour = (0, 0, 0)
ORANGE: Colour = (230, 159, 0)
SKY_BLUE: Colour = (86, 180, 233)
BLUISH_GREEN: Colour = (0, 158, 115)
YELLOW: Colour = (240, 228, 66)
BLUE: Colour = (0, 114, 178)
VERMILLION: Colour = (213, 94, 0)
REDDISH_PURPLE: Colour = (204, 121, 167)

# Neutrals for a dark, high-contrast background.
BACKGROUND: Colour = (14, 16, 20)
PANEL: Colour = (34, 38, 46)
PANEL_EDGE: Colour = (70, 76, 88)
TRACK: Colour = (62, 66, 76)
TEXT: Colour = (248, 248, 248)
TEXT_DIM: Colour = (178, 184, 194)
GREY: Colour = (150, 150, 150)
# "Unknown" is light grey, not mid grey: mid grey and bluish green merge for deuteranopes.
LIGHT_GREY: Colour = (200, 200, 200)
WHITE: Colour = (255, 255, 255)

STATUS_COLOUR: dict[RuleStatus, Colour] = {
    RuleStatus.OK: BLUISH_GREEN,
    RuleStatus.WARNING: ORANGE,
    RuleStatus.FAULT: VERMILLION,
    RuleStatus.UNKNOWN: LIGHT_GREY,
}
STATUS_ICON: dict[RuleStatus, str] = {
    RuleStatus.OK: "ok",
    RuleStatus.WARNING: "warning",
    RuleStatus.FAULT: "fault",
    RuleStatus.UNKNOWN: "unknown",
}
SEVERITY_ICON: dict[Severity, str] = {
    Severity.INFO: "info",
    Severity.POSITIVE: "ok",
    Severity.WARNING: "warning",
    Severity.FAULT: "fault",
    Severity.SAFETY: "stop",
}
SEVERITY_COLOUR: dict[Severity, Colour] = {
    Severity.INFO: SKY_BLUE,
    Severity.POSITIVE: BLUISH_GREEN,
    Severity.WARNING: ORANGE,
    Severity.FAULT: VERMILLION,
    Severity.SAFETY: VERMILLION,
}

_fonts: dict[int, pygame.font.Font] = {}
_text_cache: OrderedDict[tuple[str, int, Colour], pygame.Surface] = OrderedDict()
_TEXT_CACHE_SIZE = 768  # bounded: a frame needs a few dozen strings, numbers change slowly


def _forget_fonts() -> None:
    # Font objects die with pygame.quit(); a later pygame.init() must load them afresh.
    _fonts.clear()
    _text_cache.clear()


def font(size: int) -> pygame.font.Font:
    """pygame's bundled default font at ``size`` pixels (no font files to ship)."""
    size = max(8, int(size))
    f = _fonts.get(size)
    if f is None:
        if not pygame.font.get_init():
            pygame.font.init()
        if not _fonts:
            pygame.register_quit(_forget_fonts)  # quit callbacks run once: register per load
        f = pygame.font.Font(None, size)
        _fonts[size] = f
    return f


def render(text: str, size: int, colour: Colour = TEXT) -> pygame.Surface:
    """Rendered text, cached because font rendering dominates a table-heavy frame."""
    key = (text, int(size), tuple(colour))
    surf = _text_cache.get(key)
    if surf is not None:
        _text_cache.move_to_end(key)
        return surf
    surf = font(size).render(text, True, colour)
    _text_cache[key] = surf
    if len(_text_cache) > _TEXT_CACHE_SIZE:
        _text_cache.popitem(last=False)
    return surf


def text(
    surface: pygame.Surface,
    s: str,
    size: int,
    colour: Colour,
    pos: tuple[float, float],
    anchor: str = "topleft",
    max_width: float | None = None,
) -> pygame.Rect:
    """Blit ``s`` anchored at ``pos``; shrinks the type until it fits ``max_width``."""
    size = int(size)
    surf = render(s, size, colour)
    if max_width is not None and surf.get_width() > max_width:
        size = max(8, int(size * max_width / surf.get_width()))
        surf = render(s, size, colour)
    rect = surf.get_rect(**{anchor: (round(pos[0]), round(pos[1]))})
    surface.blit(surf, rect)
    return rect


def panel(surface: pygame.Surface, rect: pygame.Rect, colour: Colour = PANEL, edge: bool = True):
    radius = max(4, rect.height // 12) if rect.height < 400 else 16
    pygame.draw.rect(surface, colour, rect, border_radius=radius)
    if edge:
        pygame.draw.rect(surface, PANEL_EDGE, rect, width=2, border_radius=radius)


def icon(surface: pygame.Surface, kind: str, center: tuple[float, float], radius: float) -> None:
    """Status shape: ok = circle with tick, warning = triangle with '!', fault = square with
    cross, unknown = hollow circle with '?', stop = octagon, info = circle with 'i'."""
    cx, cy = center
    r = max(4.0, float(radius))
    lw = max(2, round(r / 4))
    if kind == "ok":
        pygame.draw.circle(surface, BLUISH_GREEN, (cx, cy), r)
        pts = [
            (cx - 0.5 * r, cy + 0.02 * r),
            (cx - 0.12 * r, cy + 0.4 * r),
            (cx + 0.52 * r, cy - 0.38 * r),
        ]
        pygame.draw.lines(surface, WHITE, False, pts, lw + 1)
    elif kind == "warning":
        pts = [(cx, cy - r), (cx + r * 1.05, cy + 0.82 * r), (cx - r * 1.05, cy + 0.82 * r)]
        pygame.draw.polygon(surface, ORANGE, pts)
        pygame.draw.line(surface, BLACK, (cx, cy - 0.45 * r), (cx, cy + 0.22 * r), lw + 1)
        pygame.draw.circle(surface, BLACK, (cx, cy + 0.5 * r), max(2, lw * 0.7))
    elif kind == "fault":
        rect = pygame.Rect(0, 0, round(1.8 * r), round(1.8 * r))
        rect.center = (round(cx), round(cy))
        pygame.draw.rect(surface, VERMILLION, rect, border_radius=max(2, round(r / 5)))
        d = 0.5 * r
        pygame.draw.line(surface, WHITE, (cx - d, cy - d), (cx + d, cy + d), lw + 1)
        pygame.draw.line(surface, WHITE, (cx - d, cy + d), (cx + d, cy - d), lw + 1)
    elif kind == "unknown":
        pygame.draw.circle(surface, LIGHT_GREY, (cx, cy), r, width=lw)
        text(surface, "?", round(1.5 * r), LIGHT_GREY, (cx, cy + r * 0.08), "center")
    elif kind == "stop":
        pts = [
            (
                cx + r * math.cos(math.radians(22.5 + 45 * k)),
                cy + r * math.sin(math.radians(22.5 + 45 * k)),
            )
            for k in range(8)
        ]
        pygame.draw.polygon(surface, VERMILLION, pts)
        pygame.draw.polygon(surface, WHITE, pts, width=max(2, lw // 2))
        pygame.draw.rect(surface, WHITE, (cx - 0.55 * r, cy - 0.14 * r, 1.1 * r, 0.28 * r))
    elif kind == "info":
        pygame.draw.circle(surface, SKY_BLUE, (cx, cy), r)
        text(surface, "i", round(1.5 * r), BLACK, (cx, cy + r * 0.08), "center")
    else:
        raise ValueError(f"icon: unknown kind {kind!r}")


def fmt_number(value: float, spec: str = ".0f", missing: str = "--") -> str:
    """Format a number; NaN/inf show as ``missing`` rather than a misleading 0."""
    return format(value, spec) if math.isfinite(value) else missing


def fmt_clock(seconds: float) -> str:
    s = max(0, math.ceil(seconds)) if math.isfinite(seconds) else 0
    return f"{s // 60}:{s % 60:02d}"
