"""The voice's rules on its own clock: one phrase at a time, interruption by priority only,
stale phrases dropped, mute that spares safety, and the real reserved channel it plays on."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import numpy as np
import pygame
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedback.voice import (
    GAP_S,
    SAFETY_MIN_VOLUME,
    STALE_AFTER_S,
    ChannelSink,
    Priority,
    Speaker,
    priority_for,
)
from session.snapshot import Severity


class Clip:
    def __init__(self, key: str, length: float) -> None:
        self.key = key
        self.length = length

    def get_length(self) -> float:
        return self.length


class Sink:
    """Records what the speaker sends to its channel, and when."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.played: list[tuple[float, str, float]] = []  # t, key, volume
        self.stops: list[float] = []

    def play(self, clip: Clip, volume: float) -> None:
        self.played.append((self.clock(), clip.key, volume))

    def stop(self) -> None:
        self.stops.append(self.clock())


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


LENGTHS = {"a": 1.0, "b": 0.6, "c": 2.0, "count.3": 0.4, "safety.overload": 1.5}


def make(lengths=LENGTHS, tone=None):
    clock = Clock()
    sink = Sink(clock)
    clips = {k: Clip(k, v) for k, v in lengths.items()}
    return Speaker(clips.get, sink, clock, tone=tone), sink, clock


def test_an_equal_phrase_waits_for_the_voice():
    sp, sink, clock = make()
    sp.say("a", Priority.COACHING)
    sp.say("b", Priority.COACHING)
    assert [k for _, k, _ in sink.played] == ["a"]
    assert sp.waiting == ("b",)
    clock.now = 0.5
    sp.update()
    assert [k for _, k, _ in sink.played] == ["a"]  # "a" still speaking
    clock.now = 1.0 + GAP_S
    sp.update()
    assert [k for _, k, _ in sink.played] == ["a", "b"]
    assert sink.played[1][0] >= 1.0


def test_a_higher_priority_interrupts_at_once():
    sp, sink, clock = make()
    sp.say("c", Priority.COACHING)
    clock.now = 0.3
    sp.say("a", Priority.CORRECTION)
    assert [(t, k) for t, k, _ in sink.played] == [(0.0, "c"), (0.3, "a")]
    assert [s.outcome for s in sp.log] == ["spoken", "interrupted", "spoken"]
    assert sp.speaking == "a"


def test_a_stale_phrase_is_dropped_not_said_late():
    sp, sink, clock = make()
    sp.say("c", Priority.CORRECTION)  # two seconds of correction
    clock.now = 0.2
    sp.count(3)  # lower priority: waits
    clock.now = 2.0 + GAP_S  # the count has waited longer than a count stays meaningful
    assert clock.now - 0.2 > STALE_AFTER_S[Priority.COUNT]
    sp.update()
    assert [k for _, k, _ in sink.played] == ["c"]
    assert sp.log[-1].key == "count.3" and sp.log[-1].outcome == "dropped"


def test_mute_spares_only_safety_and_safety_is_never_quiet():
    sp, sink, _ = make()
    sp.volume = 0.1
    sp.say("a", Priority.COACHING)
    sp.set_muted(True)
    assert sink.stops == [0.0]  # coaching in progress is cut
    sp.say("b", Priority.CORRECTION)
    sp.count(3)
    sp.say("safety.overload", Priority.SAFETY)
    assert [k for _, k, _ in sink.played] == ["a", "safety.overload"]
    assert sink.played[-1][2] >= SAFETY_MIN_VOLUME
    assert [s.outcome for s in sp.log][1:3] == ["muted", "muted"]
    sp.set_muted(True)  # muting again does not cut the stop phrase
    assert sp.speaking == "safety.overload"


def test_severity_maps_to_priority():
    assert priority_for(Severity.SAFETY) == Priority.SAFETY
    assert priority_for(Severity.FAULT) == priority_for(Severity.WARNING) == Priority.CORRECTION
    assert priority_for(Severity.INFO) == priority_for(Severity.POSITIVE) == Priority.COACHING


def test_counts_outside_the_recorded_words_are_not_said():
    sp, sink, _ = make({f"count.{n}": 0.4 for n in range(1, 31)})
    sp.count(0)
    sp.count(31)
    sp.count(30)
    assert [k for _, k, _ in sink.played] == ["count.30"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(sorted(LENGTHS)),
            st.sampled_from(list(Priority)),
            st.floats(0.0, 1.5),
            st.booleans(),
        ),
        max_size=30,
    )
)
def test_two_phrases_never_overlap_on_the_voice(steps):
    """Whatever is asked, whenever: a phrase starts only when the one before has ended, was
    stopped, or is outranked (the new one then replaces it on the one channel)."""
    sp, sink, clock = make()
    sounding: tuple[float, Priority] | None = None  # ends at, priority
    seen = 0
    for key, priority, wait, mute in steps:
        clock.now += wait
        if mute != sp.muted:
            sp.set_muted(mute)
        if sink.stops and sink.stops[-1] == clock.now:
            sounding = None
        sp.update()
        sp.say(key, priority)
        spoken = [s for s in sp.log if s.outcome == "spoken"]  # one per sink.play, in order
        assert len(spoken) == len(sink.played)
        for said, (t, k, _vol) in zip(spoken[seen:], sink.played[seen:], strict=True):
            assert (said.t, said.key) == (t, k)
            if sounding is not None and t < sounding[0]:
                assert said.priority > sounding[1], f"{k} started over what it does not outrank"
            if sp.muted:
                assert said.priority == Priority.SAFETY
            sounding = (t + LENGTHS[k], said.priority)
        seen = len(sink.played)


def test_channel_sink_plays_on_the_reserved_channel_one_sound_at_a_time():
    pygame.mixer.init(frequency=44100, size=-16, channels=2, buffer=512)
    try:
        pygame.mixer.set_reserved(1)
        ch = pygame.mixer.Channel(0)
        # A minute of silence each: nothing ends while the test looks.
        silent = np.zeros((44100 * 60, 2), dtype=np.int16)
        first, second = pygame.sndarray.make_sound(silent), pygame.sndarray.make_sound(silent)
        sink = ChannelSink(ch)
        sink.play(first, 0.5)
        assert ch.get_sound() is first and ch.get_volume() == pytest.approx(0.5, abs=0.01)
        sink.play(second, 0.9)
        assert ch.get_sound() is second  # replaced, not mixed: one voice
        assert ch.get_volume() == pytest.approx(0.9, abs=0.01)
        # Tones never land on the reserved channel.
        tone = pygame.sndarray.make_sound(silent[:4410])
        assert tone.play() != ch
        sink.stop()
        assert not ch.get_busy()
    finally:
        pygame.mixer.quit()
