"""The kiosk visit's own screens, drawn from a frozen ``clinic.visit.VisitView``: the pain scale
before and after, the next item with its dose (Start / Skip), the reason for a skip, the rest
between items, the end-of-visit summary, and "no programme" (nothing offered).

The pain scale: eleven numbers 0-10 in one row, big enough for a finger, from "no pain" to
"worst pain imaginable"; a tap chooses, OK confirms, so one slip of the finger is not stored.
Colour follows the number from bluish green to vermillion, and every button carries its
number, so nothing relies on colour.
"""

from __future__ import annotations

import math

import pygame

from clinic.visit import SKIP_REASONS, VisitStage, VisitView
from feedback import style
from feedback.clinic_widgets import Button, button_row, draw_buttons, hit, paragraph
from feedback.intents import AskSkip, CancelSkip, GivePain, Intent, NextStep, SkipItem, StartItem
from storage.clinic_records import VisitOutcome

PAIN_OK = "pain_ok"
_OUTCOME = {
    VisitOutcome.DONE: ("ok", "done"),
    VisitOutcome.UNFINISHED: ("warning", "not finished"),
    VisitOutcome.SKIPPED: ("unknown", "skipped"),
    VisitOutcome.STOPPED: ("stop", "stopped for safety"),
    VisitOutcome.NOT_HERE: ("info", "at another station"),
}


def pain_colour(score: int) -> style.Colour:
    if score <= 3:
        return style.BLUISH_GREEN
    if score <= 6:
        return style.ORANGE
    return style.VERMILLION


def pain_keys(size: tuple[int, int]) -> list[Button]:
    w, h = size
    gap = round(w * 0.01)
    bw = (w - round(w * 0.08) - 10 * gap) // 11
    bh = round(min(h * 0.2, bw * 1.3))
    x0 = round(w * 0.04)
    y = round(h * 0.36)
    return [Button(str(k), str(k), pygame.Rect(x0 + k * (bw + gap), y, bw, bh)) for k in range(11)]


