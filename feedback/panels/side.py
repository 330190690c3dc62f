"""The side column: the counter boxes (reps and sets with the last rep's form, range, load,
tempo, hold) or, in a rest and at the end, an education card in their place."""

from __future__ import annotations

import math

import pygame

from education.cards import ROTATE_S, Card
from feedback import style, widgets
from feedback.education_view import draw_card
from feedback.patient_layout import PatientLayout
from kernels.reps import RepPhase
from session.snapshot import Snapshot

# The tempo box names where in the rep the patient is; at rest it says nothing.
TEMPO_LABELS = {RepPhase.OUT: "Out", RepPhase.TOP: "Hold", RepPhase.BACK: "Back"}
GOOD_FORM = 80  # a rep's form score at or above this is shown green with a tick


class SideColumn:
    """update(snapshot) turns the card deck; draw(...) fills ``PatientLayout.side``."""

    def __init__(self, cards: tuple[Card, ...]) -> None:
        self.cards = cards
        self._snap: Snapshot | None = None
        self._card_phase = ""  # the rest or end screen the card rotation belongs to
        self._card_t0 = 0.0
        self._card_start = -1  # each rest starts one card further into the deck

    def update(self, snap: Snapshot) -> None:
        self._snap = snap
        if snap.phase in ("rest", "done") and snap.phase != self._card_phase:
            self._card_t0 = snap.t
            self._card_start += 1
        self._card_phase = snap.phase

    def current_card(self) -> tuple[Card, int] | None:
        """The education card showing now and its place in the deck (rests and the end)."""
        snap = self._snap
        if snap is None or snap.phase not in ("rest", "done") or not self.cards:
            return None
        elapsed = max(0.0, snap.t - self._card_t0)
        k = (self._card_start + int(elapsed // ROTATE_S)) % len(self.cards)
        return self.cards[k], k

    def draw(self, surface: pygame.Surface, lay: PatientLayout, snap: Snapshot, lang: str) -> None:
        shown = self.current_card()
        if shown is None:
            self._draw_counters(surface, lay, snap)
        else:  # resting: the counters have nothing to say, the card takes their column
            card, k = shown
            draw_card(surface, lay.side, card, lang, lay.size[1], (k + 1, len(self.cards)))

    @staticmethod
    def _box_title(
        surface: pygame.Surface,
        box: pygame.Rect,
        title: str,
        value: str,
        size: int,
        colour: style.Colour = style.TEXT,
        icon: str | None = None,
    ) -> None:
        """Title left, value right; ``icon`` (a status shape) goes left of the value so the
        value's colour is never the only signal."""
        pad = max(8, round(box.w * 0.05))
        style.text(
            surface, title, size, style.TEXT_DIM, (box.x + pad, box.y + pad * 0.8), "topleft"
        )
        if value:
            r = style.text(
                surface,
                value,
                size * 1.15,
                colour,
                (box.right - pad, box.y + pad * 0.6),
                "topright",
            )
            if icon is not None:
                style.icon(surface, icon, (r.x - size * 0.55, r.centery), size * 0.36)

    def _draw_counters(self, surface: pygame.Surface, lay: PatientLayout, snap: Snapshot) -> None:
        t = lay.title_size
        # reps and sets
        b = lay.reps_box
        pad = max(8, round(b.w * 0.05))
        style.text(surface, "Reps", t, style.TEXT_DIM, (b.x + pad, b.y + pad * 0.8))
        reps = f"{snap.rep_count}" + (f" / {snap.reps_target}" if snap.reps_target else "")
        style.text(
            surface,
            reps,
            b.h * 0.55,
            style.TEXT,
            (b.x + pad, b.bottom - pad * 0.6),
            "bottomleft",
            b.w * 0.62,
        )
        style.text(
            surface,
            f"Set {snap.set_index} of {snap.sets_total}",
            t,
            style.TEXT,
            (b.right - pad, b.bottom - pad),
            "bottomright",
        )
        score = snap.reps[-1].form_score if snap.reps else math.nan
        if math.isfinite(score):  # the last rep against the demonstrated movement
            good = score >= GOOD_FORM
            r = style.text(
                surface,
                f"Form {score:.0f}",
                t,
                style.BLUISH_GREEN if good else style.TEXT,
                (b.right - pad, b.y + pad * 0.8),
                "topright",
            )
            if good:
                style.icon(surface, "ok", (r.x - t * 0.55, r.centery), t * 0.36)
        # range of motion
        b = lay.range_box
        p = snap.range_progress
        value = f"{p:.0%}" if math.isfinite(p) else "--"
        colour = (
            widgets.range_fill_colour(p, snap.range_target, snap.pain_free_limit)
            if math.isfinite(p)
            else style.TEXT_DIM
        )
        self._box_title(
            surface,
            b,
            "Range",
            value,
            t,
            colour,
            widgets.range_icon(p, snap.range_target, snap.pain_free_limit),
        )
        widgets.range_gauge(
            surface, lay.range_bar, p, snap.range_target, snap.pain_free_limit, lay.label_size
        )
        # load
        if lay.load_box is not None and lay.load_bar is not None:
            b = lay.load_box
            f = snap.force_n
            colour = (
                widgets.load_fill_colour(f, snap.load_band_n, snap.load_limit_n)
                if math.isfinite(f)
                else style.TEXT_DIM
            )
            icon = widgets.load_icon(f, snap.load_band_n, snap.load_limit_n)
            self._box_title(surface, b, "Load", f"{style.fmt_number(f)} N", t, colour, icon)
            widgets.load_bar(
                surface, lay.load_bar, f, snap.load_band_n, snap.load_limit_n, lay.label_size
            )
        # tempo
        b = lay.tempo_box
        phase = TEMPO_LABELS.get(snap.tempo_phase, "")
        self._box_title(surface, b, "Tempo", phase, t, style.SKY_BLUE)
        widgets.tempo_guide(surface, lay.tempo_bar, snap.tempo_position)
        # hold
        hb = lay.hold_box
        if hb is not None and lay.hold_bar is not None:
            held = min(snap.hold_s, 999.0)
            done = held >= snap.hold_target_s
            self._box_title(
                surface,
                hb,
                "Hold",
                f"{held:.1f} / {snap.hold_target_s:.0f} s",
                t,
                style.BLUISH_GREEN if done else style.TEXT,
                "ok" if done else None,
            )
            widgets.hold_bar(surface, lay.hold_bar, held, snap.hold_target_s)
