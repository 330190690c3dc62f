"""Generated sounds, mute and volume, the alarm that mute never silences, the snapshot-to-sound
adapter and the no-mixer fallback, under SDL's dummy audio."""

import logging
import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from dataclasses import replace

import numpy as np
import pygame
import pytest

from feedback.audio import (
    ALARM_UNDER_VOICE,
    SOUND_NAMES,
    VOLUME_MIN,
    Audio,
    SoundCues,
    synthesize,
    to_int16,
)
from feedback.voice import SAFETY_MIN_VOLUME, Priority
from session.snapshot import Cue, Severity, Snapshot
from speech.phrases import HOLD, RELAX


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return _Clock()


@pytest.fixture
def audio(clock, tmp_path):
    # No recordings here (an empty folder): the voice falls back to tones. Speech with the
    # real recordings is in test_speech_playback.py.
    a = Audio(speech_dir=tmp_path, clock=clock)
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


def test_mute_silences_coaching_tones_but_never_the_alarm(audio):
    assert audio.play("rep") is True
    audio.set_alarm(True)
    alarm = audio._alarm_channel
    assert alarm.get_busy() and alarm.get_sound() is audio.sound("alarm")  # loops: no race
    audio.set_muted(True)
    assert audio.play("rep") is False
    assert alarm.get_busy(), "mute must never silence a safety stop"
    audio.set_muted(False)
    assert alarm.get_busy()
    audio.set_alarm(False)
    assert not alarm.get_busy()


def test_volume_steps_and_the_safety_floor(audio):
    assert audio.change_volume(-1) == pytest.approx(0.7)
    for _ in range(20):
        audio.change_volume(-1)
    assert audio.volume == pytest.approx(VOLUME_MIN)  # quieter than this is mute's job
    assert audio.sound("rep").get_volume() == pytest.approx(VOLUME_MIN, abs=0.01)
    audio.set_alarm(True)
    # However low the coaching volume, the alarm plays at the safety floor or louder.
    assert audio._alarm_channel.get_volume() >= SAFETY_MIN_VOLUME - 0.01
    for _ in range(20):
        audio.change_volume(1)
    assert audio.volume == pytest.approx(1.0)
    assert audio._alarm_channel.get_volume() == pytest.approx(1.0, abs=0.01)
    assert audio.set_volume(float("nan")) == pytest.approx(0.8)  # a bad value: the default


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
    a.change_volume(-1)
    a.voice.speak_cue("squat.depth", Severity.WARNING)
    a.voice.count(3)
    a.update()
    a.close()


def _spoken(audio) -> list[str]:
    return [said.key for said in audio.voice.log]


def test_sound_cues_follow_the_session(audio, clock):
    cues = SoundCues(audio)
    s0 = snap(rep_count=2)
    assert cues.update(s0) == []
    assert cues.update(replace(s0, rep_count=3)) == ["say:count.3"]  # "three" after rep 3
    assert cues.update(replace(s0, rep_count=3, tempo_phase="down")) == ["tone:click"]
    warn = Cue("squat.trunk_lean", "Chest up", Severity.FAULT, 1.0)
    s1 = replace(s0, rep_count=3, tempo_phase="down", cue=warn)
    assert cues.update(s1) == ["say:squat.trunk_lean"]
    assert cues.update(s1) == []  # the same cue held: no repeat
    stop = Cue("safety.overload", "STOP - load too high", Severity.SAFETY, 2.0)
    assert cues.update(replace(s1, safety_stop=True, cue=stop)) == ["say:safety.overload"]
    assert audio._alarm_channel.get_busy()
    # While stopped nothing else is said; the stop cue is not said twice.
    assert cues.update(replace(s1, t=2.5, rep_count=4, safety_stop=True, cue=stop)) == []
    cues.update(replace(s1, t=3.0, phase="paused", cue=None))
    assert not audio._alarm_channel.get_busy()


