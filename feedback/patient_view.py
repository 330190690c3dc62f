"""The patient's screen: camera and skeleton, one cue, counters, range / load / tempo / hold.

Drawn for reading from about 3 m: type scales with the window height, every status has a
shape as well as a colour, and there is only ever one cue line. The view holds the lifecycle
(update, draw, close), the demonstration's state and the hit tests; each region of the window
is laid out by ``feedback.patient_layout`` and drawn by a panel of ``feedback.panels``.
"""

from __future__ import annotations

import logging
from functools import cache

import numpy as np
import pygame

from education import EducationError
from education.cards import Card, load_cards
from feedback import style
from feedback.demonstration_view import (
    DemoLayout,
    demo_for,
    demo_layout,
    draw_button,
    draw_demonstration,
)
from feedback.demonstration_view import words as demo_words
from feedback.panels.camera import GHOST, GHOST_ALPHA, CameraPanel
from feedback.panels.messages import (
    CueBar,
    SourceBanner,
    draw_safety_stop,
    safety_cue,
    safety_stop_rects,
)
from feedback.panels.phase_overlay import PhaseOverlay, SetSummary, summarise
from feedback.panels.repaint import ALWAYS, Repaint
from feedback.panels.side import GOOD_FORM, TEMPO_LABELS, SideColumn
from feedback.panels.top_bar import SOUND_DOWN, SOUND_TOGGLE, SOUND_UP, SoundState, TopBar
from feedback.patient_layout import PatientLayout, image_rect, patient_layout, safety_banner_rect
from session.snapshot import Snapshot

__all__ = [
    "DEMO_BEFORE_SET_S",
    "DEMO_PHASES",
    "GHOST",
    "GHOST_ALPHA",
    "GOOD_FORM",
    "SOUND_DOWN",
    "SOUND_TOGGLE",
    "SOUND_UP",
    "TEMPO_LABELS",
    "PatientLayout",
    "PatientView",
    "SetSummary",
    "SoundState",
    "draw_safety_stop",
    "education_deck",
    "image_rect",
    "is_machine",
    "patient_layout",
    "safety_banner_rect",
    "summarise",
]

log = logging.getLogger(__name__)

# The demonstration: shown by itself while the patient gets into view and in the last seconds
# of a rest (before the next set); on demand (key D, the "Show me" button) in these phases.
DEMO_PHASES = ("setup", "rest", "paused")
DEMO_BEFORE_SET_S = 15.0


@cache
def education_deck() -> tuple[Card, ...]:
    """The shipped education cards; a bad card file is logged (one line) and none are shown,
    so an unattended kiosk never stops over its rest screen."""
    try:
        return load_cards()
    except EducationError as exc:
        log.error("education cards not shown: %s", exc)
        return ()


def is_machine(snap: Snapshot) -> bool:
    return snap.machine is not None and snap.machine.state != "off"


