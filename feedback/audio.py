"""Sound: tones generated in code, spoken cues from ``build/speech``, played with pygame.mixer.

Two mixer channels are reserved: one for the voice (``feedback.voice.Speaker``: never two
phrases at once) and one for the safety alarm; tones take the free channels. Mute silences
coaching (tones and speech); the safety alarm and the spoken STOP are never muted and never
play below ``SAFETY_MIN_VOLUME``.

If the mixer cannot start (no sound card, no driver) the ``Audio`` object stays usable and
every call is a no-op; the reason is logged once and kept in ``Audio.reason``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pygame

from feedback.voice import (
    SAFETY_MIN_VOLUME,
    ChannelSink,
    NullSink,
    Priority,
    Speaker,
    SpeechClips,
)
from language import catalog
from session.snapshot import Severity, Snapshot
from speech.phrases import COUNT_MAX, HOLD, RELAX, SPEECH_DIR, count_key

log = logging.getLogger(__name__)

SAMPLE_RATE = 44100
SOUND_NAMES = ("rep", "click", "warning", "alarm")
VOICE_CHANNEL, ALARM_CHANNEL = 0, 1  # reserved; tones use the others
VOLUME_STEP = 0.1
VOLUME_MIN = 0.1  # quieter than this is what mute is for
ALARM_UNDER_VOICE = 0.35  # the alarm steps back while the STOP phrase is spoken


def _envelope(
    n: int, sample_rate: int, attack_s: float = 0.005, release_s: float = 0.03
) -> np.ndarray:
    """Short fades at both ends so tones start and stop without a click."""
    env = np.ones(n)
    a = min(n // 2, max(1, int(attack_s * sample_rate)))
    r = min(n // 2, max(1, int(release_s * sample_rate)))
    env[:a] = np.linspace(0, 1, a)
    env[-r:] = np.linspace(1, 0, r)
    return env


def _tone(freq: float, dur_s: float, sample_rate: int, harmonics: float = 0.0) -> np.ndarray:
    t = np.arange(int(dur_s * sample_rate)) / sample_rate
    y = np.sin(2 * np.pi * freq * t) + harmonics * np.sin(2 * np.pi * 3 * freq * t) / 3
    return y * _envelope(t.size, sample_rate)


def synthesize(name: str, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mono float waveform in -1..1 for one of ``SOUND_NAMES``."""
    sr = sample_rate
    gap = lambda s: np.zeros(int(s * sr))  # noqa: E731
    if name == "rep":  # rising two-note chime: "done", friendly
        y = np.concatenate([_tone(784, 0.11, sr), gap(0.02), _tone(1175, 0.18, sr)])
        return 0.5 * y
    if name == "click":  # tempo tick: short, percussive, not tonal enough to mistake for a cue
        n = int(0.018 * sr)
        t = np.arange(n) / sr
        return 0.6 * np.sin(2 * np.pi * 2200 * t) * np.exp(-t / 0.004)
    if name == "warning":  # two mid beeps
        b = _tone(660, 0.14, sr, harmonics=0.3)
        return 0.6 * np.concatenate([b, gap(0.08), b])
    if name == "alarm":  # two-tone siren, loops while the safety stop lasts
        hi, lo = _tone(1040, 0.22, sr, 0.6), _tone(740, 0.22, sr, 0.6)
        return 0.85 * np.concatenate([hi, lo, hi, lo]) / 1.2
    raise ValueError(f"synthesize: unknown sound {name!r}; expected one of {SOUND_NAMES}")


def to_int16(wave: np.ndarray, channels: int) -> np.ndarray:
    """int16 samples shaped for a mixer with ``channels`` channels."""
    s = np.clip(wave, -1.0, 1.0)
    s = (s * 32767).astype(np.int16)
    return np.ascontiguousarray(np.repeat(s[:, None], channels, axis=1)) if channels > 1 else s