def test_rep_and_hold_count_outs(audio):
    cues = SoundCues(audio)
    base = snap(phase="working", hold_target_s=10.0, tempo_phase="")
    cues.update(base)
    assert cues.update(replace(base, t=1.1, phase="hold", hold_s=0.1)) == [f"say:{HOLD}"]
    said = []
    for k in range(2, 100):  # the hold runs 0.1 s a frame up to its 10 s target
        held = min(10.0, 0.1 * k)
        said += cues.update(replace(base, t=1 + 0.1 * k, phase="hold", hold_s=held))
    assert said == ["say:count.3", "say:count.2", "say:count.1"]  # the last three seconds
    done = replace(base, t=12.0, phase="working", hold_s=0.0, rep_count=1)
    assert cues.update(done) == [f"say:{RELAX}"]
    # Countdown before a set: "Get ready" (the cue), then "two", "one".
    cd = snap(t=20.0, phase="countdown", countdown_s=3.0, tempo_phase="")
    cues.update(cd)
    heard = []
    for k in range(1, 30):
        heard += cues.update(replace(cd, t=20.0 + 0.1 * k, countdown_s=max(0.0, 3.0 - 0.1 * k)))
    assert heard == ["say:count.2", "say:count.1"]


def test_cues_the_count_outs_cover_are_not_spoken(audio):
    cues = SoundCues(audio)
    cues.update(snap())
    for key in ("session.rep_done", "session.good_form", "session.hold", "session.hold_done"):
        cue = Cue(key, key, Severity.POSITIVE, 1.0)
        assert cues.update(snap(t=2.0, cue=cue)) == []
    assert cues.update(snap(t=3.0, cue=Cue("session.rest", "Rest", Severity.INFO, 3.0))) == [
        "say:session.rest"
    ]


def test_corrections_are_spaced_out_and_not_repeated_soon(audio):
    cues = SoundCues(audio, min_warning_gap_s=3.0)
    a = Cue("squat.depth", "Knees", Severity.WARNING, 1.0)
    b = Cue("squat.trunk_lean", "Back straight", Severity.FAULT, 2.0)
    cues.update(snap(t=0.5))
    assert cues.update(snap(t=1.0, cue=a)) == ["say:squat.depth"]
    assert cues.update(snap(t=2.0, cue=b)) == []  # 1 s later: shown, not said
    assert cues.update(snap(t=4.5, cue=replace(b, since_s=4.5))) == ["say:squat.trunk_lean"]
    # The same cue again within 10 s is shown, not said: a hint after every rep would nag.
    assert cues.update(snap(t=8.0, cue=replace(a, since_s=8.0))) == []
    assert cues.update(snap(t=11.5, cue=replace(a, since_s=11.5))) == ["say:squat.depth"]


def test_missing_recordings_fall_back_to_tones_with_one_warning(audio, caplog, monkeypatch):
    tones: list[str] = []
    real_play = audio.play
    monkeypatch.setattr(audio, "play", lambda name: tones.append(name) or real_play(name))
    with caplog.at_level(logging.WARNING, logger="feedback.voice"):
        audio.voice.speak_cue("squat.depth", Severity.WARNING)
        audio.voice.count(4)
        audio.voice.say(HOLD, Priority.COUNT)
        audio.voice.speak_cue("session.rest", Severity.INFO)  # no tone for coaching
    assert tones == ["warning", "rep", "click"]
    warnings = [r for r in caplog.records if "make speech" in r.getMessage()]
    assert len(warnings) == 1
    assert [s.outcome for s in audio.voice.log] == ["tone"] * 4


def test_alarm_steps_back_while_stop_is_spoken(tmp_path, clock):
    # One recording of the stop phrase: a sine second written as a WAV.
    import wave

    folder = tmp_path / "en"
    folder.mkdir()
    with wave.open(str(folder / "safety.overload.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(22050)
        t = np.arange(22050) / 22050
        w.writeframes((np.sin(2 * np.pi * 440 * t) * 12000).astype(np.int16).tobytes())
    a = Audio(speech_dir=tmp_path, clock=clock)
    try:
        a.set_alarm(True)
        a.set_muted(True)
        a.voice.speak_cue("safety.overload", Severity.SAFETY)
        a.update()
        assert a.voice.speaking == "safety.overload"
        want = a.safety_volume * ALARM_UNDER_VOICE
        assert a._alarm_channel.get_volume() == pytest.approx(want, abs=0.01)
        clock.now += 1.5  # the phrase is over: the alarm comes back to full
        a.update()
        assert a.voice.speaking is None
        assert a._alarm_channel.get_volume() == pytest.approx(a.safety_volume, abs=0.01)
    finally:
        a.close()
