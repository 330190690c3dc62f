"""The window's one stage: picks the screen to show and turns input into intents.

Lifecycle, once a frame, in this order: ``update(snapshot)`` (returns time-driven intents such
as the kiosk's idle end), ``handle_event(event)`` for each pygame event (returns intents),
``draw(surface)``; ``close()`` at the end. No session logic lives here.

Keys: T patient/therapist view, Space or P pause/resume, M mute, - and + (or Down and Up)
the volume in the patient view, D the demonstration (while getting into view, resting or
paused), G the ghost to follow during a set (on by default; also a switch in the therapist
view), Esc or Q quit (in the kiosk: Esc asks for the therapist PIN instead). The patient
view's sound control does mute and volume by touch, its Show me button the demonstration.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import pygame

from access.alerts import AlertLog
from clinic.visit import VisitStage, VisitView
from feedback import kiosk_view, style
from feedback.audio import Audio, SoundCues
from feedback.intents import EndSession, Intent, Pause, Quit, Resume
from feedback.kiosk import BACK, CANCEL, OK, Kiosk, KioskState, PinPurpose
from feedback.patient_view import (
    SOUND_DOWN,
    SOUND_TOGGLE,
    SOUND_UP,
    PatientView,
    SoundState,
    draw_safety_stop,
)
from feedback.programme_view import ProgrammeView
from feedback.therapist_view import TherapistView
from feedback.visit_view import VisitScreen
from session.snapshot import Snapshot

log = logging.getLogger(__name__)

PATIENT, THERAPIST = "patient", "therapist"
_LOUDER = frozenset((pygame.K_PLUS, pygame.K_EQUALS, pygame.K_KP_PLUS, pygame.K_UP))
_QUIETER = frozenset((pygame.K_MINUS, pygame.K_KP_MINUS, pygame.K_DOWN))
_INPUT_EVENTS = frozenset(
    (
        pygame.KEYDOWN,
        pygame.MOUSEBUTTONDOWN,
        pygame.FINGERDOWN,
        pygame.MOUSEWHEEL,
        pygame.MOUSEMOTION,
    )
)


# The window was uncovered, resized or restored: what it shows must be drawn whole again.
_REPAINT_EVENTS = frozenset(
    (
        pygame.VIDEOEXPOSE,
        pygame.VIDEORESIZE,
        pygame.WINDOWEXPOSED,
        pygame.WINDOWSIZECHANGED,
        pygame.WINDOWRESTORED,
        pygame.WINDOWSHOWN,
    )
)


def present(dirty: list[pygame.Rect] | None) -> None:
    """Put what ``Screen.draw`` drew on the display: only the rectangles that changed (none:
    nothing to send), or the whole window. Sending a window's pixels to a real display costs
    far more than drawing them; most display frames change a small part of it."""
    if dirty is None:
        pygame.display.flip()
    elif dirty:
        pygame.display.update(dirty)


def open_display(size: tuple[int, int] = (1280, 720), kiosk: bool = False) -> pygame.Surface:
    """The window: resizable normally, full screen without frame in the kiosk."""
    pygame.display.init()
    pygame.display.set_caption("SpineCoach")
    if kiosk:
        surface = pygame.display.set_mode((0, 0), pygame.FULLSCREEN | pygame.NOFRAME)
        # Keep mouse and keyboard (including Alt+Tab where the window manager allows) inside
        # the kiosk, so the desktop stays out of reach.
        pygame.event.set_grab(True)
        try:
            pygame.Window.from_display_module().grab_keyboard = True
        except (AttributeError, pygame.error) as exc:
            log.warning("kiosk: keyboard grab not available: %s", exc)
        return surface
    return pygame.display.set_mode(size, pygame.RESIZABLE)


def person_present(snap: Snapshot | None) -> bool:
    return (
        snap is not None and snap.landmarks is not None and bool(np.isfinite(snap.landmarks).any())
    )


class Screen:
    def __init__(
        self,
        size: tuple[int, int] = (1280, 720),
        kiosk: Kiosk | None = None,
        audio: Audio | None = None,
        mirror: bool = True,
        clock: Callable[[], float] = time.monotonic,
        alerts: AlertLog | None = None,
        lang: str = "en",
    ) -> None:
        self.size = tuple(size)
        self.lang = lang
        self.kiosk = kiosk
        self.alerts = alerts
        self.audio = audio
        self.mirror = mirror
        self._clock = clock
        self.view = PATIENT
        self.patient = PatientView(mirror, lang)
        self.therapist = TherapistView(clock)
        self._cues = SoundCues(audio) if audio is not None else None
        self._snap: Snapshot | None = None
        self._draw_failed = False
        self._drawn_into: pygame.Surface | None = None  # the patient view's last frame went here
        self.show_ghost = True  # the station's choice; kept from one patient to the next
        # A kiosk visit (clinic.visit): the loop sets ``visit`` every frame while one runs.
        self.visit: VisitView | None = None
        self.visit_screen = VisitScreen()
        self.programme = ProgrammeView()  # the therapist's view of the visiting patient's programme
        self._show_sound()

    # lifecycle -------------------------------------------------------------------------
    @property
    def showing_kiosk(self) -> bool:
        return self.kiosk is not None and self.kiosk.state != KioskState.SESSION

    @property
    def showing_visit(self) -> bool:
        """The visit's own screens (pain, the next item, rests, the summary) rather than an
        exercise session."""
        return (
            self.visit is not None
            and self.visit.stage != VisitStage.ITEM_RUNNING
            and not self.showing_kiosk
        )

    def update(self, snapshot: Snapshot | None) -> list[Intent]:
        intents: list[Intent] = []
        if self.kiosk is not None:
            was = self.kiosk.state
            if snapshot is not None and snapshot.phase == "done" and self.visit is None:
                # The summary shows for a while, then welcome. In a visit an item's end is
                # not the session's: the visit goes on with its next item.
                self.kiosk.end_of_session()
            intents += self.kiosk.tick(person_present(snapshot))
            if was != KioskState.WELCOME and self.kiosk.state == KioskState.WELCOME:
                self._forget_session()
            if self.kiosk.state == KioskState.WELCOME:
                return intents  # nothing of a session is kept while the welcome screen shows
        if snapshot is None:
            return intents
        self._snap = snapshot
        self.patient.show_ghost = self.therapist.ghost_on = self.show_ghost
        self.therapist.sound_note = self._sound_note()
        if self.alerts is not None:
            self.therapist.access_note = self.alerts.note()
        self._show_sound()
        self.patient.update(snapshot)
        self.therapist.update(snapshot)
        if self._cues is not None:
            self._cues.update(snapshot)
            self.audio.update()
        return intents

    def _sound_note(self) -> str:
        a = self.audio
        if a is None or not a.available:
            return "unavailable" if a is not None and a.reason else "off"
        vol = f"{round(a.volume * 100)}%"
        return f"muted (M), {vol}" if a.muted else f"on, {vol} (M mutes)"

    def _show_sound(self) -> None:
        a = self.audio
        self.patient.sound = None if a is None else SoundState(a.volume, a.muted, a.available)

    def _sound_button(self, which: str) -> None:
        a = self.audio
        if a is None:
            return
        if which == SOUND_TOGGLE:
            a.toggle_mute()
        else:
            a.change_volume(1 if which == SOUND_UP else -1)
        self._show_sound()

    def draw(self, surface: pygame.Surface) -> list[pygame.Rect] | None:
        """Draw the screen showing now; returns the rectangles that changed since the last
        draw into ``surface`` (the patient view redraws only those), or None when the whole
        window did. ``present`` puts them on the display."""
        self.size = surface.get_size()
        # The patient view may draw only what changed when it drew the last frame here.
        since_last, self._drawn_into = self._drawn_into is surface, None
        if self.kiosk is None:
            return self._draw(surface, since_last)  # at a desk a traceback is what one wants
        try:
            dirty = self._draw(surface, since_last)
        except Exception:
            # Unattended kiosk: a bad frame must not end on a traceback. Log it (once per
            # run of failures) and show a neutral notice; the next good snapshot recovers.
            if not self._draw_failed:
                log.exception("drawing failed; showing the fallback screen")
            self._draw_failed = True
            surface.fill(style.BACKGROUND)
            h = surface.get_height()
            style.text(
                surface,
                "One moment please...",
                h * 0.07,
                style.TEXT,
                surface.get_rect().center,
                "center",
            )
            return None
        self._draw_failed = False
        return dirty

    def _draw(self, surface: pygame.Surface, since_last: bool) -> list[pygame.Rect] | None:
        if self.showing_kiosk:
            kiosk_view.draw_kiosk(surface, self.kiosk)
        elif self.view == THERAPIST and self.showing_visit:
            self.programme.draw(surface)
        elif self.showing_visit:
            self.visit_screen.draw(surface, self.visit)
            return
        elif self.view == THERAPIST:
            self.therapist.draw(surface)
        else:
            dirty = self.patient.draw(surface, full=not since_last)  # with its own STOP band
            self._drawn_into = surface
            return dirty
        # The patient may be looking at this screen too: a safety stop shows on every view
        # (in the therapist view as a band over the top, leaving the traces readable).
        if self._snap is not None and self._snap.safety_stop:
            w, h = surface.get_size()
            band = None if self.showing_kiosk else pygame.Rect(0, 0, w, round(h * 0.24))
            draw_safety_stop(surface, self._snap, band)

    def close(self) -> None:
        self.patient.close()
        self.therapist.close()
        if self.audio is not None:
            self.audio.close()

    def end_session(self) -> None:
        """The engine finished the session: forget it (and in the kiosk, go to welcome)."""
        if self.kiosk is not None:
            self.kiosk.end_session()
        self._forget_session()

    def _forget_session(self) -> None:
        # Fresh views: no frame, landmarks or numbers of the last patient survive in a cache.
        self.patient.close()
        self.therapist.close()
        self.patient = PatientView(self.mirror, self.lang)
        self.therapist = TherapistView(self._clock)
        self.patient.show_ghost = self.therapist.ghost_on = self.show_ghost
        self._snap = None
        self.view = PATIENT
        self.visit_screen = VisitScreen()
        self.programme = ProgrammeView()
        if self.audio is not None:
            self.audio.set_alarm(False)
            self.audio.voice.stop()
            self._cues = SoundCues(self.audio)
        self._show_sound()

    # input -----------------------------------------------------------------------------
    def _pointer(self, event: pygame.event.Event) -> tuple[int, int] | None:
        if event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            if getattr(event, "touch", False):
                return None  # SDL's mouse copy of a touch: the FINGERDOWN is handled instead
            return event.pos
        if event.type == pygame.FINGERDOWN:
            return round(event.x * self.size[0]), round(event.y * self.size[1])
        return None

    def handle_event(self, event: pygame.event.Event) -> list[Intent]:
        if event.type in _REPAINT_EVENTS:
            self._drawn_into = None  # the window lost or changed its pixels: draw it whole
        if self.kiosk is not None:
            if event.type in _INPUT_EVENTS:
                self.kiosk.touch()  # window and system events are not a person at the kiosk
            if self.showing_kiosk:
                return self._kiosk_event(event)
            if event.type == pygame.QUIT or (
                event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE
            ):
                self.kiosk.request_pin(PinPurpose.EXIT)
                return []
        elif event.type == pygame.QUIT:
            return [Quit()]
        if event.type == pygame.MOUSEBUTTONDOWN and getattr(event, "touch", False):
            return []  # SDL's mouse copy of a touch; the FINGERDOWN is handled instead
        pos = self._pointer(event)
        if event.type == pygame.KEYDOWN:
            if event.key == pygame.K_t:
                return self._toggle_view()
            if event.key == pygame.K_m and self.audio is not None:
                self._sound_button(SOUND_TOGGLE)
                return []
            if event.key == pygame.K_g:
                self.toggle_ghost()
                return []
            if self.view == PATIENT and event.key == pygame.K_d:
                self.patient.toggle_demo()
                return []
            if self.view == PATIENT and event.key in _LOUDER | _QUIETER:
                self._sound_button(SOUND_UP if event.key in _LOUDER else SOUND_DOWN)
                return []
            if event.key in (pygame.K_SPACE, pygame.K_p):
                return self._pause_toggle()
            if event.key in (pygame.K_ESCAPE, pygame.K_q) and self.kiosk is None:
                return [Quit()]  # in the kiosk only the therapist PIN ends the program
        if self.view == THERAPIST and self.showing_visit:
            return self.programme.handle_pointer(pos, self.size) if pos is not None else []
        if self.showing_visit:
            return self.visit_screen.handle_pointer(pos, self.visit, self.size) if pos else []
        if self.view == THERAPIST:
            if pos is not None and self.therapist.hit_ghost(pos, self.size):
                self.toggle_ghost()
                return []
            if pos is not None:
                event = pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=pos, button=1)
            return self.therapist.handle_event(event, self.size)
        if pos is not None and self.patient.hit_pause(pos, self.size):
            return self._pause_toggle()
        if pos is not None and self.patient.hit_demo(pos, self.size):
            self.patient.toggle_demo()
            return []
        which = self.patient.hit_sound(pos, self.size) if pos is not None else None
        if which is not None:
            self._sound_button(which)
        return []

    def toggle_ghost(self) -> None:
        """The reference figure to follow under the patient's skeleton: on or off."""
        self.show_ghost = not self.show_ghost
        self.patient.show_ghost = self.therapist.ghost_on = self.show_ghost

    def _toggle_view(self) -> list[Intent]:
        if self.view == THERAPIST:
            self.view = PATIENT
            if self.kiosk is not None:
                self.kiosk.therapist_unlocked = False  # leaving the view locks it again
        elif self.kiosk is None or self.kiosk.therapist_unlocked:
            self.view = THERAPIST
        else:
            self.kiosk.request_pin(PinPurpose.THERAPIST)
        return []

    def _pause_toggle(self) -> list[Intent]:
        if self._snap is None or self._snap.phase == "done":
            return []  # nothing left to pause; the button is hidden then
        return [Resume()] if self._snap.phase == "paused" else [Pause()]

    def _kiosk_event(self, event: pygame.event.Event) -> list[Intent]:
        k = self.kiosk
        key: str | None = None
        pos = self._pointer(event)
        if pos is not None:
            key = kiosk_view.key_at(pos, self.size, k.state)
        elif event.type == pygame.KEYDOWN:
            if event.unicode and event.unicode.isdigit():
                key = event.unicode
            elif event.key == pygame.K_BACKSPACE:
                key = BACK
            elif event.key in (pygame.K_RETURN, pygame.K_KP_ENTER):
                key = OK
            elif event.key == pygame.K_ESCAPE:
                key = CANCEL if k.state == KioskState.PIN else kiosk_view.STAFF
        elif event.type == pygame.QUIT:
            key = kiosk_view.STAFF
        if key is None:
            return []
        if key == kiosk_view.STAFF:
            # The on-screen button opens settings; Esc or closing the window means "leave".
            k.request_pin(PinPurpose.SETTINGS if pos is not None else PinPurpose.EXIT)
            return []
        before = k.state
        intents = k.press(key)
        if k.therapist_unlocked and before == KioskState.PIN and k.state == KioskState.SESSION:
            self.view = THERAPIST
        if any(isinstance(i, EndSession) for i in intents):
            self._forget_session()
        return intents