class VisitScreen:
    """Draws the visit and turns touches into visit intents; keeps the pain chosen but not
    yet confirmed (a tap, then OK)."""

    def __init__(self) -> None:
        self.chosen: int | None = None
        self._stage: VisitStage | None = None

    def buttons(self, v: VisitView, size: tuple[int, int]) -> list[Button]:
        s = v.stage
        if s in (VisitStage.PAIN_BEFORE, VisitStage.PAIN_AFTER):
            ok = button_row(size, [(PAIN_OK, "OK", True)])
            ok = [Button(b.key, b.label, b.rect, True, self.chosen is not None) for b in ok]
            return pain_keys(size) + ok
        if s == VisitStage.ITEM_READY:
            return button_row(size, [("skip", "Skip", False), ("start", "Start", True)])
        if s == VisitStage.SKIP_REASON:
            w, h = size
            bh, gap = round(h * 0.09), round(h * 0.02)
            out = [
                Button(
                    f"reason:{r}",
                    r,
                    pygame.Rect(
                        round(w * 0.04), round(h * 0.24) + i * (bh + gap), round(w * 0.5), bh
                    ),
                )
                for i, r in enumerate(SKIP_REASONS)
            ]
            return out + button_row(size, [("cancel", "Back", False)])
        if s == VisitStage.BETWEEN:
            return button_row(size, [("next", "Next", True)])
        if s in (VisitStage.SUMMARY, VisitStage.NO_PROGRAMME):
            return button_row(size, [("next", "Done", True)])
        return []

    def handle_pointer(
        self, pos: tuple[int, int], v: VisitView, size: tuple[int, int]
    ) -> list[Intent]:
        key = hit(self.buttons(v, size), pos)
        if key is None:
            return []
        if key.isdigit():
            self.chosen = int(key)
            return []
        if key == PAIN_OK and self.chosen is not None:
            score, self.chosen = self.chosen, None
            return [GivePain(score)]
        if key.startswith("reason:"):
            return [SkipItem(key.split(":", 1)[1])]
        return {
            "start": [StartItem()],
            "skip": [AskSkip()],
            "cancel": [CancelSkip()],
            "next": [NextStep()],
        }.get(key, [])

    def draw(self, surface: pygame.Surface, v: VisitView) -> None:
        if v.stage != self._stage:  # a new question: nothing chosen yet
            self.chosen = None
            self._stage = v.stage
        w, h = surface.get_size()
        surface.fill(style.BACKGROUND)
        s = v.stage
        if s in (VisitStage.PAIN_BEFORE, VisitStage.PAIN_AFTER):
            self._pain(surface, v)
        elif s == VisitStage.ITEM_READY:
            self._ready(surface, v)
        elif s == VisitStage.SKIP_REASON:
            style.text(
                surface, "Why skip this exercise?", h * 0.07, style.TEXT, (w * 0.04, h * 0.08)
            )
            if v.current is not None:
                style.text(surface, v.current.name, h * 0.045, style.TEXT_DIM, (w * 0.04, h * 0.16))
        elif s == VisitStage.BETWEEN:
            self._between(surface, v)
        elif s == VisitStage.SUMMARY:
            self._summary(surface, v)
        elif s == VisitStage.NO_PROGRAMME:
            style.icon(surface, "info", (w * 0.07, h * 0.2), h * 0.04)
            style.text(surface, "No programme yet", h * 0.09, style.TEXT, (w * 0.12, h * 0.15))
            paragraph(
                surface,
                "Your therapist has not set up your exercises yet. Please ask your therapist.",
                h * 0.06,
                style.TEXT_DIM,
                (w * 0.04, h * 0.34),
                w * 0.9,
            )
        draw_buttons(surface, self.buttons(v, (w, h)))
        if s in (VisitStage.PAIN_BEFORE, VisitStage.PAIN_AFTER):
            self._pain_marks(surface)

    def _pain(self, surface: pygame.Surface, v: VisitView) -> None:
        w, h = surface.get_size()
        title = (
            "How much pain do you have right now?"
            if v.stage == VisitStage.PAIN_BEFORE
            else "And now, after exercising: how much pain?"
        )
        style.text(surface, title, h * 0.07, style.TEXT, (w * 0.04, h * 0.08), max_width=w * 0.92)
        style.text(
            surface, "Tap a number, then OK", h * 0.045, style.TEXT_DIM, (w * 0.04, h * 0.19)
        )
        keys = pain_keys((w, h))
        style.text(
            surface,
            "0 = no pain",
            h * 0.04,
            style.TEXT_DIM,
            (keys[0].rect.x, keys[0].rect.bottom + h * 0.03),
        )
        style.text(
            surface,
            "10 = worst pain imaginable",
            h * 0.04,
            style.TEXT_DIM,
            (keys[-1].rect.right, keys[-1].rect.bottom + h * 0.03),
            "topright",
        )
        if self.chosen is not None:
            style.text(
                surface, f"You chose {self.chosen}", h * 0.06, style.TEXT, (w * 0.04, h * 0.72)
            )

    def _pain_marks(self, surface: pygame.Surface) -> None:
        """Colour each number by its score (drawn over the plain buttons) and ring the chosen."""
        w, h = surface.get_size()
        for b in pain_keys((w, h)):
            k = int(b.key)
            pygame.draw.rect(surface, pain_colour(k), b.rect, border_radius=max(6, b.rect.h // 6))
            style.text(surface, b.label, b.rect.h * 0.5, style.BLACK, b.rect.center, "center")
            if self.chosen == k:
                pygame.draw.rect(
                    surface, style.WHITE, b.rect.inflate(10, 10), width=5, border_radius=8
                )

    def _ready(self, surface: pygame.Surface, v: VisitView) -> None:
        w, h = surface.get_size()
        p = v.current
        if p is None:
            return
        here = [x for x in v.items if x.here]
        n = here.index(p) + 1 if p in here else p.position
        style.text(
            surface, f"Exercise {n} of {len(here)}", h * 0.045, style.TEXT_DIM, (w * 0.04, h * 0.06)
        )
        style.text(surface, p.name, h * 0.1, style.TEXT, (w * 0.04, h * 0.13), max_width=w * 0.92)
        style.text(
            surface, p.dose, h * 0.055, style.SKY_BLUE, (w * 0.04, h * 0.3), max_width=w * 0.92
        )
        if math.isfinite(v.pain_before):
            style.text(
                surface,
                f"Pain before: {v.pain_before:g} of 10",
                h * 0.04,
                style.TEXT_DIM,
                (w * 0.04, h * 0.45),
            )

    def _between(self, surface: pygame.Surface, v: VisitView) -> None:
        w, h = surface.get_size()
        left = math.ceil(v.left_s) if math.isfinite(v.left_s) else 0
        style.icon(surface, "ok", (w * 0.07, h * 0.14), h * 0.045)
        style.text(surface, "Well done. Rest a moment.", h * 0.08, style.TEXT, (w * 0.12, h * 0.09))
        style.text(surface, f"{left} s", h * 0.2, style.SKY_BLUE, (w * 0.04, h * 0.26))
        if v.current is not None:
            style.text(
                surface,
                f"Next: {v.current.name}",
                h * 0.06,
                style.TEXT,
                (w * 0.04, h * 0.58),
                max_width=w * 0.9,
            )
            style.text(
                surface,
                v.current.dose,
                h * 0.045,
                style.TEXT_DIM,
                (w * 0.04, h * 0.67),
                max_width=w * 0.9,
            )

    def _summary(self, surface: pygame.Surface, v: VisitView) -> None:
        w, h = surface.get_size()
        style.text(surface, "Your visit today", h * 0.08, style.TEXT, (w * 0.04, h * 0.05))
        size = round(h * 0.045)
        y = h * 0.18
        for planned, r in v.done:
            kind, what = _OUTCOME[r.outcome]
            style.icon(surface, kind, (w * 0.05, y + size * 0.5), size * 0.45)
            detail = what
            if r.outcome in (VisitOutcome.DONE, VisitOutcome.UNFINISHED, VisitOutcome.STOPPED):
                detail += f": {r.reps_done} of {r.reps_target}"
            elif r.reason:
                detail += f": {r.reason}"
            style.text(surface, planned.name, size, style.TEXT, (w * 0.09, y), max_width=w * 0.42)
            style.text(
                surface, detail, size * 0.85, style.TEXT_DIM, (w * 0.53, y + 3), max_width=w * 0.43
            )
            y += size * 1.45
        pain = f"Pain: {v.pain_before:g} before, {v.pain_after:g} after"
        style.text(surface, pain, size, style.TEXT, (w * 0.04, max(y + size, h * 0.6)))
        a = v.after
        if a is not None:
            if a.pain.flagged:
                msg = "Your therapist will look at your pain before your exercises change."
            elif a.applied and any(c.action == "progress" for c in a.proposals):
                msg = "Good work: next time your exercises go up a little."
            elif a.applied:
                msg = "Next time your exercises stay as they are."
            else:
                msg = "Your therapist will look at today's visit and set your next exercises."
            paragraph(
                surface,
                msg,
                size,
                style.SKY_BLUE,
                (w * 0.04, max(y + size * 2.4, h * 0.68)),
                w * 0.6,
                2,
            )