class PatientView:
    """update(snapshot) then draw(surface); close() at the end. The regions are drawn in a
    fixed order: top bar; the image area (camera image, ghost and skeleton, phase overlay,
    Show me button, source banner) or the demonstration; the side column's boxes or card; the
    cue bar; the safety stop over everything. Each is drawn again only when what it shows
    changed (``feedback.panels.repaint``)."""

    def __init__(
        self, mirror: bool = True, lang: str = "en", cards: tuple[Card, ...] | None = None
    ) -> None:
        self.lang = lang
        self.sound: SoundState | None = None  # None: no sound control drawn
        self._snap: Snapshot | None = None
        self._layout: PatientLayout | None = None
        self._static: tuple[PatientLayout, pygame.Surface] | None = None
        self.demo_choice: bool | None = None  # the patient's D / button; None: automatic
        self.show_ghost = True  # set by the Screen (key G, the therapist view's switch)
        self._demo_key: tuple[int, bool] = (0, False)  # the set and rest the choice is for
        self._demo_layout: DemoLayout | None = None
        self.top = TopBar()
        self.camera = CameraPanel(mirror)
        self.overlay = PhaseOverlay()
        self.side = SideColumn(education_deck() if cards is None else cards)
        self.cue = CueBar()
        self.banner = SourceBanner()
        self._repaint = Repaint()

    @property
    def mirror(self) -> bool:
        return self.camera.mirror

    @mirror.setter
    def mirror(self, value: bool) -> None:
        self.camera.mirror = value

    @property
    def cards(self) -> tuple[Card, ...]:
        return self.side.cards

    @cards.setter
    def cards(self, value: tuple[Card, ...]) -> None:
        self.side.cards = value

    # lifecycle -------------------------------------------------------------------------
    def update(self, snapshot: Snapshot) -> None:
        self._snap = snapshot
        key = (snapshot.set_index, snapshot.phase == "rest")
        if key != self._demo_key:  # a choice holds for one rest, or one set's start
            self.demo_choice, self._demo_key = None, key
        self.camera.update(snapshot)
        self.side.update(snapshot)

    def current_card(self) -> tuple[Card, int] | None:
        """The education card showing now and its place in the deck (rests and the end)."""
        return self.side.current_card()

    def layout_for(self, size: tuple[int, int]) -> PatientLayout:
        machine = self._snap is not None and is_machine(self._snap)
        hold = self._snap is not None and self._snap.hold_target_s > 0
        lay = self._layout
        if (
            lay is None
            or lay.size != tuple(size)
            or (lay.load_box is not None) != machine
            or (lay.hold_box is not None) != hold
        ):
            lay = self._layout = patient_layout(tuple(size), machine, hold)
        return lay

    def close(self) -> None:
        self.camera.close()
        self.overlay.close()
        self._static = None
        self._repaint.forget()

    def draw(self, surface: pygame.Surface, full: bool = True) -> list[pygame.Rect]:
        """Draw the view into ``surface``; returns the rectangles drawn (the whole surface
        when drawn whole), the ones to present on a screen.

        ``full`` False: only the regions whose content changed since the last draw, which
        must have gone into the same surface with nothing drawn over it since (the window
        loop); a new surface, window size or arrangement of the regions is drawn whole."""
        lay = self.layout_for(surface.get_size())
        static = self._static_layer(lay)
        paint = self._repaint
        snap = self._snap
        if snap is None:
            paint.begin(surface, static, (lay, "starting"), whole=True)
            paint.region("starting", surface.get_rect(), None, lambda: self._draw_starting(surface))
            return paint.end()
        demo = self.demo_showing()
        card = None if demo else self.side.current_card()
        paint.begin(surface, static, (lay, demo, card is None, snap.safety_stop), whole=full)
        top = self.top
        paint.region(
            "top",
            lay.top_bar,
            top.key(snap, self.sound),
            lambda: top.draw(surface, lay, snap, self.sound),
        )
        if demo:
            paint.region(
                "demo",
                self.demo_layout_for(lay.size).area,
                ALWAYS,  # the figure moves every frame
                lambda: self._draw_demo(surface, lay, snap),
            )
        else:
            show = self.demo_button(lay.size)
            key = (
                self.camera.key(snap, self.show_ghost),
                self.overlay.key(snap),
                None if show is None else (tuple(show), self.lang),
                self.banner.key(snap),
            )
            paint.region(
                "image", lay.image_area, key, lambda: self._draw_image(surface, lay, snap, show)
            )
            for name, rect, key, draw in self.side.parts(surface, lay, snap, self.lang):
                paint.region(name, rect, key, draw)
        paint.region(
            "cue", lay.cue_box, self.cue.key(snap), lambda: self.cue.draw(surface, lay, snap)
        )
        if snap.safety_stop:
            paint.over(
                "stop",
                safety_cue(snap),
                safety_stop_rects(lay.size, lay.safety_banner),
                lambda: draw_safety_stop(surface, snap, lay.safety_banner),
            )
        return paint.end()

    def _draw_starting(self, surface: pygame.Surface) -> None:
        size = self.layout_for(surface.get_size()).title_size
        style.text(
            surface, "Starting...", size, style.TEXT_DIM, surface.get_rect().center, "center"
        )

    def _draw_demo(self, surface: pygame.Surface, lay: PatientLayout, snap: Snapshot) -> None:
        """The demonstration over the image area and the side column; a source's banner on top."""
        draw_demonstration(surface, self.demo_layout_for(lay.size), snap, self.lang, self.mirror)
        self.banner.draw(surface, lay, snap)

    def _draw_image(
        self, surface: pygame.Surface, lay: PatientLayout, snap: Snapshot, show: pygame.Rect | None
    ) -> None:
        """The image area: camera and skeleton, the phase's overlay, Show me, a source's banner."""
        self.camera.draw(surface, lay, snap, self.show_ghost)
        self.overlay.draw(surface, lay, snap)
        if show is not None:
            draw_button(surface, show, demo_words(self.lang)["show"])
        self.banner.draw(surface, lay, snap)

    def _static_layer(self, lay: PatientLayout) -> pygame.Surface:
        """Background and panels, drawn once per layout: rounded panels are the costliest
        part of a frame and never change."""
        if self._static is None or self._static[0] is not lay:
            bg = pygame.Surface(lay.size)
            bg.fill(style.BACKGROUND)
            pygame.draw.rect(bg, style.PANEL, lay.top_bar)
            pygame.draw.rect(bg, (6, 7, 9), lay.image_area)
            boxes = (lay.reps_box, lay.range_box, lay.load_box, lay.tempo_box, lay.hold_box)
            for b in (*boxes, lay.cue_box):
                if b is not None:
                    style.panel(bg, b)
            self._static = (lay, bg)
        return self._static[1]

    # mapping ---------------------------------------------------------------------------
    def landmark_pixels(self, snap: Snapshot, area: pygame.Rect) -> np.ndarray | None:
        """Screen positions (33, 2) of the landmarks, NaN where not visible."""
        return self.camera.points_to_pixels(snap.landmarks, snap, area)

    def points_to_pixels(
        self, points: np.ndarray | None, snap: Snapshot, area: pygame.Rect
    ) -> np.ndarray | None:
        """Screen positions (33, 2) of normalised points (the landmarks, the ghost)."""
        return self.camera.points_to_pixels(points, snap, area)

    # demonstration -----------------------------------------------------------------------
    def demo_offered(self) -> bool:
        """Whether the demonstration can be shown now (the phase allows it, it exists)."""
        snap = self._snap
        return (
            snap is not None
            and snap.phase in DEMO_PHASES
            and not snap.safety_stop
            and demo_for(snap.exercise_id) is not None
        )

    def demo_showing(self) -> bool:
        snap = self._snap
        if snap is None or not self.demo_offered():
            return False
        if self.demo_choice is not None:
            return self.demo_choice
        if snap.phase == "rest":
            return snap.rest_remaining_s <= DEMO_BEFORE_SET_S
        return snap.phase == "setup"

    def toggle_demo(self) -> bool:
        """Show or hide the demonstration (key D, the button); False when not offered now."""
        if not self.demo_offered():
            return False
        self.demo_choice = not self.demo_showing()
        return True

    def demo_layout_for(self, size: tuple[int, int]) -> DemoLayout:
        lay = self.layout_for(size)
        if self._demo_layout is None or self._demo_layout.size != tuple(size):
            area = lay.image_area.union(lay.side)
            self._demo_layout = demo_layout(tuple(size), area)
        return self._demo_layout

    def demo_button(self, size: tuple[int, int]) -> pygame.Rect | None:
        """The button that shows (or closes) the demonstration, where it is drawn now."""
        if not self.demo_offered():
            return None
        if self.demo_showing():
            return self.demo_layout_for(size).button
        lay = self.layout_for(size)
        r = self.demo_layout_for(size).button.copy()
        r.bottomleft = (lay.image_area.x + 12, lay.image_area.bottom - 12)
        return r

    # hit tests -------------------------------------------------------------------------
    def hit_demo(self, pos: tuple[int, int], size: tuple[int, int]) -> bool:
        r = self.demo_button(size)
        return r is not None and r.collidepoint(pos)

    def hit_pause(self, pos: tuple[int, int], size: tuple[int, int]) -> bool:
        return self.layout_for(size).pause_button.collidepoint(pos)

    def hit_sound(self, pos: tuple[int, int], size: tuple[int, int]) -> str | None:
        """Which sound button is at ``pos`` (SOUND_DOWN / SOUND_TOGGLE / SOUND_UP), if any."""
        if self.sound is None or not self.sound.available:
            return None
        lay = self.layout_for(size)
        for name, r in (
            (SOUND_DOWN, lay.sound_down),
            (SOUND_TOGGLE, lay.sound_toggle),
            (SOUND_UP, lay.sound_up),
        ):
            if r.collidepoint(pos):
                return name
        return None
