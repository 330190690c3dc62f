"""Bounded sample buffer between the reader thread and its consumers, and a rate meter."""

from __future__ import annotations

import threading
import time
from collections import deque

from device_bridge.samples import DeviceSample


class SampleRing:
    """The UI takes the newest sample, the recorder drains every sample.

    Bounded so a recorder that stops draining costs memory once, not forever; samples pushed
    out unread are counted in ``overflows``.
    """

    def __init__(self, capacity: int = 16384) -> None:
        if capacity < 1:
            raise ValueError(f"SampleRing capacity: expected >= 1, got {capacity}")
        self._q: deque[DeviceSample] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._latest: DeviceSample | None = None
        self.overflows = 0

    def push(self, sample: DeviceSample) -> None:
        with self._lock:
            if len(self._q) == self._q.maxlen:
                self.overflows += 1
            self._q.append(sample)
            self._latest = sample

    def latest(self) -> DeviceSample | None:
        return self._latest

    def drain(self) -> list[DeviceSample]:
        with self._lock:
            out = list(self._q)
            self._q.clear()
        return out


class RateMeter:
    """Samples a second over the last ``window_s`` of host time."""

    def __init__(self, window_s: float = 1.0) -> None:
        self._window = window_s
        self._marks: deque[tuple[float, int]] = deque()

    def update(self, total: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if not self._marks or now - self._marks[-1][0] >= 0.05:
            self._marks.append((now, total))
        while len(self._marks) > 2 and now - self._marks[1][0] >= self._window:
            self._marks.popleft()

    def rate(self, total: int, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        if not self._marks:
            return float("nan")
        t0, n0 = self._marks[0]
        if now - t0 > 3 * self._window:
            return 0.0  # nothing recent: the stream has stopped
        # Too short a span says more about scheduling than about the machine.
        return (total - n0) / (now - t0) if now - t0 >= 0.2 else float("nan")

    def reset(self) -> None:
        self._marks.clear()
