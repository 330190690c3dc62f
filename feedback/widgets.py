"""Bars and gauges drawn into a given rectangle; the views decide where the rectangles go."""

from __future__ import annotations

import math

import pygame

from feedback import style
from feedback.style import Colour

# Range fractions from here up to the target count as "in the target zone".
TARGET_ZONE_LOW = 0.9


def clamp01(v: float) -> float:
    return 0.0 if not math.isfinite(v) else min(1.0, max(0.0, v))


def value_x(bar: pygame.Rect, value: float, scale_max: float) -> int:
    """Pixel column of ``value`` on a bar that spans 0 .. ``scale_max``."""
    return bar.x + round(clamp01(value / scale_max) * bar.width)


def range_scale_max(target: float, pain_free_limit: float) -> float:
    """Right end of the range gauge: room past the target and the pain-free limit."""
    m = max(1.25, target * 1.15 if math.isfinite(target) else 1.25)
    if math.isfinite(pain_free_limit):
        m = max(m, pain_free_limit * 1.08)
    return m


def range_fill_colour(progress: float, target: float, pain_free_limit: float) -> Colour:
    if math.isfinite(pain_free_limit) and progress >= pain_free_limit:
        return style.VERMILLION
    if progress >= TARGET_ZONE_LOW * target:
        return style.BLUISH_GREEN
    return style.SKY_BLUE


def range_icon(progress: float, target: float, pain_free_limit: float) -> str | None:
    """Status shape for the range value: tick in the target zone, cross past the limit."""
    if not math.isfinite(progress):
        return None
    if math.isfinite(pain_free_limit) and progress >= pain_free_limit:
        return "fault"
    return "ok" if progress >= TARGET_ZONE_LOW * target else None


def load_icon(force: float, band: tuple[float, float], limit: float) -> str | None:
    """Status shape for the load value: tick in the band, triangle over it, cross at the limit."""
    if not math.isfinite(force):
        return None
    colour = load_fill_colour(force, band, limit)
    return {style.VERMILLION: "fault", style.ORANGE: "warning", style.BLUISH_GREEN: "ok"}.get(
        colour
    )


def load_scale_max(band: tuple[float, float], limit: float, force: float) -> float:
    candidates = [1.0]
    if math.isfinite(band[1]):
        candidates.append(band[1] * 1.3)
    if math.isfinite(limit):
        candidates.append(limit * 1.1)
    if math.isfinite(force):
        candidates.append(force * 1.05)
    return max(candidates)


def load_fill_colour(force: float, band: tuple[float, float], limit: float) -> Colour:
    if math.isfinite(limit) and force >= limit:
        return style.VERMILLION
    lo, hi = band
    if math.isfinite(hi) and force > hi:
        return style.ORANGE
    if math.isfinite(lo) and force < lo:
        return style.SKY_BLUE
    return style.BLUISH_GREEN


