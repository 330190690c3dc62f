"""The demonstration screen: the exercise's reference movement played by a stick figure in the
camera's view, its two or three key points in large type, the dose, and where the camera
must stand. Shown before a set (while the patient gets into view, and in the last seconds of
a rest) and on demand in a rest (key D, or the "Show me" button).

The figure is the reference of ``exercises/references/<id>.toml`` as the session's checks
saw it (``session.reference_run``), looped on the snapshot's clock, so the same snapshot
always draws the same frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pygame

from body.landmarks import INDEX, NAMES, SKELETON
from exercises.errors import ExerciseError, UnknownExercise
from exercises.library import get_exercise
from exercises.schema import ExerciseDef
from feedback import style
from feedback.education_view import wrap
from session.reference_run import ReferenceRun, reference_run
from session.snapshot import Snapshot

WORDS = {
    "en": {
        "head": "How to do it",
        "watch": "Watch, then copy",
        "reps": "{sets} sets of {reps} reps",
        "set_reps": "1 set of {reps} reps",
        "holds": "{sets} sets of {reps} holds of {hold:g} s",
        "set_holds": "1 set of {reps} holds of {hold:g} s",
        "rest": "rest {rest:g} s between sets",
        "camera": "Camera {view}, about {dist:.1f} m away, {height:.1f} m above the floor",
        "side": "from the side",
        "front": "in front of you",
        "any": "where it sees all of you",
        "next": "Next set in {clock}",
        "first": "Step into view to start",
        "show": "Show me",
        "close": "Close",
        "no_reference": "No demonstration for this exercise",
    },
    "de": {
        "head": "So geht's",
        "watch": "Zuschauen, dann nachmachen",
        "reps": "{sets} Sätze mit je {reps} Wiederholungen",
        "set_reps": "1 Satz mit {reps} Wiederholungen",
        "holds": "{sets} Sätze mit je {reps} Halten von {hold:g} s",
        "set_holds": "1 Satz mit {reps} Halten von {hold:g} s",
        "rest": "{rest:g} s Pause zwischen den Sätzen",
        "camera": "Kamera {view}, etwa {dist:.1f} m entfernt, {height:.1f} m über dem Boden",
        "side": "seitlich",
        "front": "vor Ihnen",
        "any": "so, dass sie Sie ganz sieht",
        "next": "Nächster Satz in {clock}",
        "first": "Treten Sie ins Bild, um zu beginnen",
        "show": "Zeigen",
        "close": "Schließen",
        "no_reference": "Für diese Übung gibt es keine Vorführung",
    },
}
# The figure's near side (the one the exercise judges) is drawn brighter than the far one.
NEAR, FAR = style.SKY_BLUE, (60, 110, 150)
_HEAD = ("left_ear", "right_ear", "nose")
_RIGHT = frozenset(i for i, name in enumerate(NAMES) if name.startswith("right_"))
# The body's segments without the face (the head is drawn as a disc), far side first.
_SEGMENTS = tuple(
    sorted(
        ((a, b) for a, b in SKELETON if 0 not in (a, b)),
        key=lambda seg: not (seg[0] in _RIGHT and seg[1] in _RIGHT),
    )
)


def words(lang: str) -> dict[str, str]:
    return WORDS.get(lang, WORDS["en"])


@lru_cache(maxsize=16)
def _exercise(exercise_id: str) -> ExerciseDef | None:
    try:
        return get_exercise(exercise_id)
    except (UnknownExercise, ExerciseError):
        return None


def demo_for(exercise_id: str) -> tuple[ExerciseDef, ReferenceRun | None] | None:
    """The exercise and its reference run (None when it has none), by id."""
    ex = _exercise(exercise_id)
    return None if ex is None else (ex, reference_run(ex))


def dose_text(snap: Snapshot, ex: ExerciseDef, lang: str) -> str:
    """The dose of this session (the exercise's own in an open-ended analysis)."""
    w = words(lang)
    sets = snap.sets_total if snap.reps_target else ex.dose.sets
    reps = snap.reps_target or ex.dose.reps
    hold = snap.hold_target_s if snap.hold_target_s > 0 else ex.dose.hold_s
    if ex.mode == "hold":
        text = w["holds" if sets > 1 else "set_holds"].format(sets=sets, reps=reps, hold=hold)
    else:
        text = w["reps" if sets > 1 else "set_reps"].format(sets=sets, reps=reps)
    if sets > 1:
        text += ", " + w["rest"].format(rest=ex.dose.rest_s)
    return text


def camera_text(ex: ExerciseDef, run: ReferenceRun, lang: str) -> str:
    w = words(lang)
    return w["camera"].format(
        view=w.get(ex.view, w["any"]), dist=run.camera_distance_m, height=run.camera_height_m
    )


@dataclass(frozen=True, slots=True)
class Frame:
    """Where the figure is drawn: the picture's aspect and the box (x0, y0, x1, y1) the
    whole movement sweeps, in normalised picture coordinates with x already scaled."""

    box: tuple[float, float, float, float]


@lru_cache(maxsize=16)
def _sweep(run: ReferenceRun) -> Frame:
    lm = run.landmarks
    x = lm[:, :, 0] * run.aspect
    y = lm[:, :, 1]
    return Frame((float(np.nanmin(x)), float(np.nanmin(y)), float(np.nanmax(x)),
                  float(np.nanmax(y))))  # fmt: skip


def figure_points(
    run: ReferenceRun, t: float, stage: pygame.Rect, mirror: bool
) -> tuple[np.ndarray, float]:
    """The figure's landmarks (33, 2) in screen pixels at clock ``t`` (the movement loops),
    and the floor's y."""
    duration = float(run.t[-1] - run.t[0])
    k = run.at(run.t[0] + (t % duration if duration > 0 else 0.0))
    fr = _sweep(run)
    x0, y0, x1, y1 = fr.box
    span = max(x1 - x0, 1e-6), max(y1 - y0, 1e-6)
    scale = min(stage.w * 0.86 / span[0], stage.h * 0.8 / span[1])
    lm = run.landmarks[k]
    x = lm[:, 0] * run.aspect
    if mirror:
        x = (x0 + x1) - x
    px = stage.centerx + (x - (x0 + x1) / 2) * scale
    py = stage.centery + (lm[:, 1] - (y0 + y1) / 2) * scale
    return np.stack([px, py], axis=1), stage.centery + (y1 - (y0 + y1) / 2) * scale


def draw_figure(
    surface: pygame.Surface, pts: np.ndarray, width: int, near=NEAR, far=FAR, alpha: int = 255
) -> None:
    """A stick figure of screen points (33, 2): far side first, then the near (left) side over
    it, a neck and a round head; ``alpha`` below 255 draws it translucent (the ghost)."""
    seen = np.isfinite(pts).all(axis=1)
    if not seen.any():
        return
    offset = np.zeros(2)
    target = surface
    if alpha < 255:  # one small layer the size of the figure, blended at once
        pad = width * 4
        lo = np.floor(pts[seen].min(axis=0) - pad)
        hi = np.ceil(pts[seen].max(axis=0) + pad)
        box = pygame.Rect(int(lo[0]), int(lo[1]), int(hi[0] - lo[0]), int(hi[1] - lo[1]))
        box = box.clip(surface.get_rect())
        if box.w <= 0 or box.h <= 0:
            return
        target = pygame.Surface(box.size, pygame.SRCALPHA)
        offset = np.array(box.topleft, dtype=np.float64)
    p = pts - offset
    for a, b in _SEGMENTS:
        if not (seen[a] and seen[b]):
            continue
        colour = far if a in _RIGHT and b in _RIGHT else near
        pygame.draw.line(target, colour, p[a], p[b], width)
        pygame.draw.circle(target, colour, p[a], width * 0.55)
        pygame.draw.circle(target, colour, p[b], width * 0.55)
    head = [INDEX[n] for n in _HEAD]
    shoulders = [INDEX["left_shoulder"], INDEX["right_shoulder"]]
    if seen[head].all() and seen[shoulders].all():
        centre = p[head[:2]].mean(axis=0)
        r = max(width * 1.4, float(np.linalg.norm(p[head[2]] - centre)) * 0.9)
        pygame.draw.line(target, near, p[shoulders].mean(axis=0), centre, width)
        pygame.draw.circle(target, near, centre, r)
    if target is not surface:
        target.set_alpha(alpha)
        surface.blit(target, offset)


@dataclass(frozen=True, slots=True)
class DemoLayout:
    size: tuple[int, int]
    area: pygame.Rect
    stage: pygame.Rect
    text: pygame.Rect
    button: pygame.Rect  # close
    live: pygame.Rect  # the camera's view, small, while the patient gets into view


def demo_layout(size: tuple[int, int], area: pygame.Rect) -> DemoLayout:
    w, h = size
    m = max(6, round(h * 0.015))
    stage = pygame.Rect(area.x, area.y, round(area.w * 0.5), area.h)
    text = pygame.Rect(stage.right + m, area.y, area.right - stage.right - m, area.h)
    bh = round(h * 0.085)
    button = pygame.Rect(0, 0, round(h * 0.3), bh)
    button.bottomright = (text.right - m, text.bottom - m)
    live = pygame.Rect(0, 0, round(stage.w * 0.3), round(stage.w * 0.3 * 9 / 16))
    live.bottomright = (stage.right - m, stage.bottom - m)
    return DemoLayout((w, h), area, stage, text, button, live)


def draw_demonstration(
    surface: pygame.Surface, lay: DemoLayout, snap: Snapshot, lang: str, mirror: bool
) -> None:
    """The whole demonstration into ``lay.area``."""
    w = words(lang)
    h = lay.size[1]
    style.panel(surface, lay.stage, (22, 25, 31))
    style.panel(surface, lay.text)
    found = demo_for(snap.exercise_id)
    pad = max(10, round(lay.text.w * 0.05))
    x, y = lay.text.x + pad, lay.text.y + pad
    inner = lay.text.w - 2 * pad
    title = round(h * 0.055)
    style.text(surface, w["head"], title, style.TEXT, (x, y), max_width=inner)
    y += round(title * 1.35)
    if found is None or found[1] is None:
        style.text(surface, w["no_reference"], round(h * 0.04), style.TEXT_DIM,
                   lay.stage.center, "center", lay.stage.w * 0.9)  # fmt: skip
        return
    ex, run = found
    _draw_stage(surface, lay, snap, run, w, mirror)
    body = round(h * 0.05)
    for n, point in enumerate(ex.key_points_in(lang), start=1):
        lines = wrap(point, body, inner - body * 1.3)
        r = body * 0.42
        pygame.draw.circle(surface, style.SKY_BLUE, (x + r, y + body * 0.55), r)
        style.text(surface, str(n), round(body * 0.7), style.BLACK,
                   (x + r, y + body * 0.58), "center")  # fmt: skip
        for line in lines:
            style.text(surface, line, body, style.TEXT, (x + body * 1.3, y), max_width=inner)
            y += round(body * 1.12)
        y += round(body * 0.45)
    small = round(h * 0.034)
    y = max(y, lay.text.y + lay.text.h * 0.55)
    for icon, line in (("ok", dose_text(snap, ex, lang)), ("info", camera_text(ex, run, lang))):
        r = small * 0.42
        style.icon(surface, icon, (x + r, y + small * 0.55), r)
        for part in wrap(line, small, inner - small * 1.3):
            style.text(surface, part, small, style.TEXT_DIM, (x + small * 1.3, y),
                       max_width=inner - small * 1.3)  # fmt: skip
            y += round(small * 1.15)
        y += round(small * 0.35)
    if snap.phase == "rest":
        note = w["next"].format(clock=style.fmt_clock(snap.rest_remaining_s))
        style.text(surface, note, small, style.SKY_BLUE,
                   (x, lay.button.centery), "midleft", lay.button.x - x - pad)  # fmt: skip
    elif snap.phase == "setup":
        style.text(surface, w["first"], small, style.SKY_BLUE,
                   (x, lay.button.centery), "midleft", lay.button.x - x - pad)  # fmt: skip
        _draw_live(surface, lay.live, snap, mirror)
    draw_button(surface, lay.button, w["close"])


def _draw_live(surface: pygame.Surface, rect: pygame.Rect, snap: Snapshot, mirror: bool) -> None:
    """The patient as the camera sees them, small, so they can get into view meanwhile."""
    pygame.draw.rect(surface, style.BLACK, rect)
    if snap.frame is not None:
        arr = np.ascontiguousarray(snap.frame[:, :, :3], dtype=np.uint8)
        img = pygame.image.frombuffer(arr, (arr.shape[1], arr.shape[0]), "RGB")
        img = pygame.transform.scale(img, rect.size)
        surface.blit(pygame.transform.flip(img, True, False) if mirror else img, rect)
    if snap.landmarks is not None:
        lm = np.asarray(snap.landmarks, dtype=np.float64)  # pygame takes no float32 points
        x = 1.0 - lm[:, 0] if mirror else lm[:, 0]
        pts = np.stack([rect.x + x * rect.w, rect.y + lm[:, 1] * rect.h], axis=1)
        for a, b in SKELETON:
            if np.isfinite(pts[a]).all() and np.isfinite(pts[b]).all():
                pygame.draw.line(surface, style.BLUISH_GREEN, pts[a], pts[b], 2)
    pygame.draw.rect(surface, style.PANEL_EDGE, rect, width=2)


def _draw_stage(
    surface: pygame.Surface,
    lay: DemoLayout,
    snap: Snapshot,
    run: ReferenceRun,
    w: dict[str, str],
    mirror: bool,
) -> None:
    stage = lay.stage
    h = lay.size[1]
    style.text(surface, w["watch"], round(h * 0.036), style.TEXT_DIM,
               (stage.x + stage.w * 0.04, stage.y + stage.h * 0.03))  # fmt: skip
    pts, floor = figure_points(run, snap.t, stage, mirror)
    fy = round(floor + h * 0.012)
    pygame.draw.line(surface, style.TRACK, (stage.x + 12, fy), (stage.right - 12, fy), 3)
    clip = surface.get_clip()
    surface.set_clip(stage)
    draw_figure(surface, pts, max(5, round(h * 0.016)))
    surface.set_clip(clip)
    # Where in the movement the figure is: a thin bar along the bottom of the stage.
    duration = float(run.t[-1] - run.t[0])
    if duration > 0:
        share = (snap.t % duration) / duration
        bar = pygame.Rect(stage.x + 12, stage.bottom - 14, stage.w - 24, 6)
        pygame.draw.rect(surface, style.TRACK, bar, border_radius=3)
        done = bar.copy()
        done.w = max(1, round(bar.w * share))
        pygame.draw.rect(surface, style.SKY_BLUE, done, border_radius=3)


def draw_button(surface: pygame.Surface, rect: pygame.Rect, label: str) -> None:
    style.panel(surface, rect, style.BLUE)
    style.text(surface, label, rect.h * 0.5, style.WHITE, rect.center, "center", rect.w * 0.86)


def loop_share(run: ReferenceRun, t: float) -> float:
    duration = float(run.t[-1] - run.t[0])
    return (t % duration) / duration if duration > 0 else math.nan
