"""Volume and mute from the screen: keys and the patient view's touch control, the volume
shown, and a safety stop that stays audible through the window's own update path."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from dataclasses import replace

import numpy as np
import pygame
import pytest

from feedback import style
from feedback.app_window import THERAPIST, Screen
from feedback.audio import Audio
from session.snapshot import Cue, Severity, Snapshot

SIZE = (1280, 720)


def working() -> Snapshot:
    return Snapshot(
        t=10.0,
        exercise_id="squat",
        exercise_name="Squat",
        phase="working",
        rep_count=3,
        reps_target=10,
        tempo_phase="out",
    )


@pytest.fixture
def screen(tmp_path):
    pygame.display.init()
    pygame.font.init()
    audio = Audio(speech_dir=tmp_path)
    assert audio.available, audio.reason
    s = Screen(SIZE, mirror=False, audio=audio)
    s.update(working())
    yield s
    s.close()


def key(k: int) -> pygame.event.Event:
    return pygame.event.Event(pygame.KEYDOWN, key=k, unicode="", mod=0)


def tap(pos) -> pygame.event.Event:
    return pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=pos, button=1)


def region(surface, rect) -> np.ndarray:
    return pygame.surfarray.array3d(surface)[rect.x : rect.right, rect.y : rect.bottom]


def test_keys_change_the_volume_in_the_patient_view_only(screen):
    a = screen.audio
    assert screen.handle_event(key(pygame.K_MINUS)) == []
    assert a.volume == pytest.approx(0.7)
    screen.handle_event(key(pygame.K_DOWN))
    assert a.volume == pytest.approx(0.6)
    screen.handle_event(key(pygame.K_KP_PLUS))
    screen.handle_event(key(pygame.K_UP))
    assert a.volume == pytest.approx(0.8)
    assert screen.patient.sound.volume == pytest.approx(0.8)
    screen.view = THERAPIST  # there + and - tune the selected target instead
    screen.handle_event(key(pygame.K_MINUS))
    assert a.volume == pytest.approx(0.8)
    screen.handle_event(key(pygame.K_m))  # M mutes from any view
    assert a.muted and screen.patient.sound.muted


def test_the_touch_control_shows_and_sets_volume_and_mute(screen):
    a = screen.audio
    lay = screen.patient.layout_for(SIZE)
    surface = pygame.Surface(SIZE)
    screen.draw(surface)
    at_80 = region(surface, lay.sound_toggle).copy()
    screen.handle_event(tap(lay.sound_down.center))
    assert a.volume == pytest.approx(0.7)
    screen.draw(surface)
    at_70 = region(surface, lay.sound_toggle)
    assert np.any(at_80 != at_70)  # the number shown changed
    assert "70%" in screen._sound_note()
    screen.handle_event(tap(lay.sound_up.center))
    screen.handle_event(tap(lay.sound_up.center))
    assert a.volume == pytest.approx(0.9)
    screen.handle_event(tap(lay.sound_toggle.center))
    assert a.muted
    screen.draw(surface)
    muted = region(surface, lay.sound_toggle)
    assert np.all(muted == style.ORANGE, axis=2).mean() > 0.3  # the muted state: orange
    screen.handle_event(tap(lay.sound_toggle.center))
    assert not a.muted
    assert not screen.patient.hit_pause(lay.sound_up.center, SIZE)  # buttons do not overlap


def test_a_safety_stop_sounds_while_muted(screen):
    a = screen.audio
    screen.handle_event(key(pygame.K_m))
    assert a.muted
    floor = working()
    stop = Cue("safety.pain_free_range", "STOP", Severity.SAFETY, floor.t + 1)
    screen.update(replace(floor, t=floor.t + 1, safety_stop=True, phase="stopped", cue=stop))
    assert a._alarm_channel.get_busy()
    assert a._alarm_channel.get_volume() >= 0.69
    spoken = [s for s in a.voice.log if s.key == "safety.pain_free_range"]
    assert spoken and spoken[-1].outcome != "muted"  # a tone stands in: no recording here


def test_without_audio_no_control_is_drawn_and_taps_do_nothing(tmp_path):
    pygame.display.init()
    s = Screen(SIZE, mirror=False)
    s.update(working())
    lay = s.patient.layout_for(SIZE)
    assert s.patient.sound is None
    assert s.handle_event(tap(lay.sound_toggle.center)) == []
    off = Screen(SIZE, mirror=False, audio=Audio(enabled=False))
    off.update(working())
    assert off.patient.hit_sound(lay.sound_toggle.center, SIZE) is None
    surface = pygame.Surface(SIZE)
    off.draw(surface)  # "No sound" in place of the control
    assert np.any(region(surface, lay.sound_toggle) != style.PANEL)
