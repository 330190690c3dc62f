"""Shared pieces of the kiosk tests: a settable clock, a real store with patients who have
kiosk PINs, and keypad presses as real pygame events."""

from __future__ import annotations

from pathlib import Path

import pygame

from access import pins
from feedback import kiosk_view
from feedback.kiosk import OK
from storage import open_store

THERAPIST_PIN = "246810"
PATIENTS = {"4711": "1357", "5150": "8642"}  # code -> personal PIN


class FakeClock:
    """Seconds that move only when a test moves them."""

    def __init__(self, now: float = 500.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def store_with_patients(path: Path, patients: dict[str, str] = PATIENTS):
    """A real SQLite store holding ``patients`` (code -> PIN), as ``patient add`` makes them."""
    store = open_store(path)
    for code, pin in patients.items():
        store.ensure_patient(code)
        store.set_patient_pin(code, pins.hash_pin(pin, pins.PATIENT_MIN_DIGITS))
    return store


def key_event(screen, key: str, size: tuple[int, int], touch: bool = False):
    rect = dict(kiosk_view.keypad_layout(size, screen.kiosk.state))[key]
    if touch:
        return pygame.event.Event(
            pygame.FINGERDOWN, x=rect.centerx / size[0], y=rect.centery / size[1]
        )
    return pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=rect.center, button=1)


def click(screen, key: str, size: tuple[int, int]) -> list:
    return screen.handle_event(key_event(screen, key, size))


def type_keys(screen, keys: str, size: tuple[int, int], touch: bool = False) -> list:
    """Each digit, then OK, pressed on the on-screen keypad."""
    out = []
    for k in [*keys, OK]:
        out += screen.handle_event(key_event(screen, k, size, touch))
    return out


def sign_in(screen, code: str, pin: str, size: tuple[int, int]) -> list:
    return type_keys(screen, code, size) + type_keys(screen, pin, size)
