"""Over the camera image, what the phase has to say: the countdown, the pause notice, the
rest's clock and the end, each of the last two with the set summary."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pygame

from feedback import style, widgets
from feedback.panels.side import GOOD_FORM
from feedback.patient_layout import PatientLayout
from session.snapshot import Snapshot


@dataclass(frozen=True, slots=True)
class SetSummary:
    counted: int
    partial: int
    mean_range: float  # fraction of the target, NaN without reps
    tempo_ok: int
    top_faults: tuple[tuple[str, int], ...]
    mean_form: float = math.nan  # mean form score of the counted reps, NaN without any


def summarise(snap: Snapshot) -> SetSummary:
    counted = [r for r in snap.reps if r.counted]
    labels = {r.key: r.label for r in snap.rules}
    faults = Counter(
        labels.get(f, f.rsplit(".", 1)[-1].replace("_", " ")) for r in snap.reps for f in r.faults
    )
    ranges = [r.range_fraction for r in counted if math.isfinite(r.range_fraction)]
    forms = [r.form_score for r in counted if math.isfinite(r.form_score)]
    return SetSummary(
        counted=len(counted),
        partial=len(snap.reps) - len(counted),
        mean_range=float(np.mean(ranges)) if ranges else math.nan,
        tempo_ok=sum(1 for r in counted if r.tempo_ok),
        top_faults=tuple(faults.most_common(2)),
        mean_form=float(np.mean(forms)) if forms else math.nan,
    )


class PhaseOverlay:
    """Draws over ``PatientLayout.image_area`` in the countdown, pause, rest and end."""

    def __init__(self) -> None:
        self._shade: dict[tuple[int, int], pygame.Surface] = {}

    def close(self) -> None:
        self._shade.clear()

    @staticmethod
    def key(snap: Snapshot) -> tuple | None:
        """What the overlay is drawn from (``feedback.panels.repaint``); None: nothing drawn."""
        phase = snap.phase
        if phase == "countdown":
            return (phase, max(1, math.ceil(snap.countdown_s)))
        if phase == "paused":
            return (phase,)
        if phase == "rest":
            clock = style.fmt_clock(snap.rest_remaining_s)
            return (phase, snap.set_index, snap.sets_total, clock, summarise(snap))
        if phase == "done":
            return (phase, summarise(snap))
        return None

    def _shade_surface(self, size: tuple[int, int], alpha: int = 190) -> pygame.Surface:
        s = self._shade.get(size)
        if s is None:
            s = pygame.Surface(size, pygame.SRCALPHA)
            s.fill((*style.BACKGROUND, alpha))
            self._shade[size] = s
        return s

    def draw(self, surface: pygame.Surface, lay: PatientLayout, snap: Snapshot) -> None:
        area = lay.image_area
        big = round(lay.size[1] * 0.2)
        t = lay.title_size
        if snap.phase == "countdown":
            surface.blit(self._shade_surface(area.size, 150), area)
            box = pygame.Rect(0, 0, round(big * 2.6), round(big * 2.5))
            box.center = (area.centerx, area.centery - round(big * 0.05))
            style.panel(surface, box)
            style.text(
                surface,
                "Get ready",
                t * 1.3,
                style.TEXT,
                (area.centerx, area.centery - big * 0.6),
                "midbottom",
            )
            n = max(1, math.ceil(snap.countdown_s))
            style.text(
                surface,
                str(n),
                big * 1.4,
                style.YELLOW,
                (area.centerx, area.centery - big * 0.5),
                "midtop",
            )
        elif snap.phase == "paused":
            surface.blit(self._shade_surface(area.size, 170), area)
            style.text(surface, "Paused", big * 0.6, style.TEXT, area.center, "midbottom")
            style.text(
                surface,
                "Press Resume when you are ready",
                t,
                style.TEXT_DIM,
                (area.centerx, area.centery + 16),
                "midtop",
                area.w * 0.9,
            )
        elif snap.phase == "rest":
            surface.blit(self._shade_surface(area.size, 215), area)
            head = f"Set {snap.set_index} of {snap.sets_total} done - rest"
            style.text(
                surface,
                head,
                t * 1.15,
                style.TEXT,
                (area.centerx, area.y + t * 0.8),
                "midtop",
                area.w * 0.92,
            )
            style.text(
                surface,
                style.fmt_clock(snap.rest_remaining_s),
                big,
                style.SKY_BLUE,
                (area.centerx, area.y + t * 2.1),
                "midtop",
            )
            self._draw_summary(surface, lay, snap, area.y + t * 2.2 + big)
        elif snap.phase == "done":
            surface.blit(self._shade_surface(area.size, 225), area)
            style.text(
                surface,
                "Session complete - well done",
                t * 1.2,
                style.TEXT,
                (area.centerx, area.y + t),
                "midtop",
                area.w * 0.92,
            )
            self._draw_summary(surface, lay, snap, area.y + t * 2.8)

    @staticmethod
    def _draw_summary(surface: pygame.Surface, lay: PatientLayout, snap: Snapshot, top: float):
        area = lay.image_area
        s = summarise(snap)
        t = round(lay.title_size * 0.95)
        x = area.x + area.w * 0.1
        rows: list[tuple[str, str]] = [
            ("ok", f"{s.counted} reps counted" + (f", {s.partial} partial" if s.partial else ""))
        ]
        if math.isfinite(s.mean_range):
            rows.append(
                (
                    "ok" if s.mean_range >= widgets.TARGET_ZONE_LOW else "info",
                    f"Range: {s.mean_range:.0%} of target on average",
                )
            )
        if s.counted:
            rows.append(
                (
                    "ok" if s.tempo_ok == s.counted else "info",
                    f"Steady tempo: {s.tempo_ok} of {s.counted} reps",
                )
            )
        if math.isfinite(s.mean_form):
            good = s.mean_form >= GOOD_FORM
            rows.append(("ok" if good else "info", f"Form: {s.mean_form:.0f} of 100 on average"))
        for label, n in s.top_faults:
            rows.append(("warning", f"{label}: {n} reps"))
        y = top
        for kind, line in rows:
            if y + t > area.bottom:
                break
            style.icon(surface, kind, (x + t * 0.4, y + t * 0.45), t * 0.42)
            style.text(
                surface,
                line,
                t,
                style.TEXT,
                (x + t * 1.1, y + t * 0.45),
                "midleft",
                area.right - x - t * 1.5,
            )
            y += t * 1.35
