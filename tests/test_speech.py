"""Spoken cues end to end: espeak-ng renders every phrase of every language (the same build
`make speech` runs), each clip is real audio of a plausible length, and the app's voice plays
every cue key through the mixer (SDL's dummy driver), muted or not when it is a safety stop."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import json
import wave

import numpy as np
import pytest

from feedback.audio import Audio, SoundCues
from feedback.voice import SAFETY_MIN_VOLUME, ChannelSink, Speaker
from language import catalog
from session.snapshot import Cue, Severity, Snapshot
from speech import SpeechError
from speech import build as speech_build
from speech.phrases import (
    COUNT_MAX,
    HOLD,
    RELAX,
    SPEECH_DIR,
    VOICES,
    Voice,
    clip_path,
    count_key,
    languages,
    phrases,
)


@pytest.fixture(scope="session")
def built():
    """The real build into build/speech (incremental: only what changed is rendered)."""
    return speech_build.build(SPEECH_DIR)


def _read(path):
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2), path
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    return rate, samples.astype(np.float64) / 32768


def test_every_language_has_a_voice_and_every_cue_key():
    assert set(languages()) == {"en", "de"} <= set(VOICES)
    english_cues = set(catalog("en"))
    for lang in languages():
        keys = set(phrases(lang))
        assert english_cues <= keys, f"{lang}: cue keys without a spoken text"
        assert {count_key(n) for n in range(1, COUNT_MAX + 1)} | {HOLD, RELAX} <= keys


@pytest.mark.parametrize("lang", ["en", "de"])
def test_every_phrase_has_a_valid_recording(built, lang):
    manifest = json.loads((SPEECH_DIR / speech_build.MANIFEST).read_text("utf-8"))
    for key, text in phrases(lang).items():
        path = clip_path(SPEECH_DIR, lang, key)
        assert path.is_file(), f"no recording for {lang}/{key}"
        assert manifest["clips"][f"{lang}/{key}"]["text"] == text
        rate, y = _read(path)
        seconds = y.size / rate
        words = len(text.split())
        # Plausible speech: a count word under 1.5 s, about 0.25-0.9 s a word otherwise.
        assert 0.2 < seconds < 1.5 + 0.9 * words, (key, seconds)
        assert np.sqrt(np.mean(y**2)) > 0.02, f"{lang}/{key} is (nearly) silent"
        assert np.abs(y).max() < 1.0
        assert np.abs(y[-int(0.03 * rate) :]).max() < 0.05  # trimmed tail, no cut word


def test_a_german_clip_differs_from_the_english_one(built):
    _, en = _read(clip_path(SPEECH_DIR, "en", "count.3"))
    _, de = _read(clip_path(SPEECH_DIR, "de", "count.3"))
    assert en.size != de.size or not np.allclose(en, de)


def test_the_build_renders_only_what_changed(tmp_path, monkeypatch):
    texts = {"x.one": "one", "x.two": "two", "x.three": "three"}
    monkeypatch.setattr(speech_build, "languages", lambda: ["en"])
    monkeypatch.setattr(speech_build, "phrases", lambda lang: dict(texts))
    r = speech_build.build(tmp_path)
    assert (r.built, r.kept, r.removed) == (3, 0, 0)
    assert (speech_build.build(tmp_path).built, speech_build.build(tmp_path).kept) == (0, 3)
    before = clip_path(tmp_path, "en", "x.two").stat().st_mtime_ns
    texts["x.one"] = "one more"  # a changed text: that clip alone
    r = speech_build.build(tmp_path)
    assert (r.built, r.kept) == (1, 2)
    assert clip_path(tmp_path, "en", "x.two").stat().st_mtime_ns == before
    del texts["x.three"]  # a phrase gone: its clip goes too
    r = speech_build.build(tmp_path)
    assert r.removed == 1 and not clip_path(tmp_path, "en", "x.three").exists()
    clip_path(tmp_path, "en", "x.two").unlink()  # a deleted clip comes back
    assert speech_build.build(tmp_path).built == 1
    monkeypatch.setitem(speech_build.VOICES, "en", Voice("en-gb", speed_wpm=120))
    assert speech_build.build(tmp_path).built == 2  # a changed voice: everything again
    (tmp_path / speech_build.MANIFEST).write_text("{not json", "utf-8")
    assert speech_build.build(tmp_path).built == 2  # a damaged manifest: rebuilt, no crash


def test_no_espeak_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(speech_build.shutil, "which", lambda name: None)
    with pytest.raises(SpeechError, match="apt-get install"):
        speech_build.build(tmp_path)
    assert speech_build.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("speech.build: error: espeak-ng not found") and err.count("\n") == 1


def test_a_language_without_count_words_is_refused(tmp_path, monkeypatch):
    import speech.phrases as ph

    (tmp_path / "en.toml").write_text('[cues]\n"a.b" = "Hello"\n', "utf-8")
    monkeypatch.setattr(ph, "LANG_DIR", tmp_path)
    monkeypatch.setattr(ph, "catalog", lambda lang: {"a.b": "Hello"})
    with pytest.raises(SpeechError, match=r"no \[count\] table"):
        ph.phrases("en")


class Recorder:
    """Passes every sound on to the real voice channel and keeps what it was given."""

    def __init__(self, sink: ChannelSink) -> None:
        self.sink = sink
        self.played: list[tuple[object, float]] = []

    def play(self, clip, volume: float) -> None:
        self.played.append((clip, volume))
        self.sink.play(clip, volume)

    def stop(self) -> None:
        self.sink.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _audio(lang: str, clock: Clock) -> tuple[Audio, Recorder]:
    audio = Audio(lang=lang, clock=clock)
    assert audio.available, audio.reason
    rec = Recorder(audio.voice._sink)
    audio.voice = Speaker(audio.clips.get, rec, clock, tone=audio._tone_instead)
    return audio, rec


@pytest.mark.parametrize("lang", ["en", "de"])
def test_a_spoken_cue_plays_for_every_cue_key(built, lang):
    clock = Clock()
    audio, rec = _audio(lang, clock)
    try:
        for key in catalog(lang):
            audio.voice.stop()
            audio.voice.speak_cue(key, Severity.INFO)
            clip, volume = rec.played[-1]
            path = clip_path(SPEECH_DIR, lang, key)
            rate, y = _read(path)
            assert clip is audio.clips.get(key)
            assert clip.get_length() == pytest.approx(y.size / rate, abs=0.01)
            assert volume == pytest.approx(audio.volume)
        assert len(rec.played) == len(catalog(lang))
        assert {s.outcome for s in audio.voice.log} == {"spoken"}  # no tone stood in
    finally:
        audio.close()


def snap(**kw) -> Snapshot:
    base = dict(t=1.0, exercise_id="x", exercise_name="X", phase="working", tempo_phase="")
    base.update(kw)
    return Snapshot(**base)


def test_two_cues_never_overlap_and_safety_is_heard_while_muted(built):
    clock = Clock()
    audio, rec = _audio("en", clock)
    try:
        cues = SoundCues(audio, min_warning_gap_s=0.0)
        cues.update(snap(t=0.0))
        cues.update(snap(t=0.0, cue=Cue("squat.depth", "", Severity.WARNING, 0.0)))
        first = audio.clips.get("squat.depth").get_length()
        clock.now = 0.2
        cues.update(snap(t=0.2, cue=Cue("squat.trunk_lean", "", Severity.WARNING, 0.2)))
        audio.update()
        assert [c for c, _ in rec.played] == [audio.clips.get("squat.depth")]  # waits
        clock.now = first + 0.2
        audio.update()
        assert rec.played[-1][0] is audio.clips.get("squat.trunk_lean")  # after the first
        audio.set_muted(True)
        audio.set_volume(0.1)
        n = len(rec.played)
        clock.now += 0.1
        cues.update(snap(t=clock.now, cue=Cue("load.too_high", "", Severity.WARNING, 9.0)))
        assert len(rec.played) == n  # muted: no coaching
        stop = Cue("safety.overload", "", Severity.SAFETY, clock.now)
        cues.update(snap(t=clock.now, safety_stop=True, cue=stop))
        clip, volume = rec.played[-1]
        assert clip is audio.clips.get("safety.overload")
        assert volume >= SAFETY_MIN_VOLUME
        assert audio._alarm_channel.get_busy()  # the alarm loops under it
    finally:
        audio.close()
