"""Accessibility of the palette: contrast of the type and status colours under colour-vision
deficiencies (simulated with the Machado et al. 2009 matrices, full severity)."""

import itertools
import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import numpy as np
import pygame
import pytest

from feedback import style
from session.snapshot import RuleStatus

CVD = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                   [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                   [0.004733, 0.691367, 0.303900]],
}  # fmt: skip


def linear(c) -> np.ndarray:
    c = np.asarray(c, dtype=float) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def contrast(a, b) -> float:
    """WCAG 2 contrast ratio."""
    w = np.array([0.2126, 0.7152, 0.0722])
    la, lb = sorted([float(linear(a) @ w), float(linear(b) @ w)])
    return (lb + 0.05) / (la + 0.05)


def lab(lin_rgb: np.ndarray) -> np.ndarray:
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = m @ lin_rgb / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(a, b, matrix=None) -> float:
    m = np.eye(3) if matrix is None else np.asarray(matrix)
    return float(
        np.linalg.norm(lab(np.clip(m @ linear(a), 0, 1)) - lab(np.clip(m @ linear(b), 0, 1)))
    )


# (foreground, background, minimum): 4.5 for body text, 3.0 where the type is large (the cue
# line, the STOP banner, the big numbers on the patient view and button labels).
PAIRS = {
    "text on panel": (style.TEXT, style.PANEL, 4.5),
    "dim text on panel": (style.TEXT_DIM, style.PANEL, 4.5),
    "dim text on background": (style.TEXT_DIM, style.BACKGROUND, 4.5),
    "source banner": (style.BLACK, style.YELLOW, 4.5),
    "keypad digits": (style.WHITE, style.BLUE, 4.5),
    "STOP banner (large)": (style.WHITE, style.VERMILLION, 3.0),
    "OK key (large)": (style.WHITE, style.BLUISH_GREEN, 3.0),
    "range value, fault (large)": (style.VERMILLION, style.PANEL, 3.0),
    "range value, in zone (large)": (style.BLUISH_GREEN, style.PANEL, 3.0),
    "tempo phase (large)": (style.SKY_BLUE, style.PANEL, 3.0),
}


@pytest.mark.parametrize("name", PAIRS)
def test_type_contrast(name):
    fg, bg, minimum = PAIRS[name]
    assert contrast(fg, bg) >= minimum


@pytest.mark.parametrize("cvd", [None, *CVD])
def test_status_colours_stay_apart_under_colour_vision_deficiency(cvd):
    m = CVD.get(cvd)
    c = style.STATUS_COLOUR
    ok, warn, fault, unknown = (c[s] for s in RuleStatus)
    # The clinically important split: fine versus not fine.
    assert delta_e(ok, fault, m) > 30
    assert delta_e(ok, warn, m) > 30
    assert delta_e(ok, unknown, m) > 20
    assert delta_e(fault, unknown, m) > 30
    # Warning and fault come close for red-green deficiencies (about 18 for deuteranopia);
    # that pair is told apart by shape (triangle versus crossed square), tested below.
    assert delta_e(warn, fault, m) > 15


def test_every_status_has_its_own_shape():
    pygame.init()
    shapes = []
    for status in RuleStatus:
        surf = pygame.Surface((60, 60))
        style.icon(surf, style.STATUS_ICON[status], (30, 30), 20)
        # Compare the silhouettes (anything not background), colour removed.
        shapes.append(pygame.surfarray.array3d(surf).any(axis=2))
    for a, b in itertools.combinations(range(len(shapes)), 2):
        differing = int((shapes[a] != shapes[b]).sum())
        assert differing > 150, (list(RuleStatus)[a], list(RuleStatus)[b], differing)
