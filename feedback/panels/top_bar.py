"""The top bar: the exercise's name, the sound control and the pause button."""

from __future__ import annotations

from dataclasses import dataclass

import pygame

from feedback import style
from feedback.patient_layout import PatientLayout
from session.snapshot import Snapshot


@dataclass(frozen=True, slots=True)
class SoundState:
    """What the sound control shows; set by the Screen from its ``Audio``."""

    volume: float  # 0..1, coaching volume
    muted: bool
    available: bool


# Hit-test names of the sound control's three buttons.
SOUND_DOWN, SOUND_TOGGLE, SOUND_UP = "sound_down", "sound_toggle", "sound_up"


class TopBar:
    """Draws ``PatientLayout.top_bar``; ``sound`` None: no sound control."""

    @staticmethod
    def key(snap: Snapshot, sound: SoundState | None) -> tuple:
        """What the bar is drawn from (``feedback.panels.repaint``)."""
        return (snap.exercise_name, snap.phase == "done", snap.phase == "paused", sound)

    def draw(
        self, surface: pygame.Surface, lay: PatientLayout, snap: Snapshot, sound: SoundState | None
    ) -> None:
        m = lay.pause_button.y
        style.text(
            surface,
            snap.exercise_name,
            lay.title_size * 1.15,
            style.TEXT,
            (m * 2, lay.top_bar.centery),
            "midleft",
            max_width=(lay.sound_down.x if sound is not None else lay.pause_button.x) - 4 * m,
        )
        self._draw_sound(surface, lay, sound)
        b = lay.pause_button
        if snap.phase == "done":
            return
        paused = snap.phase == "paused"
        style.panel(surface, b, style.BLUE if not paused else style.BLUISH_GREEN)
        s = b.h * 0.55
        ix, cy = b.x + b.h * 0.55, b.centery
        if paused:  # play triangle
            pygame.draw.polygon(
                surface,
                style.WHITE,
                [(ix - s / 3, cy - s / 2), (ix - s / 3, cy + s / 2), (ix + s / 2, cy)],
            )
        else:  # two bars
            bw = max(3, round(s / 3.5))
            pygame.draw.rect(surface, style.WHITE, (ix - s / 2.6, cy - s / 2, bw, s))
            pygame.draw.rect(surface, style.WHITE, (ix + s / 2.6 - bw, cy - s / 2, bw, s))
        label = "Resume" if paused else "Pause"
        style.text(
            surface,
            label,
            b.h * 0.62,
            style.WHITE,
            (b.x + b.h * 1.05, cy),
            "midleft",
            b.w - b.h * 1.2,
        )

    @staticmethod
    def _draw_sound(surface: pygame.Surface, lay: PatientLayout, snd: SoundState | None) -> None:
        """Quieter / speaker with the volume (tap: mute) / louder; keys - + and M do the same."""
        if snd is None:
            return
        t = lay.sound_toggle
        if not snd.available:
            style.text(surface, "No sound", t.h * 0.45, style.TEXT_DIM, t.center, "center")
            return
        for b, sign in ((lay.sound_down, -1), (lay.sound_up, 1)):
            style.panel(surface, b, style.PANEL_EDGE, edge=False)
            s, lw = b.h * 0.22, max(3, round(b.h * 0.09))
            pygame.draw.line(
                surface, style.WHITE, (b.centerx - s, b.centery), (b.centerx + s, b.centery), lw
            )
            if sign > 0:
                pygame.draw.line(
                    surface, style.WHITE, (b.centerx, b.centery - s), (b.centerx, b.centery + s), lw
                )
        style.panel(surface, t, style.ORANGE if snd.muted else style.PANEL_EDGE, edge=False)
        ink = style.BLACK if snd.muted else style.WHITE
        u = t.h * 0.18  # speaker: a box and a cone, a cross over it when muted
        cx, cy = t.x + t.h * 0.42, t.centery
        pygame.draw.rect(surface, ink, (cx - u * 1.4, cy - u * 0.6, u * 0.9, u * 1.2))
        cone = [(cx - u * 0.6, cy - u * 0.6), (cx + u * 0.4, cy - u * 1.5)]
        cone += [(cx + u * 0.4, cy + u * 1.5), (cx - u * 0.6, cy + u * 0.6)]
        pygame.draw.polygon(surface, ink, cone)
        if snd.muted:
            lw = max(3, round(u * 0.35))
            a, b2 = (cx - u * 1.7, cy - u * 1.7), (cx + u * 0.9, cy + u * 1.7)
            pygame.draw.line(surface, ink, a, b2, lw)
        label = "Muted" if snd.muted else f"{round(snd.volume * 100)}%"
        style.text(
            surface, label, t.h * 0.58, ink, (cx + u * 1.4, cy), "midleft", t.right - cx - u * 1.6
        )
