"""Sounds generated in code (no asset files to license) and played with pygame.mixer.

If the mixer cannot start (no sound card, no driver) the ``Audio`` object stays usable and
every call is a no-op; the reason is logged once and kept in ``Audio.reason``.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pygame

from session.snapshot import Severity, Snapshot

log = logging.getLogger(__name__)

SAMPLE_RATE = 44100
SOUND_NAMES = ("rep", "click", "warning", "alarm")


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
    def __init__(self, enabled: bool = True, volume: float = 0.8) -> None:
        self.available = False
        self.reason = ""
        self.muted = False
        self._sounds: dict[str, pygame.mixer.Sound] = {}
        self._alarm_channel: pygame.mixer.Channel | None = None
        self._alarm_wanted = False
        self._owns_mixer = False
        if not enabled:
            self.reason = "audio turned off"
            return
        try:
            if not pygame.mixer.get_init():
                pygame.mixer.init(frequency=SAMPLE_RATE, size=-16, channels=2, buffer=512)
                self._owns_mixer = True
            freq, _size, channels = pygame.mixer.get_init()
            for name in SOUND_NAMES:
                snd = pygame.sndarray.make_sound(to_int16(synthesize(name, freq), channels))
                snd.set_volume(volume)
                self._sounds[name] = snd
            self.available = True
        except (pygame.error, TypeError, ValueError) as exc:
            self.reason = f"mixer unavailable: {exc}"
            log.warning("audio off: %s", self.reason)

    def sound(self, name: str) -> pygame.mixer.Sound | None:
        return self._sounds.get(name)

    def play(self, name: str) -> bool:
        """Play a sound once; False when muted or without a mixer."""
        if self.muted or not self.available:
            return False
        snd = self._sounds[name]
        return snd.play() is not None

    def set_alarm(self, on: bool) -> None:
        """Keep the safety alarm looping while ``on``; survives mute and un-mute."""
        self._alarm_wanted = on
        self._apply_alarm()

    def _apply_alarm(self) -> None:
        if not self.available:
            return
        playing = self._alarm_channel is not None and self._alarm_channel.get_busy()
        if self._alarm_wanted and not self.muted and not playing:
            self._alarm_channel = self._sounds["alarm"].play(loops=-1)
        elif (not self._alarm_wanted or self.muted) and self._alarm_channel is not None:
            self._alarm_channel.stop()
            self._alarm_channel = None

    def set_muted(self, muted: bool) -> None:
        self.muted = muted
        if muted and self.available:
            pygame.mixer.stop()
        self._apply_alarm()

    def toggle_mute(self) -> bool:
        self.set_muted(not self.muted)
        return self.muted

    def close(self) -> None:
        if self.available:
            pygame.mixer.stop()
            if self._owns_mixer:
                pygame.mixer.quit()
        self.available = False
        self._sounds.clear()


class SoundCues:
    """Turns snapshot changes into sounds: rep done, tempo phase change, new warning, STOP."""

    def __init__(self, audio: Audio, min_warning_gap_s: float = 3.0) -> None:
        self.audio = audio
        # A beep for every cue change would nag; the cue line already shows each one.
        self.min_warning_gap_s = min_warning_gap_s
        self._prev: Snapshot | None = None
        self._last_warning_t = -math.inf

    def update(self, snap: Snapshot) -> list[str]:
        """Returns the names of the sounds it asked for (played unless muted)."""
        prev, self._prev = self._prev, snap
        asked: list[str] = []
        self.audio.set_alarm(snap.safety_stop)
        if prev is None or snap.safety_stop:
            return asked
        if snap.rep_count > prev.rep_count:
            asked.append("rep")
        elif snap.tempo_phase and snap.tempo_phase != prev.tempo_phase and snap.phase == "working":
            asked.append("click")
        cue, old = snap.cue, prev.cue
        if (
            cue is not None
            and cue.severity in (Severity.WARNING, Severity.FAULT)
            and (old is None or old.key != cue.key or not math.isclose(old.since_s, cue.since_s))
            and snap.t - self._last_warning_t >= self.min_warning_gap_s
        ):
            asked.append("warning")
            self._last_warning_t = snap.t
        for name in asked:
            self.audio.play(name)
        return asked