def _zone(surface, bar: pygame.Rect, lo: float, hi: float, scale_max: float, label: str, size: int):
    """The target band: a strip above the bar plus brackets, so it stays visible under the fill."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return
    x0, x1 = value_x(bar, lo, scale_max), value_x(bar, hi, scale_max)
    strip_h = max(4, bar.height // 4)
    strip = pygame.Rect(x0, bar.y - strip_h - 3, max(2, x1 - x0), strip_h)
    pygame.draw.rect(surface, style.BLUISH_GREEN, strip)
    for x in (x0, x1):
        pygame.draw.line(surface, style.WHITE, (x, bar.y - strip_h - 3), (x, bar.bottom), 2)
    surf = style.render(label, size, style.TEXT_DIM)  # small type: contrast over hue
    cx = min(max(strip.centerx, bar.x + surf.get_width() // 2), bar.right - surf.get_width() // 2)
    surface.blit(surf, surf.get_rect(midbottom=(cx, strip.y - 1)))


def _limit(surface, bar: pygame.Rect, value: float, scale_max: float, label: str, size: int):
    """A hard limit: thick vermillion line past both edges with a downward triangle."""
    if not math.isfinite(value):
        return
    x = value_x(bar, value, scale_max)
    w = max(3, bar.height // 8)
    pygame.draw.line(surface, style.BLACK, (x, bar.y - 6), (x, bar.bottom + 6), w + 4)
    pygame.draw.line(surface, style.VERMILLION, (x, bar.y - 6), (x, bar.bottom + 6), w)
    t = max(6, bar.height // 3)
    pygame.draw.polygon(
        surface,
        style.VERMILLION,
        [(x - t, bar.bottom + 8 + t), (x + t, bar.bottom + 8 + t), (x, bar.bottom + 8)],
    )
    anchor = "topright" if x > bar.centerx else "topleft"
    dx = -t - 2 if anchor == "topright" else t + 2
    style.text(surface, label, size, style.TEXT_DIM, (x + dx, bar.bottom + 6), anchor)


def bar_track(surface: pygame.Surface, bar: pygame.Rect) -> None:
    pygame.draw.rect(surface, style.TRACK, bar, border_radius=bar.height // 5)


def bar_fill(surface: pygame.Surface, bar: pygame.Rect, value: float, scale_max: float, colour):
    if not math.isfinite(value):
        return
    x = value_x(bar, value, scale_max)
    if x > bar.x:
        pygame.draw.rect(
            surface, colour, (bar.x, bar.y, x - bar.x, bar.height), border_radius=bar.height // 5
        )


def range_gauge(
    surface: pygame.Surface,
    bar: pygame.Rect,
    progress: float,
    target: float,
    pain_free_limit: float,
    label_size: int = 18,
) -> None:
    """Range of motion as a fraction of the target; unknown progress leaves the bar empty."""
    scale = range_scale_max(target, pain_free_limit)
    size = label_size
    bar_track(surface, bar)
    bar_fill(surface, bar, progress, scale, range_fill_colour(progress, target, pain_free_limit))
    hi = target
    if math.isfinite(pain_free_limit):
        hi = min(hi, pain_free_limit)
    _zone(surface, bar, TARGET_ZONE_LOW * target, hi, scale, "target", size)
    _limit(surface, bar, pain_free_limit, scale, "limit", size)


def load_bar(
    surface: pygame.Surface,
    bar: pygame.Rect,
    force: float,
    band: tuple[float, float],
    limit: float,
    label_size: int = 18,
) -> None:
    scale = load_scale_max(band, limit, force)
    size = label_size
    bar_track(surface, bar)
    bar_fill(surface, bar, force, scale, load_fill_colour(force, band, limit))
    _zone(surface, bar, band[0], band[1], scale, "target band", size)
    _limit(surface, bar, limit, scale, "limit", size)


def tempo_guide(surface: pygame.Surface, bar: pygame.Rect, position: float) -> None:
    """Where in the rep the patient should be now: a marker moving along the track."""
    pygame.draw.rect(surface, style.TRACK, bar, border_radius=bar.height // 2)
    if not math.isfinite(position):
        return
    x = value_x(bar, position, 1.0)
    pygame.draw.rect(
        surface, style.BLUE, (bar.x, bar.y, x - bar.x, bar.height), border_radius=bar.height // 2
    )
    r = max(8, round(bar.height * 0.95))
    pygame.draw.circle(surface, style.BLACK, (x, bar.centery), r + 3)
    pygame.draw.circle(surface, style.SKY_BLUE, (x, bar.centery), r)
    pygame.draw.circle(surface, style.WHITE, (x, bar.centery), max(3, r // 3))


def hold_bar(surface: pygame.Surface, bar: pygame.Rect, held_s: float, target_s: float) -> None:
    bar_track(surface, bar)
    if target_s > 0 and math.isfinite(held_s):
        done = held_s >= target_s
        bar_fill(surface, bar, held_s, target_s, style.BLUISH_GREEN if done else style.SKY_BLUE)


def stripes(surface: pygame.Surface, rect: pygame.Rect, a: Colour, b: Colour) -> None:
    """Diagonal hazard stripes, the shape-level signal for a safety stop."""
    pygame.draw.rect(surface, a, rect)
    step = max(12, rect.height)
    clip = surface.get_clip()
    surface.set_clip(rect.clip(clip) if clip else rect)
    for x in range(rect.x - rect.height, rect.right + step, step * 2):
        pts = [
            (x, rect.bottom),
            (x + step, rect.bottom),
            (x + step + rect.height, rect.y),
            (x + rect.height, rect.y),
        ]
        pygame.draw.polygon(surface, b, pts)
    surface.set_clip(clip)
