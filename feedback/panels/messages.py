"""What the patient must read first: the cue bar (one cue at a time), the banner of a source
that is not healthy, and the safety stop drawn over everything."""

from __future__ import annotations

import pygame

from feedback import style, widgets
from feedback.patient_layout import PatientLayout, safety_banner_rect
from session.snapshot import Severity, Snapshot


class CueBar:
    """The one cue, in ``PatientLayout.cue_box``: a stripe and an icon in the severity's
    colour, the text in the largest type on the screen."""

    @staticmethod
    def key(snap: Snapshot) -> object:
        return snap.cue

    def draw(self, surface: pygame.Surface, lay: PatientLayout, snap: Snapshot) -> None:
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


def bad_sources(snap: Snapshot) -> tuple[tuple[str, str, str], ...]:
    """Name, state and message of each source that is not healthy (camera, machine, storage)."""
    sources = (snap.camera, snap.machine, snap.storage)
    return tuple((s.name, s.state, s.message) for s in sources if s is not None and not s.healthy)


class SourceBanner:
    """Black on yellow across the top of the image area while a source is not healthy."""

    @staticmethod
    def key(snap: Snapshot) -> tuple:
        return bad_sources(snap)

    def draw(self, surface: pygame.Surface, lay: PatientLayout, snap: Snapshot) -> None:
        bad = bad_sources(snap)
        if not bad:
            return
        b = lay.status_banner
        pygame.draw.rect(surface, style.YELLOW, b)
        pygame.draw.rect(surface, style.BLACK, b, width=3)
        words = {"reconnecting": "reconnecting...", "lost": "lost - check the cable"}
        msg = "   ".join(
            f"{name.capitalize()} {words.get(state, state)}" + (f" ({message})" if message else "")
            for name, state, message in bad
        )
        r = b.h * 0.32
        style.icon(surface, "warning", (b.x + r * 1.6, b.centery + r * 0.1), r)
        style.text(
            surface, msg, b.h * 0.6, style.BLACK, (b.x + r * 3.2, b.centery), "midleft", b.w - r * 4
        )


def safety_cue(snap: Snapshot) -> str:
    """The stop's line: the safety cue, or a plain one (also its key in a repaint)."""
    if snap.cue is not None and snap.cue.severity == Severity.SAFETY:
        return snap.cue.text
    return "Stop and rest"


def safety_stop_rects(size: tuple[int, int], band: pygame.Rect | None = None) -> list[pygame.Rect]:
    """Where ``draw_safety_stop`` draws: the frame round the window and the band."""
    w, h = size
    edge = max(10, round(h * 0.02))
    b = band if band is not None else safety_banner_rect((w, h))
    return [
        pygame.Rect(0, 0, w, edge),
        pygame.Rect(0, h - edge, w, edge),
        pygame.Rect(0, edge, edge, h - 2 * edge),
        pygame.Rect(w - edge, edge, edge, h - 2 * edge),
        b.copy(),
    ]


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
    style.text(
        surface,
        safety_cue(snap),
        inner_h * 0.26,
        style.WHITE,
        (b.centerx, b.bottom - sh - inner_h * 0.06),
        "midbottom",
        b.w * 0.72,
    )
