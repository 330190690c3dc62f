"""The side column: the counter boxes (reps and sets with the last rep's form, range, load,
tempo, hold) or, in a rest and at the end, an education card in their place."""

from __future__ import annotations

import math
from collections.abc import Callable

import pygame

from education.cards import ROTATE_S, Card
from feedback import style, widgets
from feedback.education_view import draw_card
from feedback.panels.repaint import Same, number
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

    def parts(
        self, surface: pygame.Surface, lay: PatientLayout, snap: Snapshot, lang: str
    ) -> list[tuple[str, pygame.Rect, tuple, Callable[[], None]]]:
        """The column's regions, each as (name, rectangle, key, draw): the card, or one per
        counter box, so a tempo marker that moves redraws its box alone."""
        shown = self.current_card()
        if shown is not None:  # resting: the counters have nothing to say, the card takes over
            card, k = shown
            n = len(self.cards)
            return [
                (
                    "card",
                    lay.side,
                    (Same(card), k, n, lang),
                    lambda: draw_card(surface, lay.side, card, lang, lay.size[1], (k + 1, n)),
                )
            ]
        out: list[tuple[str, pygame.Rect, tuple, Callable[[], None]]] = []

        # A box's region takes in the margins beside it (up to the image area and the window's
        # edge): the tempo marker at either end of its track stands out past the box.
        def region(box: pygame.Rect) -> pygame.Rect:
            return box.inflate(2 * lay.margin, 0)

        last_form = snap.reps[-1].form_score if snap.reps else math.nan
        key = (snap.rep_count, snap.reps_target, snap.set_index, snap.sets_total, number(last_form))
        out.append(("reps", region(lay.reps_box), key, lambda: self._draw_reps(surface, lay, snap)))
        key = (number(snap.range_progress), snap.range_target, number(snap.pain_free_limit))
        out.append(
            ("range", region(lay.range_box), key, lambda: self._draw_range(surface, lay, snap))
        )
        if lay.load_box is not None:
            band = snap.load_band_n
            key = (number(snap.force_n), number(band[0]), number(band[1]))
            key += (number(snap.load_limit_n),)
            out.append(
                ("load", region(lay.load_box), key, lambda: self._draw_load(surface, lay, snap))
            )
        key = (snap.tempo_phase, number(snap.tempo_position))
        out.append(
            ("tempo", region(lay.tempo_box), key, lambda: self._draw_tempo(surface, lay, snap))
        )
        if lay.hold_box is not None:
            key = (number(min(snap.hold_s, 999.0)), snap.hold_target_s)
            out.append(
                ("hold", region(lay.hold_box), key, lambda: self._draw_hold(surface, lay, snap))
            )
        return out

    def draw(self, surface: pygame.Surface, lay: PatientLayout, snap: Snapshot, lang: str) -> None:
        for _, _, _, draw in self.parts(surface, lay, snap, lang):
            draw()

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

    @staticmethod
    def _draw_reps(surface: pygame.Surface, lay: PatientLayout, snap: Snapshot) -> None:
        """Reps and sets, and the last rep's form against the demonstrated movement."""
        t = lay.title_size
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
        if math.isfinite(score):
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

    def _draw_range(self, surface: pygame.Surface, lay: PatientLayout, snap: Snapshot) -> None:
        p = snap.range_progress
        value = f"{p:.0%}" if math.isfinite(p) else "--"
        colour = (
            widgets.range_fill_colour(p, snap.range_target, snap.pain_free_limit)
            if math.isfinite(p)
            else style.TEXT_DIM
        )
        self._box_title(
            surface,
            lay.range_box,
            "Range",
            value,
            lay.title_size,
            colour,
            widgets.range_icon(p, snap.range_target, snap.pain_free_limit),
        )
        widgets.range_gauge(
            surface, lay.range_bar, p, snap.range_target, snap.pain_free_limit, lay.label_size
        )

    def _draw_load(self, surface: pygame.Surface, lay: PatientLayout, snap: Snapshot) -> None:
        if lay.load_box is None or lay.load_bar is None:
            return
        f = snap.force_n
        colour = (
            widgets.load_fill_colour(f, snap.load_band_n, snap.load_limit_n)
            if math.isfinite(f)
            else style.TEXT_DIM
        )
        icon = widgets.load_icon(f, snap.load_band_n, snap.load_limit_n)
        value = f"{style.fmt_number(f)} N"
        self._box_title(surface, lay.load_box, "Load", value, lay.title_size, colour, icon)
        widgets.load_bar(
            surface, lay.load_bar, f, snap.load_band_n, snap.load_limit_n, lay.label_size
        )

    def _draw_tempo(self, surface: pygame.Surface, lay: PatientLayout, snap: Snapshot) -> None:
        phase = TEMPO_LABELS.get(snap.tempo_phase, "")
        self._box_title(surface, lay.tempo_box, "Tempo", phase, lay.title_size, style.SKY_BLUE)
        widgets.tempo_guide(surface, lay.tempo_bar, snap.tempo_position)

    def _draw_hold(self, surface: pygame.Surface, lay: PatientLayout, snap: Snapshot) -> None:
        if lay.hold_box is None or lay.hold_bar is None:
            return
        held = min(snap.hold_s, 999.0)
        done = held >= snap.hold_target_s
        self._box_title(
            surface,
            lay.hold_box,
            "Hold",
            f"{held:.1f} / {snap.hold_target_s:.0f} s",
            lay.title_size,
            style.BLUISH_GREEN if done else style.TEXT,
            "ok" if done else None,
        )
        widgets.hold_bar(surface, lay.hold_bar, held, snap.hold_target_s)
