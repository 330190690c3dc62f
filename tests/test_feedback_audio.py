"""Generated sounds, the mute switch and the no-mixer fallback, under SDL's dummy audio."""

import logging
import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from dataclasses import replace

import numpy as np
import pygame
import pytest

from feedback.audio import SOUND_NAMES, Audio, SoundCues, synthesize, to_int16
from session.snapshot import Cue, Severity, Snapshot


@pytest.fixture
def audio():
    a = Audio()
    yield a
    a.close()


def snap(**kw) -> Snapshot:
    base = dict(t=1.0, exercise_id="x", exercise_name="X", phase="working", tempo_phase="up")
    base.update(kw)
    return Snapshot(**base)


@pytest.mark.parametrize("name", SOUND_NAMES)
def test_synthesized_waveforms_are_audible_and_unclipped(name):
    w = synthesize(name, 44100)
    rms = float(np.sqrt(np.mean(w**2)))
    assert rms > 0.05 and np.abs(w).max() <= 1.0
    assert 0.01 < w.size / 44100 < 2.0
    assert abs(w[0]) < 0.05  # faded in: no click at the start


def test_unknown_sound_name_is_rejected():
    with pytest.raises(ValueError, match="expected one of"):
        synthesize("fanfare")


def test_mixer_sounds_hold_the_generated_samples(audio):
    assert audio.available, audio.reason
    freq, _, channels = pygame.mixer.get_init()
    for name in SOUND_NAMES:
        arr = pygame.sndarray.array(audio.sound(name))
        expected = to_int16(synthesize(name, freq), channels)
        assert arr.shape == expected.shape
        assert np.abs(arr.astype(np.int32)).max() > 10000
        np.testing.assert_array_equal(arr, expected)


def test_mute_silences_play_and_the_alarm(audio):
    assert audio.play("rep") is True
    audio.set_alarm(True)
    assert audio._alarm_channel is not None and audio._alarm_channel.get_busy()
    audio.set_muted(True)
    assert audio.play("rep") is False
    assert audio._alarm_channel is None
    audio.set_muted(False)  # still in a safety stop: the alarm comes back
    assert audio._alarm_channel is not None and audio._alarm_channel.get_busy()
    audio.set_alarm(False)
    assert audio._alarm_channel is None


def test_no_mixer_is_a_logged_no_op(monkeypatch, caplog):
    def broken(*a, **k):
        raise pygame.error("no audio device")

    monkeypatch.setattr(pygame.mixer, "get_init", lambda: None)
    monkeypatch.setattr(pygame.mixer, "init", broken)
    with caplog.at_level(logging.WARNING, logger="feedback.audio"):
        a = Audio()
    assert not a.available
    assert "no audio device" in a.reason
    assert "no audio device" in caplog.text
    assert a.play("warning") is False
    a.set_alarm(True)
    a.toggle_mute()
    a.close()


def test_sound_cues_follow_the_session(audio):
    cues = SoundCues(audio)
    s0 = snap(rep_count=2)
    assert cues.update(s0) == []
    assert cues.update(replace(s0, rep_count=3)) == ["rep"]
    assert cues.update(replace(s0, rep_count=3, tempo_phase="down")) == ["click"]
    warn = Cue("k.back", "Keep your back straight", Severity.FAULT, 1.0)
    s1 = replace(s0, rep_count=3, tempo_phase="down", cue=warn)
    assert cues.update(s1) == ["warning"]
    assert cues.update(s1) == []  # the same cue held: no repeat
    cues.update(replace(s1, safety_stop=True))
    assert audio._alarm_channel is not None and audio._alarm_channel.get_busy()
    cues.update(s1)
    assert audio._alarm_channel is None


def test_warning_tones_are_spaced_out(audio):
    cues = SoundCues(audio, min_warning_gap_s=3.0)
    a = Cue("k.a", "Knees out", Severity.WARNING, 1.0)
    b = Cue("k.b", "Back straight", Severity.FAULT, 2.0)
    cues.update(snap(t=0.5))
    assert cues.update(snap(t=1.0, cue=a)) == ["warning"]
    assert cues.update(snap(t=2.0, cue=b)) == []  # 1 s later: shown, not beeped
    assert cues.update(snap(t=4.5, cue=replace(a, since_s=4.5))) == ["warning"]
