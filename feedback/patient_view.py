"""The patient's screen: camera and skeleton, one cue, counters, range / load / tempo / hold.

Drawn for reading from about 3 m: type scales with the window height, every status has a
shape as well as a colour, and there is only ever one cue line.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass
from functools import cache

import numpy as np
import pygame

from body.landmarks import SKELETON
from education import EducationError
from education.cards import ROTATE_S, Card, load_cards
from feedback import style, widgets
from feedback.demonstration_view import (
    DemoLayout,
    demo_for,
    demo_layout,
    draw_button,
    draw_demonstration,
    draw_figure,
)
from feedback.demonstration_view import words as demo_words
from feedback.education_view import draw_card
from kernels.reps import RepPhase
from session.snapshot import RuleStatus, Severity, Snapshot

log = logging.getLogger(__name__)

_DEFAULT_ASPECT = 16 / 9  # landmark-only replays with no image size: assume a webcam frame
_FIT_SMOOTHING = 0.2  # per-frame blend of the replay framing, so the view does not jitter

# The tempo box names where in the rep the patient is; at rest it says nothing.
TEMPO_LABELS = {RepPhase.OUT: "Out", RepPhase.TOP: "Hold", RepPhase.BACK: "Back"}

# The demonstration: shown by itself while the patient gets into view and in the last seconds
# of a rest (before the next set); on demand (key D, the "Show me" button) in these phases.
DEMO_PHASES = ("setup", "rest", "paused")
DEMO_BEFORE_SET_S = 15.0
# The ghost to follow: the reference figure, light and translucent, under the skeleton.
GHOST, GHOST_ALPHA = style.WHITE, 90
GOOD_FORM = 80  # a rep's form score at or above this is shown green with a tick


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


@dataclass(frozen=True, slots=True)
class SoundState:
    """What the sound control shows; set by the Screen from its ``Audio``."""

    volume: float  # 0..1, coaching volume
    muted: bool
    available: bool


# Hit-test names of the sound control's three buttons.
SOUND_DOWN, SOUND_TOGGLE, SOUND_UP = "sound_down", "sound_toggle", "sound_up"


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


def image_rect(area: pygame.Rect, image_size: tuple[int, int]) -> pygame.Rect:
    """Largest rectangle of the image's aspect ratio centred in ``area`` (letterboxed)."""
    iw, ih = image_size
    scale = min(area.w / iw, area.h / ih)
    r = pygame.Rect(0, 0, round(iw * scale), round(ih * scale))
    r.center = area.center
    return r


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


