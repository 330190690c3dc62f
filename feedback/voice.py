"""One voice at a time: spoken cues and count-outs on the mixer's reserved voice channel.

``Speaker`` is the whole interface the session side needs: ``say(key, priority)``,
``speak_cue(cue_key, severity)`` and ``count(n)``; ``update()`` once a frame starts whatever
waits. The rules:

- one channel, so never two voices at once;
- a phrase of higher priority interrupts the one speaking; an equal or lower one waits, and
  is dropped if it has waited too long to still mean anything (a rep count after 1 s);
- mute silences coaching, never a safety phrase, which also never plays below
  ``SAFETY_MIN_VOLUME``;
- a phrase without a recording (``make speech`` not run) falls back to a tone, with one
  log warning, never an exception.

Whether the voice is free is decided on the speaker's own clock and each clip's length,
not on the channel's state, so behaviour does not hang on the audio driver's timing.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Protocol

import pygame

from session.snapshot import Severity
from speech.phrases import COUNT_MAX, SPEECH_DIR, clip_path, count_key

log = logging.getLogger(__name__)

SAFETY_MIN_VOLUME = 0.7  # however low the volume is set, a safety stop is heard
GAP_S = 0.12  # pause between two phrases, so they do not run together
MAX_WAITING = 4  # a backlog longer than this is stale before its turn anyway


class Priority(IntEnum):
    """Who may interrupt whom, in rising order."""

    COACHING = 0  # phase and tempo prompts: "Get ready", "Rest - breathe easy"
    COUNT = 1  # rep and hold count-outs
    CORRECTION = 2  # posture and load corrections
    SAFETY = 3  # a safety stop: heard even when muted


# How long a phrase may wait for the voice before it is no longer worth saying.
STALE_AFTER_S: dict[Priority, float] = {
    Priority.COACHING: 4.0,
    Priority.COUNT: 1.0,
    Priority.CORRECTION: 2.5,
    Priority.SAFETY: math.inf,
}


def priority_for(severity: Severity) -> Priority:
    if severity == Severity.SAFETY:
        return Priority.SAFETY
    if severity in (Severity.WARNING, Severity.FAULT):
        return Priority.CORRECTION
    return Priority.COACHING


class Clip(Protocol):
    def get_length(self) -> float: ...


class VoiceSink(Protocol):
    """Where the voice's sounds go: the reserved mixer channel, or a recorder in tests."""

    def play(self, clip: Clip, volume: float) -> None: ...

    def stop(self) -> None: ...


class ChannelSink:
    """The mixer channel reserved for the voice; playing on it replaces what it played."""

    def __init__(self, channel: pygame.mixer.Channel) -> None:
        self.channel = channel

    def play(self, clip: Clip, volume: float) -> None:
        self.channel.play(clip)
        self.channel.set_volume(volume)

    def stop(self) -> None:
        self.channel.stop()


class NullSink:
    """No mixer: nothing to play on."""

    def play(self, clip: Clip, volume: float) -> None:
        pass

    def stop(self) -> None:
        pass


class SpeechClips:
    """The recorded phrases of one language, loaded on first use and kept."""

    def __init__(self, lang: str, directory: Path = SPEECH_DIR) -> None:
        self.lang = lang
        self.directory = directory
        self._cache: dict[str, pygame.mixer.Sound | None] = {}

    def path(self, key: str) -> Path:
        return clip_path(self.directory, self.lang, key)

    def get(self, key: str) -> pygame.mixer.Sound | None:
        if key not in self._cache:
            path = self.path(key)
            sound = None
            if path.is_file():
                try:
                    sound = pygame.mixer.Sound(str(path))
                except (pygame.error, OSError) as exc:
                    log.warning("spoken cue %s unreadable: %s", path, exc)
            self._cache[key] = sound
        return self._cache[key]

    def preload(self, keys: list[str]) -> None:
        """Load these now (safety phrases, counts), so they never wait on the disk."""
        for key in keys:
            self.get(key)


@dataclass(frozen=True, slots=True)
class Said:
    """One phrase's fate, for the log and the tests."""

    t: float
    key: str
    priority: Priority
    outcome: str  # "spoken", "tone", "dropped", "muted", "interrupted"


@dataclass(slots=True)
class _Waiting:
    key: str
    priority: Priority
    asked_at: float


