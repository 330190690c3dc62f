"""The camera panel: the camera image (or, for a landmark-only replay, a canvas that frames
the body), the ghost to follow and the patient's skeleton, in ``PatientLayout.image_area``."""

from __future__ import annotations

import numpy as np
import pygame

from body.landmarks import SKELETON
from feedback import style
from feedback.demonstration_view import draw_figure
from feedback.panels.repaint import Same
from feedback.patient_layout import PatientLayout, image_rect
from session.snapshot import RuleStatus, Snapshot

_DEFAULT_ASPECT = 16 / 9  # landmark-only replays with no image size: assume a webcam frame
_FIT_SMOOTHING = 0.2  # per-frame blend of the replay framing, so the view does not jitter

# The ghost to follow: the reference figure, light and translucent, under the skeleton.
GHOST, GHOST_ALPHA = style.WHITE, 90


class CameraPanel:
    """update(snapshot) keeps the replay framing; draw(...) the image, ghost and skeleton.

    ``mirror``: the image and the landmarks flipped left to right, as in a mirror."""

    def __init__(self, mirror: bool = True) -> None:
        self.mirror = mirror
        self._frame_src: np.ndarray | None = None
        self._frame_key: tuple | None = None
        self._frame_surf: pygame.Surface | None = None
        self._rgb32: pygame.Surface | None = None
        self._scaled: pygame.Surface | None = None
        self._fit: tuple[float, float, float] | None = None  # centre x, centre y, span

    def update(self, snap: Snapshot) -> None:
        if snap.frame is None and snap.landmarks is not None:
            self._update_fit(snap)

    def close(self) -> None:
        self._frame_surf = self._rgb32 = self._scaled = None
        self._frame_src = None

    def key(self, snap: Snapshot, show_ghost: bool) -> tuple:
        """What the panel is drawn from (``feedback.panels.repaint``): a new camera image or a
        new pose (new arrays, compared by identity), the skeleton's colours, the phase that
        hides the skeleton; for a landmark canvas, its framing."""
        if snap.frame is None:
            picture: tuple = (snap.camera.state == "off", snap.image_size, self._fit)
        else:
            picture = (Same(snap.frame),)
        hidden = snap.phase in ("rest", "done", "paused")
        body = None
        if not hidden and snap.landmarks is not None:
            ghost = Same(snap.ghost) if show_ghost else None
            body = (Same(snap.landmarks), ghost, snap.segment_status)
        return (self.mirror, picture, body)

    # mapping ---------------------------------------------------------------------------
    @staticmethod
    def _aspect(snap: Snapshot) -> float:
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

    # drawing ---------------------------------------------------------------------------
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

    def draw(
        self, surface: pygame.Surface, lay: PatientLayout, snap: Snapshot, show_ghost: bool
    ) -> None:
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
        hidden = snap.phase in ("rest", "done", "paused")  # (key() reads the same)
        pts = None if hidden else self.points_to_pixels(snap.landmarks, snap, area)
        if pts is not None:
            clip = surface.get_clip()
            surface.set_clip(area)
            ghost = self.points_to_pixels(snap.ghost, snap, area) if show_ghost else None
            if ghost is not None:  # under the patient's own skeleton, to follow
                lw = max(4, round(area.h * 0.014))
                draw_figure(surface, ghost, lw + 6, GHOST, GHOST, GHOST_ALPHA)
            self._draw_skeleton(surface, pts, snap, area)
            surface.set_clip(clip)

    @staticmethod
    def _draw_skeleton(
        surface: pygame.Surface, pts: np.ndarray, snap: Snapshot, area: pygame.Rect
    ) -> None:
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