class PatientView:
    """update(snapshot) then draw(surface); no state beyond caches and the replay framing."""

    def __init__(
        self, mirror: bool = True, lang: str = "en", cards: tuple[Card, ...] | None = None
    ) -> None:
        self.mirror = mirror
        self.lang = lang
        self.cards = education_deck() if cards is None else cards
        self.sound: SoundState | None = None  # None: no sound control drawn
        self._card_phase = ""  # the rest or end screen the card rotation belongs to
        self._card_t0 = 0.0
        self._card_start = -1  # each rest starts one card further into the deck
        self._snap: Snapshot | None = None
        self._layout: PatientLayout | None = None
        self._frame_src: np.ndarray | None = None
        self._frame_key: tuple | None = None
        self._frame_surf: pygame.Surface | None = None
        self._rgb32: pygame.Surface | None = None
        self._scaled: pygame.Surface | None = None
        self._fit: tuple[float, float, float] | None = None  # centre x, centre y, span
        self._shade: dict[tuple[int, int], pygame.Surface] = {}
        self._static: tuple[PatientLayout, pygame.Surface] | None = None
        self.demo_choice: bool | None = None  # the patient's D / button; None: automatic
        self.show_ghost = True  # set by the Screen (key G, the therapist view's switch)
        self._demo_key: tuple[int, bool] = (0, False)  # the set and rest the choice is for
        self._demo_layout: DemoLayout | None = None

    # lifecycle -------------------------------------------------------------------------
    def update(self, snapshot: Snapshot) -> None:
        self._snap = snapshot
        key = (snapshot.set_index, snapshot.phase == "rest")
        if key != self._demo_key:  # a choice holds for one rest, or one set's start
            self.demo_choice, self._demo_key = None, key
        if snapshot.frame is None and snapshot.landmarks is not None:
            self._update_fit(snapshot)
        if snapshot.phase in ("rest", "done") and snapshot.phase != self._card_phase:
            self._card_t0 = snapshot.t
            self._card_start += 1
        self._card_phase = snapshot.phase

    def current_card(self) -> tuple[Card, int] | None:
        """The education card showing now and its place in the deck (rests and the end)."""
        snap = self._snap
        if snap is None or snap.phase not in ("rest", "done") or not self.cards:
            return None
        elapsed = max(0.0, snap.t - self._card_t0)
        k = (self._card_start + int(elapsed // ROTATE_S)) % len(self.cards)
        return self.cards[k], k

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

    def close(self) -> None:
        self._frame_surf = self._rgb32 = self._scaled = None
        self._frame_src = None
        self._static = None
        self._shade.clear()

    def draw(self, surface: pygame.Surface) -> None:
        lay = self.layout_for(surface.get_size())
        surface.blit(self._static_layer(lay), (0, 0))
        snap = self._snap
        if snap is None:
            style.text(
                surface,
                "Starting...",
                lay.title_size,
                style.TEXT_DIM,
                surface.get_rect().center,
                "center",
            )
            return
        self._draw_top(surface, lay, snap)
        if self.demo_showing():
            draw_demonstration(
                surface, self.demo_layout_for(lay.size), snap, self.lang, self.mirror
            )
            self._draw_cue(surface, lay, snap)
            self._draw_source_banner(surface, lay, snap)
            return
        self._draw_image(surface, lay, snap)
        self._draw_phase_overlay(surface, lay, snap)
        show = self.demo_button(lay.size)
        if show is not None:
            draw_button(surface, show, demo_words(self.lang)["show"])
        shown = self.current_card()
        if shown is None:
            self._draw_side(surface, lay, snap)
        else:  # resting: the counters have nothing to say, the card takes their column
            card, k = shown
            draw_card(surface, lay.side, card, self.lang, lay.size[1], (k + 1, len(self.cards)))
        self._draw_cue(surface, lay, snap)
        self._draw_source_banner(surface, lay, snap)
        if snap.safety_stop:
            draw_safety_stop(surface, snap, lay.safety_banner)

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
    def _aspect(self, snap: Snapshot) -> float:
        if snap.frame is not None:
            return snap.frame.shape[1] / snap.frame.shape[0]
        iw, ih = snap.image_size
        return iw / ih if iw > 0 and ih > 0 else _DEFAULT_ASPECT

    def _update_fit(self, snap: Snapshot) -> None:
        lm = snap.landmarks
        ok = np.isfinite(lm).all(axis=1)
        if ok.sum() < 2:
            return
        aspect = self._aspect(snap)
        xs, ys = lm[ok, 0] * aspect, lm[ok, 1]
        cx, cy = (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2
        span = max(xs.max() - xs.min(), ys.max() - ys.min(), 0.05)
        if self._fit is None:
            self._fit = (cx, cy, span)
        else:
            a = _FIT_SMOOTHING
            fx, fy, fs = self._fit
            self._fit = (fx + a * (cx - fx), fy + a * (cy - fy), fs + a * (span - fs))

    def landmark_pixels(self, snap: Snapshot, area: pygame.Rect) -> np.ndarray | None:
        """Screen positions (33, 2) of the landmarks, NaN where not visible."""
        return self.points_to_pixels(snap.landmarks, snap, area)

    def points_to_pixels(
        self, points: np.ndarray | None, snap: Snapshot, area: pygame.Rect
    ) -> np.ndarray | None:
        """Screen positions (33, 2) of normalised points (the landmarks, the ghost)."""
        if points is None:
            return None
        lm = np.asarray(points, dtype=np.float64)
        x = 1.0 - lm[:, 0] if self.mirror else lm[:, 0]
        y = lm[:, 1]
        if snap.frame is not None:
            r = image_rect(area, (snap.frame.shape[1], snap.frame.shape[0]))
            return np.stack([r.x + x * r.w, r.y + y * r.h], axis=1)
        # Landmark-only replay: frame the body in the canvas at a steady zoom.
        aspect = self._aspect(snap)
        fit = self._fit or (0.5 * aspect, 0.5, 1.0)
        fx = (1.0 - fit[0] / aspect) * aspect if self.mirror else fit[0]
        scale = min(area.w, area.h) * 0.8 / fit[2]
        px = area.centerx + (x * aspect - fx) * scale
        py = area.centery + (y - fit[1]) * scale
        return np.stack([px, py], axis=1)

    # parts -----------------------------------------------------------------------------
    def _draw_top(self, surface, lay: PatientLayout, snap: Snapshot) -> None:
        m = lay.pause_button.y
        style.text(
            surface,
            snap.exercise_name,
            lay.title_size * 1.15,
            style.TEXT,
            (m * 2, lay.top_bar.centery),
            "midleft",
            max_width=(lay.sound_down.x if self.sound is not None else lay.pause_button.x) - 4 * m,
        )
        self._draw_sound(surface, lay)
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

    def _draw_sound(self, surface, lay: PatientLayout) -> None:
        """Quieter / speaker with the volume (tap: mute) / louder; keys - + and M do the same."""
        snd = self.sound
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

    def _frame_surface(self, frame: np.ndarray, r: pygame.Rect) -> pygame.Surface:
        """The camera image scaled to ``r``; redone only when a new image arrives."""
        key = (r.size, self.mirror)
        if frame is not self._frame_src or key != self._frame_key:
            arr = np.ascontiguousarray(frame[:, :, :3], dtype=np.uint8)
            size = (arr.shape[1], arr.shape[0])
            src = pygame.image.frombuffer(arr, size, "RGB")
            # smoothscale is about 3x faster from 32-bit pixels than from packed 24-bit ones.
            if self._rgb32 is None or self._rgb32.get_size() != size:
                self._rgb32 = pygame.Surface(size, 0, 32)
            self._rgb32.blit(src, (0, 0))
            if self._scaled is None or self._scaled.get_size() != r.size:
                self._scaled = pygame.Surface(r.size, 0, 32)
            pygame.transform.smoothscale(self._rgb32, r.size, self._scaled)
            self._frame_surf = (
                pygame.transform.flip(self._scaled, True, False) if self.mirror else self._scaled
            )
            self._frame_src, self._frame_key = frame, key
        return self._frame_surf

    def _draw_image(self, surface, lay: PatientLayout, snap: Snapshot) -> None:
        area = lay.image_area
        if snap.frame is not None:
            r = image_rect(area, (snap.frame.shape[1], snap.frame.shape[0]))
            surface.blit(self._frame_surface(snap.frame, r), r)
        else:
            step = max(20, area.h // 8)
            for y in range(area.y + step, area.bottom, step):
                pygame.draw.line(surface, (28, 31, 38), (area.x, y), (area.right - 1, y), 1)
            style.text(
                surface,
                "no camera" if snap.camera.state == "off" else "replay: landmarks only",
                lay.title_size * 0.6,
                style.TEXT_DIM,
                (area.right - 10, area.bottom - 8),
                "bottomright",
            )
        # Hidden while resting or paused: the summary and the pause notice are the message then.
        pts = None if snap.phase in ("rest", "done", "paused") else self.landmark_pixels(snap, area)
        if pts is not None:
            clip = surface.get_clip()
            surface.set_clip(area)
            ghost = self.points_to_pixels(snap.ghost, snap, area) if self.show_ghost else None
            if ghost is not None:  # under the patient's own skeleton, to follow
                lw = max(4, round(area.h * 0.014))
                draw_figure(surface, ghost, lw + 6, GHOST, GHOST, GHOST_ALPHA)
            self._draw_skeleton(surface, pts, snap, area)
            surface.set_clip(clip)

    def _draw_skeleton(self, surface, pts: np.ndarray, snap: Snapshot, area: pygame.Rect) -> None:
        lw = max(4, round(area.h * 0.014))
        statuses = snap.segment_status
        marks = []
        for i, (a, b) in enumerate(SKELETON):
            pa, pb = pts[a], pts[b]
            if not (np.isfinite(pa).all() and np.isfinite(pb).all()):
                continue
            st = statuses[i] if i < len(statuses) else RuleStatus.UNKNOWN
            width = lw + 3 if st in (RuleStatus.FAULT, RuleStatus.WARNING) else lw
            if st == RuleStatus.UNKNOWN:
                width = max(2, lw // 2)
            pygame.draw.line(surface, style.BLACK, pa, pb, width + 4)
            pygame.draw.line(surface, style.STATUS_COLOUR[st], pa, pb, width)
            if st in (RuleStatus.FAULT, RuleStatus.WARNING):
                marks.append((st, pa, pb))
        used = {j for seg in SKELETON for j in seg}
        for j in used:
            p = pts[j]
            if np.isfinite(p).all():
                pygame.draw.circle(surface, style.BLACK, p, lw * 0.9 + 2)
                pygame.draw.circle(surface, style.WHITE, p, lw * 0.9)
        # Shape beside colour: each faulted segment gets its icon, set off to the side so the
        # segment itself stays visible.
        r = max(10, lw * 2.2)
        placed: list[tuple[RuleStatus, np.ndarray]] = []
        for st, pa, pb in sorted(marks, key=lambda m: -m[0]):
            mid = (pa + pb) / 2
            d = pb - pa
            n = np.array([-d[1], d[0]]) / (np.hypot(*d) or 1.0)
            if n[0] < 0:
                n = -n
            c = mid + n * (r + lw * 2)
            near = [(s, np.hypot(*(c - q))) for s, q in placed]
            if any(d < 2.2 * r or (s == st and d < 4 * r) for s, d in near):
                continue  # one icon per status and body region is enough; more is clutter
            placed.append((st, c))
            style.icon(surface, style.STATUS_ICON[st], (c[0], c[1]), r)

    def _shade_surface(self, size: tuple[int, int], alpha: int = 190) -> pygame.Surface:
        s = self._shade.get(size)
        if s is None:
            s = pygame.Surface(size, pygame.SRCALPHA)
            s.fill((*style.BACKGROUND, alpha))
            self._shade[size] = s
        return s

    def _draw_phase_overlay(self, surface, lay: PatientLayout, snap: Snapshot) -> None:
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

    def _draw_summary(self, surface, lay: PatientLayout, snap: Snapshot, top: float) -> None:
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

    def _box_title(
        self,
        surface,
        box: pygame.Rect,
        title: str,
        value: str,
        size: int,
        colour=style.TEXT,
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

    def _draw_side(self, surface, lay: PatientLayout, snap: Snapshot) -> None:
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
        if lay.load_box is not None:
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
        b = lay.hold_box
        if b is not None and lay.hold_bar is not None:
            held = min(snap.hold_s, 999.0)
            done = held >= snap.hold_target_s
            self._box_title(
                surface,
                b,
                "Hold",
                f"{held:.1f} / {snap.hold_target_s:.0f} s",
                t,
                style.BLUISH_GREEN if done else style.TEXT,
                "ok" if done else None,
            )
            widgets.hold_bar(surface, lay.hold_bar, held, snap.hold_target_s)

    def _draw_cue(self, surface, lay: PatientLayout, snap: Snapshot) -> None:
        b = lay.cue_box
        cue = snap.cue
        if cue is None:
            return
        colour = style.SEVERITY_COLOUR[cue.severity]
        stripe = pygame.Rect(b.x, b.y, max(8, b.h // 8), b.h)
        pygame.draw.rect(
            surface, colour, stripe, border_top_left_radius=8, border_bottom_left_radius=8
        )
        r = b.h * 0.3
        cx = stripe.right + r * 1.5
        style.icon(surface, style.SEVERITY_ICON[cue.severity], (cx, b.centery), r)
        x0 = cx + r * 1.6
        style.text(
            surface, cue.text, b.h * 0.6, style.TEXT, (x0, b.centery), "midleft", b.right - x0 - 12
        )

    def _draw_source_banner(self, surface, lay: PatientLayout, snap: Snapshot) -> None:
        sources = (snap.camera, snap.machine, snap.storage)
        bad = [s for s in sources if s is not None and not s.healthy]
        if not bad:
            return
        b = lay.status_banner
        pygame.draw.rect(surface, style.YELLOW, b)
        pygame.draw.rect(surface, style.BLACK, b, width=3)
        words = {"reconnecting": "reconnecting...", "lost": "lost - check the cable"}
        msg = "   ".join(
            f"{s.name.capitalize()} {words.get(s.state, s.state)}"
            + (f" ({s.message})" if s.message else "")
            for s in bad
        )
        r = b.h * 0.32
        style.icon(surface, "warning", (b.x + r * 1.6, b.centery + r * 0.1), r)
        style.text(
            surface, msg, b.h * 0.6, style.BLACK, (b.x + r * 3.2, b.centery), "midleft", b.w - r * 4
        )


def safety_banner_rect(size: tuple[int, int]) -> pygame.Rect:
    """Where the STOP band goes: full width, across the middle of the screen."""
    w, h = size
    return pygame.Rect(0, round(h * 0.3), w, round(h * 0.36))


def draw_safety_stop(
    surface: pygame.Surface, snap: Snapshot, band: pygame.Rect | None = None
) -> None:
    """The safety stop, drawn over whatever screen is showing: a vermillion frame round the
    window and a full-width band with hazard stripes, an octagon, STOP and the safety cue."""
    w, h = surface.get_size()
    b = band if band is not None else safety_banner_rect((w, h))
    edge = max(10, round(h * 0.02))
    pygame.draw.rect(surface, style.VERMILLION, (0, 0, w, h), width=edge)
    pygame.draw.rect(surface, style.VERMILLION, b)
    sh = max(10, round(b.h * 0.1))
    widgets.stripes(surface, pygame.Rect(b.x, b.y, b.w, sh), style.BLACK, style.YELLOW)
    widgets.stripes(surface, pygame.Rect(b.x, b.bottom - sh, b.w, sh), style.BLACK, style.YELLOW)
    inner_h = b.h - 2 * sh
    r = inner_h * 0.3
    style.icon(surface, "stop", (b.x + b.w * 0.08 + r, b.centery), r)
    style.text(
        surface,
        "STOP",
        inner_h * 0.62,
        style.WHITE,
        (b.centerx, b.y + sh + inner_h * 0.04),
        "midtop",
    )
    cue = (
        snap.cue.text
        if snap.cue is not None and snap.cue.severity == Severity.SAFETY
        else "Stop and rest"
    )
    style.text(
        surface,
        cue,
        inner_h * 0.26,
        style.WHITE,
        (b.centerx, b.bottom - sh - inner_h * 0.06),
        "midbottom",
        b.w * 0.72,
    )
