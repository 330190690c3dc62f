"""Drawing of the kiosk's welcome, sign-in and PIN screens, and the keypad hit-test.

Draws only from the ``Kiosk`` state, never from a session snapshot, so the welcome screen
cannot show another patient's data.
"""

from __future__ import annotations

import pygame

from feedback import style
from feedback.kiosk import BACK, CANCEL, OK, Kiosk, KioskState, PinPurpose

STAFF = "staff"  # corner button on the welcome screen: therapist PIN for settings / exit

_KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", BACK, "0", OK)
_LABELS = {BACK: "Del", OK: "OK"}


def keypad_layout(size: tuple[int, int], state: KioskState) -> list[tuple[str, pygame.Rect]]:
    """(key, rect) for every touchable button of the kiosk screen in ``state``."""
    w, h = size
    key = round(min(h * 0.13, w * 0.09))
    gap = round(key * 0.16)
    grid_w = 3 * key + 2 * gap
    x0 = round(w * 0.62 - grid_w / 2) if w > h else (w - grid_w) // 2
    y0 = round(h * 0.24)
    out = []
    for i, k in enumerate(_KEYS):
        r, c = divmod(i, 3)
        out.append((k, pygame.Rect(x0 + c * (key + gap), y0 + r * (key + gap), key, key)))
    m = round(h * 0.03)
    side = pygame.Rect(0, 0, round(h * 0.26), round(h * 0.09))
    if state in (KioskState.PIN, KioskState.SIGN_IN):
        side.topleft = (x0, y0 + 4 * (key + gap))
        side.width = grid_w
        out.append((CANCEL, side))
    else:
        side.bottomright = (w - m, h - m)
        out.append((STAFF, side))
    return out


def key_at(pos: tuple[int, int], size: tuple[int, int], state: KioskState) -> str | None:
    for k, r in keypad_layout(size, state):
        if r.collidepoint(pos):
            return k
    return None


def draw_kiosk(surface: pygame.Surface, kiosk: Kiosk) -> None:
    w, h = surface.get_size()
    surface.fill(style.BACKGROUND)
    big = round(h * 0.075)
    mid = round(h * 0.05)
    locked = kiosk.locked_for() > 0
    left_x = round(w * 0.06)
    if kiosk.state == KioskState.SIGN_IN:
        style.text(
            surface, "Type your personal PIN", big * 0.8, style.TEXT, (left_x, h * 0.06),
            max_width=w * 0.5,
        )  # fmt: skip
        style.text(
            surface, "then press OK", mid * 0.9, style.TEXT_DIM, (left_x, h * 0.06 + big * 1.1)
        )
        _entry_dots(surface, len(kiosk.entry), (left_x, round(h * 0.3)), mid)
    elif kiosk.state == KioskState.PIN:
        title = {
            PinPurpose.EXIT: "Therapist PIN to leave the kiosk",
            PinPurpose.SETTINGS: "Therapist PIN for settings",
            PinPurpose.THERAPIST: "Therapist PIN for the therapist view",
        }.get(kiosk.purpose, "Therapist PIN")
        style.text(
            surface, title, big * 0.8, style.TEXT, (left_x, h * 0.06), max_width=w - 2 * left_x
        )
        _entry_dots(surface, len(kiosk.entry), (left_x, round(h * 0.3)), mid)
    else:
        style.text(surface, "Welcome", big * 1.3, style.TEXT, (left_x, h * 0.07))
        style.text(
            surface, "Type your patient code", mid, style.TEXT_DIM, (left_x, h * 0.07 + big * 1.3)
        )
        _code_boxes(surface, kiosk.entry, kiosk.code_length[1], (left_x, round(h * 0.4)), big)
        style.text(
            surface, "then press OK", mid * 0.9, style.TEXT_DIM, (left_x, h * 0.4 + big * 1.6)
        )
        style.text(
            surface,
            "No code? Please ask your therapist.",
            mid * 0.8,
            style.TEXT_DIM,
            (left_x, h * 0.88),
            max_width=w * 0.45,
        )
    if kiosk.message:
        kind = "fault" if locked else "warning"
        y = h * 0.72
        style.icon(surface, kind, (left_x + mid * 0.45, y + mid * 0.4), mid * 0.45)
        style.text(
            surface, kiosk.message, mid, style.TEXT, (left_x + mid * 1.2, y), max_width=w * 0.42
        )
    if locked:
        secs = kiosk.locked_for()
        style.text(
            surface,
            f"Locked - try again in {style.fmt_clock(secs)}",
            mid,
            style.ORANGE,
            (left_x, h * 0.72 + mid * 1.4),
            max_width=w * 0.45,
        )
    for key, rect in keypad_layout((w, h), kiosk.state):
        _button(surface, key, rect, disabled=locked and key not in (CANCEL, STAFF))


def _button(surface: pygame.Surface, key: str, rect: pygame.Rect, disabled: bool) -> None:
    if key == OK:
        fill = style.BLUISH_GREEN
    elif key in (CANCEL, STAFF):
        fill = style.PANEL
    else:
        fill = style.BLUE
    if disabled:
        fill = style.TRACK
    pygame.draw.rect(surface, fill, rect, border_radius=max(6, rect.h // 8))
    pygame.draw.rect(surface, style.PANEL_EDGE, rect, width=2, border_radius=max(6, rect.h // 8))
    label = {CANCEL: "Cancel", STAFF: "Staff"}.get(key, _LABELS.get(key, key))
    size = rect.h * (0.55 if len(label) <= 3 else 0.45)
    colour = style.TEXT_DIM if disabled else style.WHITE
    style.text(surface, label, size, colour, rect.center, "center", rect.w * 0.85)


def _code_boxes(surface, code: str, n: int, topleft: tuple[int, int], size: int) -> None:
    bw = round(size * 0.85)
    gap = round(size * 0.15)
    for i in range(n):
        r = pygame.Rect(topleft[0] + i * (bw + gap), topleft[1], bw, round(size * 1.2))
        pygame.draw.rect(surface, style.PANEL, r, border_radius=6)
        pygame.draw.rect(
            surface,
            style.SKY_BLUE if i == len(code) else style.PANEL_EDGE,
            r,
            width=3,
            border_radius=6,
        )
        if i < len(code):
            style.text(surface, code[i], size, style.TEXT, r.center, "center")


def _entry_dots(surface, n: int, topleft: tuple[int, int], size: int) -> None:
    for i in range(max(n, 4)):
        c = (topleft[0] + size * 0.6 + i * size * 1.4, topleft[1] + size * 0.6)
        if i < n:
            pygame.draw.circle(surface, style.TEXT, c, size * 0.45)
        else:
            pygame.draw.circle(surface, style.PANEL_EDGE, c, size * 0.45, width=3)
