"""Where each part of the patient view goes for one window size.

Every rectangle derives from the window's height (type, bars, margins) and width (columns),
so the same layout serves 1280x720 and 1920x1080. The panels (``feedback.panels``) draw into
these rectangles; the screen hit-tests its buttons against them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygame


@dataclass(frozen=True, slots=True)
class PatientLayout:
    """Every rectangle of the patient view for one window size (exposed for hit-testing)."""

    size: tuple[int, int]
    top_bar: pygame.Rect
    pause_button: pygame.Rect
    image_area: pygame.Rect
    side: pygame.Rect
    reps_box: pygame.Rect
    range_box: pygame.Rect
    range_bar: pygame.Rect
    load_box: pygame.Rect | None
    load_bar: pygame.Rect | None
    tempo_box: pygame.Rect
    tempo_bar: pygame.Rect
    hold_box: pygame.Rect | None
    hold_bar: pygame.Rect | None
    cue_box: pygame.Rect
    status_banner: pygame.Rect
    safety_banner: pygame.Rect
    # The sound control left of the pause button: quieter, mute toggle with the volume, louder.
    sound_down: pygame.Rect
    sound_toggle: pygame.Rect
    sound_up: pygame.Rect

    @property
    def margin(self) -> int:
        """The gap between panels and round the window's edge."""
        return self.pause_button.y

    @property
    def title_size(self) -> int:
        return max(16, round(self.size[1] * 0.05))

    @property
    def label_size(self) -> int:
        return max(14, round(self.size[1] * 0.027))


def patient_layout(size: tuple[int, int], machine: bool, hold: bool = True) -> PatientLayout:
    """Rectangles for a window of ``size``; the load box only for machine work, the hold box
    only for exercises with a hold (the freed height goes to the other boxes)."""
    w, h = size
    m = max(6, round(h * 0.015))
    top_h = round(h * 0.1)
    top_bar = pygame.Rect(0, 0, w, top_h)
    pause_w = round(h * 0.26)
    pause_button = pygame.Rect(w - m - pause_w, m, pause_w, top_h - 2 * m)
    bh = pause_button.h
    sound_up = pygame.Rect(pause_button.x - 3 * m - bh, m, bh, bh)
    toggle_w = round(h * 0.2)
    sound_toggle = pygame.Rect(sound_up.x - m // 2 - toggle_w, m, toggle_w, bh)
    sound_down = pygame.Rect(sound_toggle.x - m // 2 - bh, m, bh, bh)
    cue_h = round(h * 0.15)
    cue_box = pygame.Rect(m, h - cue_h - m, w - 2 * m, cue_h)
    mid_y = top_h
    mid_h = cue_box.y - m - mid_y
    side_w = round(w * 0.34)
    image_area = pygame.Rect(m, mid_y, w - side_w - 3 * m, mid_h)
    side = pygame.Rect(image_area.right + m, mid_y, side_w, mid_h)

    named = {"reps": 0.2 if machine else 0.26, "range": 0.22 if machine else 0.26}
    if machine:
        named["load"] = 0.22
    named["tempo"] = 0.18 if machine else 0.24
    if hold:
        named["hold"] = 0.18 if machine else 0.24
    total = sum(named.values())
    weights = [v / total for v in named.values()]
    usable = mid_h - m * (len(weights) - 1)
    boxes = []
    y = mid_y
    for i, wt in enumerate(weights):
        bh = round(usable * wt) if i < len(weights) - 1 else side.bottom - y
        boxes.append(pygame.Rect(side.x, y, side.w, bh))
        y += bh + m

    def bar_in(box: pygame.Rect) -> pygame.Rect:
        pad = max(8, round(box.w * 0.05))
        bh = max(10, round(box.h * 0.18))
        return pygame.Rect(box.x + pad, box.y + round(box.h * 0.58), box.w - 2 * pad, bh)

    box = dict(zip(named, boxes, strict=True))
    load_box = box.get("load")
    hold_box = box.get("hold")
    banner_h = round(h * 0.08)
    return PatientLayout(
        size=(w, h),
        top_bar=top_bar,
        pause_button=pause_button,
        image_area=image_area,
        side=side,
        reps_box=box["reps"],
        range_box=box["range"],
        range_bar=bar_in(box["range"]),
        load_box=load_box,
        load_bar=bar_in(load_box) if load_box else None,
        tempo_box=box["tempo"],
        tempo_bar=bar_in(box["tempo"]),
        hold_box=hold_box,
        hold_bar=bar_in(hold_box) if hold_box else None,
        cue_box=cue_box,
        status_banner=pygame.Rect(image_area.x, image_area.y, image_area.w, banner_h),
        safety_banner=safety_banner_rect((w, h)),
        sound_down=sound_down,
        sound_toggle=sound_toggle,
        sound_up=sound_up,
    )


def image_rect(area: pygame.Rect, image_size: tuple[int, int]) -> pygame.Rect:
    """Largest rectangle of the image's aspect ratio centred in ``area`` (letterboxed)."""
    iw, ih = image_size
    scale = min(area.w / iw, area.h / ih)
    r = pygame.Rect(0, 0, round(iw * scale), round(ih * scale))
    r.center = area.center
    return r


def safety_banner_rect(size: tuple[int, int]) -> pygame.Rect:
    """Where the STOP band goes: full width, across the middle of the screen."""
    w, h = size
    return pygame.Rect(0, round(h * 0.3), w, round(h * 0.36))