class Speaker:
    def __init__(
        self,
        clips: Callable[[str], Clip | None],
        sink: VoiceSink,
        clock: Callable[[], float] = time.monotonic,
        tone: Callable[[str, Priority], None] | None = None,
        volume: float = 0.8,
        warn_missing: bool = True,
    ) -> None:
        """``clips``: key -> recorded clip or None; ``tone``: played instead of a phrase that
        has no recording; ``warn_missing``: log (once) when a recording is missing."""
        self._clips = clips
        self._sink = sink
        self._clock = clock
        self._tone = tone
        self.volume = volume
        self.muted = False
        self.log: deque[Said] = deque(maxlen=200)
        self._current: tuple[str, Priority, float] | None = None  # key, priority, ends at
        self._waiting: list[_Waiting] = []
        self._warned_missing = not warn_missing

    # -- the interface ------------------------------------------------------------------
    def say(self, key: str, priority: Priority) -> None:
        now = self._clock()
        if self.muted and priority < Priority.SAFETY:
            self._note(now, key, priority, "muted")
            return
        clip = self._clips(key)
        if clip is None:
            self._fallback(now, key, priority)
            return
        self._expire(now)
        cur = self._current
        if cur is not None and cur[0] == key:  # already being said: not again, but it may
            self._current = (key, max(priority, cur[1]), cur[2])  # now be outranked less
            return
        if cur is None:
            self._start(now, key, priority, clip)
        elif priority > cur[1]:
            self._note(now, cur[0], cur[1], "interrupted")
            self._start(now, key, priority, clip)
        elif all(w.key != key for w in self._waiting):
            self._waiting.append(_Waiting(key, priority, now))
            if len(self._waiting) > MAX_WAITING:
                least = min(self._waiting, key=lambda w: (w.priority, w.asked_at))
                self._waiting.remove(least)
                self._note(now, least.key, least.priority, "dropped")

    def speak_cue(self, cue_key: str, severity: Severity) -> None:
        self.say(cue_key, priority_for(severity))

    def count(self, n: int, priority: Priority = Priority.COUNT) -> None:
        """The number word ``n`` (1 .. COUNT_MAX); a rep count past that is not spoken."""
        if 1 <= n <= COUNT_MAX:
            self.say(count_key(n), priority)

    def update(self) -> None:
        """Once a frame: when the voice is free, the most urgent phrase still worth saying."""
        now = self._clock()
        self._expire(now)
        if self._current is not None:
            return
        fresh = []
        for w in self._waiting:
            if now - w.asked_at > STALE_AFTER_S[w.priority]:
                self._note(now, w.key, w.priority, "dropped")
            else:
                fresh.append(w)
        self._waiting = fresh
        if not fresh:
            return
        nxt = max(fresh, key=lambda w: (w.priority, -w.asked_at))
        self._waiting.remove(nxt)
        clip = self._clips(nxt.key)
        if clip is not None:
            self._start(now, nxt.key, nxt.priority, clip)

    def set_muted(self, muted: bool) -> None:
        self.muted = muted
        if not muted:
            return
        self._waiting = [w for w in self._waiting if w.priority == Priority.SAFETY]
        if self._current is not None and self._current[1] < Priority.SAFETY:
            self._sink.stop()
            self._current = None

    def stop(self) -> None:
        """Silence the voice and forget what waits (a session ends)."""
        self._sink.stop()
        self._current = None
        self._waiting.clear()

    @property
    def speaking(self) -> str | None:
        self._expire(self._clock())
        return self._current[0] if self._current is not None else None

    @property
    def speaking_priority(self) -> Priority | None:
        self._expire(self._clock())
        return self._current[1] if self._current is not None else None

    @property
    def waiting(self) -> tuple[str, ...]:
        return tuple(w.key for w in self._waiting)

    # -- inside -------------------------------------------------------------------------
    def _expire(self, now: float) -> None:
        if self._current is not None and now >= self._current[2]:
            self._current = None

    def _start(self, now: float, key: str, priority: Priority, clip: Clip) -> None:
        vol = self.volume
        if priority == Priority.SAFETY:
            vol = max(vol, SAFETY_MIN_VOLUME)
        self._sink.play(clip, vol)
        self._current = (key, priority, now + clip.get_length() + GAP_S)
        self._note(now, key, priority, "spoken")

    def _fallback(self, now: float, key: str, priority: Priority) -> None:
        if not self._warned_missing:
            self._warned_missing = True
            log.warning(
                "no recording for spoken cue %r: playing tones instead (run `make speech`)", key
            )
        if self._tone is not None:
            self._tone(key, priority)
        self._note(now, key, priority, "tone")

    def _note(self, now: float, key: str, priority: Priority, outcome: str) -> None:
        self.log.append(Said(now, key, priority, outcome))