class Audio:
    def __init__(
        self,
        enabled: bool = True,
        volume: float = 0.8,
        muted: bool = False,
        lang: str = "en",
        speech_dir: Path = SPEECH_DIR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.available = False
        self.reason = ""
        self.muted = muted
        self.volume = _clamp_volume(volume)
        self.lang = lang
        self._sounds: dict[str, pygame.mixer.Sound] = {}
        self._alarm_channel: pygame.mixer.Channel | None = None
        self._alarm_wanted = False
        self._owns_mixer = False
        self.clips: SpeechClips | None = None
        self.voice = Speaker(lambda key: None, NullSink(), clock, warn_missing=False)
        if not enabled:
            self.reason = "audio turned off"
            return
        try:
            if not pygame.mixer.get_init():
                pygame.mixer.init(frequency=SAMPLE_RATE, size=-16, channels=2, buffer=512)
                self._owns_mixer = True
            freq, _size, channels = pygame.mixer.get_init()
            pygame.mixer.set_reserved(2)
            for name in SOUND_NAMES:
                snd = pygame.sndarray.make_sound(to_int16(synthesize(name, freq), channels))
                self._sounds[name] = snd
            self._alarm_channel = pygame.mixer.Channel(ALARM_CHANNEL)
            self.clips = SpeechClips(lang, speech_dir)
            self.voice = Speaker(
                self.clips.get,
                ChannelSink(pygame.mixer.Channel(VOICE_CHANNEL)),
                clock,
                tone=self._tone_instead,
                volume=self.volume,
            )
            self.voice.muted = muted
            self.available = True
            self._apply_volume()
            self.clips.preload(_urgent_phrases(lang))
        except (pygame.error, TypeError, ValueError) as exc:
            self.reason = f"mixer unavailable: {exc}"
            log.warning("audio off: %s", self.reason)

    def sound(self, name: str) -> pygame.mixer.Sound | None:
        return self._sounds.get(name)

    def play(self, name: str) -> bool:
        """Play a coaching tone once; False when muted or without a mixer."""
        if self.muted or not self.available:
            return False
        return self._sounds[name].play() is not None

    def _tone_instead(self, key: str, priority: Priority) -> None:
        """The tone for a phrase without a recording (the alarm covers a safety stop)."""
        if priority == Priority.CORRECTION:
            self.play("warning")
        elif priority == Priority.COUNT:
            self.play("click" if key == HOLD else "rep")

    # -- safety alarm: never muted -------------------------------------------------------
    def set_alarm(self, on: bool) -> None:
        """Keep the safety alarm looping while ``on``, muted or not."""
        self._alarm_wanted = on
        if not self.available or self._alarm_channel is None:
            return
        ch = self._alarm_channel
        if on and not ch.get_busy():
            ch.play(self._sounds["alarm"], loops=-1)
            ch.set_volume(self.safety_volume)
        elif not on and ch.get_busy():
            ch.stop()

    @property
    def alarm_on(self) -> bool:
        return self._alarm_wanted

    @property
    def safety_volume(self) -> float:
        return max(self.volume, SAFETY_MIN_VOLUME)

    # -- mute and volume: coaching only --------------------------------------------------
    def set_muted(self, muted: bool) -> None:
        self.muted = muted
        self.voice.set_muted(muted)
        if muted and self.available:
            for i in range(2, pygame.mixer.get_num_channels()):
                pygame.mixer.Channel(i).stop()  # tones; the alarm and a STOP phrase go on

    def toggle_mute(self) -> bool:
        self.set_muted(not self.muted)
        return self.muted

    def set_volume(self, volume: float) -> float:
        self.volume = _clamp_volume(volume)
        self._apply_volume()
        return self.volume

    def change_volume(self, steps: int) -> float:
        """Up or down by ``steps`` of 10 %; never below ``VOLUME_MIN``."""
        return self.set_volume(round(self.volume + steps * VOLUME_STEP, 2))

    def _apply_volume(self) -> None:
        self.voice.volume = self.volume
        for snd in self._sounds.values():
            snd.set_volume(self.volume)
        if self.available and self._alarm_channel is not None:
            self._alarm_channel.set_volume(self.safety_volume)

    # -- per frame -----------------------------------------------------------------------
    def update(self) -> None:
        """Once a frame: the voice starts what waits; the alarm steps back under STOP speech."""
        self.voice.update()
        if self.available and self._alarm_channel is not None and self._alarm_wanted:
            under = self.voice.speaking_priority == Priority.SAFETY
            self._alarm_channel.set_volume(self.safety_volume * (ALARM_UNDER_VOICE if under else 1))

    def close(self) -> None:
        if self.available:
            self.voice.stop()
            pygame.mixer.stop()
            if self._owns_mixer:
                pygame.mixer.quit()
        self.available = False
        self._sounds.clear()


def _clamp_volume(v: float) -> float:
    return min(1.0, max(VOLUME_MIN, float(v))) if math.isfinite(v) else 0.8


def _urgent_phrases(lang: str) -> list[str]:
    """Loaded at start so a stop or a count never waits on the disk."""
    safety = [k for k in catalog(lang) if k.startswith("safety.")]
    return safety + [count_key(n) for n in range(1, COUNT_MAX + 1)] + [HOLD, RELAX]


# Cues the count-outs already say ("three", "hold", "relax") or that would nag after every rep.
UNSPOKEN_CUES = frozenset(
    ("session.rep_done", "session.good_form", "session.hold", "session.hold_done")
)


class SoundCues:
    """The one place the app feeds the audio: turns snapshot changes into calls of the narrow
    interface (``Speaker.speak_cue``, ``Speaker.count``, ``Speaker.say``, ``Audio.play``,
    ``Audio.set_alarm``). Typed session events can replace the snapshot comparison later
    without touching the audio.

    - safety stop: alarm, and the STOP phrase (interrupts anything, heard even when muted);
    - a rep: its number ("three"); a hold: "hold", the last seconds "three, two, one",
      "relax"; the countdown before a set: "two, one";
    - a new cue: spoken (corrections at most one per ``min_warning_gap_s``; the same cue not
      again within ``repeat_gap_s``, so a tempo hint after every rep is said once);
    - the tempo phase changes: a click.
    """

    def __init__(
        self, audio: Audio, min_warning_gap_s: float = 3.0, repeat_gap_s: float = 10.0
    ) -> None:
        self.audio = audio
        self.voice = audio.voice
        # A correction for every cue change would nag; the cue line already shows each one.
        self.min_warning_gap_s = min_warning_gap_s
        self.repeat_gap_s = repeat_gap_s
        self._prev: Snapshot | None = None
        self._last_warning_t = -math.inf
        self._last_said: dict[str, float] = {}  # cue key -> session time it was last said

    def update(self, snap: Snapshot) -> list[str]:
        """Returns what it asked for ("say:<key>", "tone:<name>"), played unless muted."""
        prev, self._prev = self._prev, snap
        asked: list[str] = []
        self.audio.set_alarm(snap.safety_stop)
        cue = snap.cue
        new_cue = cue is not None and (
            prev is None
            or prev.cue is None
            or prev.cue.key != cue.key
            or not math.isclose(prev.cue.since_s, cue.since_s)
        )
        if snap.safety_stop:
            if new_cue and cue.severity == Severity.SAFETY:
                self.voice.speak_cue(cue.key, cue.severity)
                asked.append(f"say:{cue.key}")
            return asked
        if prev is not None:
            asked += self._counts(prev, snap)
        if new_cue and cue.key not in UNSPOKEN_CUES:
            corrective = cue.severity in (Severity.WARNING, Severity.FAULT)
            spaced = not corrective or snap.t - self._last_warning_t >= self.min_warning_gap_s
            fresh = snap.t - self._last_said.get(cue.key, -math.inf) >= self.repeat_gap_s
            if spaced and fresh:
                self.voice.speak_cue(cue.key, cue.severity)
                asked.append(f"say:{cue.key}")
                self._last_said[cue.key] = snap.t
                if corrective:
                    self._last_warning_t = snap.t
        return asked

    def _counts(self, prev: Snapshot, snap: Snapshot) -> list[str]:
        asked: list[str] = []

        def count(n: int, priority: Priority = Priority.COUNT) -> None:
            self.voice.count(n, priority)
            asked.append(f"say:{count_key(n)}")

        if snap.phase == "countdown" and prev.phase == "countdown":
            before, now = math.ceil(prev.countdown_s), math.ceil(snap.countdown_s)
            if now < before and 1 <= now <= 3:
                count(now, Priority.COACHING)  # after "Get ready", never over it
        if snap.phase == "hold" and prev.phase != "hold":
            self.voice.say(HOLD, Priority.COUNT)
            asked.append(f"say:{HOLD}")
        if snap.phase == "hold" and prev.phase == "hold":
            left_before = prev.hold_target_s - prev.hold_s
            left = snap.hold_target_s - snap.hold_s
            for k in (3, 2, 1):
                if left_before > k >= left and k < snap.hold_target_s:
                    count(k)
        if snap.rep_count > prev.rep_count:
            if prev.phase == "hold":  # a completed hold
                self.voice.say(RELAX, Priority.COUNT)
                asked.append(f"say:{RELAX}")
            else:
                count(snap.rep_count)
        elif (
            snap.tempo_phase is not None
            and snap.tempo_phase != prev.tempo_phase
            and snap.phase == "working"
            and self.audio.play("click")
        ):
            asked.append("tone:click")
        return asked
